/**
 * An exporter its `*_exporter_enabled` turned off: its unit stopped and disabled. Unlike the generic
 * `service`, a unit that is not there (the package was never installed) is already off: Corral never
 * installs a package to stop its service, and never removes one.
 */
import { sh } from '../../../src/engine/shell.js';
import { keyValues, refTo, type Kind } from '../../../src/engine/resources/kind.js';

export interface PgExporterOffWant {
  /** The systemd service, `prometheus-postgres-exporter`. */
  name: string;
}

export interface PgExporterOffHave {
  enabled: boolean;
  running: boolean;
}

const unit = (name: string): string => `${name}.service`;

export const pgExporterOff: Kind<PgExporterOffWant, PgExporterOffHave, 'pg-exporter-off'> = {
  name: 'pg-exporter-off',
  id: (w) => refTo(pgExporterOff, w.name),
  probe: (w) => sh`systemctl show -p LoadState -p ActiveState -p UnitFileState ${unit(w.name)} 2>/dev/null || true`,
  parse: (out) => {
    const kv = keyValues(out);
    if (kv.get('LoadState') !== 'loaded') return { enabled: false, running: false };
    return {
      enabled: ['enabled', 'enabled-runtime'].includes(kv.get('UnitFileState') ?? ''),
      running: ['active', 'activating', 'reloading'].includes(kv.get('ActiveState') ?? ''),
    };
  },
  diff: (_w, h) => [...(h?.enabled ? [{ field: 'enabled', from: true, to: false }] : []), ...(h?.running ? [{ field: 'running', from: true, to: false }] : [])],
  apply: (w) => sh`systemctl disable --now ${unit(w.name)}`,
  effects: (_w, h) => ({ restarts: h?.running === true }),
};
