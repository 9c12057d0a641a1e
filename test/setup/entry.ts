/**
 * The test processes' entry point: the modules and the forge side handed to the core, as
 * bin/corral.js hands them. The forge side is loaded when `corral serve` runs, so a test that mocks
 * a built-in (node:crypto) before importing the daemon still gets its mock.
 */
import { loadReconcilers, useModules } from '../../src/engine/modules.js';
import { useServeCommand } from '../../src/cli/serve-command.js';
import { MODULES, MODULES_SOURCE } from '../../reconcilers/index.js';

useModules(MODULES, MODULES_SOURCE);
// planRun loads the reconcilers when it runs; tests also call compile() and kindOf() directly.
await loadReconcilers();
useServeCommand(async (opts, out, version) => (await import('../../webhooks/serve.js')).serveCommand(opts, out, version));
