// The file system isomorphic-git writes our clone through. isomorphic-git writes refs, the config,
// packs and pack indexes in place; a crash mid-write would leave a truncated .idx that poisons every
// later read. Here each write goes to a temp file under `tmpDir` (same file system) and is renamed
// into place, so a killed fetch leaves every file old or new. `tmpDir` is emptied on start.
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { basename, join } from 'node:path';

type WriteData = Parameters<typeof fsp.writeFile>[1];
type WriteOptions = Parameters<typeof fsp.writeFile>[2];

/** An fs client for isomorphic-git (the `promises` shape it detects) with atomic writeFile. */
export function atomicFs(tmpDir: string): { promises: Record<string, unknown> } {
  const writeFile = async (path: string, data: WriteData, options?: WriteOptions): Promise<void> => {
    const tmp = join(tmpDir, `${basename(path)}.${randomBytes(6).toString('hex')}`);
    try {
      await fsp.writeFile(tmp, data, options);
    } catch (err) {
      // The temp folder may have been removed (the clone was reset): make it and try once more.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      await fsp.mkdir(tmpDir, { recursive: true });
      await fsp.writeFile(tmp, data, options);
    }
    try {
      // ENOENT here (target folder missing) reaches isomorphic-git, which makes the folder and retries.
      await fsp.rename(tmp, path);
    } catch (err) {
      await fsp.rm(tmp, { force: true });
      throw err;
    }
  };
  return {
    promises: {
      readFile: fsp.readFile,
      writeFile,
      mkdir: fsp.mkdir,
      rmdir: fsp.rmdir,
      rm: fsp.rm,
      unlink: fsp.unlink,
      stat: fsp.stat,
      lstat: fsp.lstat,
      readdir: fsp.readdir,
      readlink: fsp.readlink,
      symlink: fsp.symlink,
      chmod: fsp.chmod,
    },
  };
}
