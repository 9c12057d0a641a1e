// Local watch mode: call back when the inventory files of a folder change. Only YAML files count
// (corral.yml included); `.git`, `node_modules` and hidden files and folders are not watched at all.
// A burst of writes (an editor saving, a `git checkout`) gives one call, `debounceMs` after the last.
import type { Stats } from 'node:fs';
import { basename, resolve } from 'node:path';
import { watch } from 'chokidar';

export interface WatchOptions {
  /** Quiet time after the last change before calling back; default 300 ms. */
  debounceMs?: number;
  /** Call back at the latest this long after the first change of a burst that never pauses; default 10 s. */
  maxWaitMs?: number;
  /** Watcher errors (a folder that cannot be read, too many watches); default: ignored. */
  onError?: (err: unknown) => void;
}

export interface FolderWatch {
  /** Settles once the initial scan is done: changes after this are reported. */
  ready: Promise<void>;
  close(): Promise<void>;
}

const YAML = /\.ya?ml$/i;

/** Whether chokidar should skip `path` (under `root`). `stats` is missing on a first, cheap call. */
export function ignoredPath(root: string, path: string, stats?: Stats): boolean {
  if (resolve(path) === root) return false;
  const name = basename(path);
  if (name.startsWith('.') || name === 'node_modules') return true;
  if (stats?.isFile()) return !YAML.test(name);
  return false;
}

export function watchFolder(dir: string, onChange: () => void, opts: WatchOptions = {}): FolderWatch {
  const root = resolve(dir);
  const debounceMs = opts.debounceMs ?? 300;
  const maxWaitMs = opts.maxWaitMs ?? 10_000;
  let timer: NodeJS.Timeout | undefined;
  let firstAt: number | undefined;
  let closed = false;

  const fire = (): void => {
    timer = undefined;
    firstAt = undefined;
    if (!closed) onChange();
  };
  const changed = (): void => {
    const now = Date.now();
    firstAt ??= now;
    if (timer) clearTimeout(timer);
    timer = setTimeout(fire, Math.max(0, Math.min(debounceMs, firstAt + maxWaitMs - now)));
  };

  const watcher = watch(root, {
    ignoreInitial: true,
    ignored: (path: string, stats?: Stats) => ignoredPath(root, path, stats),
  });
  watcher.on('all', (event, path) => {
    // A folder gone may have held YAML files; a file event counts only for YAML.
    if (event === 'unlinkDir' || ((event === 'add' || event === 'change' || event === 'unlink') && YAML.test(path))) changed();
  });
  watcher.on('error', (err) => opts.onError?.(err));
  const ready = new Promise<void>((res) => watcher.once('ready', () => res()));

  return {
    ready,
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      await watcher.close();
    },
  };
}
