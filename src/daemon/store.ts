/**
 * The state directory. Every write is crash-safe: the new content goes to a temp file, is fsynced,
 * and renamed over the old one, and the directory is fsynced; a kill -9 at any moment leaves the
 * old file or the new one, never half of one. A write that fails (ENOSPC: the disk is full) throws,
 * and leaves the old file as it was and no temp file behind.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';

export function writeFileAtomic(path: string, content: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${randomBytes(4).toString('hex')}`;
  try {
    const fd = openSync(tmp, 'w', 0o600);
    try {
      // write(2) may write less than asked (a disk that fills up midway) without an error: go on until
      // it is all written or the next write says why not (ENOSPC), never rename a short file in.
      const bytes = Buffer.from(content, 'utf8');
      for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done, bytes.length - done);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    // The old file stays as it was, and the temp file does not keep the space a full disk needs back.
    rmSync(tmp, { force: true });
    throw e;
  }
  const dir = openSync(dirname(path), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}

export function readJson<T>(path: string, fallback: T): T {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch {
    return fallback;
  }
}

export class StateStore {
  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    // Temp files of writes a crash interrupted are never read: remove them.
    for (const sub of ['', 'history', 'plans']) {
      const d = join(dir, sub);
      mkdirSync(d, { recursive: true });
      for (const f of readdirSync(d)) if (f.includes('.tmp-')) rmSync(join(d, f), { force: true });
    }
  }

  path(...parts: string[]): string {
    return join(this.dir, ...parts);
  }

  read<T>(name: string, fallback: T): T {
    return readJson(this.path(name), fallback);
  }

  write(name: string, value: unknown): void {
    writeFileAtomic(this.path(name), JSON.stringify(value, null, 2) + '\n');
  }

  remove(name: string): void {
    rmSync(this.path(name), { force: true });
  }

  list(sub: string): string[] {
    return readdirSync(this.path(sub)).filter((f) => f.endsWith('.json'));
  }
}
