/** How the CLI names a file of an inventory: one way everywhere, whatever folder it was loaded from. */
import { isAbsolute, relative, resolve } from 'node:path';
import type { Validated } from '../config/validate.js';
import type { Problem } from '../config/problems.js';

/**
 * A file named relative to `root` (the inventory's folder), as the user should see it: relative to
 * the current folder when it is under it, else absolute (never a climb of `../../..`).
 */
export function displayPathFrom(root: string, cwd = process.cwd()): (file: string) => string {
  return (file) => {
    // A URL given where a path was expected is no path: shown as given, for its password to be redacted.
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(file)) return file;
    const abs = resolve(root, file);
    const rel = relative(cwd, abs);
    if (rel === '') return '.';
    return rel === '..' || rel.startsWith('../') || isAbsolute(rel) ? abs : rel;
  };
}

/** The display function for a validation of `target`. */
export function displayPathOf(result: Pick<Validated, 'root' | 'inventory'>, target: string): (file: string) => string {
  return displayPathFrom(result.inventory?.root ?? result.root ?? resolve(target));
}

/**
 * A problem's message names its related place relative to the inventory's folder (`pigsty.yml:9:5`);
 * shown next to a problem whose own place is named by `display`, it is named the same way.
 */
export function localizedMessage(p: Pick<Problem, 'message' | 'related'>, display: (file: string) => string): string {
  const r = p.related;
  if (!r) return p.message;
  return p.message.split(`${r.file}:${r.line}:${r.col}`).join(`${display(r.file)}:${r.line}:${r.col}`);
}
