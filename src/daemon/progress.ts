/** A sync's progress per host, as its apply goes: what `corral sync --wait` shows through the API. */
import type { ApplyEvent } from '../engine/apply.js';
import type { Plan } from '../engine/model.js';
import type { HostProgress, SyncProgress } from './types.js';

/**
 * The progress of applying `plan` (phase `applying`, each host's changes planned), and the listener
 * that keeps it current from applyRun's events; once every change is done the phase is `verifying`.
 */
export function applyProgress(plan: Plan): { progress: SyncProgress; onEvent: (e: ApplyEvent) => void } {
  const hosts = new Map<string, HostProgress>();
  for (const c of plan.changes) {
    const h = hosts.get(c.host) ?? { host: c.host, planned: 0, applied: 0, failed: 0, skipped: 0 };
    h.planned++;
    hosts.set(c.host, h);
  }
  const progress: SyncProgress = { phase: 'applying', hosts: [...hosts.values()] };
  let left = plan.changes.length;
  const onEvent = (e: ApplyEvent): void => {
    const h = hosts.get(e.change.host);
    if (!h) return;
    if (e.type === 'start') {
      h.current = e.change.resource;
      return;
    }
    delete h.current;
    h[e.result.status]++;
    // Every change done: the nodes are observed again.
    if (--left === 0) progress.phase = 'verifying';
  };
  return { progress, onEvent };
}
