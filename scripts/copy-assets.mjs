// Copies into dist/ what tsc does not emit, beside the compiled modules that read or import it: the
// Python programs Corral runs on nodes (e.g. reconcilers/pgsql/kinds/patroni_ctl.py; their tests,
// *_test.py, stay behind) and the generated validators (src/config/validators.gen.js, plain JavaScript
// that src/config/validators.ts compiles, copied as it is; scripts/cache-validators.mjs then writes its code cache).
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const copied = (file) => (file.endsWith('.py') && !file.endsWith('_test.py')) || file.endsWith('.gen.js');
// The folders tsconfig.build.json compiles.
for (const folder of ['src', 'reconcilers', 'webhooks']) {
  for (const file of readdirSync(join(root, folder), { recursive: true, encoding: 'utf8' })) {
    if (!copied(file)) continue;
    const to = join(root, 'dist', folder, file);
    mkdirSync(dirname(to), { recursive: true });
    copyFileSync(join(root, folder, file), to);
  }
}
