// GitSource against a real git smart-HTTP server (git http-backend), with commits made by the real git CLI.
import { chmodSync, existsSync, symlinkSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync, lstatSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { failure, useGitServer } from './setup.js';
import { createGitSource, type GitSource, type SourceOptions } from '../../src/git/source.js';
import { type TestRepo } from '../helpers/git-server.js';

const env = useGitServer({ prefix: 'corral-git-state' });
const stateDir = (): string => env.tmp();

function source(repo: TestRepo, opts: Partial<SourceOptions> = {}): GitSource {
  return createGitSource({ url: repo.url, branch: 'main', stateDir: opts.stateDir ?? stateDir(), ...opts });
}

/** Every file under `dir`, relative, sorted. */
function listFiles(dir: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...listFiles(dir, rel));
    else out.push(rel);
  }
  return out.sort();
}


let repoCount = 0;
async function newRepo(): Promise<TestRepo> {
  const repo = await env.server.createRepo(`fleet-${++repoCount}`);
  await repo.commit({ 'pigsty.yml': 'all:\n  vars: { admin_ip: 10.10.10.10 }\n', 'clusters/pg-test.yml': 'pg-test: {}\n' }, 'initial fleet');
  await repo.push();
  return repo;
}

describe('fetch', () => {
  it('clones, then an incremental fetch picks up a new commit, and a fetch with nothing new returns the same head', async () => {
    const repo = await newRepo();
    const src = source(repo);
    const first = await src.fetch();
    expect(first.sha).toBe(await repo.head());
    expect(first).toMatchObject({ author: 'Corral Test', email: 'corral-test@example.invalid', subject: 'initial fleet' });
    expect(first.timestamp).toBeGreaterThan(1_700_000_000);

    const sha = await repo.commit({ 'clusters/pg-meta.yml': 'pg-meta: {}\n' }, 'add pg-meta\n\nwith a body');
    await repo.push();
    const second = await src.fetch();
    expect(second.sha).toBe(sha);
    expect(second.subject).toBe('add pg-meta');

    const before = env.server.requests.length;
    const again = await src.fetch();
    expect(again).toEqual(second);
    // Only the ref advertisement: the head is a commit we have.
    expect(env.server.requests.length - before).toBe(1);
    expect(await src.log(first.sha, second.sha)).toEqual([second]);
  });

  it('takes the new head after a force-push that rewrites history', async () => {
    const repo = await newRepo();
    const src = source(repo);
    const base = await src.fetch();
    const doomed = await repo.commit({ 'clusters/pg-test.yml': 'pg-test: { doomed: true }\n' }, 'doomed change');
    await repo.push();
    expect((await src.fetch()).sha).toBe(doomed);

    await repo.reset(base.sha);
    const rewritten = await repo.commit({ 'clusters/pg-test.yml': 'pg-test: { rewritten: true }\n' }, 'rewritten change');
    await repo.forcePush();
    const head = await src.fetch();
    expect(head.sha).toBe(rewritten);
    // The old head is still known locally, and the history tells the rewrite apart.
    expect((await src.commit(doomed)).subject).toBe('doomed change');
    expect((await src.log(doomed, rewritten)).map((c) => c.subject)).toEqual(['rewritten change']);
    expect((await src.log(rewritten, doomed)).map((c) => c.subject)).toEqual(['doomed change']);
    expect(readFileSync(join(await src.checkout(rewritten), 'clusters/pg-test.yml'), 'utf8')).toContain('rewritten');
  });

  it('sees a revert as just a new commit whose files are those before the reverted change', async () => {
    const repo = await newRepo();
    const src = source(repo);
    const base = await src.fetch();
    const change = await repo.commit({ 'clusters/pg-test.yml': 'pg-test: { pg_version: 17 }\n' }, 'upgrade pg-test');
    await repo.push();
    await src.fetch();
    const revert = await repo.revert(change);
    await repo.push();
    const head = await src.fetch();
    expect(head.sha).toBe(revert);
    expect(head.subject).toBe('Revert "upgrade pg-test"');
    expect((await src.log(base.sha, revert)).map((c) => c.sha)).toEqual([revert, change]);
    const a = await src.checkout(base.sha);
    const b = await src.checkout(revert);
    expect(readFileSync(join(b, 'clusters/pg-test.yml'), 'utf8')).toBe(readFileSync(join(a, 'clusters/pg-test.yml'), 'utf8'));
  });

  it('answers not-found for a missing branch, a missing repository and an empty one', async () => {
    const repo = await newRepo();
    expect((await failure(source(repo, { branch: 'nope' }).fetch())).kind).toBe('not-found');
    const missing = createGitSource({ url: env.server.repoUrl('no-such-repo'), branch: 'main', stateDir: stateDir() });
    expect((await failure(missing.fetch())).kind).toBe('not-found');
    const empty = await env.server.createRepo('empty');
    expect((await failure(source(empty).fetch())).kind).toBe('not-found');
  });

  it('fetches a pull request head with fetchRef, leaving the tracked branch alone', async () => {
    const repo = await newRepo();
    const src = source(repo);
    const main = await src.fetch();
    await repo.git('checkout', '-q', '-b', 'feature');
    const pr = await repo.commit({ 'clusters/pg-new.yml': 'pg-new: {}\n' }, 'add pg-new');
    await repo.pushRef('refs/pull/7/head');
    await repo.git('checkout', '-q', 'main');

    const head = await src.fetchRef('refs/pull/7/head');
    expect(head.sha).toBe(pr);
    expect(head.subject).toBe('add pg-new');
    expect(existsSync(join(await src.checkout(pr), 'clusters/pg-new.yml'))).toBe(true);
    expect((await src.log(main.sha, pr)).map((c) => c.sha)).toEqual([pr]);
    expect((await src.fetch()).sha).toBe(main.sha);
    expect((await failure(src.fetchRef('refs/pull/8/head'))).kind).toBe('not-found');
    expect((await failure(src.fetchRef('refs/../../config'))).kind).toBe('not-found');

    await repo.git('tag', '-a', 'v1', '-m', 'release v1', main.sha);
    await repo.git('push', '-q', 'origin', 'refs/tags/v1');
    expect((await src.fetchRef('refs/tags/v1')).sha).toBe(main.sha);
    expect((await source(repo).fetchRef('v1')).sha).toBe(main.sha);
  });

  it('reports unreachable when the server is stopped or answers 503, and recovers after', async () => {
    const repo = await newRepo();
    const src = source(repo);
    await src.fetch();
    await env.server.stop();
    try {
      const err = await failure(src.fetch());
      expect(err.kind).toBe('unreachable');
      expect(err.message).toContain('ECONNREFUSED');
    } finally {
      await env.server.start();
    }
    env.server.failWith(503);
    try {
      const err = await failure(src.fetch());
      expect(err.kind).toBe('unreachable');
      expect(err.message).toContain('503');
    } finally {
      env.server.failWith(undefined);
    }
    expect((await src.fetch()).sha).toBe(await repo.head());
  });

  it('gives up with timeout when the server accepts and never answers', async () => {
    const repo = await newRepo();
    // Generous: the follow-up fetch on a loaded CI machine must fit in it too.
    const src = source(repo, { timeoutMs: 2500 });
    await src.fetch();
    env.server.hang(true);
    const started = Date.now();
    try {
      expect((await failure(src.fetch())).kind).toBe('timeout');
    } finally {
      env.server.hang(false);
    }
    expect(Date.now() - started).toBeLessThan(6000);
    // The next call is not stuck behind the abandoned one.
    expect((await src.fetch()).sha).toBe(await repo.head());
  });

  it('reuses the clone of an earlier run and replaces it when the URL changes', async () => {
    const repo = await newRepo();
    const dir = stateDir();
    const first = await source(repo, { stateDir: dir }).fetch();
    await repo.commit({ 'clusters/pg-b.yml': 'pg-b: {}\n' }, 'add pg-b');
    await repo.push();
    const packsBefore = readdirSync(join(dir, 'repo/objects/pack')).filter((f) => f.endsWith('.pack')).length;
    const again = createGitSource({ url: repo.url, branch: 'main', stateDir: dir });
    expect((await again.log(undefined, first.sha)).map((c) => c.sha)).toEqual([first.sha]);
    const head = await again.fetch();
    expect(head.subject).toBe('add pg-b');
    // One more pack, holding only the new objects.
    expect(readdirSync(join(dir, 'repo/objects/pack')).filter((f) => f.endsWith('.pack')).length).toBe(packsBefore + 1);

    const other = await newRepo();
    const moved = createGitSource({ url: other.url, branch: 'main', stateDir: dir });
    expect((await moved.fetch()).sha).toBe(await other.head());
    expect((await failure(moved.commit(head.sha))).kind).toBe('not-found');
  });

  it('drops a corrupt clone and clones again on the next fetch', async () => {
    const repo = await newRepo();
    const dir = stateDir();
    const src = source(repo, { stateDir: dir });
    const head = await src.fetch();
    const packDir = join(dir, 'repo/objects/pack');
    for (const f of readdirSync(packDir).filter((f) => f.endsWith('.idx'))) truncateSync(join(packDir, f), 10);
    const fresh = createGitSource({ url: repo.url, branch: 'main', stateDir: dir });
    expect((await failure(fresh.checkout(head.sha))).kind).toBe('corrupt');
    expect((await fresh.fetch()).sha).toBe(head.sha);
    expect(existsSync(join(await fresh.checkout(head.sha), 'pigsty.yml'))).toBe(true);
  });

  it('refuses ssh and other URL schemes when created', () => {
    expect(() => createGitSource({ url: 'git@github.com:acme/fleet.git', branch: 'main', stateDir: '/nonexistent' })).toThrow(/ssh is not supported/);
    expect(() => createGitSource({ url: 'ssh://git@example.com/fleet.git', branch: 'main', stateDir: '/nonexistent' })).toThrow(/unsupported/);
    expect(() => createGitSource({ url: 'https://example.com/fleet.git', branch: 'a b', stateDir: '/nonexistent' })).toThrow(/branch/);
  });
});

