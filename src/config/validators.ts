/**
 * The inventory's and corral.yml's validators, compiled ahead of time from schema/ by
 * scripts/gen-types.mjs (ajv's standalone code: no schema compile at run time; `npm run gen:types --
 * --check` fails when they are stale). Loaded on first use: the daemon validates in a worker, and its
 * own thread, which reads the schemas only for secret masks and defaults, never holds their code
 * (0.7 MB of source, twice that in its heap).
 */
import type { ValidateFunction } from 'ajv/dist/2020.js';

export interface Validators {
  validateInventory: ValidateFunction;
  validateSettings: ValidateFunction;
}

let loaded: Promise<Validators> | undefined;

export const validators = (): Promise<Validators> => (loaded ??= import('./validators.gen.js'));
