/**
 * Validation of untrusted revisions in a child process with a time and a heap limit, so that no
 * revision, however small or hostile, stalls the daemon's event loop or grows its memory: the
 * child's memory goes back to the system when it exits (a worker thread's malloc arenas stayed in
 * the daemon, some MiB a validation). The child parses, checks and judges; a valid revision comes
 * back as plain values, from which only the groups and host views are rebuilt here (linear, no parse).
 */
import { fork } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
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

/** What the child is sent: what to validate, and where the module list is. */
export interface GateRequest {
  target: string;
  options: LoadOptions;
  modules: string;
}

/** What the child sends back. */
export type GateOutcome = { valid: true; plain: PlainValidated } | { valid: false; problems: Problem[]; texts: [string, string][] };

/** The compiled child, in dist/ also when this module runs from src/ (tests). */
const childScript = (): string => shippedFile(import.meta.url, './validate-child.js', 'src/config/validate-child.js');

/** The module list for the child to load: the compiled one in dist/ when this process runs the sources (tests). */
function childModules(): string {
  const source = modules().source;
  if (!source.endsWith('.ts')) return source;
  const relative = fileURLToPath(source).slice(packageRoot.length).replace(/\.ts$/, '.js');
  return pathToFileURL(join(packageRoot, 'dist', relative)).href;
}

/** How much of the child's stderr is kept: enough for V8's out-of-memory line. */
const STDERR_KEPT = 4096;

function inChild(target: string, limits: IsolationLimits, options: LoadOptions): Promise<GateOutcome> {
  return new Promise((resolve) => {
    const child = fork(childScript(), [], {
      execArgv: [`--max-old-space-size=${limits.maxHeapMb}`],
      // Structured clone, as a worker's messages were: problems and plain values as they are.
      serialization: 'advanced',
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-STDERR_KEPT)));
    let settled = false;
    const finish = (outcome: GateOutcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      resolve(outcome);
    };
    const refuse = (message: string): void => finish({ valid: false, problems: [problem('limit/exceeded', wholeFile('.'), message)], texts: [] });
    const timer = setTimeout(() => refuse(`validation did not finish within ${limits.timeoutMs} ms; the revision is refused`), limits.timeoutMs);
    child.once('message', (outcome: GateOutcome) => finish(outcome));
    child.once('error', (e) => refuse(`validation failed: ${e.message}`));
    // 'close', not 'exit': by then every message the child sent has come in.
    child.once('close', (code, signal) =>
      refuse(
        /heap out of memory|Reached heap limit/.test(stderr)
          ? `validation needed more than ${limits.maxHeapMb} MiB of memory; the revision is refused`
          : `validation stopped (${signal ?? `exit code ${code}`}) before it finished${stderr.trim() ? `: ${stderr.trim().split('\n').at(-1)}` : ''}`,
      ),
    );
    child.send({ target, options, modules: childModules() } satisfies GateRequest);
  });
}

export async function validateIsolated(target: string, limits: IsolationLimits = DEFAULT_ISOLATION, options: LoadOptions = {}): Promise<Validated> {
  const gate = await inChild(target, limits, options);
  if (!gate.valid) return { hosts: [], clusters: [], problems: gate.problems, valid: false, texts: new Map(gate.texts) };
  return fromPlain(gate.plain);
}
