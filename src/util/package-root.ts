import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The folder holding Corral's package.json, whether running from src/ (tests) or dist/. */
export const packageRoot: string = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('corral: cannot find package.json above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
  return dir;
})();

/**
 * A file shipped beside a module (`name`, relative to the module's `import.meta.url`): beside it when
 * it runs from src/ (tests) or from its compiled copy in dist/, else at `inDist` under dist/: the
 * bundle in dist/bundle/ (scripts/bundle.mjs) has nothing beside it.
 */
export function shippedFile(moduleUrl: string, name: string, inDist: string): string {
  const beside = fileURLToPath(new URL(name, moduleUrl));
  return existsSync(beside) ? beside : join(packageRoot, 'dist', inDist);
}
