/** The body of validateIsolated's worker thread: one validation, its outcome posted back as plain data. */
import { parentPort, workerData } from 'node:worker_threads';
import { validateInventory } from './validate.js';
import type { GateOutcome } from './isolated.js';

const { target } = workerData as { target: string };
const result = await validateInventory(target);
const outcome: GateOutcome = { valid: result.valid, problems: result.problems, texts: result.valid ? [] : [...result.texts] };
parentPort!.postMessage(outcome);
