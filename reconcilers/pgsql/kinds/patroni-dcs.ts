/**
 * Patroni's cluster-wide (DCS) settings: ttl, loop_wait... and postgresql.parameters. Changed
 * with PATCH /config; Patroni reloads every member by itself. Parameters that need a restart are
 * restarted by patroni-restart, one member at a time. Only the keys Corral sets are compared, so
 * settings made by hand elsewhere are left alone.
 */
import { keyValues, refTo, type FieldChange, type Kind } from '../../../src/engine/resources/kind.js';
import { patroniCtl, restJson, restProbe, type PatroniTarget } from './patroni-api.js';

export type DcsValue = string | number | boolean;

export interface PatroniDcsWant extends PatroniTarget {
  cluster: string;
  /** Top-level DCS settings: ttl, loop_wait, retry_timeout... */
  settings: Record<string, DcsValue>;
  /** postgresql.parameters */
  parameters: Record<string, DcsValue>;
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
  diff: (w, h) => (h ? [...changed(w.settings, h.settings, ''), ...changed(w.parameters, h.parameters, 'postgresql.parameters.')] : []),
  apply: (w, h) => {
    const settings = Object.fromEntries(Object.entries(w.settings).filter(([k, v]) => !sameValue(h?.settings[k], v)));
    const parameters = Object.fromEntries(Object.entries(w.parameters).filter(([k, v]) => !sameValue(h?.parameters[k], v)));
    const patch = { ...settings, ...(Object.keys(parameters).length ? { postgresql: { parameters } } : {}) };
    return patroniCtl(w.config, 'patch-config', JSON.stringify(patch));
  },
};
