// How a script travels, shared by the SSH and local connectors: a fixed command line and one stdin
// stream, and how an exit is read back (sudo refusals, timeouts).
import { constants } from 'node:os';
import { TransportError } from './types.js';
import type { ExecResult } from './types.js';

/** After the deadline the host's `timeout` sends TERM, and KILL this much later to what ignored it. */
const KILL_AFTER_S = 2;
/** How long past the deadline we wait for the host's own `timeout` to report before giving up on it. */
export const CLIENT_GRACE_MS = (KILL_AFTER_S + 2) * 1000;

/**
 * The command line, the same on every call: `[sudo -n] timeout -k 2s Ns bash -s`. The deadline is
 * enforced on the host by coreutils' `timeout`, which kills the script's whole process group:
 * OpenSSH ignores signal requests for root sessions, sudo forwards a signal to its child only, and a
 * dropped connection sends nothing at all, so only the host can reliably clean up.
 */
export function commandArgv(sudo: boolean, timeoutMs: number): string[] {
  const seconds = `${Math.max(0.001, timeoutMs / 1000).toFixed(3)}s`;
  return [...(sudo ? ['sudo', '-n'] : []), 'timeout', '-k', `${KILL_AFTER_S}s`, seconds, 'bash', '-s'];
}

/**
 * What goes to `bash -s` on stdin: the script inside `{ ...; }`, then `exit`, then the caller's stdin.
 * bash parses the whole group before running any of it, so a script cut short by a dropped connection
 * is a syntax error and runs nothing; it reads a pipe one byte at a time, so the script's commands
 * read exactly the bytes after the group. `:;` keeps an empty or comment-only script valid, and
 * sits on the first line so bash's line numbers match the script's.
 * One consequence: options that change parsing (`shopt -s extglob`) take effect only in scripts
 * that bash parses later (a function body still parses with the group).
 */
export function stdinPayload(script: string, stdin = ''): string {
  return `{ :; ${script}\n}; exit $?\n${stdin}`;
}

export function exitCode(code: number | null | undefined, signal: string | null | undefined): number {
  if (typeof code === 'number') return code;
  const name = (signal ?? '').replace(/^(SIG)?/, 'SIG') as keyof typeof constants.signals;
  const number = constants.signals[name] as number | undefined;
  return number === undefined ? 255 : 128 + number;
}

const SUDO_REFUSED = /^sudo: (a password is required|a terminal is required|.*is not in the sudoers file|.*is not allowed to)/m;
const SUDO_MISSING = /sudo: (command )?not found/;

/**
 * Does this exit look like sudo refusing to start the script? Only a hint: the script may print the
 * same words itself, so the transport confirms with a bare `sudo -n true` before calling it a refusal.
 */
export function looksLikeSudoFailure(result: ExecResult): boolean {
  return (result.code === 1 && SUDO_REFUSED.test(result.stderr)) || (result.code === 127 && SUDO_MISSING.test(result.stderr));
}

export function sudoError(host: string, where: string, user: string, check: ExecResult): TransportError {
  if (check.code === 127) {
    return new TransportError('sudo', host, `${where}: sudo is not installed, so ${user} cannot run scripts as root. Nothing was run. Install sudo or connect as root.`);
  }
  return new TransportError(
    'sudo',
    host,
    `${where}: sudo refused to run the script as root for ${user} without a password (${firstLine(check.stderr)}). Nothing was run. ` +
      `Give ${user} passwordless sudo (e.g. '${user} ALL=(ALL) NOPASSWD: ALL' in /etc/sudoers.d/${user}) or connect as root.`,
  );
}

/**
 * The host's `timeout` killed the script (124, or 137 when it had to use KILL) at or after the
 * deadline: that is a TransportError, not a result.
 */
export function judgeExit(result: ExecResult, ctx: { host: string; where: string; timeoutMs: number }): ExecResult {
  if ((result.code === 124 || result.code === 137) && result.durationMs >= ctx.timeoutMs - 50) {
    throw timeoutError(ctx.host, ctx.where, ctx.timeoutMs, 'it was stopped on the host (TERM, then KILL) with everything it started');
  }
  return result;
}

export function timeoutError(host: string, where: string, timeoutMs: number, fate: string): TransportError {
  return new TransportError(
    'timeout',
    host,
    `${where}: the script ran longer than ${formatMs(timeoutMs)}; ${fate}. Its effects may be partial. ` +
      'Raise the command timeout if it needs longer, or find out what it waited for.',
    true,
  );
}

/** How messages name a target: `web1 (dba@10.0.0.5:22)`. */
export function where(target: { name: string; user: string; address: string; port: number }): string {
  return `${target.name} (${target.user}@${target.address}:${target.port})`;
}

export function formatMs(ms: number): string {
  return ms >= 1000 ? `${+(ms / 1000).toFixed(1)} s` : `${ms} ms`;
}

function firstLine(text: string): string {
  return (text.split('\n').find((l) => l.startsWith('sudo:')) ?? text).trim().slice(0, 200);
}

/** Errors of execs that failed before starting because the connection itself was gone (ssh.ts marks them). */
export const lostConnection = new WeakSet<TransportError>();

/** Did the exec fail before starting because the connection itself is gone? Then a new one may do. */
export function isLostConnection(err: unknown): boolean {
  return err instanceof TransportError && lostConnection.has(err);
}
