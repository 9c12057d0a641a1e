// The two places a GitSource reads from. A remote (http/https) is fetched into one bare clone in
// `<stateDir>/repo` with isomorphic-git; a local repository is read where it is.
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import git from 'isomorphic-git';
import type { GitAuth, HttpClient } from 'isomorphic-git';
import nodeHttp from 'isomorphic-git/http/node';
import { classifyFetchError, FetchError, redactUrl } from './errors.js';
import { atomicFs } from './fs.js';
import type { Repo } from './objects.js';

export interface Credentials {
  username?: string;
  password?: string;
  /** A personal or app access token; sent as the password of basic auth. */
  token?: string;
}

export interface Backend {
  /** URL (redacted) or path, for messages. */
  readonly where: string;
  /** Brings `ref` over (remote) or looks it up (local); returns the commit sha it points at. */
  resolve(ref: string, branch: boolean): Promise<string>;
  /** The repository to read objects from (for a remote, the clone: empty before the first fetch). */
  repo(): Promise<Repo>;
  /** Drops a clone found bad, so the next fetch starts over (no-op for a local repository). */
  reset(): Promise<void>;
  /** Secret values to mask in messages (the last credentials used). */
  secrets(): string[];
}

export interface RemoteOptions {
  url: string;
  branch: string;
  stateDir: string;
  credentials?: () => Promise<Credentials | undefined>;
  timeoutMs: number;
}

const FETCH_SPEC = '+refs/heads/*:refs/remotes/origin/*';

/** Basic auth for isomorphic-git. A token goes in the password with `x-access-token` (or the given username) as user: GitHub, GitLab, Gitea and Bitbucket all take it. */
export function toGitAuth(creds: Credentials): GitAuth | undefined {
  if (creds.token) return { username: creds.username || 'x-access-token', password: creds.token };
  if (creds.username !== undefined || creds.password !== undefined) return { username: creds.username ?? '', password: creds.password ?? '' };
  return undefined;
}

function urlPassword(url: string): string | undefined {
  try {
    return decodeURIComponent(new URL(url).password) || undefined;
  } catch {
    return undefined;
  }
}

export class RemoteBackend implements Backend {
  readonly where: string;
  private readonly gitdir: string;
  private readonly tmpDir: string;
  private readonly fs: Repo['fs'];
  private cache: object = {};
  private ready = false;
  private lastSecrets: string[] = [];

  constructor(private readonly opts: RemoteOptions) {
    this.where = redactUrl(opts.url);
    this.gitdir = join(opts.stateDir, 'repo');
    this.tmpDir = join(opts.stateDir, 'tmp');
    this.fs = atomicFs(this.tmpDir) as unknown as Repo['fs'];
  }

  secrets(): string[] {
    return this.lastSecrets;
  }

  async repo(): Promise<Repo> {
    await this.init();
    return { fs: this.fs, gitdir: this.gitdir, cache: this.cache };
  }

  async reset(): Promise<void> {
    await fsp.rm(this.gitdir, { recursive: true, force: true });
    this.cache = {};
    this.ready = false;
  }

  /**
   * Makes `<stateDir>/repo` a bare repository whose origin is our URL. A clone of another URL (the
   * configuration changed) or a half-made one is replaced. The new one is built aside and renamed in.
   */
  private async init(): Promise<void> {
    if (this.ready) return;
    await fsp.rm(this.tmpDir, { recursive: true, force: true });
    await fsp.mkdir(this.tmpDir, { recursive: true });
    let url: string | undefined;
    try {
      url = (await git.getConfig({ fs: this.fs, gitdir: this.gitdir, path: 'remote.origin.url' })) as string | undefined;
    } catch {
      url = undefined;
    }
    if (url !== this.where) {
      const fresh = `${this.gitdir}.tmp-${randomBytes(6).toString('hex')}`;
      await git.init({ fs: this.fs, gitdir: fresh, bare: true, defaultBranch: this.opts.branch });
      await git.setConfig({ fs: this.fs, gitdir: fresh, path: 'remote.origin.fetch', value: FETCH_SPEC });
      // Never the credentials: the URL is stored redacted and given to each fetch in full.
      await git.setConfig({ fs: this.fs, gitdir: fresh, path: 'remote.origin.url', value: this.where });
      await fsp.rm(this.gitdir, { recursive: true, force: true });
      await fsp.rename(fresh, this.gitdir);
      this.cache = {};
    }
    for (const name of await fsp.readdir(this.opts.stateDir)) {
      if (name.startsWith('repo.tmp-')) await fsp.rm(join(this.opts.stateDir, name), { recursive: true, force: true });
    }
    this.ready = true;
  }

