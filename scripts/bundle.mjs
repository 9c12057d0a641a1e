// Bundles the command: bin/entry.js with what it imports from dist/ (src/, reconcilers/, webhooks/) and
// the plain-JavaScript packages every command loads (yaml's 84 CommonJS files, commander), into
// dist/bundle/: a command then starts by loading a few files, not some 170, and a whole `corral
// validate` takes about 20% less. The dynamic imports stay lazy, as chunks. Other packages stay
// outside, loaded from node_modules as they are (native parts, files they read, their own workers).
// Run by `npm run build`, after tsc.
import { rmSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'rolldown';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const INLINED = new Set(['yaml', 'commander']);
const builtins = new Set(builtinModules);
const packageOf = (id) => id.split('/').slice(0, id.startsWith('@') ? 2 : 1).join('/');
const out = join(root, 'dist/bundle');
rmSync(out, { recursive: true, force: true });
await build({
  input: join(root, 'bin/entry.js'),
  platform: 'node',
  logLevel: 'warn',
  external: (id) => id.startsWith('node:') || builtins.has(id) || (/^[@a-z]/i.test(id) && !INLINED.has(packageOf(id))),
  output: { dir: out, format: 'esm', entryFileNames: 'corral.js', chunkFileNames: '[name]-[hash].js', sourcemap: true },
});
