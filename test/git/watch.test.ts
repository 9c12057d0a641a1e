// watchFolder on a real folder: debouncing, and what it ignores.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, type Stats } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ignoredPath, watchFolder, type FolderWatch } from '../../src/git/watch.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

function folder(): string {
  const dir = mkdtempSync(join(tmpdir(), 'corral-watch-'));
  mkdirSync(join(dir, '.git'));
  mkdirSync(join(dir, 'clusters'));
  writeFileSync(join(dir, 'pigsty.yml'), 'all: {}\n');
  cleanups.push(() => Promise.resolve(rmSync(dir, { recursive: true, force: true })));
  return dir;
}

async function watching(dir: string, debounceMs = 200): Promise<{ calls: () => number; w: FolderWatch }> {
  let count = 0;
  const w = watchFolder(dir, () => count++, { debounceMs });
  cleanups.unshift(() => w.close());
  await w.ready;
  return { calls: () => count, w };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Waits until `calls()` reaches `n` (or `ms` passes), then a little more to catch extra calls. */
async function settle(calls: () => number, n: number, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (calls() < n && Date.now() < until) await sleep(25);
  await sleep(600);
}

describe('watchFolder', () => {
  it('turns a burst of 10 writes into one call', async () => {
    const dir = folder();
    const { calls } = await watching(dir);
    for (let i = 0; i < 10; i++) {
      writeFileSync(join(dir, 'clusters', `pg-${i}.yml`), `pg-${i}: {}\n`);
      await sleep(10);
    }
    await settle(calls, 1);
    expect(calls()).toBe(1);

    writeFileSync(join(dir, 'pigsty.yml'), 'all: { vars: {} }\n');
    await settle(calls, 2);
    expect(calls()).toBe(2);
  });

  it('ignores .git, hidden files, node_modules and files that are not YAML', async () => {
    const dir = folder();
    mkdirSync(join(dir, 'node_modules'));
    const { calls } = await watching(dir);
    writeFileSync(join(dir, '.git', 'index'), 'x');
    mkdirSync(join(dir, '.git', 'refs'));
    writeFileSync(join(dir, '.git', 'refs', 'main.yml'), 'x');
    writeFileSync(join(dir, '.hidden.yml'), 'x');
    writeFileSync(join(dir, 'node_modules', 'pkg.yml'), 'x');
    writeFileSync(join(dir, 'README.md'), 'x');
    writeFileSync(join(dir, 'clusters', 'notes.txt'), 'x');
    await sleep(1200);
    expect(calls()).toBe(0);

    writeFileSync(join(dir, 'corral.yml'), 'strict: true\n');
    await settle(calls, 1);
    expect(calls()).toBe(1);
  });

  it('counts a deleted YAML file and a new one in a new folder', async () => {
    const dir = folder();
    const { calls } = await watching(dir);
    rmSync(join(dir, 'pigsty.yml'));
    await settle(calls, 1);
    expect(calls()).toBe(1);
    mkdirSync(join(dir, 'more'));
    await sleep(300);
    writeFileSync(join(dir, 'more', 'redis.yaml'), 'redis: {}\n');
    await settle(calls, 2);
    expect(calls()).toBe(2);
  });

  it('stops calling after close', async () => {
    const dir = folder();
    const { calls, w } = await watching(dir, 100);
    writeFileSync(join(dir, 'pigsty.yml'), 'changed: true\n');
    await w.close();
    await sleep(400);
    expect(calls()).toBe(0);
  });

  it('decides what to skip from the path and, when known, the kind of entry', () => {
    const root = '/srv/fleet';
    const file = { isFile: () => true } as unknown as Stats;
    const dirStat = { isFile: () => false } as unknown as Stats;
    expect(ignoredPath(root, root)).toBe(false);
    expect(ignoredPath(root, '/srv/fleet/.git')).toBe(true);
    expect(ignoredPath(root, '/srv/fleet/node_modules')).toBe(true);
    expect(ignoredPath(root, '/srv/fleet/clusters')).toBe(false);
    expect(ignoredPath(root, '/srv/fleet/clusters', dirStat)).toBe(false);
    expect(ignoredPath(root, '/srv/fleet/a.yml', file)).toBe(false);
    expect(ignoredPath(root, '/srv/fleet/a.YAML', file)).toBe(false);
    expect(ignoredPath(root, '/srv/fleet/a.md', file)).toBe(true);
  });
});
