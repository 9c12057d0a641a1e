/** Whether a script parses as bash (`bash -n`): a quoting slip otherwise shows only on a real node. */
import { execFileSync } from 'node:child_process';

export const parsesAsBash = (script: string): boolean => {
  try {
    execFileSync('bash', ['-n'], { input: script, stdio: ['pipe', 'pipe', 'pipe'] });
    return true;
  } catch {
    return false;
  }
};