  async resolve(ref: string, branch: boolean): Promise<string> {
    await this.init();
    let creds: Credentials | undefined;
    try {
      creds = this.opts.credentials ? await this.opts.credentials() : undefined;
    } catch (err) {
      throw new FetchError('auth', `${this.where}: cannot read the credentials: ${err instanceof Error ? err.message : String(err)}`);
    }
    const auth = creds ? toGitAuth(creds) : undefined;
    this.lastSecrets = [creds?.token, creds?.password, urlPassword(this.opts.url)].filter((s): s is string => !!s);
    const controller = new AbortController();
    const http: HttpClient = {
      request: async (req) => {
        try {
          return await nodeHttp.request({ ...req, signal: controller.signal });
        } catch (err) {
          // A kept-alive connection the server closed while idle fails at once with ECONNRESET:
          // a GET is safe to send again, on a new connection.
          if ((req.method ?? 'GET') !== 'GET' || (err as { code?: string }).code !== 'ECONNRESET' || controller.signal.aborted) throw err;
          return nodeHttp.request({ ...req, signal: controller.signal });
        }
      },
    };
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        controller.abort();
        reject(new FetchError('timeout', `${this.where}: no answer within ${this.opts.timeoutMs} ms`));
      }, this.opts.timeoutMs);
    });
    const remoteRef = branch ? `refs/heads/${ref}` : ref;
    const work = this.bringOver(http, auth, remoteRef, branch);
    // An aborted fetch may never settle; its writes are atomic, so it is left to finish or not.
    work.catch(() => {});
    try {
      return await Promise.race([work, timeout]);
    } catch (err) {
      const failure = classifyFetchError(err, `${this.where} ${remoteRef}`, this.lastSecrets);
      if (failure.kind === 'corrupt') await this.reset();
      throw failure;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Asks the server where `remoteRef` points (one request). When we already have that commit (a poll
   * with nothing new, or a force-push back to a known commit) that is the answer; otherwise fetch it,
   * offering our copy of the branch as "have" so only new objects come over.
   */
  private async bringOver(http: HttpClient, auth: GitAuth | undefined, remoteRef: string, branch: boolean): Promise<string> {
    const tracking = `refs/remotes/origin/${this.opts.branch}`;
    // Shared by both calls: once the server has asked for credentials (401), the Authorization
    // header isomorphic-git put here goes with the fetch at once. Never sent unasked.
    const headers: Record<string, string> = {};
    const onAuth = auth ? (): GitAuth => auth : undefined;
    // A second 401 means the credentials are wrong: stop instead of asking again.
    const onAuthFailure = (): GitAuth => ({ cancel: true });
    const info = await git.getRemoteInfo2({ http, url: this.opts.url, headers, onAuth, onAuthFailure, protocolVersion: 1 });
    // An annotated tag's commit is its peeled value.
    const refs = new Map((info.refs ?? []).map((r) => [r.ref, r.peeled ?? r.oid]));
    const name = [remoteRef, `refs/${remoteRef}`, `refs/heads/${remoteRef}`, `refs/tags/${remoteRef}`].find((n) => refs.has(n));
    const oid = name === undefined ? undefined : refs.get(name);
    if (oid === undefined) throw new FetchError('not-found', `${this.where}: no ${remoteRef} on the server${refs.size === 0 ? ' (the repository is empty)' : ''}`);
    if (await this.has(oid)) {
      if (branch) await git.writeRef({ fs: this.fs, gitdir: this.gitdir, ref: tracking, value: oid, force: true });
      return oid;
    }
    const result = await git.fetch({
      fs: this.fs,
      http,
      headers,
      gitdir: this.gitdir,
      cache: this.cache,
      url: this.opts.url,
      ref: tracking,
      remoteRef: name ?? remoteRef,
      singleBranch: true,
      tags: false,
      onAuth,
      onAuthFailure,
    });
    if (!result.fetchHead) throw new FetchError('not-found', `${this.where}: no ${remoteRef} on the server (the repository is empty)`);
    // For an annotated tag the fetch head is the tag object; the commit is the peeled value.
    return name?.startsWith('refs/tags/') && (await this.has(oid)) ? oid : result.fetchHead;
  }

  /** Whether the clone holds object `oid` (then also everything it points at: packs come whole). */
  private async has(oid: string): Promise<boolean> {
    try {
      await git.readObject({ fs: this.fs, gitdir: this.gitdir, cache: this.cache, oid, format: 'deflated' });
      return true;
    } catch (err) {
      if ((err as { code?: string }).code === 'NotFoundError') return false;
      throw err;
    }
  }
}

