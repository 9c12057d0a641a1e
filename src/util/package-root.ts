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
