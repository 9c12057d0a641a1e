// Copies the Python programs Corral runs on nodes (e.g. reconcilers/pgsql/kinds/patroni_ctl.py) into dist/,
// beside the compiled modules that read them: tsc copies only what it compiles. Their tests (*_test.py) stay behind.
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// The folders tsconfig.build.json compiles.
for (const folder of ['src', 'reconcilers', 'webhooks']) {
  for (const file of readdirSync(join(root, folder), { recursive: true, encoding: 'utf8' })) {
    if (!file.endsWith('.py') || file.endsWith('_test.py')) continue;
    const to = join(root, 'dist', folder, file);
    mkdirSync(dirname(to), { recursive: true });
    copyFileSync(join(root, folder, file), to);
  }
}