export class LocalBackend implements Backend {
  readonly where: string;
  private readonly fs = { promises: fsp } as unknown as Repo['fs'];

  constructor(private readonly path: string) {
    this.where = path;
  }

  secrets(): string[] {
    return [];
  }

  async reset(): Promise<void> {}

  /** A fresh cache per call: someone else's `git gc` may repack the repository at any time. */
  async repo(): Promise<Repo> {
    return { fs: this.fs, gitdir: await this.gitdir(), cache: {} };
  }

  async resolve(ref: string, branch: boolean): Promise<string> {
    const repo = await this.repo();
    const full = branch ? `refs/heads/${ref}` : ref;
    try {
      let oid = await git.resolveRef({ ...repo, ref: full });
      // An annotated tag points at a tag object: follow it to the commit.
      for (let hops = 0; hops < 8; hops++) {
        const { type } = await git.readObject({ ...repo, oid, format: 'content' });
        if (type !== 'tag') break;
        oid = (await git.readTag({ ...repo, oid })).tag.object;
      }
      return oid;
    } catch (err) {
      if ((err as { code?: string }).code === 'NotFoundError') throw new FetchError('not-found', `${this.path}: no ${full} in the repository`);
      throw classifyFetchError(err, `${this.path} ${full}`, []);
    }
  }

  /** The git directory of a work tree (`.git` folder or `gitdir:` file) or of a bare repository. */
  private async gitdir(): Promise<string> {
    const st = await fsp.stat(this.path).catch(() => undefined);
    if (!st?.isDirectory()) throw new FetchError('not-found', `${this.path}: no such folder`);
    const dotGit = join(this.path, '.git');
    const dg = await fsp.stat(dotGit).catch(() => undefined);
    if (dg?.isDirectory()) return dotGit;
    if (dg?.isFile()) {
      const m = /^gitdir:\s*(.+?)\s*$/m.exec(await fsp.readFile(dotGit, 'utf8'));
      if (m?.[1]) return join(m[1].startsWith('/') ? '' : this.path, m[1]);
    }
    const head = await fsp.stat(join(this.path, 'HEAD')).catch(() => undefined);
    const objects = await fsp.stat(join(this.path, 'objects')).catch(() => undefined);
    if (head?.isFile() && objects?.isDirectory()) return this.path;
    throw new FetchError('not-found', `${this.path} is a folder but not a git repository (no .git): commit it to a repository, or point the source at one`);
  }
}
