/**
 * `corral apply`'s output. Every finished change is one line, on a terminal or not (logs and CI keep
 * them). On a terminal a footer under those lines is redrawn in place: per host, changes finished of
 * its total, failures, and what runs now with its elapsed time, so a long apply (a PostgreSQL install,
 * a restore) shows where it is. The counts are the daemon's own progress of a sync (daemon/progress.ts).
 */
import type { ApplyEvent, ChangeResult } from '../engine/apply.js';
import type { Change, Plan } from '../engine/model.js';
import { applyProgress as progressOf } from '../daemon/progress.js';
import type { HostProgress } from '../daemon/types.js';
import type { Output } from './output.js';

/** Shown hosts in the footer; the rest are counted on one line. */
const FOOTER_HOSTS = 8;
const BAR = 20;

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)}s`;
const finished = (h: HostProgress): number => h.applied + h.failed + h.skipped;

export function changeLine(change: Change, result: ChangeResult): string {
  const mark = result.status === 'applied' ? '✓' : result.status === 'failed' ? '✗' : '-';
  return `[${change.host}] ${mark} ${change.resource} ${result.status} (${seconds(result.durationMs)})${result.error ? `: ${result.error}` : ''}\n`;
}

/**
 * The footer's lines: hosts with a change running first, then those with changes left; finished hosts
 * are left out. `since` is when each host's running change started (ms).
 */
export function footerLines(hosts: readonly HostProgress[], since: ReadonlyMap<string, number>, now: number, columns = 100): string[] {
  const open = hosts.filter((h) => finished(h) < h.planned).sort((a, b) => Number(Boolean(b.current)) - Number(Boolean(a.current)));
  if (!open.length) return [];
  const width = Math.max(...open.map((h) => h.host.length));
  const done = hosts.reduce((n, h) => n + finished(h), 0);
  const total = hosts.reduce((n, h) => n + h.planned, 0);
  const lines = open.slice(0, FOOTER_HOSTS).map((h) => {
    const filled = Math.round((finished(h) / h.planned) * BAR);
    const bar = `[${'='.repeat(filled)}${' '.repeat(BAR - filled)}]`;
    // Not applied: failed, or skipped after a failure.
    const failed = h.failed + h.skipped ? ` ${h.failed + h.skipped} failed` : '';
    const current = h.current ? `  ${h.current} ${seconds(now - (since.get(h.host) ?? now))}` : '  waiting';
    return `${h.host.padEnd(width)} ${bar} ${finished(h)}/${h.planned}${failed}${current}`.slice(0, columns - 1);
  });
  if (open.length > FOOTER_HOSTS) lines.push(`... and ${open.length - FOOTER_HOSTS} more hosts`);
  lines.push(`${done}/${total} changes`);
  return lines;
}

/** Receives apply's events and prints; `stop()` clears the footer. */
export function applyDisplay(out: Output, plan: Plan, opts: { live: boolean; columns?: number; now?: () => number }): { event: (e: ApplyEvent) => void; stop: () => void } {
  const now = opts.now ?? Date.now;
  const { progress, onEvent } = progressOf(plan);
  const since = new Map<string, number>();
  let drawn = 0;
  // Moves up over the last footer and clears to the end of the screen, then prints `text` and a new footer.
  const draw = (text: string, final = false): void => {
    const erase = drawn ? `\x1b[${drawn}A\x1b[J` : '';
    const footer = final ? [] : footerLines(progress.hosts, since, now(), opts.columns);
    drawn = footer.length;
    out.print(erase + text + footer.map((l) => `${l}\n`).join(''));
  };
  const timer = opts.live ? setInterval(() => draw(''), 500) : undefined;
  timer?.unref();
  return {
    event: (e) => {
      onEvent(e);
      if (e.type === 'start') {
        since.set(e.change.host, now());
        if (opts.live) draw('');
      } else if (opts.live) draw(changeLine(e.change, e.result));
      else out.print(changeLine(e.change, e.result));
    },
    stop: () => {
      if (timer) clearInterval(timer);
      if (opts.live) draw('', true);
    },
  };
}
