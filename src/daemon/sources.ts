/** Where the daemon's revisions come from: a git branch (remote or local), or a folder on disk. */
import { contentRevision } from '../util/content-revision.js';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { GitSource } from '../git/source.js';
import { folderRevisionOf } from '../git/worktree.js';
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
      const content = (): string => contentRevision('folder', files);
      const checkout = await folderRevisionOf(dir, content);
      return checkout ? { ...checkout, dir } : { revision: content(), author: 'local', subject: 'working folder', dir };
    },
  };
}
