// Credentials against a real git server that demands basic auth; secrets never reach a message.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { failure, useGitServer } from './setup.js';
import { redactUrl, sanitize } from '../../src/git/errors.js';
import { createGitSource, type Credentials } from '../../src/git/source.js';
import { type TestRepo } from '../helpers/git-server.js';

const PASSWORD = 's3cret-Pa55word-xyz';
const TOKEN = 'ghp_FAKEtoken0123456789abcdefABCDEF';

let repo: TestRepo;
const env = useGitServer({ prefix: 'corral-git-auth', auth: { username: 'deploy', password: PASSWORD } });
const stateDir = (): string => env.tmp();

beforeAll(async () => {
  repo = await env.server.createRepo('private');
  await repo.commit({ 'pigsty.yml': 'all: {}\n' }, 'initial');
  await repo.push();
});

/** Every file under `dir`, read whole, joined. */
function everything(dir: string): string {
  let out = '';
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    const path = join(entry.parentPath, entry.name);
    if (entry.isFile() && statSync(path).size < 1_000_000) out += readFileSync(path, 'latin1');
  }
  return out;
}

function withCreds(creds: Credentials | undefined, url = repo.url, dir = stateDir()): ReturnType<typeof createGitSource> {
  return createGitSource({ url, branch: 'main', stateDir: dir, credentials: () => Promise.resolve(creds) });
}

describe('basic auth', () => {
  it('fetches with the right username and password, and keeps them out of the state folder', async () => {
    const dir = stateDir();
    const before = env.server.requests.length;
    const head = await withCreds({ username: 'deploy', password: PASSWORD }, repo.url, dir).fetch();
    expect(head.sha).toBe(await repo.head());
    // Asked once; after that the credentials go with every request of this fetch.
    expect(env.server.requests.slice(before).map((r) => [r.method, r.status, r.authorized])).toEqual([
      ['GET', 401, false],
      ['GET', 200, true],
      ['GET', 200, true],
      ['POST', 200, true],
    ]);
    expect(everything(dir)).not.toContain(PASSWORD);
  });

  it('fails fast with auth on a wrong password, without the password in the message', async () => {
    const before = env.server.requests.length;
    const started = Date.now();
    const err = await failure(withCreds({ username: 'deploy', password: `${PASSWORD}-wrong` }).fetch());
    expect(err.kind).toBe('auth');
    expect(err.message).toContain('401');
    expect(err.message).not.toContain(PASSWORD);
    expect(Date.now() - started).toBeLessThan(5000);
    // Asked, answered, refused: no retry loop.
    expect(env.server.requests.slice(before).map((r) => r.status)).toEqual([401, 401]);
  });

  it('fails with auth when no credentials are given', async () => {
    const err = await failure(withCreds(undefined).fetch());
    expect(err.kind).toBe('auth');
    const bare = await failure(createGitSource({ url: repo.url, branch: 'main', stateDir: stateDir() }).fetch());
    expect(bare.kind).toBe('auth');
  });

  it('answers auth when the credentials cannot be read', async () => {
    const src = createGitSource({ url: repo.url, branch: 'main', stateDir: stateDir(), credentials: () => Promise.reject(new Error('ENOENT: /run/secrets/git-token')) });
    const err = await failure(src.fetch());
    expect(err.kind).toBe('auth');
    expect(err.message).toContain('/run/secrets/git-token');
  });

  it('answers auth on 403', async () => {
    env.server.failWith(403);
    try {
      expect((await failure(withCreds({ username: 'deploy', password: PASSWORD }).fetch())).kind).toBe('auth');
    } finally {
      env.server.failWith(undefined);
    }
  });
});

describe('tokens', () => {
  it('sends a token as the password, and a wrong token never shows in a message', async () => {
    env.server.setAuth({ username: 'x-access-token', password: TOKEN });
    try {
      expect((await withCreds({ token: TOKEN }).fetch()).sha).toBe(await repo.head());
      const err = await failure(withCreds({ token: `${TOKEN}X` }).fetch());
      expect(err.kind).toBe('auth');
      expect(err.message).not.toContain(TOKEN);
      expect(JSON.stringify(err)).not.toContain(TOKEN);
      expect(String(err.stack)).not.toContain(TOKEN);
    } finally {
      env.server.setAuth({ username: 'deploy', password: PASSWORD });
    }
  });

  it('strips credentials and query strings from the URL in every message', async () => {
    const url = repo.url.replace('http://', `http://deploy:${TOKEN}@`) + `?access_token=${TOKEN}`;
    const dir = stateDir();
    await env.server.stop();
    try {
      const err = await failure(withCreds(undefined, url, dir).fetch());
      expect(err.kind).toBe('unreachable');
      expect(err.message).not.toContain(TOKEN);
      expect(err.message).not.toContain('deploy:');
      expect(err.message).toContain(env.server.baseUrl);
    } finally {
      await env.server.start();
    }
    // With the right password in the URL it works, and the token is not written to disk.
    const good = repo.url.replace('http://', `http://deploy:${PASSWORD}@`);
    const gdir = stateDir();
    expect((await withCreds(undefined, good, gdir).fetch()).sha).toBe(await repo.head());
    expect(everything(gdir)).not.toContain(PASSWORD);
  });

  it('redacts URLs and free text', () => {
    expect(redactUrl('https://user:tok@git.example.com/acme/fleet.git?private_token=abc#x')).toBe('https://git.example.com/acme/fleet.git');
    expect(redactUrl('/srv/fleet')).toBe('/srv/fleet');
    expect(sanitize('GET https://u:p@h.example/x?token=abc failed: abc123xyz', ['abc123xyz'])).toBe('GET https://h.example/x failed: ***');
  });
});
