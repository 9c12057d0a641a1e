/**
 * The fault suite's table: each run of a fault is recorded as it was observed (did the daemon end
 * converged, what was lost), and afterAll prints one aligned table, a row per fault:
 *
 *   fault                     injection points  runs  converged  lost
 *   git server down                          3     3          3     0
 *
 * "converged": the run ended with the daemon serving, the expected revision in force and the state
 * written. "lost": the run lost something: a state file unreadable, history or a good revision
 * forgotten, the daemon dead. With CORRAL_FAULTS_REPORT set, the rows (and each run) are also written
 * to `$CORRAL_FAULTS_REPORT/<name>.json`, so other suites (the lab's faults) add theirs to one report.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll } from 'vitest';

export interface FaultRun {
  fault: string;
  /** Where the fault was injected, e.g. "between polls", "during a fetch". */
  injection: string;
  converged: boolean;
  /** What was lost, each in words; empty when nothing was. */
  lost: string[];
}

export interface FaultRow {
  fault: string;
  injectionPoints: number;
  runs: number;
  converged: number;
  lost: number;
}

export interface FaultReport {
  rows: FaultRow[];
  runs: FaultRun[];
}

/** A row per fault, in the order the faults were first recorded. */
export function rowsOf(runs: readonly FaultRun[]): FaultRow[] {
  const rows = new Map<string, { points: Set<string>; runs: number; converged: number; lost: number }>();
  for (const r of runs) {
    const row = rows.get(r.fault) ?? { points: new Set<string>(), runs: 0, converged: 0, lost: 0 };
    row.points.add(r.injection);
    row.runs++;
    if (r.converged) row.converged++;
    if (r.lost.length) row.lost++;
    rows.set(r.fault, row);
  }
  return [...rows].map(([fault, r]) => ({ fault, injectionPoints: r.points.size, runs: r.runs, converged: r.converged, lost: r.lost }));
}

const HEADERS = ['fault', 'injection points', 'runs', 'converged', 'lost'] as const;

/** One aligned table: the fault left-aligned, the counts right-aligned under their headers. */
export function formatTable(rows: readonly FaultRow[]): string {
  const cells = rows.map((r) => [r.fault, String(r.injectionPoints), String(r.runs), String(r.converged), String(r.lost)]);
  const widths = HEADERS.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: readonly string[]): string => c.map((v, i) => (i === 0 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(HEADERS), ...cells.map(line)].join('\n');
}

/** Every report in a folder (`*.json` as written by a FaultTable), merged: runs in file order. */
export function readReports(dir: string): FaultReport {
  const runs = readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .flatMap((f) => (JSON.parse(readFileSync(join(dir, f), 'utf8')) as FaultReport).runs);
  return { rows: rowsOf(runs), runs };
}

export class FaultTable {
  readonly runs: FaultRun[] = [];

  record(run: FaultRun): FaultRun {
    this.runs.push(run);
    return run;
  }

  rows(): FaultRow[] {
    return rowsOf(this.runs);
  }

  /** The lines of each run that did not converge or lost something, under the table. */
  format(): string {
    const bad = this.runs.filter((r) => !r.converged || r.lost.length);
    return [formatTable(this.rows()), ...bad.map((r) => `  ${r.fault} (${r.injection}): ${r.converged ? 'converged' : 'NOT converged'}${r.lost.length ? `; lost: ${r.lost.join('; ')}` : ''}`)].join('\n');
  }

  /** Writes `{rows, runs}` to `dir/name.json`. */
  write(dir: string, name: string): void {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${name}.json`), JSON.stringify({ rows: this.rows(), runs: this.runs } satisfies FaultReport, null, 2) + '\n');
  }
}

/** A table for one test file: printed in afterAll, and written to $CORRAL_FAULTS_REPORT/<name>.json when that is set. */
export function faultTable(name: string): FaultTable {
  const table = new FaultTable();
  afterAll(() => {
    console.log(`\n${table.format()}\n`);
    const dir = process.env['CORRAL_FAULTS_REPORT'];
    if (dir) table.write(dir, name);
  });
  return table;
}
