/**
 * After the whole run, one table of every fault suite's runs (test/faults and the lab's), from the
 * reports they wrote to $CORRAL_FAULTS_REPORT: the figures .ci/run shows.
 */
import { existsSync } from 'node:fs';
import { formatTable, readReports } from '../faults/table.js';

export function teardown(): void {
  const dir = process.env['CORRAL_FAULTS_REPORT'];
  if (!dir || !existsSync(dir)) return;
  const { rows } = readReports(dir);
  if (rows.length) console.log(`\nfaults, every suite:\n${formatTable(rows)}\n`);
}
