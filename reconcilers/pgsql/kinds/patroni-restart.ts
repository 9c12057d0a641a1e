/**
 * A member's PostgreSQL restart, when a parameter that only takes effect at server start
 * (pg_settings.context = 'postmaster', as the server itself says) is about to change in the DCS,
 * or Patroni already flags the member pending_restart. A leader hands over to a replica first,
 * restarts, and takes the lead back, so the intended primary stays the primary. Lowering a
 * parameter a standby may not hold below its primary (max_connections...) goes the other way:
 * the first replica's step restarts the primary in place, then each replica restarts.
 */
import { sh } from '../../../src/engine/shell.js';
import { keyValues, refTo, type Kind } from '../../../src/engine/resources/kind.js';
import { sameValue, type DcsValue } from './patroni-dcs.js';
import { patroniCtl, restJson, restProbe, type PatroniTarget } from './patroni-api.js';

export interface PatroniRestartWant extends PatroniTarget {
  name: string;
  /** The postgresql.parameters the DCS is to hold. */
  parameters: Record<string, DcsValue>;
  /** PostgreSQL's port and socket directory on the node, to ask it which parameters need a restart. */
  port: number;
  socketDir: string;
  dbsu: string;
  timeoutSeconds: number;
  /** How long Patroni may take to notice new DCS settings (a few loop_waits). */
  settleSeconds: number;
}

export interface PatroniRestartHave {
  pendingRestart: boolean;
  dcs: Record<string, unknown>;
  /** Parameters PostgreSQL applies only at start. */
  postmaster: string[];
}

/**
 * Parameters a standby must hold at least at its primary's value (PostgreSQL refuses to run a hot
 * standby below them): lowering one restarts the primary first, in place, then the replicas.
 */
const STANDBY_FLOOR = ['max_connections', 'max_prepared_transactions', 'max_locks_per_transaction', 'max_wal_senders', 'max_worker_processes'];

export const lowersStandbyFloor = (w: PatroniRestartWant, h: PatroniRestartHave): string[] =>
  restartNeededFor(w, h).filter((k) => STANDBY_FLOOR.includes(k) && Number(w.parameters[k]) < Number(h.dcs[k]));

/** The parameters whose change will need this member to restart. */
export function restartNeededFor(w: PatroniRestartWant, h: PatroniRestartHave): string[] {
  return Object.entries(w.parameters)
    .filter(([k, v]) => h.postmaster.includes(k) && !sameValue(h.dcs[k], v))
    .map(([k]) => k);
}

export const patroniRestart: Kind<PatroniRestartWant, PatroniRestartHave, 'patroni-restart'> = {
  name: 'patroni-restart',
  id: (w) => refTo(patroniRestart, w.name),
  probe: (w) =>
    restProbe(w, { config: '/config', patroni: '/patroni' }) +
    sh`; echo "postmaster=$(runuser -u ${w.dbsu} -- psql -h ${w.socketDir} -p ${w.port} -AtXq -c "select string_agg(name, ',') from pg_settings where context = 'postmaster'" postgres)"`,
  parse: (out) => {
    const kv = keyValues(out);
    const patroni = restJson<{ state?: string; pending_restart?: boolean }>(kv, 'patroni');
    const postmaster = (kv.get('postmaster') ?? '').split(',').filter(Boolean);
    // A member that is not running has nothing to restart (starting it is patroni-member's job).
    if (patroni?.state !== 'running' || !postmaster.length) return null;
    const config = restJson<{ postgresql?: { parameters?: Record<string, unknown> } }>(kv, 'config');
    return { pendingRestart: patroni.pending_restart === true, dcs: config?.postgresql?.parameters ?? {}, postmaster };
  },
  diff: (w, h) => {
    if (!h) return [];
    const needed = restartNeededFor(w, h);
    if (!needed.length && !h.pendingRestart) return [];
    const lowered = lowersStandbyFloor(w, h);
    const order = lowered.length ? ` (${lowered.join(', ')} lowered: the primary restarts first, in place)` : '';
    // Not `restart`: plan.ts keeps that field name for its own service restarts, which have no script of their own.
    return [{ field: 'postgres restart', from: h.pendingRestart ? 'pending_restart' : null, to: needed.length ? `for ${needed.join(', ')}${order}` : 'pending_restart' }];
  },
  apply: (w, h) => {
    const needed = h ? Object.fromEntries(restartNeededFor(w, h).map((k) => [k, w.parameters[k]])) : {};
    return patroniCtl(w.config, 'restart', w.timeoutSeconds, w.settleSeconds, JSON.stringify(needed), h && lowersStandbyFloor(w, h).length ? 'primary-first' : 'rolling');
  },
  effects: () => ({ restarts: true }),
};
