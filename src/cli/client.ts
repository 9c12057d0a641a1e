/**
 * The verbs that ask a running daemon over its HTTP API: `corral status`, `diff`, `sync [--wait]`,
 * `suspend`, `resume` and `history`. The changing ones send CORRAL_API_TOKEN as a bearer token.
 */
import type { ClusterStatus, DaemonStatus, HistoryEntry, PlanRecord } from '../daemon/types.js';
import { displayRevision } from '../util/content-revision.js';
import { EXIT, type Output } from './output.js';

export interface ClientOptions {
  server: string;
  format?: 'text' | 'json';
}

export interface WaitOptions extends ClientOptions {
  wait?: boolean;
  /** How long --wait waits, seconds. */
  timeout?: number;
  /** How often --wait asks, milliseconds (tests ask often). */
  pollMs?: number;
}

interface ClusterDetail {
  status: ClusterStatus;
  lastPlan: PlanRecord | null;
  history: HistoryEntry[];
}

const base = (server: string): string => server.replace(/\/+$/, '');

type Reply = { status: number; body: unknown } | string;

async function call(opts: ClientOptions, path: string, init: RequestInit = {}): Promise<Reply> {
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

const messageOf = (r: { status: number; body: unknown }): string => (r.body as { message?: string } | null)?.message ?? (typeof r.body === 'string' && r.body ? r.body : `HTTP ${r.status}`);

/** A reply that is not the one wanted, said on stderr; its exit code (2: not reached or not allowed, 1: refused). */
function failed(out: Output, r: Reply, name: string | undefined): number {
  if (typeof r === 'string') {
    out.error(r + '\n');
    return EXIT.usage;
  }
  const hint = r.status === 401 || r.status === 403 ? ' (the token: CORRAL_API_TOKEN)' : '';
  out.error(`${name ? `${name}: ` : ''}${messageOf(r)} (HTTP ${r.status})${hint}\n`);
  return r.status === 401 || r.status === 403 ? EXIT.usage : EXIT.invalid;
}

const path = (name: string, tail = ''): string => `/api/clusters/${encodeURIComponent(name)}${tail}`;

async function detail(opts: ClientOptions, name: string, out: Output): Promise<ClusterDetail | number> {
  const r = await call(opts, path(name));
  if (typeof r === 'string' || r.status !== 200) return failed(out, r, name);
  return r.body as ClusterDetail;
}

// ---- status -----------------------------------------------------------------------------------

const MESSAGE_WIDTH = 80;
const COLUMNS = ['CLUSTER', 'MODULE', 'SYNC', 'HEALTH', 'REVISION', 'DRIFT', 'MESSAGE'] as const;

/** One row per cluster, columns padded to their widest cell. */
export function statusTable(clusters: readonly ClusterStatus[]): string {
  // A message can be long (every unreachable host's error): the table keeps its start; corral status CLUSTER shows it whole.
  const brief = (m = ''): string => (m.length > MESSAGE_WIDTH ? `${m.slice(0, MESSAGE_WIDTH - 1)}…` : m);
  const rows = clusters.map((c) => [c.name, c.module, c.sync, c.health, c.revision ? displayRevision(c.revision) : '-', String(c.driftChanges), brief(c.message)]);
  const widths = COLUMNS.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]): string => cells.map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(COLUMNS), ...rows.map(line)].join('\n') + '\n';
}

/** `corral status [CLUSTER]`: the daemon's clusters (or one, in detail): sync, health, revision, drift. */
export async function statusCommand(name: string | undefined, opts: ClientOptions, out: Output): Promise<number> {
  if (name) {
    const d = await detail(opts, name, out);
    if (typeof d === 'number') return d;
    if (opts.format === 'json') {
      out.print(JSON.stringify(d.status, null, 2) + '\n');
      return EXIT.ok;
    }
    const s = d.status;
    const last = d.history[0];
    const lines = [
      `${s.name} (${s.module}): ${s.sync}, ${s.health}`,
      `  revision   ${s.revision ? displayRevision(s.revision) : 'none yet'}`,
      `  drift      ${s.driftChanges} change${s.driftChanges === 1 ? '' : 's'}${d.lastPlan ? ` (plan ${d.lastPlan.id}: corral diff ${s.name})` : ''}`,
      `  policy     sync ${s.policy.sync}, prune ${s.policy.prune ? 'on' : 'off'}, selfHeal ${s.policy.selfHeal ? 'on' : 'off'}${s.policy.suspend ? ', suspended' : ''}`,
      `  hosts      ${s.hosts.join(', ') || 'none'}`,
      ...(s.message ? [`  message    ${s.message}`] : []),
      ...(s.healthMessage ? [`  health     ${s.healthMessage}`] : []),
      `  last sync  ${last ? `${last.finishedAt} ${last.result} (${displayRevision(last.revision)}, ${last.trigger})` : s.sync === 'Suspended' ? 'never' : `never: corral sync ${s.name}`}`,
    ];
    out.print(lines.join('\n') + '\n');
    return EXIT.ok;
  }
  const r = await call(opts, '/api/status');
  if (typeof r === 'string' || r.status !== 200) return failed(out, r, undefined);
  const status = r.body as DaemonStatus;
  if (opts.format === 'json') {
    out.print(JSON.stringify(status, null, 2) + '\n');
    return EXIT.ok;
  }
  const git = status.git;
  const rev = git.lastGoodRevision ? displayRevision(git.lastGoodRevision) : 'none';
  out.print(`corral ${status.version}: ${status.source}, revision ${rev}${status.ready ? '' : ' (not ready: no fetch has succeeded yet)'}\n`);
  if (git.invalidAt) out.print(`the newest revision${git.fetchedRevision ? ` ${displayRevision(git.fetchedRevision)}` : ''} is invalid: ${git.invalidAt}\n`);
  if (!git.lastFetchOk && git.lastError) out.print(`the last fetch failed: ${git.lastError}\n`);
  out.print(statusTable(status.clusters));
  return EXIT.ok;
}

