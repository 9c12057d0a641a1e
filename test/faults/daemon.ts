/**
 * A real `corral serve` process for the fault suite (bin/corral.js, as a user runs it), on a port
 * the kernel picks, its JSON log kept; and what a run checks afterwards: the daemon alive and
 * answering, every JSON file of its state dir whole, nothing of its state forgotten.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { packageRoot } from '../../src/util/package-root.js';
import type { DaemonStatus, HistoryEntry } from '../../src/daemon/types.js';
import { until } from '../helpers/until.js';

/** Syncs itself, polls every second; drift checks out of the way. */
export const SETTINGS = 'sync:\n  pollInterval: 1s\n  defaults: { sync: auto, driftInterval: 1h }\n';

/** One NODE cluster on this machine at a port nothing listens on: every sync finds it unreachable at once. */
export const inventory = (change: number): string => `# change ${change}
all:
  children:
    nodes: { hosts: { 127.0.0.1: {} }, vars: { node_cluster: nodes } }
  vars: { ansible_port: 1 }
`;

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

export interface Served {
  child: ChildProcess;
  base: string;
  stateDir: string;
  /** Every output line so far (JSON log lines parsed; others as `{level: 0, msg}`). */
  logs(): LogLine[];
  /** Whether the process is still running. */
  alive(): boolean;
  status(): Promise<DaemonStatus>;
  /** SIGTERM and wait for the exit (SIGKILL after 10 s). */
  stop(): Promise<void>;
  /** SIGKILL and wait for the exit. */
  kill(): Promise<void>;
}

const running = new Set<Served>();

/** A `corral serve` that exited instead of serving: its exit code and everything it printed. */
export class Exited extends Error {
  constructor(
    readonly code: number | null,
    readonly out: string,
  ) {
    super(`corral serve exited with ${code}:\n${out}`);
  }
}

/** Stops every daemon still running (for afterAll). */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((d) => d.stop()));
}

/**
 * Starts `corral serve` and resolves once it serves; rejects with its output if it exits first.
 * `args` come after `serve`; `--listen`, `--log-format json` are added.
 */
export function serve(args: string[], stateDir: string, env: Record<string, string> = {}): Promise<Served> {
  const child = spawn(process.execPath, [join(packageRoot, 'bin/corral.js'), 'serve', ...args, '--state-dir', stateDir, '--listen', '127.0.0.1:0', '--log-format', 'json'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  const lines: LogLine[] = [];
  let rest = '';
  let raw = '';
  let exited = false;
  const take = (d: Buffer): void => {
    raw += d.toString();
    const parts = (rest + d.toString()).split('\n');
    rest = parts.pop() ?? '';
    for (const p of parts) {
      if (!p) continue;
      try {
        lines.push(JSON.parse(p) as LogLine);
      } catch {
        lines.push({ level: 0, msg: p });
      }
    }
  };
  child.stdout.on('data', take);
  child.stderr.on('data', take);
  const exit = new Promise<void>((resolve) =>
    child.on('exit', () => {
      exited = true;
      resolve();
    }),
  );
  return new Promise<Served>((resolve, reject) => {
    void exit.then(() => reject(new Exited(child.exitCode, raw)));
    void until(
      'corral serve to serve',
      () => {
        if (exited) return null;
        const line = lines.find((l) => l.msg === 'corral is serving');
        return line ? (line['listen'] as string).replace(/\/$/, '') : undefined;
      },
      30_000,
      50,
    ).then((base) => {
      if (base === null) return;
      const d: Served = {
        child,
        base,
        stateDir,
        logs: () => lines,
        alive: () => !exited,
        status: async () => (await (await fetch(`${base}/api/status`, { signal: AbortSignal.timeout(5000) })).json()) as DaemonStatus,
        stop: async () => {
          running.delete(d);
          if (exited) return;
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
          await exit;
          clearTimeout(timer);
        },
        kill: async () => {
          running.delete(d);
          if (exited) return;
          child.kill('SIGKILL');
          await exit;
        },
      };
      running.add(d);
      resolve(d);
    }, reject);
  });
}

/** Every `*.json` file under `dir` (not the git clone) that does not parse, by its path under `dir`; and leftover temp files. */
export function brokenStateFiles(dir: string): string[] {
  const broken: string[] = [];
  const walk = (d: string): void => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, entry.name);
      if (entry.isDirectory()) {
        if (!['git', 'previews', 'pki'].includes(entry.name) || d !== dir) walk(p);
      } else if (entry.name.includes('.tmp-')) {
        broken.push(`${relative(dir, p)}: a temp file left behind`);
      } else if (entry.name.endsWith('.json')) {
        try {
          JSON.parse(readFileSync(p, 'utf8'));
        } catch (e) {
          broken.push(`${relative(dir, p)}: ${(e as Error).message} (${statSync(p).size} bytes)`);
        }
      }
    }
  };
  walk(dir);
  return broken;
}

