#!/usr/bin/env node
// The `corral` command. `npm run build` (run by `npm ci` through `prepare`) compiles the sources to
// dist/ and bundles bin/entry.js with them into dist/bundle/ (scripts/bundle.mjs).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// A closed pipe (`corral inventory | head`) ends the command quietly, as for any Unix tool.
process.stdout.on('error', (e) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

const bundle = new URL('../dist/bundle/corral.js', import.meta.url);
if (!existsSync(fileURLToPath(bundle))) {
  console.error('corral: dist/ is missing; run `npm run build` in ' + fileURLToPath(new URL('..', import.meta.url)));
  process.exit(2);
}
const { main } = await import(bundle.href);
process.exitCode = await main(process.argv.slice(2));
