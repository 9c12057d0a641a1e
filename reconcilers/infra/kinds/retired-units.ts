/**
 * Units Corral wrote in /etc/systemd/system (a pg_exporters entry's exporter) that the inventory no
 * longer asks for: stopped, disabled, and removed with their environment file. stale-files would
 * only delete the files and leave the process running, so the retirement is a kind of its own.
 * Only units whose first line carries the marker are Corral's: anything else is left alone.
 */
import { sh } from '../../../src/engine/shell.js';
import { refTo, type Kind } from '../../../src/engine/resources/kind.js';

export interface RetiredUnitsWant {
  /** What the set is, for plans: `pg_exporters`. */
  set: string;
  /** Unit file names start with it (`pg_exporter_`). */
  prefix: string;
  /** The first line of every unit of this set starts with it. */
  marker: string;
  /** Unit names (`pg_exporter_pg-foo-1`) to keep. */
  keep: string[];
  /** Each unit's environment file, by unit name: `/etc/default/<unit>`. */
  envDir: string;
}

const UNIT_DIR = '/etc/systemd/system';

export const retiredUnits: Kind<RetiredUnitsWant, { units: string[] }, 'infra-retired-units'> = {
  name: 'infra-retired-units',
  id: (w) => refTo(retiredUnits, w.set),
  // The prefix is a glob here, so it is a plain word (the module's constant), never quoted.
  probe: (w) => {
    if (!/^[A-Za-z0-9_-]+$/.test(w.prefix)) throw new Error(`unit prefix ${w.prefix} is not a plain word`);
    return `for f in ${UNIT_DIR}/${w.prefix}*.service; do [ -f "$f" ] && head -n 1 "$f" | grep -qF -- ` + sh`${w.marker}` + ` && basename "$f" .service; done; true`;
  },
  parse: (out) => ({ units: out.split('\n').filter(Boolean).sort() }),
  diff: (w, h) => {
    const stale = (h?.units ?? []).filter((u) => !w.keep.includes(u));
    return stale.length ? [{ field: 'retired units', from: stale, to: [] }] : [];
  },
  apply: (w, h) =>
    [
      ...(h?.units ?? [])
        .filter((u) => !w.keep.includes(u))
        .flatMap((u) => [sh`systemctl disable --now ${u + '.service'} || true`, sh`rm -f -- ${`${UNIT_DIR}/${u}.service`} ${`${w.envDir}/${u}`}`]),
      'systemctl daemon-reload',
    ].join('\n'),
};
