/** Outside programs the HTTP tests drive: promtool and a headless Chromium (Debian's packages). */
import { spawn, spawnSync } from 'node:child_process';

export function which(cmd: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

export function need(cmd: string, pkg: string): string {
  const path = which(cmd);
  if (!path) throw new Error(`${cmd} is not installed: apt-get install -y --no-install-recommends ${pkg}`);
  return path;
}

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a program in its own process group and kills the whole group when it ends or times out, so
 * nothing it started (Chromium's helpers) outlives the test.
 */
export function run(cmd: string, args: string[], opts: { input?: string; timeoutMs: number }): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const killGroup = (): void => {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    };
    const timer = setTimeout(() => {
      killGroup();
      reject(new Error(`${cmd} did not finish in ${opts.timeoutMs} ms; stderr: ${stderr.slice(-2000)}`));
    }, opts.timeoutMs);
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      killGroup();
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}
