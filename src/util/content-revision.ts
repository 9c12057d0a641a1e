import { createHash } from 'node:crypto';

/** A revision for files outside git: a hash of their paths and contents, so any edit gives a new one. */
export function contentRevision(prefix: string, files: Iterable<readonly [string, string | Uint8Array]>): string {
  const h = createHash('sha256');
  for (const [path, content] of [...files].sort(([a], [b]) => a.localeCompare(b))) h.update(path).update('\0').update(content).update('\0');
  return `${prefix}-${h.digest('hex').slice(0, 12)}`;
}

/** A revision as people read it: a git sha cut to 12 characters; any other revision (a folder's, an edited checkout's) whole. */
export function displayRevision(rev: string): string {
  return /^[0-9a-f]{40}$/.test(rev) ? rev.slice(0, 12) : rev;
}
