/** The fault table: rows counted from the runs recorded, one aligned table, reports merged across suites. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FaultTable, formatTable, readReports, rowsOf } from './table.js';

describe('the fault table', () => {
  const runs = [
    { fault: 'git server down', injection: 'between polls', converged: true, lost: [] },
    { fault: 'git server down', injection: 'during a fetch', converged: false, lost: ['the daemon died (1)'] },
    { fault: 'disk full', injection: 'before state.json', converged: true, lost: [] },
    { fault: 'git server down', injection: 'between polls', converged: true, lost: [] },
  ];

  it('counts injection points, runs, converged and lost per fault, in the order first seen', () => {
    expect(rowsOf(runs)).toEqual([
      { fault: 'git server down', injectionPoints: 2, runs: 3, converged: 2, lost: 1 },
      { fault: 'disk full', injectionPoints: 1, runs: 1, converged: 1, lost: 0 },
    ]);
    expect(formatTable(rowsOf(runs))).toBe(
      ['fault            injection points  runs  converged  lost', 'git server down                 2     3          2     1', 'disk full                       1     1          1     0'].join('\n'),
    );
  });

  it('names each run that did not converge or lost something under the table; merges the reports of several suites', () => {
    const daemon = new FaultTable();
    const lab = new FaultTable();
    for (const r of runs.slice(0, 2)) daemon.record(r);
    for (const r of runs.slice(2)) lab.record(r);
    expect(daemon.format().split('\n').slice(2)).toEqual(['  git server down (during a fetch): NOT converged; lost: the daemon died (1)']);
    const dir = mkdtempSync(join(tmpdir(), 'corral-faults-report-'));
    daemon.write(dir, 'daemon');
    lab.write(dir, 'lab');
    expect(readReports(dir).rows).toEqual(rowsOf([...runs.slice(0, 2), ...runs.slice(2)]));
  });
});
