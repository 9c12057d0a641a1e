/**
 * One daemon per state dir: the second `corral serve` refuses with the holder's pid, and a holder
 * killed with -9 leaves nothing behind that blocks the next.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { lockStateDir } from '../../src/daemon/lock.js';
import { packageRoot } from '../../src/util/package-root.js';

describe('lockStateDir', () => {
  it('is taken once: a second taker is told the holder, also through a symlink; free again once released', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-lock-'));
    const first = await lockStateDir(join(dir, 'state'));
    expect('release' in first).toBe(true);
    expect(await lockStateDir(join(dir, 'state'))).toEqual({ heldBy: `pid ${process.pid}` });
    symlinkSync(join(dir, 'state'), join(dir, 'alias'));
    expect(await lockStateDir(join(dir, 'alias'))).toEqual({ heldBy: `pid ${process.pid}` });
    if ('release' in first) await first.release();
    const again = await lockStateDir(join(dir, 'state'));
    expect('release' in again).toBe(true);
    if ('release' in again) await again.release();
  });
});

describe('two corral serve on one state dir', () => {
  const children: ChildProcess[] = [];
  afterEach(() => {
    for (const c of children.splice(0)) c.kill('SIGKILL');
  });

  /** `corral serve` on an empty inventory; resolves when it serves (or exits). */
  const serve = (state: string, inventory: string) =>
    new Promise<{ child: ChildProcess; code: number | null; out: string }>((resolve) => {
      const child = spawn(process.execPath, [join(packageRoot, 'bin/corral.js'), 'serve', '--watch', inventory, '--state-dir', state, '--listen', '127.0.0.1:0', '--log-format', 'json'], { stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(child);
      let out = '';
      const seen = (d: Buffer) => {
        out += d.toString();
        if (out.includes('corral is serving')) resolve({ child, code: null, out });
      };
      child.stdout.on('data', seen);
      child.stderr.on('data', seen);
      child.on('exit', (code) => resolve({ child, code, out }));
    });

  it('the second refuses with the first one\'s pid and exits 2; after a kill -9 of the first, a new one serves', async () => {
    const inventory = mkdtempSync(join(tmpdir(), 'corral-lock-inv-'));
    writeFileSync(join(inventory, 'pigsty.yml'), 'all: {}\n');
    const state = join(mkdtempSync(join(tmpdir(), 'corral-lock-state-')), 'state');
    const first = await serve(state, inventory);
    expect(first.code, first.out).toBeNull();
    const second = await serve(state, inventory);
    expect(second.code).toBe(2);
    expect(second.out).toBe(`corral serve: the state dir ${state} is in use by another corral serve (pid ${first.child.pid}); stop that one, or give this one its own --state-dir\n`);
    first.child.kill('SIGKILL');
    await new Promise((resolve) => first.child.once('exit', resolve));
    const third = await serve(state, inventory);
    expect(third.code, third.out).toBeNull();
  }, 60_000);
});