export interface StateSnapshot {
  lastGoodRevision?: string;
  /** History entry ids per cluster. */
  history: Record<string, string[]>;
}

export function snapshot(dir: string): StateSnapshot {
  const read = <T>(p: string, fallback: T): T => {
    try {
      return JSON.parse(readFileSync(p, 'utf8')) as T;
    } catch {
      return fallback;
    }
  };
  const state = read<{ lastGoodRevision?: string }>(join(dir, 'state.json'), {});
  const history: Record<string, string[]> = {};
  const hdir = join(dir, 'history');
  if (existsSync(hdir)) {
    for (const f of readdirSync(hdir).filter((f) => f.endsWith('.json'))) history[f.slice(0, -5)] = read<HistoryEntry[]>(join(hdir, f), []).map((e) => e.id);
  }
  return { ...(state.lastGoodRevision ? { lastGoodRevision: state.lastGoodRevision } : {}), history };
}

/**
 * What a run lost: the daemon dead or not answering, state files broken, history entries gone
 * since `before`, the revision in force (and in state.json) not `expected`.
 */
export async function losses(d: Served, before: StateSnapshot, expected: string): Promise<string[]> {
  const lost: string[] = [];
  if (!d.alive()) lost.push(`the daemon died (${d.child.exitCode ?? d.child.signalCode})`);
  else {
    const status = await d.status().catch((e: Error) => e);
    if (status instanceof Error) lost.push(`the API did not answer: ${status.message}`);
    else if (status.git.lastGoodRevision !== expected) lost.push(`the revision in force is ${status.git.lastGoodRevision ?? 'none'}, not ${expected}`);
  }
  lost.push(...brokenStateFiles(d.stateDir));
  const after = snapshot(d.stateDir);
  if (after.lastGoodRevision !== expected) lost.push(`state.json names ${after.lastGoodRevision ?? 'no revision'}, not ${expected}`);
  for (const [cluster, ids] of Object.entries(before.history)) {
    const kept = new Set(after.history[cluster] ?? []);
    const gone = ids.filter((id) => !kept.has(id));
    // Only the 50 newest are kept: an entry pushed out by newer ones is not lost.
    if (gone.length && (after.history[cluster]?.length ?? 0) < 50) lost.push(`history/${cluster}.json lost ${gone.length} entries`);
  }
  return lost;
}

/** The status once the daemon has `revision` in force and every cluster was synced to it (found Unreachable here). */
export function inForce(d: Served, revision: string, timeoutMs = 20_000): Promise<DaemonStatus> {
  return until(
    `${revision.slice(0, 8)} in force and synced`,
    async () => {
      const s = await d.status().catch(() => undefined);
      return s && s.git.lastGoodRevision === revision && s.clusters.length > 0 && s.clusters.every((c) => c.revision === revision && c.sync !== 'Syncing') ? s : undefined;
    },
    timeoutMs,
    100,
  );
}
