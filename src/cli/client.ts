/** `corral sync NAME` and `corral history NAME`: ask a running daemon over its HTTP API. */
import type { HistoryEntry } from '../daemon/types.js';
import { displayRevision } from '../util/content-revision.js';
import { EXIT, type Output } from './output.js';

export interface ClientOptions {
  server: string;
  format?: 'text' | 'json';
}

const base = (server: string): string => server.replace(/\/+$/, '');

async function call(opts: ClientOptions, path: string, init: RequestInit = {}): Promise<{ status: number; body: unknown } | string> {
  try {
    const token = process.env.CORRAL_API_TOKEN;
    const res = await fetch(base(opts.server) + path, { ...init, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(init.headers as Record<string, string>) } });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      /* not JSON: keep the text */
    }
    return { status: res.status, body };
  } catch (e) {
    return `cannot reach corral at ${opts.server}: ${(e as Error).message} (set --server or CORRAL_SERVER)`;
  }
}

export async function syncCommand(name: string, opts: ClientOptions, out: Output): Promise<number> {
  const r = await call(opts, `/api/clusters/${encodeURIComponent(name)}/sync`, { method: 'POST' });
  if (typeof r === 'string') {
    out.error(r + '\n');
    return EXIT.usage;
  }
  const message = (r.body as { message?: string }).message ?? JSON.stringify(r.body);
  if (r.status === 202 || r.status === 200) {
    out.print(`${name}: ${message}\n`);
    return EXIT.ok;
  }
  out.error(`${name}: ${message} (HTTP ${r.status})\n`);
  return r.status === 401 || r.status === 403 ? EXIT.usage : EXIT.invalid;
}

export async function historyCommand(name: string, opts: ClientOptions, out: Output): Promise<number> {
  const r = await call(opts, `/api/clusters/${encodeURIComponent(name)}`);
  if (typeof r === 'string') {
    out.error(r + '\n');
    return EXIT.usage;
  }
  if (r.status !== 200) {
    out.error(`${name}: ${(r.body as { message?: string }).message ?? `HTTP ${r.status}`}\n`);
    return EXIT.invalid;
  }
  const history = (r.body as { history: HistoryEntry[] }).history;
  if (opts.format === 'json') {
    out.print(JSON.stringify(history, null, 2) + '\n');
    return EXIT.ok;
  }
  if (!history.length) out.print(`${name}: no syncs yet\n`);
  for (const h of history) {
    const c = h.changes;
    out.print(`${h.finishedAt}  ${h.result.padEnd(12)} ${displayRevision(h.revision)}  ${h.trigger.padEnd(7)} ${c.applied}/${c.planned} applied${c.failed ? `, ${c.failed} failed` : ''}  ${h.author}: ${h.subject}\n`);
  }
  return EXIT.ok;
}
