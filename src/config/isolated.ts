/**
 * Validation of untrusted revisions in a worker thread with a time and a heap limit, so that no
 * revision, however small or hostile, stalls the daemon's event loop or grows its memory. The
 * worker parses, checks and judges; a valid revision comes back as plain values, from which only
 * the groups and host views are rebuilt here (linear, no parse).
 */
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { packageRoot, shippedFile } from '../util/package-root.js';
import { modules } from '../engine/modules.js';
import { problem, type Problem } from './problems.js';
import { wholeFile } from './source.js';
import { fromPlain, type PlainValidated, type Validated } from './validate.js';
import type { LoadOptions } from './load.js';

export interface IsolationLimits {
  timeoutMs: number;
  maxHeapMb: number;
}

export const DEFAULT_ISOLATION: IsolationLimits = { timeoutMs: 30_000, maxHeapMb: 512 };

/** What the worker posts back. */
export type GateOutcome = { valid: true; plain: PlainValidated } | { valid: false; problems: Problem[]; texts: [string, string][] };

/** The compiled worker, in dist/ also when this module runs from src/ (tests). */
const workerScript = (): string => shippedFile(import.meta.url, './validate-worker.js', 'src/config/validate-worker.js');

/** The module list for the worker to load: the compiled one in dist/ when this process runs the sources (tests). */
function workerModules(): string {
  const source = modules().source;
  if (!source.endsWith('.ts')) return source;
  const relative = fileURLToPath(source).slice(packageRoot.length).replace(/\.ts$/, '.js');
  return pathToFileURL(join(packageRoot, 'dist', relative)).href;
}

function inWorker(target: string, limits: IsolationLimits, options: LoadOptions): Promise<GateOutcome> {
  return new Promise((resolve) => {
    const worker = new Worker(workerScript(), {
      workerData: { target, options, modules: workerModules() },
      resourceLimits: { maxOldGenerationSizeMb: limits.maxHeapMb, maxYoungGenerationSizeMb: Math.min(64, limits.maxHeapMb / 4) },
      stdout: true,
      stderr: true,
    });
    let settled = false;
    const finish = (outcome: GateOutcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void worker.terminate();
      resolve(outcome);
    };
    const refuse = (message: string): void => finish({ valid: false, problems: [problem('limit/exceeded', wholeFile('.'), message)], texts: [] });
    const timer = setTimeout(() => refuse(`validation did not finish within ${limits.timeoutMs} ms; the revision is refused`), limits.timeoutMs);
    worker.once('message', (outcome: GateOutcome) => finish(outcome));
    worker.once('error', (e: Error & { code?: string }) =>
      refuse(e.code === 'ERR_WORKER_OUT_OF_MEMORY' ? `validation needed more than ${limits.maxHeapMb} MiB of memory; the revision is refused` : `validation failed: ${e.message}`),
    );
    worker.once('exit', (code) => refuse(`validation stopped (exit code ${code}) before it finished`));
  });
}

export async function validateIsolated(target: string, limits: IsolationLimits = DEFAULT_ISOLATION, options: LoadOptions = {}): Promise<Validated> {
  const gate = await inWorker(target, limits, options);
  if (!gate.valid) return { hosts: [], clusters: [], problems: gate.problems, valid: false, texts: new Map(gate.texts) };
  return fromPlain(gate.plain);
}
