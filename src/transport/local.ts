// The local connector: the same command line and stdin stream as over SSH, run with child_process.
import { spawn } from 'node:child_process';
import { CLIENT_GRACE_MS, commandArgv, exitCode, judgeExit, stdinPayload, timeoutError } from './script.js';
import { TransportError } from './types.js';
import type { ExecResult } from './types.js';
import type { RunOptions } from './ssh.js';

export function execLocal(name: string, script: string, opts: RunOptions): Promise<ExecResult> {
  const where = `${name} (local)`;
  const [command, ...args] = commandArgv(opts.sudo, opts.timeoutMs);
  return new Promise((resolve, reject) => {
    const started = Date.now();
    // Its own process group, so that a late kill reaches everything the script started.
    const child = spawn(command!, args, { detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let settled = false;
    const finish = (err: TransportError | undefined, result?: ExecResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) reject(err);
      else resolve(result!);
    };
    const timer = setTimeout(() => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // Gone already, or sudo's root children we may not signal; the `timeout` under sudo handles those.
      }
      finish(timeoutError(name, where, opts.timeoutMs, 'its process group was killed'));
    }, opts.timeoutMs + CLIENT_GRACE_MS);

    child.on('error', (err) => finish(new TransportError('unreachable', name, `${where}: cannot start ${command}: ${err.message}. Install bash and coreutils (and sudo when not root).`, false, { cause: err })));
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    // A script that exits without reading all its stdin closes the pipe under our write.
    child.stdin.on('error', () => undefined);
    child.on('close', (code, signal) => {
      const result: ExecResult = {
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
        code: exitCode(code, signal),
        durationMs: Date.now() - started,
      };
      try {
        finish(undefined, judgeExit(result, { host: name, where, timeoutMs: opts.timeoutMs }));
      } catch (e) {
        finish(e as TransportError);
      }
    });
    opts.onStart?.();
    child.stdin.end(stdinPayload(script, opts.stdin));
  });
}
