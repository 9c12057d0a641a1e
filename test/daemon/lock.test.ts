/**
 * One daemon per state dir: the lock itself. Two real `corral serve` processes on one state dir (the
 * second refuses with the holder's pid, and a holder killed with -9 leaves nothing behind that blocks
 * the next) are a fault of the fault suite: test/faults/faults.test.ts.
 */
import { mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { lockStateDir } from '../../src/daemon/lock.js';

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
