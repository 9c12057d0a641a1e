/** The body of validateIsolated's child process: one validation, its outcome sent back over IPC as plain data. */
import { toPlain, validateInventory } from './validate.js';
import type { GateOutcome, GateRequest } from './isolated.js';
import { useModules, type ModuleDescriptor } from '../engine/modules.js';

const { target, options, modules } = await new Promise<GateRequest>((resolve) => process.once('message', (m) => resolve(m as GateRequest)));
// The child is a new entry point: it is handed the module list the way the process that started it was.
const list = (await import(modules)) as { MODULES: readonly ModuleDescriptor[] };
useModules(list.MODULES, modules);
const result = await validateInventory(target, options);
const plain = toPlain(result);
const outcome: GateOutcome = plain ? { valid: true, plain } : { valid: false, problems: result.problems, texts: [...result.texts] };
// Disconnected once sent: nothing else holds the child, so it exits.
process.send!(outcome, () => process.disconnect());