// ---- diff -------------------------------------------------------------------------------------

/** `corral diff CLUSTER`: the daemon's current plan for the cluster, as text (or JSON). */
export async function diffCommand(name: string, opts: ClientOptions, out: Output): Promise<number> {
  const d = await detail(opts, name, out);
  if (typeof d === 'number') return d;
  if (!d.lastPlan) {
    out.error(`${name}: no plan yet (${d.status.sync}${d.status.message ? `: ${d.status.message}` : ''})\n`);
    return EXIT.invalid;
  }
  out.print(opts.format === 'json' ? JSON.stringify(d.lastPlan.plan, null, 2) + '\n' : d.lastPlan.text);
  return EXIT.ok;
}

// ---- suspend, resume --------------------------------------------------------------------------

export async function suspendCommand(action: 'suspend' | 'resume', name: string, opts: ClientOptions, out: Output): Promise<number> {
  const r = await call(opts, path(name, `/${action}`), { method: 'POST' });
  if (typeof r === 'string' || r.status !== 200) return failed(out, r, name);
  out.print(`${name}: ${action === 'suspend' ? 'suspended: nothing is planned or applied until corral resume' : 'resumed'}\n`);
  return EXIT.ok;
}

// ---- sync -------------------------------------------------------------------------------------

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A host's progress as one line: `10.0.0.1  3/5 applied, 1 failed (applying file:/etc/x)`. */
function hostLine(h: NonNullable<ClusterStatus['progress']>['hosts'][number]): string {
  const extra = [h.failed ? `${h.failed} failed` : '', h.skipped ? `${h.skipped} skipped` : ''].filter(Boolean);
  return `  ${h.host}  ${h.applied}/${h.planned} applied${extra.length ? `, ${extra.join(', ')}` : ''}${h.current ? ` (applying ${h.current})` : ''}`;
}

/**
 * `corral sync CLUSTER [--wait]`: ask the daemon for a sync; with --wait, follow it host by host
 * until it ends, and exit 0 only when the cluster is Synced.
 */
export async function syncCommand(name: string, opts: WaitOptions, out: Output): Promise<number> {
  let before: ClusterDetail | undefined;
  if (opts.wait) {
    const d = await detail(opts, name, out);
    if (typeof d === 'number') return d;
    before = d;
  }
  const r = await call(opts, path(name, '/sync'), { method: 'POST' });
  if (typeof r === 'string' || (r.status !== 202 && r.status !== 200)) return failed(out, r, name);
  out.print(`${name}: ${messageOf(r)}\n`);
  if (!before) return EXIT.ok;

  const deadline = Date.now() + (opts.timeout ?? 1800) * 1000;
  const seen = new Set<string>();
  const say = (line: string): void => {
    if (seen.has(line)) return;
    seen.add(line);
    out.print(line + '\n');
  };
  // Done when the cluster is no longer syncing and has a plan (or history entry) it did not have before.
  const finished = (d: ClusterDetail): boolean => d.status.sync !== 'Syncing' && (d.status.lastPlanId !== before.status.lastPlanId || d.history[0]?.id !== before.history[0]?.id);
  for (;;) {
    const d = await detail(opts, name, out);
    if (typeof d === 'number') return d;
    const p = d.status.progress;
    if (p) {
      const changes = p.hosts.reduce((n, h) => n + h.planned, 0);
      say(p.phase === 'applying' ? `${name}: applying ${changes} change${changes === 1 ? '' : 's'} on ${p.hosts.length} host${p.hosts.length === 1 ? '' : 's'}` : `${name}: ${p.phase}`);
      for (const h of p.hosts) say(hostLine(h));
    }
    if (finished(d)) return result(name, d, before, out);
    if (Date.now() > deadline) {
      out.error(`${name}: still ${d.status.sync} after ${opts.timeout ?? 1800} s; corral status ${name} tells how it ends\n`);
      return EXIT.invalid;
    }
    await sleep(opts.pollMs ?? 500);
  }
}

/** How the sync ended, and its exit code: 0 only when the cluster is Synced. */
function result(name: string, d: ClusterDetail, before: ClusterDetail, out: Output): number {
  const s = d.status;
  const entry = d.history[0]?.id !== before.history[0]?.id ? d.history[0] : undefined;
  const counts = entry ? ` (${entry.changes.applied}/${entry.changes.planned} applied${entry.changes.failed ? `, ${entry.changes.failed} failed` : ''}${entry.changes.skipped ? `, ${entry.changes.skipped} skipped` : ''})` : '';
  const line = `${name}: ${s.sync}, ${s.health}${counts}${s.message ? `: ${s.message}` : ''}`;
  if (s.sync === 'Synced') {
    out.print(line + '\n');
    return EXIT.ok;
  }
  out.error(line + '\n');
  return EXIT.invalid;
}

// ---- history ----------------------------------------------------------------------------------

export async function historyCommand(name: string, opts: ClientOptions, out: Output): Promise<number> {
  const d = await detail(opts, name, out);
  if (typeof d === 'number') return d;
  const history = d.history;
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
