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
// The entry point hands the modules and the forge side to the core: nothing under src/ imports reconcilers/ or webhooks/.
const dist = (path) => new URL(`../dist/${path}`, import.meta.url).href;
const { useModules } = await import(dist('src/engine/modules.js'));
const { MODULES } = await import(dist('reconcilers/index.js'));
useModules(MODULES, dist('reconcilers/index.js'));
const { useServeCommand } = await import(dist('src/cli/serve-command.js'));
// Loaded when `corral serve` runs: the daemon's HTTP server, git and metrics cost every other command start-up time.
useServeCommand(async (...args) => (await import(dist('webhooks/serve.js'))).serveCommand(...args));
process.exitCode = await run(process.argv.slice(2));
