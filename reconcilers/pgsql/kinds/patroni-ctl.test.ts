/** patroni_ctl.py's own tests (patroni_ctl_test.py, Python's unittest against fake Patroni REST APIs), run here so `npm test` runs them. */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// As many as patroni_ctl_test.py holds: fewer means some were not collected.
const PYTHON_TESTS = 33;

describe('patroni_ctl.py', () => {
  it('passes its unittest suite', () => {
    const run = spawnSync('python3', ['-m', 'unittest', '-v', 'patroni_ctl_test'], {
      cwd: fileURLToPath(new URL('.', import.meta.url)),
      // No __pycache__ left beside the sources (the package ships reconcilers/).
      env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    const output = `${run.stdout}${run.stderr}`;
    expect(run.error, output).toBeUndefined();
    expect(run.status, output).toBe(0);
    const ran = Number(/^Ran (\d+) tests? in /m.exec(output)?.[1] ?? 0);
    expect(ran, output).toBeGreaterThanOrEqual(PYTHON_TESTS);
  });
});
