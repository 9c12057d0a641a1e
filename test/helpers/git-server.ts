// A real git smart-HTTP server for tests: node's http on 127.0.0.1 in front of `git http-backend`
// (CGI), serving bare repositories in a temp folder. Optional basic auth, and switches to answer
// an error status, to hang, or to stop listening, so a client sees a server that is down.
// Repositories are written with the real git CLI: commits in a work tree, pushed to the bare
// repository by path (the server only serves fetches).
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export interface BasicAuth {
  username: string;
  password: string;
}

export interface RequestRecord {
  method: string;
  /** Path and query, as the client sent them. */
  url: string;
  status: number;
  /** Whether the request carried an Authorization header (never its value). */
  authorized: boolean;
  /** Time from the request to the status line, ms. */
  ms: number;
}

export interface GitServer {
  /** `http://127.0.0.1:PORT` */
  readonly baseUrl: string;
  /** Folder holding the bare repositories (`<name>.git`). */
  readonly root: string;
  /** Every request answered so far, oldest first. */
  readonly requests: RequestRecord[];
  /** `http://127.0.0.1:PORT/<name>.git` */
  repoUrl(name: string): string;
  /** An empty bare repository and a work tree whose `origin` is it. */
  createRepo(name: string, opts?: { branch?: string }): Promise<TestRepo>;
  /**
   * A repository with `commits` linear commits on `main`, built with `git fast-import` (10,000 commits
   * take about a second). Each commit rewrites one of `files` cluster files; the work tree is a clone.
   */
  importRepo(name: string, commits: number, opts?: { files?: number }): Promise<TestRepo>;
  /** Require basic auth from now on (undefined: no auth). */
  setAuth(auth: BasicAuth | undefined): void;
  /** Answer every request with this status (e.g. 503) until called with undefined. */
  failWith(status: number | undefined): void;
  /** Accept requests and never answer them, until called with false. */
  hang(on: boolean): void;
  /** Answer a fetch's pack request (POST git-upload-pack) with its status and headers, then nothing more, until called with false. */
  stall(on: boolean): void;
  /** Connections open now (a client that gave up on a hung request should have closed its own). */
  connections(): number;
  /** Stop listening and drop open connections: clients get ECONNREFUSED. */
  stop(): Promise<void>;
  /** Listen again on the same port. */
  start(): Promise<void>;
  /** stop(), then remove every repository. */
  close(): Promise<void>;
}

export interface TestRepo {
  name: string;
  /** Path of the bare repository the server serves. */
  bare: string;
  /** Path of a work tree (with .git) whose origin is `bare`. */
  work: string;
  /** `http://127.0.0.1:PORT/<name>.git` */
  url: string;
  /**
   * Writes the files (path -> content; null deletes), commits everything and returns the new sha.
   * Commit times go up a minute per commit, so history order is stable.
   */
  commit(files: Record<string, string | null>, message: string): Promise<string>;
  /** Pushes the current branch. */
  push(): Promise<void>;
  /** Pushes the current branch with --force (after a reset or an amend). */
  forcePush(): Promise<void>;
  /** Pushes HEAD to any ref, e.g. `refs/pull/7/head`. */
  pushRef(ref: string): Promise<void>;
  /** `git revert --no-edit sha`; returns the revert commit. */
  revert(sha: string): Promise<string>;
  /** `git reset --hard ref` in the work tree. */
  reset(ref: string): Promise<void>;
  /** `git rev-parse HEAD` */
  head(): Promise<string>;
  /** Runs git in the work tree; returns trimmed stdout. */
  git(...args: string[]): Promise<string>;
}

const AUTHOR = { name: 'Corral Test', email: 'corral-test@example.invalid' };

