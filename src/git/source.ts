// A GitSource follows one branch of one repository: fetch it (incrementally, into a clone kept in
// the state directory), check out any commit as a plain folder, read commits and history.
// Every call on one GitSource runs one at a time: isomorphic-git has no locking, and a read
// racing a fetch could see a pack without its index. Use one GitSource per state directory.
import { join, resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';
import git from 'isomorphic-git';
import { CheckoutStore } from './checkouts.js';
import { classifyFetchError, FetchError, isSystemError, redactUrl } from './errors.js';
import { readCommit, walkLog, writeTree, type Commit, type Repo } from './objects.js';
import { LocalBackend, RemoteBackend, type Backend, type Credentials } from './remote.js';

export { FetchError, type FetchErrorKind } from './errors.js';
export type { Commit } from './objects.js';
export type { Credentials } from './remote.js';

export interface SourceOptions {
  /** https://... or http://... URL, or a local path (or file:// URL) of a git repository (work tree or bare). */
  url: string;
  /** The tracked branch, e.g. 'main'. */
  branch: string;
  /** Holds the clone (`<stateDir>/repo`, a bare git dir) and the checkouts (`<stateDir>/checkouts/<sha>`). */
  stateDir: string;
  /** Asked before each remote fetch (so a rotated token is picked up); read from env or a file, never from the repo. */
  credentials?: () => Promise<Credentials | undefined>;
  /** Per fetch; default 60 s. The first fetch clones the whole history. */
  timeoutMs?: number;
  /** Checkouts kept, the most recently used first; default 5. */
  keep?: number;
}

export interface GitSource {
  /** Fetch the tracked branch incrementally (first call clones); returns the branch head commit. */
  fetch(): Promise<Commit>;
  /** Fetch another ref, e.g. 'refs/pull/7/head' or 'refs/merge-requests/3/head' (for PR previews); returns its commit. */
  fetchRef(ref: string): Promise<Commit>;
  /**
   * A folder holding the files of that commit (a full or unique abbreviated sha, fetched before),
   * written once and reused; read-only for callers. Older checkouts beyond the newest `keep` are removed,
   * so hold on to a folder only while working on it.
   */
  checkout(sha: string): Promise<string>;
  commit(sha: string): Promise<Commit>;
  /**
   * Commits reachable from `to` and not from `from`, newest first (by committer time), at most `max`
   * (default 1000). Both must be known locally (fetched before): an unknown sha is 'not-found'.
   * About 0.3 ms a commit: short ranges are cheap, a full 10,000-commit history takes seconds.
   */
  log(from: string | undefined, to: string, max?: number): Promise<Commit[]>;
}

/** Whether `url` is fetched over http(s) or read as a local repository; other schemes are refused. */
function parseSource(url: string): { kind: 'remote' } | { kind: 'local'; path: string } {
  if (/^https?:\/\//i.test(url)) return { kind: 'remote' };
  if (/^file:\/\//i.test(url)) return { kind: 'local', path: fileURLToPath(url) };
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url) || /^[^/\s]+@[^/\s:]+:/.test(url)) {
    throw new Error(`unsupported repository URL ${redactUrl(url)}: use https://, http:// or a local path (ssh is not supported)`);
  }
  return { kind: 'local', path: resolvePath(url) };
}

/**
 * A ref or branch name git would accept (`git check-ref-format`, roughly): no `..`, no spaces or
 * control characters, no `~^:?*[\\`, no leading or trailing `/`. Also keeps a name from reaching
 * outside a local git directory.
 */
export function validRefName(name: string): boolean {
  return (
    name.length > 0 &&
    name.length < 256 &&
    ![...name].some((ch) => ch.charCodeAt(0) <= 0x20 || ch.charCodeAt(0) === 0x7f || '~^:?*[\\'.includes(ch)) &&
    !name.includes('..') &&
    !name.includes('//') &&
    !name.includes('@{') &&
    !name.startsWith('/') &&
    !name.endsWith('/') &&
    !name.endsWith('.') &&
    !name.endsWith('.lock') &&
    !name.split('/').some((part) => part.startsWith('.'))
  );
}

export function createGitSource(opts: SourceOptions): GitSource {
  if (!validRefName(opts.branch) || opts.branch.startsWith('refs/')) throw new Error(`not a valid branch name: ${JSON.stringify(opts.branch)}`);
  const source = parseSource(opts.url);
  const backend: Backend =
    source.kind === 'remote'
      ? new RemoteBackend({ url: opts.url, branch: opts.branch, stateDir: opts.stateDir, credentials: opts.credentials, timeoutMs: opts.timeoutMs ?? 60_000 })
      : new LocalBackend(source.path);
  const checkouts = new CheckoutStore(join(opts.stateDir, 'checkouts'), Math.max(1, opts.keep ?? 5));

  let tail: Promise<unknown> = checkouts.clean();
  /** Runs `fn` after every earlier call has settled. */
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = tail.then(fn, fn);
    tail = run.catch(() => {});
    return run;
  };

  /**
   * Runs a read on the repository. A missing object is 'not-found'; anything else the repository
   * gives is 'corrupt' (and a clone is dropped, to be fetched again). Errors of the local file
   * system (ENOSPC, EACCES...) are thrown as they are.
   */
  const reading = async <T>(what: string, fn: (repo: Repo) => Promise<T>): Promise<T> => {
    try {
      return await fn(await backend.repo());
    } catch (err) {
      if (isSystemError(err)) throw err;
      const failure = classifyFetchError(err, `${backend.where}: ${what}`, backend.secrets(), 'read');
      if (failure.kind === 'corrupt') await backend.reset();
      throw failure;
    }
  };

  /** A full sha from a full or abbreviated one. */
  const expand = async (repo: Repo, sha: string): Promise<string> => {
    const s = sha.trim().toLowerCase();
    if (!/^[0-9a-f]{4,40}$/.test(s)) throw new FetchError('not-found', `${backend.where}: not a commit sha: ${JSON.stringify(sha.slice(0, 80))}`);
    if (s.length === 40) return s;
    return git.expandOid({ ...repo, oid: s });
  };

  const resolveToCommit = (ref: string, branch: boolean): Promise<Commit> =>
    serial(async () => {
      const sha = await backend.resolve(ref, branch);
      return reading(`commit ${sha}`, (repo) => readCommit(repo, sha));
    });

  return {
    fetch: () => resolveToCommit(opts.branch, true),
    fetchRef: (ref) =>
      validRefName(ref) ? resolveToCommit(ref, false) : Promise.reject(new FetchError('not-found', `${backend.where}: not a valid ref name: ${JSON.stringify(ref.slice(0, 100))}`)),
    commit: (sha) => serial(() => reading(`commit ${sha}`, async (repo) => readCommit(repo, await expand(repo, sha)))),
    checkout: (sha) =>
      serial(() =>
        reading(`checkout of ${sha}`, async (repo) => {
          const full = await expand(repo, sha);
          return checkouts.get(full, (dir, base) => writeTree(repo, full, dir, base));
        }),
      ),
    log: (from, to, max = 1000) =>
      serial(() =>
        reading(`log ${from ?? ''}..${to}`, async (repo) => walkLog(repo, from === undefined ? undefined : await expand(repo, from), await expand(repo, to), max)),
      ),
  };
}
