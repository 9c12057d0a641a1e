/** Runs the CLI in-process, as `corral ...argv` would, and captures what it prints. */
import { run } from '../../src/cli/main.js';
import type { Output } from '../../src/cli/output.js';

export async function corral(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out: Output = { print: (s) => (stdout += s), error: (s) => (stderr += s), color: false };
  const code = await run(argv, out);
  return { code, stdout, stderr };
}
