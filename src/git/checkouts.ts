// Checkouts: one folder per commit under `root`, written once and reused. A folder is built as
// `<sha>.tmp-<random>` and renamed into place, so `<sha>` is always complete; leftovers of a
// crash are removed by `clean()`. Only the `keep` most recently used folders stay.
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm, stat, utimes } from 'node:fs/promises';
import { join } from 'node:path';

const SHA = /^[0-9a-f]{40}$/;

export class CheckoutStore {
  constructor(
    private readonly root: string,
    private readonly keep: number,
  ) {}

  /** Removes half-written checkouts (a crash while writing one). */
  async clean(): Promise<void> {
    await mkdir(this.root, { recursive: true });
    for (const name of await readdir(this.root)) {
      if (name.includes('.tmp-')) await rm(join(this.root, name), { recursive: true, force: true });
    }
  }

  /**
   * The folder of `sha`, written by `write(tmpDir, base)` the first time; `base` is the most
   * recently used other checkout, if any, from which unchanged files can be copied.
   */
  async get(sha: string, write: (dir: string, base: string | undefined) => Promise<void>): Promise<string> {
    if (!SHA.test(sha)) throw new Error(`not a full commit sha: ${sha}`);
    const dir = join(this.root, sha);
    if (!(await exists(dir))) {
      await mkdir(this.root, { recursive: true });
      const tmp = `${dir}.tmp-${randomBytes(6).toString('hex')}`;
      try {
        const base = (await this.byRecentUse(sha))[0];
        await write(tmp, base === undefined ? undefined : join(this.root, base));
        await rename(tmp, dir);
      } catch (err) {
        await rm(tmp, { recursive: true, force: true });
        throw err;
      }
    }
    // The modification time records the last use, for pruning.
    const now = new Date();
    await utimes(dir, now, now);
    await this.prune(sha);
    return dir;
  }

  private async prune(current: string): Promise<void> {
    for (const old of (await this.byRecentUse(current)).slice(Math.max(0, this.keep - 1))) {
      await rm(join(this.root, old), { recursive: true, force: true });
    }
  }

  /** Checkout folder names but `except`, the most recently used first. */
  private async byRecentUse(except: string): Promise<string[]> {
    const found: { name: string; used: number }[] = [];
    for (const name of await readdir(this.root)) {
      if (!SHA.test(name) || name === except) continue;
      try {
        found.push({ name, used: (await stat(join(this.root, name))).mtimeMs });
      } catch {
        // removed meanwhile
      }
    }
    found.sort((a, b) => b.used - a.used || a.name.localeCompare(b.name));
    return found.map((f) => f.name);
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
