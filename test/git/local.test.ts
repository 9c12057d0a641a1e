// A GitSource on a local repository (work tree or bare), read in place with no env.server.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { failure, useGitServer } from './setup.js';
import { createGitSource } from '../../src/git/source.js';
import { runGit, type TestRepo } from '../helpers/git-server.js';

// The server is used only for its repository helpers.
const env = useGitServer({ prefix: 'corral-git-local' });
const tmp = (): string => env.tmp();

let n = 0;
async function workTree(): Promise<TestRepo> {
  const repo = await env.server.createRepo(`local-${++n}`);
  await repo.commit({ 'pigsty.yml': 'all: {}\n', 'clusters/pg-a.yml': 'pg-a: {}\n' }, 'initial');
  return repo;
}

describe('local repository', () => {
  it('reads the branch head of a work tree, and sees a new commit on the next fetch', async () => {
    const repo = await workTree();
    const src = createGitSource({ url: repo.work, branch: 'main', stateDir: tmp() });
    const first = await src.fetch();
    expect(first.sha).toBe(await repo.head());
    expect(first.subject).toBe('initial');

    const second = await repo.commit({ 'clusters/pg-a.yml': null, 'clusters/pg-b.yml': 'pg-b: {}\n' }, 'swap clusters');
    const head = await src.fetch();
    expect(head.sha).toBe(second);
    const out = await src.checkout(second);
    expect(existsSync(join(out, 'clusters/pg-b.yml'))).toBe(true);
    expect(existsSync(join(out, 'clusters/pg-a.yml'))).toBe(false);
    expect(existsSync(join(await src.checkout(first.sha), 'clusters/pg-a.yml'))).toBe(true);
    expect((await src.log(first.sha, second)).map((c) => c.subject)).toEqual(['swap clusters']);
  });

  it('uses only committed files, not the work tree', async () => {
    const repo = await workTree();
    writeFileSync(join(repo.work, 'pigsty.yml'), 'uncommitted: true\n');
    const src = createGitSource({ url: repo.work, branch: 'main', stateDir: tmp() });
    const out = await src.checkout((await src.fetch()).sha);
    expect(readFileSync(join(out, 'pigsty.yml'), 'utf8')).toBe('all: {}\n');
  });

  it('reads a bare repository and a file:// URL, with packed refs after git gc', async () => {
    const repo = await workTree();
    await repo.push();
    await runGit(repo.bare, ['gc', '-q']);
    const bare = createGitSource({ url: repo.bare, branch: 'main', stateDir: tmp() });
    const head = await bare.fetch();
    expect(head.sha).toBe(await repo.head());
    expect(existsSync(join(await bare.checkout(head.sha), 'clusters/pg-a.yml'))).toBe(true);
    const viaUrl = createGitSource({ url: pathToFileURL(repo.bare).href, branch: 'main', stateDir: tmp() });
    expect((await viaUrl.fetch()).sha).toBe(head.sha);
  });

  it('fetchRef resolves other refs, such as a pull request head', async () => {
    const repo = await workTree();
    const base = await repo.head();
    const pr = await repo.commit({ 'clusters/pg-c.yml': 'pg-c: {}\n' }, 'add pg-c');
    await repo.git('update-ref', 'refs/pull/7/head', pr);
    await repo.reset(base);
    const src = createGitSource({ url: repo.work, branch: 'main', stateDir: tmp() });
    expect((await src.fetchRef('refs/pull/7/head')).sha).toBe(pr);
    await repo.git('tag', '-a', 'v1', '-m', 'release v1', pr);
    expect((await src.fetchRef('refs/tags/v1')).sha).toBe(pr);
    expect((await failure(src.commit(pr.slice(0, 2)))).kind).toBe('not-found');
    expect((await src.fetch()).sha).toBe(base);
  });

  it('says clearly when the folder is not a repository, does not exist, or lacks the branch', async () => {
    const plain = tmp();
    writeFileSync(join(plain, 'pigsty.yml'), 'all: {}\n');
    const err = await failure(createGitSource({ url: plain, branch: 'main', stateDir: tmp() }).fetch());
    expect(err.kind).toBe('not-found');
    expect(err.message).toMatch(/not a git repository/);
    expect((await failure(createGitSource({ url: join(plain, 'missing'), branch: 'main', stateDir: tmp() }).fetch())).kind).toBe('not-found');
    const repo = await workTree();
    const noBranch = await failure(createGitSource({ url: repo.work, branch: 'release', stateDir: tmp() }).fetch());
    expect(noBranch.kind).toBe('not-found');
    expect(noBranch.message).toContain('refs/heads/release');
  });
});
