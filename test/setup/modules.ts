/** The test processes' entry point: the modules handed to the core, as bin/corral.js hands them. */
import { useModules } from '../../src/engine/modules.js';
import { MODULES, MODULES_SOURCE } from '../../reconcilers/index.js';

useModules(MODULES, MODULES_SOURCE);
