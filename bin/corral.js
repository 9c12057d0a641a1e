#!/usr/bin/env node
// The `corral` command. Sources are compiled to dist/ by `npm run build` (run by `npm ci` through `prepare`).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// A closed pipe (`corral inventory | head`) ends the command quietly, as for any Unix tool.
process.stdout.on('error', (e) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

const main = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(main))) {
  console.error('corral: dist/ is missing; run `npm run build` in ' + fileURLToPath(new URL('..', import.meta.url)));
  process.exit(2);
}
const { run } = await import(main.href);
// The entry point hands the modules to the core: nothing under src/ imports reconcilers/.
const list = new URL('../dist/reconcilers/index.js', import.meta.url);
const { useModules } = await import(new URL('../dist/src/engine/modules.js', import.meta.url).href);
const { MODULES } = await import(list.href);
useModules(MODULES, list.href);
process.exitCode = await run(process.argv.slice(2));
