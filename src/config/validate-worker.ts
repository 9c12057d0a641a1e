/** The body of validateIsolated's worker thread: one validation, its outcome posted back as plain data. */
import { parentPort, workerData } from 'node:worker_threads';
import { toPlain, validateInventory } from './validate.js';
import type { GateOutcome } from './isolated.js';
import type { LoadOptions } from './load.js';

const { target, options } = workerData as { target: string; options: LoadOptions };
const result = await validateInventory(target, options);
const plain = toPlain(result);
const outcome: GateOutcome = plain ? { valid: true, plain } : { valid: false, problems: result.problems, texts: [...result.texts] };
parentPort!.postMessage(outcome);
