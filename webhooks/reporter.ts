/**
 * The daemon's events as notifications: `corral/sync` on the commit in force (pending while its
 * clusters sync, then success or failure), a failure status on an invalid commit, and an event
 * per applied sync for chat and generic webhooks. Only git revisions are reported: a watched
 * folder's revisions are not commits a forge knows.
 */
import type { DaemonEvents, Revision } from '../src/daemon/daemon.js';
import type { ClusterStatus, HistoryEntry } from '../src/daemon/types.js';
import { description, type Notice, type StatusState } from './notifiers/types.js';

export const SYNC_CONTEXT = 'corral/sync';
const isCommit = (rev: string): boolean => /^[0-9a-f]{40}$/.test(rev);

/** One status for a revision from the states of every unit. */
export function syncStatus(revision: string, units: readonly ClusterStatus[]): { state: StatusState; description: string } {
  const done = units.filter((u) => u.sync === 'Suspended' || (u.revision === revision && u.sync !== 'Syncing'));
  const failed = done.filter((u) => u.sync === 'Failed');
  if (failed.length) return { state: 'failure', description: description(`${failed.map((u) => u.name).join(', ')} failed: ${failed[0]!.message ?? ''}`) };
  if (done.length < units.length) return { state: 'pending', description: description(`syncing: ${done.length} of ${units.length} clusters done`) };
  const waiting = units.filter((u) => u.sync === 'OutOfSync');
  if (waiting.length) return { state: 'pending', description: description(`${waiting.length} cluster${waiting.length > 1 ? 's' : ''} out of sync: ${waiting[0]!.message ?? ''}`) };
  const suspended = units.filter((u) => u.sync === 'Suspended').length;
  return { state: 'success', description: description(`${units.length - suspended} cluster${units.length - suspended === 1 ? '' : 's'} in sync${suspended ? `, ${suspended} suspended` : ''}`) };
}

export function reporter(notify: (n: Notice) => void, publicUrl?: string): DaemonEvents {
  const base = publicUrl?.replace(/\/+$/, '');
  const url = (path: string): { targetUrl?: string } => (base ? { targetUrl: `${base}${path}` } : {});
  return {
    invalid(rev: Revision, at: string) {
      if (!isCommit(rev.revision)) return;
      notify({ kind: 'status', sha: rev.revision, context: SYNC_CONTEXT, state: 'failure', description: description(`invalid, not applied: ${at}`), ...url('/') });
      notify({ kind: 'event', event: { type: 'sync', ok: false, title: `revision ${rev.revision.slice(0, 12)} is invalid and was not applied: ${at}`, revision: rev.revision, ...(base ? { url: `${base}/` } : {}) } });
    },
    progress(revision: string, units: ClusterStatus[]) {
      if (!isCommit(revision) || !units.length) return;
      notify({ kind: 'status', sha: revision, context: SYNC_CONTEXT, ...syncStatus(revision, units), ...url('/') });
    },
    synced(e: HistoryEntry) {
      if (!isCommit(e.revision)) return;
      const ok = e.result === 'Succeeded';
      const what = `${e.changes.applied} change${e.changes.applied === 1 ? '' : 's'} applied${e.changes.failed ? `, ${e.changes.failed} failed` : ''}`;
      notify({
        kind: 'event',
        event: { type: 'sync', ok, title: `${e.cluster} ${ok ? 'synced to' : 'failed to sync to'} ${e.revision.slice(0, 12)} (${what})`, revision: e.revision, cluster: e.cluster, ...(base ? { url: `${base}/api/clusters/${e.cluster}` } : {}) },
      });
    },
  };
}
