/**
 * Applying a plan: each host runs its changes in order, hosts in parallel. On a host the first
 * failure stops that host; other hosts go on. A change that waits on another host's change runs
 * only after it succeeded. Every change is one exec, so progress and failures are per change.
 */
import type { Transport, Target } from '../transport/types.js';
import { TransportError } from '../transport/types.js';
import type { Change, Plan } from './model.js';

export type ChangeStatus = 'applied' | 'failed' | 'skipped';

export interface ChangeResult {
  id: string;
  host: string;
  resource: string;
  status: ChangeStatus;
  durationMs: number;
  /** Why it failed or was skipped: exit code and the tail of stderr, or the transport error. */
  error?: string;
}

export type ApplyEvent = { type: 'start'; change: Change } | { type: 'done'; change: Change; result: ChangeResult };

/** Proof that this run may still change the unit's nodes, when more than one daemon could. */
export interface Fence {
  /** Grows with each new owner: a node refuses a change with an older one than it has seen. */
  readonly token: string;
  /** Rejects when the run no longer owns the unit: nothing more is applied. */
  check(): Promise<void>;
  /** The change's script as the node runs it: refused there once a newer owner has applied to it. */
  guard(script: string, change: string): string;
}

export interface ApplyOptions {
  targets: Map<string, Target>;
  scripts: Map<string, string>;
  onEvent?: (e: ApplyEvent) => void;
  fence?: Fence;
}

const tail = (text: string, lines = 8): string => text.trim().split('\n').slice(-lines).join('\n');

export async function applyPlan(transport: Transport, plan: Plan, opts: ApplyOptions): Promise<ChangeResult[]> {
  const done = new Map<string, Promise<ChangeResult>>();
  const settle = new Map<string, (r: ChangeResult) => void>();
  for (const c of plan.changes) done.set(c.id, new Promise((resolve) => settle.set(c.id, resolve)));
  const results: ChangeResult[] = [];
  const finish = (c: Change, r: ChangeResult): void => {
    results.push(r);
    settle.get(c.id)!(r);
    opts.onEvent?.({ type: 'done', change: c, result: r });
  };

  const byHost = new Map<string, Change[]>();
  for (const c of plan.changes) byHost.set(c.host, [...(byHost.get(c.host) ?? []), c]);

  await Promise.all(
    [...byHost].map(async ([host, changes]) => {
      let stopped: string | undefined;
      for (const c of changes) {
        const base = { id: c.id, host, resource: c.resource };
        if (stopped) {
          finish(c, { ...base, status: 'skipped', durationMs: 0, error: stopped });
          continue;
        }
        const deps = await Promise.all(c.after.filter((d) => done.has(d)).map((d) => done.get(d)!));
        const failedDep = deps.find((d) => d.status !== 'applied');
        if (failedDep) {
          stopped = `waits on ${failedDep.id}, which ${failedDep.status === 'failed' ? 'failed' : 'was skipped'}`;
          finish(c, { ...base, status: 'skipped', durationMs: 0, error: stopped });
          continue;
        }
        try {
          await opts.fence?.check();
        } catch (e) {
          stopped = `not applied: ${(e as Error).message}`;
          finish(c, { ...base, status: 'skipped', durationMs: 0, error: stopped });
          continue;
        }
        opts.onEvent?.({ type: 'start', change: c });
        const started = Date.now();
        const script = opts.scripts.get(c.id) ?? '';
        try {
          const r = await transport.exec(opts.targets.get(host)!, `set -euo pipefail\n${opts.fence ? opts.fence.guard(script, c.id) : script}`, { timeoutMs: 20 * 60_000 });
          if (r.code === 0) finish(c, { ...base, status: 'applied', durationMs: r.durationMs });
          else {
            stopped = `stopped after ${c.resource} failed`;
            finish(c, { ...base, status: 'failed', durationMs: r.durationMs, error: `exit ${r.code}: ${tail(r.stderr || r.stdout)}` });
          }
        } catch (e) {
          if (!(e instanceof TransportError)) throw e;
          stopped = `stopped: ${e.message}`;
          finish(c, { ...base, status: 'failed', durationMs: Date.now() - started, error: e.message });
        }
      }
    }),
  );
  return results;
}
