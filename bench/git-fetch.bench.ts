// bench/git-fetch: the git source on a 10,000-commit repository over real smart HTTP, beside the git
// CLI doing the same fetches from the same server in the same run (the baseline). Printed, not
// asserted, except that each step gives the right answer. Run: npm run bench:daemon
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createGitSource } from '../src/git/source.js';
import { runGit, startGitServer, type GitServer } from '../test/helpers/git-server.js';

const COMMITS = 10_000;
const FILES = 200;

let server: GitServer;
let stateDir: string;

beforeAll(async () => {
  server = await startGitServer();
  stateDir = mkdtempSync(join(tmpdir(), 'corral-git-bench-'));
});
afterAll(async () => {
  await server.close();
  rmSync(stateDir, { recursive: true, force: true });
});

async function timed<T>(rows: [string, number][], label: string, fn: () => Promise<T>): Promise<T> {
  const start = performance.now();
  const value = await fn();
  rows.push([label, performance.now() - start]);
  return value;
}

it(`clones a ${COMMITS}-commit repository, then fetches incrementally`, { timeout: 600_000 }, async () => {
  const rows: [string, number][] = [];
  const repo = await timed(rows, `git fast-import of ${COMMITS} commits x ${FILES} files (setup)`, () => server.importRepo('big', COMMITS, { files: FILES }));
  const src = createGitSource({ url: repo.url, branch: 'main', stateDir, timeoutMs: 300_000 });

  const head = await timed(rows, 'clone (first fetch)', () => src.fetch());
  expect(head.sha).toBe(await repo.head());
  await timed(rows, `checkout of the head (${FILES + 1} files)`, () => src.checkout(head.sha));
  await timed(rows, 'checkout again (reused)', () => src.checkout(head.sha));

  const next = await repo.commit({ 'clusters/pg-c7.yml': 'pg-c7: { changed: true }\n' }, 'one more');
  await repo.push();
  const fetched = await timed(rows, 'incremental fetch of 1 new commit', () => src.fetch());
  expect(fetched.sha).toBe(next);
  const noop = await timed(rows, 'fetch with nothing new', () => src.fetch());
  expect(noop.sha).toBe(next);
  await timed(rows, 'fetch with nothing new (again)', () => src.fetch());
  expect(await timed(rows, 'log of the new commit', () => src.log(head.sha, next))).toHaveLength(1);
  expect(await timed(rows, `log of all ${COMMITS + 1} commits`, () => src.log(undefined, next, 100_000))).toHaveLength(COMMITS + 1);
  await timed(rows, 'checkout of the new commit', () => src.checkout(next));

  const restarted = createGitSource({ url: repo.url, branch: 'main', stateDir });
  await timed(rows, 'first fetch after a restart (clone kept)', () => restarted.fetch());

  // Baseline: the git CLI, same server, same repository.
  const cli = mkdtempSync(join(tmpdir(), 'corral-git-cli-'));
  await timed(rows, 'baseline: git clone --bare (CLI)', () => runGit(cli, ['clone', '--bare', '--quiet', repo.url, 'c.git']));
  await repo.commit({ 'clusters/pg-c8.yml': 'pg-c8: { changed: true }\n' }, 'one more for the CLI');
  await repo.push();
  await timed(rows, 'baseline: git fetch of 1 new commit (CLI)', () => runGit(join(cli, 'c.git'), ['fetch', '--quiet', 'origin', 'main']));
  await timed(rows, 'corral: incremental fetch of the same commit', () => src.fetch());
  await timed(rows, 'baseline: git fetch with nothing new (CLI)', () => runGit(join(cli, 'c.git'), ['fetch', '--quiet', 'origin', 'main']));
  await timed(rows, 'corral: fetch with nothing new', () => src.fetch());
  rmSync(cli, { recursive: true, force: true });

  console.log(`\ngit source on ${COMMITS} commits x ${FILES} files:\n${rows.map(([l, ms]) => `  ${l.padEnd(58)} ${ms.toFixed(0).padStart(7)} ms`).join('\n')}\n`);
});
