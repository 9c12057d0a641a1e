/** The body of validateIsolated's worker thread: one validation, its outcome posted back as plain data. */
import { parentPort, workerData } from 'node:worker_threads';
import { toPlain, validateInventory } from './validate.js';
import type { GateOutcome } from './isolated.js';
import type { LoadOptions } from './load.js';
import { useModules, type ModuleDescriptor } from '../engine/modules.js';

const { target, options, modules } = workerData as { target: string; options: LoadOptions; modules: string };
// The worker is a new entry point: it is handed the module list the way the process that started it was.
const list = (await import(modules)) as { MODULES: readonly ModuleDescriptor[] };
useModules(list.MODULES, modules);
const result = await validateInventory(target, options);
const plain = toPlain(result);
const outcome: GateOutcome = plain ? { valid: true, plain } : { valid: false, problems: result.problems, texts: [...result.texts] };
parentPort!.postMessage(outcome);
