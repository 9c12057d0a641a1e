// Shared bits of the transport tests: known_hosts files and targets for a test sshd.
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect } from 'vitest';
import { ensureTestUsers, startSshd, SUDO_USER } from '../helpers/sshd.js';
import type { Sshd } from '../helpers/sshd.js';
import { createTransport, TransportError } from '../../src/transport/index.js';
import type { Target, Transport, TransportOptions } from '../../src/transport/index.js';

/** Setup may apt-get install openssh-server and sudo on a fresh machine, blocking for a while. */
export const SETUP_TIMEOUT_MS = 300_000;

let base: string | undefined;

// Vitest loads this module once per test file: the file's scratch folders go when the file is done.
afterAll(() => {
  if (base) rmSync(base, { recursive: true, force: true });
  base = undefined;
});

/** A fresh folder for one test, readable by the test users (inside one folder per test file). */
export function scratchDir(prefix: string): string {
  if (!base) {
    base = mkdtempSync(join(tmpdir(), 'corral-transport-'));
    chmodSync(base, 0o755);
  }
  const dir = mkdtempSync(join(base, `${prefix}-`));
  chmodSync(dir, 0o755);
  return dir;
}

/** A known_hosts file in a fresh folder holding these lines (none: the file does not exist). */
export function knownHostsFile(lines?: string[]): string {
  const file = join(scratchDir('kh'), 'known_hosts');
  if (lines) writeFileSync(file, lines.map((l) => `${l}\n`).join(''));
  return file;
}

/**
 * A target on the test sshd. The default user is the NOPASSWD sudo user, as on Pigsty nodes, and
 * because sshd's bash sources ~/.bashrc on every exec: a heavy root .bashrc on a dev machine
 * (pyenv init: ~1 s) would make every root exec slow. Call ensureTestUsers() first.
 */
export function sshTarget(sshd: Sshd, extra: Partial<Target> = {}): Target {
  return { name: 'node1', address: '127.0.0.1', port: sshd.port, user: SUDO_USER, connection: 'ssh', privateKeyFile: sshd.clientKeyFile, ...extra };
}

/** The key blob of an OpenSSH public key file (`TYPE BASE64 COMMENT`). */
export function publicKeyBlob(pubFile: string): Buffer {
  return Buffer.from(readFileSync(pubFile, 'utf8').trim().split(/\s+/)[1]!, 'base64');
}

/** Processes still alive among these pids. */
export function alive(pids: number[]): number[] {
  return pids.filter((pid) => {
    try {
      process.kill(pid, 0);
      // A zombie is dead for our purpose: it no longer runs.
      return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    } catch {
      return false;
    }
  });
}

export async function waitFor(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return check();
}

/** A script that records the pids of its shell and of a background child in `dir`, then sleeps for long. */
export function longScript(dir: string): string {
  const record = (name: string, value: string): string => `echo ${value} > ${dir}/${name}.tmp && mv ${dir}/${name}.tmp ${dir}/${name}`;
  return `sleep 600.1 & ${record('bg', '$!')}; ${record('sh', '$$')}; sleep 600.2; echo never`;
}

/**
 * Whether both processes of longScript are gone. Waits for their pids first: on a loaded machine the
 * login shell may start the script only after the client gave up waiting (the host's `timeout`
 * still ends it then).
 */
export async function longScriptGone(dir: string, timeoutMs = 20_000): Promise<boolean> {
  const files = ['bg', 'sh'].map((f) => join(dir, f));
  if (!(await waitFor(() => files.every((f) => existsSync(f)), timeoutMs))) return false;
  const pids = files.map((f) => Number(readFileSync(f, 'utf8')));
  return waitFor(() => alive(pids).length === 0, timeoutMs);
}

/**
 * One test sshd (with the test users) for a test file, and transports to it that close when the
 * file is done. `env.sshd` and `env.knownHosts` are set once beforeAll has run.
 */
export function useSshd(): { sshd: Sshd; knownHosts: string; transport(opts?: Partial<TransportOptions>): Transport } {
  const transports: Transport[] = [];
  const env = {
    sshd: undefined as unknown as Sshd,
    knownHosts: '',
    transport(opts: Partial<TransportOptions> = {}): Transport {
      const t = createTransport({ hostKeys: { knownHostsFile: env.knownHosts, mode: 'strict' }, ...opts });
      transports.push(t);
      return t;
    },
  };
  beforeAll(async () => {
    ensureTestUsers();
    env.sshd = await startSshd();
    env.knownHosts = knownHostsFile(env.sshd.hostKeyLines);
  }, SETUP_TIMEOUT_MS);
  afterAll(async () => {
    await Promise.all(transports.map((t) => t.close()));
    await env.sshd?.dispose();
  });
  return env;
}

/** The TransportError a promise rejects with (the test fails if it resolves or throws something else). */
export async function rejection(p: Promise<unknown>): Promise<TransportError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TransportError);
  return err as TransportError;
}
