/**
 * Files Corral wrote in a folder that the inventory no longer asks for (a service taken out of
 * pg_services leaves its HAProxy listener behind otherwise). Only files whose first line carries
 * the marker are Corral's: anything else in the folder is left alone.
 */
import { sh } from '../shell.js';
import { refTo, type Kind } from './kind.js';

export interface StaleFilesWant {
  dir: string;
  /** What the set is, for plans: `pg-test services`. */
  set: string;
  /** The first line of every file of this set starts with it. */
  marker: string;
  /** Names in `dir` to keep: the set's files the inventory still wants. */
  keep: string[];
}

export const staleFiles: Kind<StaleFilesWant, { files: string[] }, 'stale-files'> = {
  name: 'stale-files',
  id: (w) => refTo(staleFiles, `${w.dir} (${w.set})`),
  probe: (w) => sh`for f in ${w.dir}/*; do [ -f "$f" ] && head -n 1 "$f" | grep -qF -- ${w.marker} && basename "$f"; done; true`,
  parse: (out) => ({ files: out.split('\n').filter(Boolean).sort() }),
  diff: (w, h) => {
    const stale = (h?.files ?? []).filter((f) => !w.keep.includes(f));
    return stale.length ? [{ field: 'stale files', from: stale, to: [] }] : [];
  },
  apply: (w, h) => sh`cd ${w.dir} && rm -f -- ${(h?.files ?? []).filter((f) => !w.keep.includes(f))}`,
};
