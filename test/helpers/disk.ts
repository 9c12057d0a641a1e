/**
 * Full disks for tests: small tmpfs file systems (mounting needs root, so a test that is not root
 * fails saying so) and filling one to its last byte.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmdirSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';

/** Mounts tmpfs file systems of a given size; unmountAll() takes them away, the last mounted first. */
export function tmpfsMounts(): { mount(dir: string, size: string): void; unmountAll(): void } {
  const mounted: string[] = [];
  return {
    mount(dir, size) {
      if (process.getuid?.() !== 0) throw new Error('this test mounts a tmpfs (a small disk to fill): run it as root');
      mkdirSync(dir, { recursive: true });
      execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir]);
      mounted.push(dir);
    },
    unmountAll() {
      for (const dir of mounted.splice(0).reverse()) execFileSync('umount', [dir]);
    },
  };
}

/** A fresh folder on a tmpfs of `size` for the test file: mounted before its tests, gone after them. */
export function useSmallDisk(size: string): () => string {
  const mounts = tmpfsMounts();
  let disk = '';
  beforeAll(() => {
    disk = mkdtempSync(join(tmpdir(), 'corral-disk-'));
    mounts.mount(disk, size);
  });
  afterAll(() => {
    mounts.unmountAll();
    if (disk) rmdirSync(disk);
  });
  return () => disk;
}

/** Fills the file system of `dir` to the last byte; returns the filler to remove. */
export function fillDisk(dir: string): string {
  const filler = join(dir, 'filler');
  const fd = openSync(filler, 'w');
  const chunk = Buffer.alloc(64 * 1024, 1);
  try {
    for (let size = chunk.length; size > 0; ) {
      try {
        writeSync(fd, chunk, 0, size);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
        size >>= 1;
      }
    }
  } finally {
    closeSync(fd);
  }
  return filler;
}
