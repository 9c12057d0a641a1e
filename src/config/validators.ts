/**
 * The inventory's and corral.yml's validators, compiled ahead of time from schema/ by
 * scripts/gen-types.mjs (ajv's standalone code: no schema compile at run time; `npm run gen:types --
 * --check` fails when they are stale). Loaded on first use: the daemon validates in a child process, and its
 * own process, which reads the schemas only for secret masks and defaults, never holds their code.
 *
 * The build runs them once and writes V8's code cache beside them (validators.gen.cache, made by
 * scripts/cache-validators.mjs), so a process neither parses nor compiles their 0.9 MB again: about
 * 25 ms of each `corral validate`, and of each revision the daemon validates. V8 checks a cache
 * against the source's length only, and in release builds not its own bytes, so the cache starts with
 * the SHA-256 of the source and the cache together and is used only when that matches; without it
 * (tests from src/, another node) the validators compile as usual.
 */
import { createHash } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Script } from 'node:vm';
import type { ValidateFunction } from 'ajv/dist/2020.js';
import { shippedFile } from '../util/package-root.js';

export interface Validators {
  validateInventory: ValidateFunction;
  validateSettings: ValidateFunction;
}

export interface LoadedValidators {
  validators: Validators;
  /** Whether V8 took the code cache: false when there was none, it was for another source, or V8 refused it. */
  fromCache: boolean;
  script: Script;
  /** The text compiled, which the cache's digest covers. */
  source: string;
}

const SOURCE = shippedFile(import.meta.url, './validators.gen.js', 'src/config/validators.gen.js');
const cacheBeside = (source: string): string => source.replace(/\.js$/, '.cache');
const DIGEST_BYTES = 32;
const digest = (source: string, payload: Buffer): Buffer => createHash('sha256').update(source).update(payload).digest();

function readCache(path: string | null, source: string): Buffer | undefined {
  if (path === null) return undefined;
  let cache: Buffer;
  try {
    cache = readFileSync(path);
  } catch {
    return undefined;
  }
  const payload = cache.subarray(DIGEST_BYTES);
  return payload.length > 0 && cache.subarray(0, DIGEST_BYTES).equals(digest(source, payload)) ? payload : undefined;
}

/** Compiles the generated validators, with their code cache when it is for this very source. */
export function loadValidators(sourceFile = SOURCE, cacheFile: string | null = cacheBeside(sourceFile)): LoadedValidators {
  const source = readFileSync(sourceFile, 'utf8');
  const cachedData = readCache(cacheFile, source);
  const script = new Script(source, { filename: sourceFile, ...(cachedData ? { cachedData } : {}) });
  const exports = {} as Validators;
  (script.runInThisContext() as (exports: Validators, require: NodeJS.Require) => void)(exports, createRequire(import.meta.url));
  return { validators: exports, fromCache: cachedData !== undefined && !script.cachedDataRejected, script, source };
}

/** Compiles the validators afresh, runs `warm` on them (what it calls is compiled then), and writes the code cache of all that. */
export function writeValidatorsCache(warm: (v: Validators) => void, sourceFile = SOURCE, cacheFile = cacheBeside(sourceFile)): void {
  const { validators, script, source } = loadValidators(sourceFile, null);
  warm(validators);
  const payload = script.createCachedData();
  const partial = `${cacheFile}.${process.pid}`;
  writeFileSync(partial, Buffer.concat([digest(source, payload), payload]));
  renameSync(partial, cacheFile);
}

let loaded: Promise<Validators> | undefined;

export const validators = (): Promise<Validators> => (loaded ??= Promise.resolve().then(() => loadValidators().validators));
