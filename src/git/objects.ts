// Reading commits and trees out of a git directory with isomorphic-git: one commit, the commits
// between two revisions, and the files of a commit written into a folder.
import { createHash } from 'node:crypto';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, normalize, relative, sep } from 'node:path';
import git from 'isomorphic-git';

/** What a reader needs: isomorphic-git's fs client, the git directory, and its object cache. */
export interface Repo {
  fs: Parameters<typeof git.readCommit>[0]['fs'];
  gitdir: string;
  /** isomorphic-git's cache of parsed pack indexes; reuse it across calls on one repository. */
  cache: object;
}

export interface Commit {
  sha: string;
  /** Author's name and email. */
  author: string;
  email: string;
  /** First line of the message. */
  subject: string;
  /** Committer time, Unix seconds (when the commit was made, e.g. after a rebase). */
  timestamp: number;
}

type CommitObject = Awaited<ReturnType<typeof git.readCommit>>['commit'];

function toCommit(sha: string, commit: CommitObject): Commit {
  return {
    sha,
    author: commit.author.name,
    email: commit.author.email,
    subject: commit.message.split('\n', 1)[0]?.trim() ?? '',
    timestamp: commit.committer.timestamp,
  };
}

export async function readCommit(repo: Repo, sha: string): Promise<Commit> {
  const { oid, commit } = await git.readCommit({ ...repo, oid: sha });
  return toCommit(oid, commit);
}

interface Node {
  commit: Commit;
  parents: string[];
  /** Reachable from `from`: not part of the answer. */
  excluded: boolean;
  queued: boolean;
}

/**
 * Commits reachable from `to` and not from `from`, newest first (at most `max`), walked as
 * `git rev-list to ^from` does: by committer time, the `from` side first on ties, going on a few
 * commits after only excluded ones are left, so modest clock skew does not leak old commits in.
 * A parent that is missing (a shallow repository) ends its line.
 */
export async function walkLog(repo: Repo, from: string | undefined, to: string, max: number): Promise<Commit[]> {
  const nodes = new Map<string, Node>();
  const queue: string[] = [];
  const out: string[] = [];
  const emitted = new Set<string>();

  const visit = async (oid: string, excluded: boolean, required: boolean): Promise<void> => {
    const known = nodes.get(oid);
    if (known) {
      if (excluded && !known.excluded) {
        known.excluded = true; // and tell its ancestors again
        if (!known.queued) {
          known.queued = true;
          queue.push(oid);
        }
      }
      return;
    }
    let read: { commit: Commit; parents: string[] };
    try {
      const { oid: full, commit } = await git.readCommit({ ...repo, oid });
      read = { commit: toCommit(full, commit), parents: commit.parent };
    } catch (err) {
      if (!required && (err as { code?: string }).code === 'NotFoundError') return;
      throw err;
    }
    nodes.set(oid, { ...read, excluded, queued: true });
    queue.push(oid);
  };

  const popNewest = (): Node & { oid: string } => {
    let best = 0;
    for (let i = 1; i < queue.length; i++) {
      const a = nodes.get(queue[i] ?? '');
      const b = nodes.get(queue[best] ?? '');
      if (!a || !b) continue;
      if (a.commit.timestamp > b.commit.timestamp || (a.commit.timestamp === b.commit.timestamp && a.excluded && !b.excluded)) best = i;
    }
    const oid = queue.splice(best, 1)[0] ?? '';
    const node = nodes.get(oid);
    if (!node) throw new Error(`walkLog: lost ${oid}`);
    node.queued = false;
    return { ...node, oid };
  };

  await visit(to, false, true);
  if (from !== undefined) await visit(from, true, true);
  let slop = 5;
  while (queue.length > 0) {
    if (queue.every((oid) => nodes.get(oid)?.excluded)) {
      if (--slop < 0) break;
    } else if (out.length >= max) {
      break;
    }
    const node = popNewest();
    if (!node.excluded && !emitted.has(node.oid)) {
      emitted.add(node.oid);
      out.push(node.oid);
    }
    for (const parent of node.parents) await visit(parent, node.excluded, false);
  }
  const answer: Commit[] = [];
  for (const oid of out) {
    const node = nodes.get(oid);
    if (node && !node.excluded) answer.push(node.commit);
  }
  return answer.slice(0, max);
}

/** Whether a tree entry name is safe to write: no traversal, no separators, never `.git`. */
function safeName(name: string): boolean {
  return name !== '' && name !== '.' && name !== '..' && !name.includes('/') && !name.includes('\\') && !name.includes('\0') && name.toLowerCase() !== '.git';
}

/** Runs `fn` over `items` with at most `limit` at a time. */
async function eachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** The git object id of a blob with this content. */
function blobOid(content: Uint8Array): string {
  return createHash('sha1').update(`blob ${content.byteLength}\0`).update(content).digest('hex');
}

/**
 * Writes the files of commit `sha` into `dest` (which must not exist): regular and executable files,
 * symbolic links only when they point inside `dest` (others are left out, so a config repository
 * cannot make the daemon read host files), submodules as empty folders.
 * `base`, a checkout of another commit, is a shortcut: a file there whose content hashes to the
 * blob we need is copied instead of being read out of the pack (slow in isomorphic-git).
 */
export async function writeTree(repo: Repo, sha: string, dest: string, base?: string): Promise<void> {
  const { commit } = await git.readCommit({ ...repo, oid: sha });
  const entries: { oid: string; mode: string; rel: string }[] = [];
  const dirs: string[] = [''];
  const collect = async (treeOid: string, dir: string): Promise<void> => {
    const { tree } = await git.readTree({ ...repo, oid: treeOid });
    for (const entry of tree) {
      if (!safeName(entry.path)) continue;
      const rel = dir ? `${dir}/${entry.path}` : entry.path;
      if (entry.type === 'tree') {
        dirs.push(rel);
        await collect(entry.oid, rel);
      } else if (entry.type === 'commit') {
        dirs.push(rel);
      } else {
        entries.push({ oid: entry.oid, mode: entry.mode, rel });
      }
    }
  };
  await collect(commit.tree, '');
  for (const dir of dirs) await mkdir(join(dest, dir), { recursive: true });
  const fromBase = async (rel: string, oid: string): Promise<Uint8Array | undefined> => {
    if (!base) return undefined;
    const content = await readFile(join(base, rel)).catch(() => undefined);
    return content && blobOid(content) === oid ? content : undefined;
  };
  await eachLimit(entries, 16, async (entry) => {
    const path = join(dest, entry.rel);
    if (entry.mode === '120000') {
      const { blob } = await git.readBlob({ ...repo, oid: entry.oid });
      const target = Buffer.from(blob).toString('utf8');
      const rel = relative(dest, normalize(join(dirname(path), target)));
      if (isAbsolute(target) || rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || target.includes('\0')) return;
      await symlink(target, path);
      return;
    }
    const content = (await fromBase(entry.rel, entry.oid)) ?? (await git.readBlob({ ...repo, oid: entry.oid })).blob;
    await writeFile(path, content, { mode: entry.mode === '100755' ? 0o755 : 0o644 });
  });
}
