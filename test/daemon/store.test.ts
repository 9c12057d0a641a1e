/**
 * The state dir on a full disk: a write that does not fit throws ENOSPC and leaves the old file
 * whole and no temp file behind, also when the disk fills up in the middle of the write (write(2)
 * then writes less than asked, without an error). A real tmpfs, so this needs root.
 */
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { StateStore, writeFileAtomic } from '../../src/daemon/store.js';
import { useSmallDisk } from '../helpers/disk.js';

const disk = useSmallDisk('256k');

/** Fills the disk with 4 KiB files until the next one does not fit; returns their paths. */
function fill(dir: string): string[] {
  const files: string[] = [];
  for (let i = 0; ; i++) {
    const f = join(dir, `filler-${i}`);
    try {
      writeFileSync(f, Buffer.alloc(4096, 1));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
      rmSync(f, { force: true });
      return files;
    }
    files.push(f);
  }
}

describe('writeFileAtomic on a full disk', () => {
  it('throws ENOSPC, keeps the old file whole and leaves no temp file; writes once there is room', () => {
    const store = new StateStore(join(disk(), 'state'));
    store.write('state.json', { lastGoodRevision: 'a'.repeat(40), suspended: {} });
    const fillers = fill(disk());
    // One page free: the write gets 4 KiB of the 64 KiB in, then ENOSPC.
    rmSync(fillers.pop()!);
    const big = { lastGoodRevision: 'b'.repeat(40), suspended: {}, padding: 'x'.repeat(64 * 1024) };
    expect(() => store.write('state.json', big)).toThrow(expect.objectContaining({ code: 'ENOSPC' }) as Error);
    expect(store.read('state.json', undefined)).toEqual({ lastGoodRevision: 'a'.repeat(40), suspended: {} });
    expect(readdirSync(store.dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
    expect(() => writeFileAtomic(join(disk(), 'state', 'history', 'pg-test.json'), 'y'.repeat(64 * 1024))).toThrow(/ENOSPC/);
    expect(readdirSync(join(disk(), 'state', 'history'))).toEqual([]);

    for (const f of fillers) rmSync(f);
    store.write('state.json', big);
    expect(JSON.parse(readFileSync(store.path('state.json'), 'utf8'))).toEqual(big);
  });
});
