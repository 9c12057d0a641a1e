/**
 * Patroni's cluster-wide (DCS) settings: ttl, loop_wait... and postgresql.parameters. Changed
 * with PATCH /config; Patroni reloads every member by itself. Parameters that need a restart are
 * restarted by patroni-restart, one member at a time. Only the keys Corral sets are compared, so
 * settings made by hand elsewhere are left alone. A standby cluster's `standby_cluster` (host, port,
 * apply delay) follows pg_upstream and pg_delay; a cluster without pg_upstream never has it removed
 * here (that promotes the cluster: done by hand).
 */
import { keyValues, refTo, type FieldChange, type Kind } from '../../../src/engine/resources/kind.js';
import { patroniCtl, restJson, restProbe, type PatroniTarget } from './patroni-api.js';

export type DcsValue = string | number | boolean;

/**
 * Patroni's `standby_cluster`: the cluster's leader is a standby leader that replicates from `host`
 * (Pigsty: pg_upstream on the primary), its replicas follow it. `recovery_min_apply_delay` is
 * pg_delay, a delayed cluster.
 */
export interface StandbyCluster {
  host: string;
  port: number;
  create_replica_methods: string[];
  recovery_min_apply_delay?: string;
}

export interface PatroniDcsWant extends PatroniTarget {
  cluster: string;
  /** Top-level DCS settings: ttl, loop_wait, retry_timeout... */
  settings: Record<string, DcsValue>;
  /** postgresql.parameters */
  parameters: Record<string, DcsValue>;
  /** standby_cluster, for a standby cluster. */
  standby?: StandbyCluster;
}

export interface PatroniDcsHave {
  settings: Record<string, unknown>;
  parameters: Record<string, unknown>;
}

/** DCS values come back as YAML or JSON typed them: 'on' and true, '100' and 100 are the same setting. */
export const sameValue = (a: unknown, b: DcsValue): boolean => (typeof a === 'string' || typeof a === 'number' || typeof a === 'boolean') && String(a).toLowerCase() === String(b).toLowerCase();

function changed(want: Record<string, DcsValue>, have: Record<string, unknown>, prefix: string): FieldChange[] {
  return Object.entries(want)
    .filter(([k, v]) => !sameValue(have[k], v))
    .map(([k, v]) => ({ field: prefix + k, from: have[k] ?? null, to: v }));
}

/** Where standby_cluster replicates from and how far behind (the list of clone methods is left as found); no delay is 0. */
function standbyChanges(w: PatroniDcsWant, h: PatroniDcsHave): FieldChange[] {
  if (!w.standby) return [];
  const have = (h.settings.standby_cluster ?? {}) as Record<string, unknown>;
  const want = { host: w.standby.host, port: w.standby.port, recovery_min_apply_delay: w.standby.recovery_min_apply_delay ?? '0' };
  return changed(want, { ...have, recovery_min_apply_delay: have.recovery_min_apply_delay ?? '0' }, 'standby_cluster.');
}

export const patroniDcs: Kind<PatroniDcsWant, PatroniDcsHave, 'patroni-dcs'> = {
  name: 'patroni-dcs',
  id: (w) => refTo(patroniDcs, w.cluster),
  probe: (w) => restProbe(w, { config: '/config' }),
  parse: (out) => {
    const config = restJson<Record<string, unknown>>(keyValues(out), 'config');
    if (!config) return null;
    const pg = (config.postgresql ?? {}) as { parameters?: Record<string, unknown> };
    return { settings: config, parameters: pg.parameters ?? {} };
  },
  // Before Patroni runs, the bootstrap section of patroni.yml writes these same settings.
  diff: (w, h) => (h ? [...changed(w.settings, h.settings, ''), ...changed(w.parameters, h.parameters, 'postgresql.parameters.'), ...standbyChanges(w, h)] : []),
  apply: (w, h) => {
    const settings = Object.fromEntries(Object.entries(w.settings).filter(([k, v]) => !sameValue(h?.settings[k], v)));
    const parameters = Object.fromEntries(Object.entries(w.parameters).filter(([k, v]) => !sameValue(h?.parameters[k], v)));
    // PATCH merges: a delay taken out of the inventory is removed with null.
    const standby = h && w.standby && standbyChanges(w, h).length ? { standby_cluster: { recovery_min_apply_delay: null, ...w.standby } } : {};
    const patch = { ...settings, ...(Object.keys(parameters).length ? { postgresql: { parameters } } : {}), ...standby };
    return patroniCtl(w.config, 'patch-config', JSON.stringify(patch));
  },
};
