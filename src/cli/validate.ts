/** `corral validate [PATH...]`: each PATH is one inventory (a repo folder or one YAML file), judged on its own. */
import { validateInventory } from '../config/validate.js';
import { describeFleet, fleetCounts } from '../config/clusters.js';
import { ansiPaint, formatProblem, noPaint, toJson, type ProblemJson } from './format-problems.js';
import { displayPathOf } from './paths.js';
import { EXIT, type Output } from './output.js';

/** Problems that mean Corral could not read what it was pointed at: exit 2, not 1. */
const IO_CODES = new Set(['io/unreadable', 'io/no-inventory']);

export async function validateCommand(paths: string[], opts: { format: 'text' | 'json' }, out: Output): Promise<number> {
  const json: ProblemJson[] = [];
  let exit: number = EXIT.ok;
  for (const path of paths.length ? paths : ['.']) {
    const result = await validateInventory(path);
    const display = displayPathOf(result, path);
    if (result.problems.some((p) => IO_CODES.has(p.code))) exit = EXIT.usage;
    else if (!result.valid && exit === EXIT.ok) exit = EXIT.invalid;
    if (opts.format === 'json') {
      json.push(...result.problems.map((p) => toJson(p, display)));
      continue;
    }
    const paint = out.color ? ansiPaint : noPaint;
    for (const p of result.problems) out.print(formatProblem(p, result.texts.get(p.file), display, paint) + '\n');
    const errors = result.problems.filter((p) => p.severity === 'error').length;
    const warnings = result.problems.length - errors;
    const summary = `${path}: ${describeFleet(fleetCounts(result))}, ${errors} error${errors === 1 ? '' : 's'}, ${warnings} warning${warnings === 1 ? '' : 's'}`;
    out.print((errors ? paint.red('✗ ') : '✓ ') + summary + '\n');
  }
  if (opts.format === 'json') out.print(JSON.stringify(json, null, 2) + '\n');
  return exit;
}
