/**
 * Files Corral wrote in a folder that the inventory no longer asks for (a service taken out of
 * pg_services leaves its HAProxy listener behind otherwise). Only files whose first line carries
 * the marker are Corral's: anything else in the folder is left alone. Two variants: `moveTo` moves
 * the files to another folder instead (where Corral now writes them: HAProxy's services moved to
 * conf.d), and `unmarked` takes the files whose first line does not carry the marker (Pigsty's
 * haproxy_clean: whatever Corral did not write).
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
  /** Which names in `dir` to look at (a shell glob): every file when unset. */
  glob?: string;
  /** The set is the files without the marker. */
  unmarked?: boolean;
  /** Moved into this folder rather than removed; a file of the same name already there wins (the old one is removed). */
  moveTo?: string;
}

export const staleFiles: Kind<StaleFilesWant, { files: string[] }, 'stale-files'> = {
  name: 'stale-files',
  id: (w) => refTo(staleFiles, `${w.dir} (${w.set})`),
  probe: (w) => {
    const marked = sh`head -n 1 "$f" | grep -qF -- ${w.marker}`;
    return `for f in ${sh`${w.dir}`}/${w.glob ?? '*'}; do [ -f "$f" ] && ${w.unmarked ? `! ${marked}` : marked} && basename "$f"; done; true`;
  },
  parse: (out) => ({ files: out.split('\n').filter(Boolean).sort() }),
  diff: (w, h) => {
    const stale = (h?.files ?? []).filter((f) => !w.keep.includes(f));
    return stale.length ? [{ field: w.moveTo ? `files moved to ${w.moveTo}` : 'stale files', from: stale, to: [] }] : [];
  },
  apply: (w, h) => {
    const stale = (h?.files ?? []).filter((f) => !w.keep.includes(f));
    if (!w.moveTo) return sh`cd ${w.dir} && rm -f -- ${stale}`;
    return [sh`cd ${w.dir}`, sh`mkdir -p ${w.moveTo}`, sh`for f in ${stale}; do`, sh`  [ -e ${w.moveTo}/"$f" ] || mv -- "$f" ${w.moveTo}/`, '  rm -f -- "$f"', 'done'].join('\n');
  },
};