/** Runs git with a fixed identity and no user or system config; returns trimmed stdout. */
export function runGit(cwd: string, args: string[], opts: { env?: Record<string, string>; input?: string } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      'git',
      args,
      {
        cwd,
        maxBuffer: 256 * 1024 * 1024,
        env: {
          PATH: process.env['PATH'] ?? '/usr/bin:/bin',
          HOME: cwd,
          GIT_CONFIG_NOSYSTEM: '1',
          GIT_CONFIG_GLOBAL: '/dev/null',
          GIT_AUTHOR_NAME: AUTHOR.name,
          GIT_AUTHOR_EMAIL: AUTHOR.email,
          GIT_COMMITTER_NAME: AUTHOR.name,
          GIT_COMMITTER_EMAIL: AUTHOR.email,
          ...opts.env,
        },
      },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`git ${args.join(' ')} failed: ${err.message}\n${stderr}`));
        else resolve(stdout.trim());
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** `host`: where it listens (default loopback; the lab's host address for daemons in a lab namespace). */
export async function startGitServer(opts: { auth?: BasicAuth; host?: string } = {}): Promise<GitServer> {
  const host = opts.host ?? '127.0.0.1';
  const root = mkdtempSync(join(tmpdir(), 'corral-git-server-'));
  const requests: RequestRecord[] = [];
  const sockets = new Set<Socket>();
  let auth = opts.auth;
  let failStatus: number | undefined;
  let hanging = false;
  let stalling = false;
  let port = 0;
  let server: Server | undefined;

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const started = performance.now();
    const record = (status: number): void => {
      const ms = performance.now() - started;
      requests.push({ method: req.method ?? 'GET', url: req.url ?? '/', status, authorized: req.headers.authorization !== undefined, ms });
    };
    if (hanging) return; // never answered; stop() drops the socket
    if (stalling && req.method === 'POST') {
      record(200);
      req.resume();
      res.writeHead(200, { 'content-type': 'application/x-git-upload-pack-result', 'cache-control': 'no-cache' });
      res.flushHeaders();
      return; // the pack never comes; stop() drops the socket
    }
    if (failStatus !== undefined) {
      record(failStatus);
      res.writeHead(failStatus, { 'content-type': 'text/plain' }).end('unavailable\n');
      return;
    }
    let remoteUser = '';
    if (auth) {
      const given = parseBasic(req.headers.authorization);
      if (!given || given.username !== auth.username || given.password !== auth.password) {
        record(401);
        req.resume();
        res.writeHead(401, { 'www-authenticate': 'Basic realm="corral-test"', 'content-type': 'text/plain' }).end('unauthorized\n');
        return;
      }
      remoteUser = given.username;
    }
    cgi(root, req, res, remoteUser, record);
  };

  const listen = async (): Promise<void> => {
    const s = createServer(handler);
    s.on('connection', (socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(port, host, () => resolve());
    });
    port = (s.address() as AddressInfo).port;
    server = s;
  };
  await listen();

  const stop = async (): Promise<void> => {
    const s = server;
    if (!s) return;
    server = undefined;
    const closed = new Promise<void>((resolve) => s.close(() => resolve()));
    for (const socket of sockets) socket.destroy();
    s.closeAllConnections();
    await closed;
  };

  const baseUrl = `http://${host}:${port}`;
  const repoUrl = (name: string): string => `${baseUrl}/${name}.git`;

  const makeRepo = (name: string, bare: string, work: string, branch: string, firstTime: number): TestRepo => {
    let time = firstTime;
    const git = (...args: string[]): Promise<string> => runGit(work, args);
    const dated = (): Record<string, string> => {
      time += 60;
      const date = `${time} +0000`;
      return { GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date };
    };
    return {
      name,
      bare,
      work,
      url: repoUrl(name),
      git,
      async commit(files, message) {
        for (const [path, content] of Object.entries(files)) {
          const full = join(work, path);
          if (content === null) {
            await rm(full, { force: true });
          } else {
            await mkdir(dirname(full), { recursive: true });
            await writeFile(full, content);
          }
        }
        await git('add', '-A');
        await runGit(work, ['commit', '-q', '--allow-empty', '-m', message], { env: dated() });
        return git('rev-parse', 'HEAD');
      },
      async push() {
        await git('push', '-q', 'origin', `HEAD:refs/heads/${branch}`);
      },
      async forcePush() {
        await git('push', '-q', '--force', 'origin', `HEAD:refs/heads/${branch}`);
      },
      async pushRef(ref) {
        await git('push', '-q', '--force', 'origin', `HEAD:${ref}`);
      },
      async revert(sha) {
        await runGit(work, ['revert', '--no-edit', sha], { env: dated() });
        return git('rev-parse', 'HEAD');
      },
      async reset(ref) {
        await git('reset', '-q', '--hard', ref);
      },
      head: () => git('rev-parse', 'HEAD'),
    };
  };

  return {
    baseUrl,
    root,
    requests,
    repoUrl,
    async createRepo(name, repoOpts = {}) {
      const branch = repoOpts.branch ?? 'main';
      const bare = join(root, `${name}.git`);
      const work = join(root, 'work', name);
      await mkdir(work, { recursive: true });
      await runGit(root, ['init', '-q', '--bare', `--initial-branch=${branch}`, bare]);
      await runGit(work, ['init', '-q', `--initial-branch=${branch}`]);
      await runGit(work, ['remote', 'add', 'origin', bare]);
      return makeRepo(name, bare, work, branch, 1_700_000_000);
    },
    async importRepo(name, commits, importOpts = {}) {
      const files = importOpts.files ?? 20;
      const bare = join(root, `${name}.git`);
      const work = join(root, 'work', name);
      await runGit(root, ['init', '-q', '--bare', '--initial-branch=main', bare]);
      const start = 1_600_000_000;
      await runGit(bare, ['fast-import', '--quiet'], { input: fastImportStream(commits, files, start) });
      await runGit(root, ['clone', '-q', bare, work]);
      return makeRepo(name, bare, work, 'main', start + commits * 60);
    },
    setAuth(a) {
      auth = a;
    },
    failWith(status) {
      failStatus = status;
    },
    hang(on) {
      hanging = on;
    },
    stall(on) {
      stalling = on;
    },
    connections: () => sockets.size,
    stop,
    start: async () => {
      if (!server) await listen();
    },
    async close() {
      await stop();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

function parseBasic(header: string | undefined): BasicAuth | undefined {
  const m = /^Basic\s+(\S+)$/i.exec(header ?? '');
  if (!m?.[1]) return undefined;
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** Runs `git http-backend` for one request: CGI environment in, CGI headers and body out. */
function cgi(root: string, req: IncomingMessage, res: ServerResponse, remoteUser: string, record: (status: number) => void): void {
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  const env: Record<string, string> = {
    PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_PROJECT_ROOT: root,
    GIT_HTTP_EXPORT_ALL: '1',
    GATEWAY_INTERFACE: 'CGI/1.1',
    PATH_INFO: decodeURIComponent(url.pathname),
    QUERY_STRING: url.search.replace(/^\?/, ''),
    REQUEST_METHOD: req.method ?? 'GET',
    REMOTE_ADDR: req.socket.remoteAddress ?? '127.0.0.1',
    REMOTE_USER: remoteUser,
  };
  const h = req.headers;
  if (h['content-type']) env['CONTENT_TYPE'] = h['content-type'];
  if (h['content-length']) env['CONTENT_LENGTH'] = h['content-length'];
  if (typeof h['content-encoding'] === 'string') env['HTTP_CONTENT_ENCODING'] = h['content-encoding'];
  if (typeof h['git-protocol'] === 'string') env['GIT_PROTOCOL'] = h['git-protocol'];

  const child = spawn('git', ['http-backend'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  req.pipe(child.stdin);
  child.stdin.on('error', () => {}); // the backend may exit before reading everything
  child.stderr.resume();

  let head = Buffer.alloc(0);
  let headersDone = false;
  child.stdout.on('data', (chunk: Buffer) => {
    if (headersDone) {
      res.write(chunk);
      return;
    }
    head = Buffer.concat([head, chunk]);
    const end = findHeaderEnd(head);
    if (!end) return;
    headersDone = true;
    let status = 200;
    const headers: Record<string, string> = {};
    for (const line of head.subarray(0, end.at).toString('latin1').split(/\r?\n/)) {
      const colon = line.indexOf(':');
      if (colon < 0) continue;
      const name = line.slice(0, colon).trim();
      const value = line.slice(colon + 1).trim();
      if (name.toLowerCase() === 'status') status = Number.parseInt(value, 10) || 500;
      else headers[name] = value;
    }
    record(status);
    res.writeHead(status, headers);
    res.write(head.subarray(end.at + end.length));
  });
  child.stdout.on('end', () => {
    if (!headersDone) {
      record(502);
      res.writeHead(502, { 'content-type': 'text/plain' });
    }
    res.end();
  });
  child.on('error', () => {
    if (!res.headersSent) res.writeHead(500);
    res.end();
  });
  res.on('close', () => child.kill());
}

function findHeaderEnd(buf: Buffer): { at: number; length: number } | undefined {
  const crlf = buf.indexOf('\r\n\r\n');
  const lf = buf.indexOf('\n\n');
  if (crlf >= 0 && (lf < 0 || crlf < lf)) return { at: crlf, length: 4 };
  if (lf >= 0) return { at: lf, length: 2 };
  return undefined;
}

/** A `git fast-import` stream: commit 1 writes every file, each later commit rewrites one. */
function fastImportStream(commits: number, files: number, start: number): string {
  const parts: string[] = [];
  const data = (s: string): string => `data ${Buffer.byteLength(s)}\n${s}\n`;
  const cluster = (f: number, i: number): string =>
    `pg-c${f}:\n  hosts:\n    10.10.${f % 250}.1: { pg_seq: 1, pg_role: primary }\n  vars:\n    pg_cluster: pg-c${f}\n    revision: ${i}\n`;
  for (let i = 1; i <= commits; i++) {
    parts.push(`commit refs/heads/main\nmark :${i}\n`);
    parts.push(`author ${AUTHOR.name} <${AUTHOR.email}> ${start + i * 60} +0000\n`);
    parts.push(`committer ${AUTHOR.name} <${AUTHOR.email}> ${start + i * 60} +0000\n`);
    parts.push(data(`change ${i}`));
    if (i > 1) parts.push(`from :${i - 1}\n`);
    if (i === 1) {
      for (let f = 0; f < files; f++) parts.push(`M 100644 inline clusters/pg-c${f}.yml\n${data(cluster(f, i))}`);
      parts.push(`M 100644 inline pigsty.yml\n${data('all:\n  vars:\n    admin_ip: 10.10.0.1\n')}`);
    } else {
      const f = i % files;
      parts.push(`M 100644 inline clusters/pg-c${f}.yml\n${data(cluster(f, i))}`);
    }
    parts.push('\n');
  }
  return parts.join('');
}
