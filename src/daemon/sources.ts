/** Where the daemon's revisions come from: a git branch (remote or local), or a folder on disk. */
import { contentRevision } from '../util/content-revision.js';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { GitSource } from '../git/source.js';
import { checkoutStamp, folderRevisionOf } from '../git/worktree.js';
import type { Revision, RevisionSource } from './daemon.js';

export function gitRevisions(git: GitSource, describe: string): RevisionSource {
  const revisionOf = async (sha: string): Promise<Revision> => {
    const c = await git.commit(sha);
    return { revision: c.sha, author: c.author, subject: c.subject, dir: await git.checkout(c.sha) };
  };
  return {
    describe,
    latest: async () => revisionOf((await git.fetch()).sha),
    at: revisionOf,
  };
}

/**
 * A plain folder: its revision is a hash of its YAML files, so every saved edit is a new revision;
 * in a git checkout, the commit (and, when its YAML files are edited, that hash too).
 */
export function folderRevisions(dir: string): RevisionSource {
  let last: { stamp: string; revision: Revision } | undefined;
  return {
    describe: `folder ${dir}`,
    latest: async () => {
      const files: [string, Uint8Array][] = [];
      // Entries as they are, links not followed (as the loader reads them): no loops, no FIFO read.
      const walk = (d: string): void => {
        for (const entry of readdirSync(d, { withFileTypes: true })) {
          if (entry.name.startsWith('.') || entry.name === 'node_modules') continue;
          const p = join(d, entry.name);
          if (entry.isDirectory()) walk(p);
          else if (!/\.ya?ml$/.test(entry.name)) continue;
          else if (entry.isFile()) files.push([relative(dir, p), readFileSync(p)]);
          else if (entry.isSymbolicLink()) files.push([relative(dir, p), Buffer.from(readlinkSync(p))]);
        }
      };
      walk(dir);
      const content = contentRevision('folder', files);
      // A poll that finds the files and the checkout as before reads no git object (a pack read each poll held MiBs).
      const stamp = `${content}|${checkoutStamp(dir)}`;
      if (last?.stamp === stamp) return last.revision;
      const checkout = await folderRevisionOf(dir, () => content);
      const revision = checkout ? { ...checkout, dir } : { revision: content, author: 'local', subject: 'working folder', dir };
      last = { stamp, revision };
      return revision;
    },
  };
}
