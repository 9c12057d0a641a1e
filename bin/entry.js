// What bin/corral.js runs, as scripts/bundle.mjs bundles it into dist/bundle/corral.js: the entry point
// hands the modules and the forge side to the core (nothing under src/ imports reconcilers/ or webhooks/).
import { run } from '../dist/src/cli/main.js';
import { useServeCommand } from '../dist/src/cli/serve-command.js';
import { useModules } from '../dist/src/engine/modules.js';
import { MODULES } from '../dist/reconcilers/index.js';

/** Runs one command line; resolves to the exit code. */
export async function main(argv) {
  // The validation child process loads the module list itself, from dist/ (not from the bundle).
  useModules(MODULES, new URL('../reconcilers/index.js', import.meta.url).href);
  // Loaded when `corral serve` runs: the daemon's HTTP server, git and metrics cost every other command start-up time.
  useServeCommand(async (...args) => (await import('../dist/webhooks/serve.js')).serveCommand(...args));
  return run(argv);
}
