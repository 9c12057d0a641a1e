/**
 * `corral apply`'s output. Every finished change is one line, on a terminal or not (logs and CI keep
 * them). On a terminal a footer under those lines is redrawn in place: per host, changes finished of
 * its total, failures, and what runs now with its elapsed time, so a long apply (a PostgreSQL install,
 * a restore) shows where it is.
 */
import type { ApplyEvent, ChangeResult } from '../engine/apply.js';
import type { Change } from '../engine/model.js';
import type { Output } from './output.js';

export interface HostProgress {
  host: string;
  total: number;
  finished: number;
  failed: number;
  /** The change running now and when it started (ms), if any. */
  running?: { resource: string; since: number };
}

/** Shown hosts in the footer; the rest are counted on one line. */
const FOOTER_HOSTS = 8;
const BAR = 20;

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)}s`;

export function changeLine(change: Change, result: ChangeResult): string {
  const mark = result.status === 'applied' ? '✓' : result.status === 'failed' ? '✗' : '-';
  return `[${change.host}] ${mark} ${change.resource} ${result.status} (${seconds(result.durationMs)})${result.error ? `: ${result.error}` : ''}\n`;
}

/** The footer's lines: hosts with a change running first, then those with changes left; finished hosts are left out. */
export function footerLines(hosts: readonly HostProgress[], now: number, columns = 100): string[] {
  const open = hosts.filter((h) => h.finished < h.total).sort((a, b) => Number(Boolean(b.running)) - Number(Boolean(a.running)));
  if (!open.length) return [];
  const width = Math.max(...open.map((h) => h.host.length));
  const done = hosts.reduce((n, h) => n + h.finished, 0);
  const total = hosts.reduce((n, h) => n + h.total, 0);
  const lines = open.slice(0, FOOTER_HOSTS).map((h) => {
    const filled = Math.round((h.finished / h.total) * BAR);
    const bar = `[${'='.repeat(filled)}${' '.repeat(BAR - filled)}]`;
    const failed = h.failed ? ` ${h.failed} failed` : '';
    const current = h.running ? `  ${h.running.resource} ${seconds(now - h.running.since)}` : '  waiting';
    return `${h.host.padEnd(width)} ${bar} ${h.finished}/${h.total}${failed}${current}`.slice(0, columns - 1);
  });
  if (open.length > FOOTER_HOSTS) lines.push(`... and ${open.length - FOOTER_HOSTS} more hosts`);
  lines.push(`${done}/${total} changes`);
  return lines;
}

/** Receives apply's events and prints; `stop()` clears the footer. */
export function applyProgress(out: Output, changes: readonly Change[], opts: { live: boolean; columns?: number; now?: () => number }): { event: (e: ApplyEvent) => void; stop: () => void } {
  const now = opts.now ?? Date.now;
  const hosts = new Map<string, HostProgress>();
  for (const c of changes) {
    const h = hosts.get(c.host) ?? hosts.set(c.host, { host: c.host, total: 0, finished: 0, failed: 0 }).get(c.host)!;
    h.total++;
  }
  let drawn = 0;
  // Moves up over the last footer and clears to the end of the screen, then prints `text` and a new footer.
  const draw = (text: string, final = false): void => {
    const erase = drawn ? `\x1b[${drawn}A\x1b[J` : '';
    const footer = final ? [] : footerLines([...hosts.values()], now(), opts.columns);
    drawn = footer.length;
    out.print(erase + text + footer.map((l) => `${l}\n`).join(''));
  };
  const timer = opts.live ? setInterval(() => draw(''), 500) : undefined;
  timer?.unref();
  return {
    event: (e) => {
      const h = hosts.get(e.change.host)!;
      if (e.type === 'start') {
        h.running = { resource: e.change.resource, since: now() };
        if (opts.live) draw('');
        return;
      }
      h.finished++;
      if (e.result.status !== 'applied') h.failed++;
      if (h.running?.resource === e.change.resource) delete h.running;
      if (opts.live) draw(changeLine(e.change, e.result));
      else out.print(changeLine(e.change, e.result));
    },
    stop: () => {
      if (timer) clearInterval(timer);
      if (opts.live) draw('', true);
    },
  };
}
