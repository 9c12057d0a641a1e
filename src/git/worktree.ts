// A folder on disk that is (inside) a git checkout: its revision is the commit it has checked out,
// as `git describe --dirty` would say, read with isomorphic-git (no git binary needed), which is
// loaded only for a folder in a checkout: `corral serve --watch` of another folder runs without it.
import * as fs from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import type { Commit } from './objects.js';

export interface CheckedOut {
  commit: Commit;
  /** Whether the folder's YAML files are as the commit has them (no edit, no new or deleted file). */
  clean: boolean;
}

const YAML = /\.ya?ml$/i;
/** As the loader and the folder watch skip them: hidden files and folders, node_modules. */
const skipped = (path: string): boolean => path.split('/').some((s) => s.startsWith('.') || s === 'node_modules');

/** The nearest folder from `dir` up that holds a `.git` (isomorphic-git's findRoot). */
function gitRoot(dir: string): string | undefined {
  for (let at = resolve(dir); ; at = dirname(at)) {
    if (fs.existsSync(join(at, '.git'))) return at;
    if (dirname(at) === at) return undefined;
  }
}

/**
 * What moves when the commit checked out where `dir` is, or its index, changes: HEAD and the ref it
 * names as they read, the index and packed-refs by size, time and inode ('' outside git). Equal
 * stamps and equal YAML files under `dir` give the same checkedOut, which need not be read again.
 */
export function checkoutStamp(dir: string): string {
  const root = gitRoot(dir);
  if (!root) return '';
  const gitdir = join(root, '.git');
  const read = (path: string): string => {
    try {
      return fs.readFileSync(join(gitdir, path), 'utf8').trim();
    } catch {
      return '-';
    }
  };
  const stat = (path: string): string => {
    const s = fs.statSync(join(gitdir, path), { throwIfNoEntry: false });
    return s ? `${s.size}:${s.mtimeMs}:${s.ino}` : '-';
  };
  const head = read('HEAD');
  // Only a ref under refs/ is read: a HEAD naming `../` leads out of .git, and then the stamp has no ref.
  const ref = /^ref: (refs\/[^\0]+)$/.exec(head)?.[1];
  const inside = ref !== undefined && !ref.split('/').includes('..');
  return [head, inside ? read(ref) : '', stat('index'), stat('packed-refs')].join('|');
}

/**
 * The commit checked out where `dir` is, and whether the YAML files under `dir` differ from it;
 * undefined when `dir` is in no git checkout, the checkout has no commit yet, or it is a linked
 * worktree (`.git` is a file), whose objects isomorphic-git cannot reach.
 */
export async function checkedOut(dir: string): Promise<CheckedOut | undefined> {
  try {
    const root = gitRoot(dir);
    if (!root) return undefined;
    const gitdir = join(root, '.git');
    if (!fs.statSync(gitdir).isDirectory()) return undefined;
    const [{ default: git }, { readCommit }] = await Promise.all([import('isomorphic-git'), import('./objects.js')]);
    const cache = {};
    const sha = await git.resolveRef({ fs, gitdir, ref: 'HEAD' });
    const commit = await readCommit({ fs, gitdir, cache }, sha);
    const under = relative(root, dir) || '.';
    const rows = await git.statusMatrix({ fs, dir: root, gitdir, cache, filepaths: [under], filter: (f) => YAML.test(f) && !skipped(f) });
    // [path, HEAD, workdir, stage]: 1 and 1 is a file as committed.
    const clean = rows.every(([, head, workdir]) => head === 1 && workdir === 1);
    return { commit, clean };
  } catch {
    return undefined;
  }
}

/**
 * A folder's revision: the commit's sha when its YAML files are as committed; the short sha and
 * the content's revision when they are edited (`3f1c2a9b8d7e+5b1d2e3f`), so each edit is still a
 * new revision; undefined outside git.
 */
export async function folderRevisionOf(dir: string, contentRevision: () => string): Promise<{ revision: string; author: string; subject: string } | undefined> {
  const at = await checkedOut(dir);
  if (!at) return undefined;
  const { commit } = at;
  if (at.clean) return { revision: commit.sha, author: commit.author, subject: commit.subject };
  const content = contentRevision();
  return { revision: `${commit.sha.slice(0, 12)}+${content.slice(content.lastIndexOf('-') + 1, content.lastIndexOf('-') + 9)}`, author: 'local', subject: `${commit.subject} (and uncommitted changes)` };
}
