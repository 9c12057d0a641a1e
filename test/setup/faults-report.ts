/**
 * After the whole run, one table of every fault suite's runs (test/faults and the lab's), from the
 * reports they wrote to $CORRAL_FAULTS_REPORT: the figures .ci/run shows.
 */
import { existsSync } from 'node:fs';
import { formatTable, readReports } from '../faults/table.js';

export function teardown(): void {
  const dir = process.env['CORRAL_FAULTS_REPORT'];
  // Each project (unit, e2e) runs this at the end of the run: the table is printed once.
  if (!dir || !existsSync(dir) || process.env['CORRAL_FAULTS_PRINTED']) return;
  process.env['CORRAL_FAULTS_PRINTED'] = '1';
  const { rows } = readReports(dir);
  if (rows.length) console.log(`\nfaults, every suite:\n${formatTable(rows)}\n`);
}
