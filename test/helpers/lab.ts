/**
 * The lab of real nodes (test/lab/lab.sh) as the e2e tests use it. Tests talk only to the lab's
 * own addresses (10.213.0.0/24) and loopback.
 */
import { execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll } from 'vitest';
import { run as runCli } from '../../src/cli/main.js';
import type { Output } from '../../src/cli/output.js';

const run = promisify(execFile);
export const LAB_DIR = process.env.CORRAL_LAB_DIR ?? '/var/lib/corral-lab';
export const LAB_SH = join(import.meta.dirname, '../lab/lab.sh');
export const LAB_KEY = join(LAB_DIR, 'keys/id_ed25519');
export const LAB_KNOWN_HOSTS = join(LAB_DIR, 'known_hosts');
export const nodeIp = (i: number): string => `10.213.0.${10 + i}`;

export async function lab(...args: string[]): Promise<string> {
  const { stdout } = await run('bash', [LAB_SH, ...args], { maxBuffer: 64 * 1024 * 1024, timeout: 15 * 60_000 });
  return stdout;
}

/** A command on a node as root, through the lab's own ssh config. */
export async function onNode(node: string, command: string): Promise<string> {
  const { stdout } = await run('ssh', ['-F', join(LAB_DIR, 'ssh_config'), '-o', 'BatchMode=yes', node, command], { timeout: 60_000 });
  return stdout;
}

/** Environment that points Corral at the lab's key and known_hosts. */
/** One CA for every lab scenario, kept with the lab: the nodes keep their certificates from one file to the next. */
export const LAB_PKI_DIR = join(LAB_DIR, 'pki');
export const labEnv = { CORRAL_SSH_KEY: LAB_KEY, CORRAL_KNOWN_HOSTS: LAB_KNOWN_HOSTS, CORRAL_PKI_DIR: LAB_PKI_DIR };

/** `corral apply PATH --yes` (the built CLI) killed with SIGKILL as soon as its output shows `marker`. */
export function applyKilledAt(path: string, marker: string): Promise<void> {
  const child = spawn(process.execPath, [join(import.meta.dirname, '../../bin/corral.js'), 'apply', path, '--yes'], { env: { ...process.env, ...labEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise<void>((resolve) => {
    child.stdout.on('data', (d: Buffer) => {
      if (d.toString().includes(marker)) {
        child.kill('SIGKILL');
        resolve();
      }
    });
    child.on('exit', () => resolve());
  });
}

/** The CLI in this process against the lab, its output captured. */
export async function corral(...argv: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  const o: Output = { print: (s) => (out += s), error: (s) => (out += s), color: false };
  Object.assign(process.env, labEnv);
  const code = await runCli(argv, o);
  return { code, out };
}

/** Bare lab nodes for a test file: wiped and started before it, left up for the next file. */
export function useBareLab(nodes = 3): void {
  // CORRAL_LAB_KEEP=1: a developer re-running one test (-t) on the nodes a previous run left.
  if (process.env.CORRAL_LAB_KEEP === '1') return;
  beforeAll(async () => {
    await lab('down', '--wipe');
    await lab('up', String(nodes));
  }, 15 * 60_000);
  afterAll(async () => {
    await lab('up', String(nodes));
  }, 5 * 60_000);
}

/**
 * The lab as `build` leaves it, from a snapshot after the first time (lab.sh snapshot/restore):
 * scenarios that do not test the install start from converged nodes instead of installing again.
 * `build` starts from bare nodes.
 */
export async function labFrom(snapshot: string, nodes: number, build: () => Promise<void>): Promise<'restored' | 'built'> {
  if (await lab('restore', snapshot).then(() => true, () => false)) {
    await lab('up', String(nodes));
    return 'restored';
  }
  await lab('down', '--wipe');
  await lab('up', String(nodes));
  await build();
  await lab('snapshot', snapshot);
  return 'built';
}