describe('checkout', () => {
  it('holds exactly the files of the commit; a deleted file is gone in the next checkout', async () => {
    const repo = await newRepo();
    const src = source(repo);
    const one = await src.fetch();
    await repo.commit({ 'clusters/pg-test.yml': null, 'clusters/pg-meta.yml': 'pg-meta: {}\n', 'bin/hook.sh': '#!/bin/sh\n' }, 'replace pg-test');
    chmodSync(join(repo.work, 'bin/hook.sh'), 0o755);
    const two = await repo.commit({}, 'executable hook');
    await repo.push();
    await src.fetch();

    const a = await src.checkout(one.sha);
    const b = await src.checkout(two);
    expect(listFiles(a)).toEqual(['clusters/pg-test.yml', 'pigsty.yml']);
    expect(listFiles(b)).toEqual(['bin/hook.sh', 'clusters/pg-meta.yml', 'pigsty.yml']);
    expect(readFileSync(join(b, 'pigsty.yml'), 'utf8')).toBe('all:\n  vars: { admin_ip: 10.10.10.10 }\n');
    expect(statSync(join(b, 'bin/hook.sh')).mode & 0o111).not.toBe(0);
    expect(statSync(join(b, 'pigsty.yml')).mode & 0o111).toBe(0);
    // Written once: the same folder again, even by abbreviated sha.
    expect(await src.checkout(two.slice(0, 10))).toBe(b);
  });

  it('copies unchanged files from an earlier checkout only when their content still matches', async () => {
    const repo = await newRepo();
    const src = source(repo);
    const one = await src.fetch();
    const two = await repo.commit({ 'clusters/pg-meta.yml': 'pg-meta: {}\n' }, 'add pg-meta');
    await repo.push();
    await src.fetch();
    const a = await src.checkout(one.sha);
    // A caller broke the read-only contract: the tampered file must not leak into the next checkout.
    writeFileSync(join(a, 'pigsty.yml'), 'tampered: true\n');
    const b = await src.checkout(two);
    expect(readFileSync(join(b, 'pigsty.yml'), 'utf8')).toBe('all:\n  vars: { admin_ip: 10.10.10.10 }\n');
    expect(readFileSync(join(b, 'clusters/pg-test.yml'), 'utf8')).toBe('pg-test: {}\n');
    expect(listFiles(b)).toEqual(['clusters/pg-meta.yml', 'clusters/pg-test.yml', 'pigsty.yml']);
  });

  it('keeps the newest checkouts only and removes half-written ones on start', async () => {
    const repo = await newRepo();
    const dir = stateDir();
    const src = source(repo, { stateDir: dir, keep: 2 });
    const shas = [(await src.fetch()).sha];
    for (let i = 0; i < 3; i++) {
      shas.push(await repo.commit({ [`clusters/c${i}.yml`]: `c${i}: {}\n` }, `add c${i}`));
    }
    await repo.push();
    await src.fetch();
    const dirs: string[] = [];
    for (const sha of shas) dirs.push(await src.checkout(sha));
    expect(readdirSync(join(dir, 'checkouts')).sort()).toEqual(shas.slice(2).sort());

    mkdirSync(join(dir, 'checkouts', `${shas[0]}.tmp-abc`));
    writeFileSync(join(dir, 'checkouts', `${shas[0]}.tmp-abc`, 'half.yml'), 'x');
    const restarted = source(repo, { stateDir: dir, keep: 2 });
    const redone = await restarted.checkout(shas[0] ?? '');
    expect(listFiles(redone)).toEqual(['clusters/pg-test.yml', 'pigsty.yml']);
    expect(readdirSync(join(dir, 'checkouts')).filter((n) => n.includes('.tmp-'))).toEqual([]);
  });

  it('writes symbolic links that stay inside the checkout and leaves out those that do not', async () => {
    const repo = await newRepo();
    await repo.git('config', 'core.symlinks', 'true');
    symlinkSync('pigsty.yml', join(repo.work, 'inventory.yml'));
    symlinkSync('/etc/passwd', join(repo.work, 'passwd.yml'));
    symlinkSync('../../../etc/hostname', join(repo.work, 'clusters/host.yml'));
    const sha = await repo.commit({}, 'links');
    await repo.push();
    const src = source(repo);
    await src.fetch();
    const out = await src.checkout(sha);
    expect(lstatSync(join(out, 'inventory.yml')).isSymbolicLink()).toBe(true);
    expect(readFileSync(join(out, 'inventory.yml'), 'utf8')).toContain('admin_ip');
    expect(existsSync(join(out, 'passwd.yml'))).toBe(false);
    expect(existsSync(join(out, 'clusters/host.yml'))).toBe(false);
  });

  it('answers not-found for a commit it does not have', async () => {
    const repo = await newRepo();
    const src = source(repo);
    await src.fetch();
    expect((await failure(src.checkout('0123456789abcdef0123456789abcdef01234567'))).kind).toBe('not-found');
    expect((await failure(src.checkout('../../etc'))).kind).toBe('not-found');
    expect((await failure(src.commit('deadbeef'))).kind).toBe('not-found');
  });
});

describe('log', () => {
  it('lists commits newest first, bounded by max, and includes both sides of a merge', async () => {
    const repo = await newRepo();
    const src = source(repo);
    const base = await src.fetch();
    await repo.git('checkout', '-q', '-b', 'side');
    const side = await repo.commit({ 'clusters/side.yml': 'side: {}\n' }, 'side change');
    await repo.git('checkout', '-q', 'main');
    const mainChange = await repo.commit({ 'clusters/main.yml': 'main: {}\n' }, 'main change');
    await repo.git('merge', '-q', '--no-edit', 'side');
    const merge = await repo.head();
    await repo.push();
    await src.fetch();

    const log = await src.log(base.sha, merge);
    expect(log[0]?.sha).toBe(merge);
    expect(log.map((c) => c.sha).sort()).toEqual([merge, side, mainChange].sort());
    expect(await src.log(mainChange, merge)).toHaveLength(2); // the merge and the side commit
    expect((await src.log(undefined, merge, 2)).map((c) => c.sha)).toEqual([merge, mainChange]);
    expect((await src.log(undefined, merge)).at(-1)?.sha).toBe(base.sha);
    expect(await src.log(merge, base.sha)).toEqual([]);
  });
});
