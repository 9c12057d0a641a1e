// A real OpenSSH sshd on 127.0.0.1 for transport tests: its own host keys, client keys and
// authorized_keys in a temp folder, run in the foreground as our child. Also test users (with and
// without sudo) and an ssh-agent. Everything here needs root, as the lab and CI run.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';

export const SUDO_USER = 'corral-test-sudo';
export const PLAIN_USER = 'corral-test-nosudo';

export interface ClientKeys {
  /** Unencrypted OpenSSH private keys. */
  ed25519File: string;
  rsaFile: string;
  /** `ssh-ed25519 AAAA...` / `ssh-rsa AAAA...` lines for authorized_keys. */
  publicLines: string[];
}

export interface Sshd {
  port: number;
  /** known_hosts lines for this server (`[127.0.0.1]:PORT TYPE BASE64`), ed25519 first. */
  hostKeyLines: string[];
  /** The host's public key files, to compare fingerprints with `ssh-keygen -lf`. */
  hostPublicKeyFiles: { ed25519: string; rsa: string };
  /** The client's ed25519 key (authorized for root and the test users). */
  clientKeyFile: string;
  clientKeys: ClientKeys;
  /** What sshd logged on stderr since it started (all runs). */
  logs(): string;
  /** Kills sshd and every per-connection sshd it forked, so open connections drop. */
  stop(): Promise<void>;
  /** Starts sshd again on the same port with the same keys. */
  restart(): Promise<void>;
  /** SIGKILLs the per-connection sshd processes (every open connection drops); the listener stays. Their pids. */
  killSessions(): number[];
  /** SIGSTOPs sshd and its per-connection processes: the network looks dead, nothing is refused. */
  pause(): void;
  /** SIGCONTs what pause() stopped. */
  resume(): void;
  /** stop(), then removes the temp folder with every key. */
  dispose(): Promise<void>;
}

export interface SshdOptions {
  clientKeys?: ClientKeys;
  /** sshd LogLevel (default INFO). */
  logLevel?: string;
}

const SSHD = '/usr/sbin/sshd';

function aptInstall(...packages: string[]): void {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = (): void => {
    execFileSync('apt-get', ['-o', 'DPkg::Lock::Timeout=300', 'install', '-y', '-qq', '--no-install-recommends', ...packages], { env, stdio: 'ignore' });
  };
  try {
    install();
  } catch {
    // A fresh machine may have no package lists yet.
    execFileSync('apt-get', ['-o', 'DPkg::Lock::Timeout=300', 'update', '-qq'], { env, stdio: 'ignore' });
    install();
  }
}

/** Installs Debian's openssh-server when sshd is missing; sshd insists on its privilege-separation folder. */
export function ensureSshd(): void {
  if (!existsSync(SSHD) || !existsSync('/usr/bin/ssh-agent')) aptInstall('openssh-server', 'openssh-client');
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
}

export function tempDir(prefix = 'corral-sshd-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  // Non-root test users must reach their authorized_keys below this folder.
  chmodSync(dir, 0o755);
  return dir;
}

export function createClientKeys(dir = tempDir('corral-keys-')): ClientKeys {
  ensureSshd();
  mkdirSync(dir, { recursive: true });
  const ed25519File = join(dir, 'id_ed25519');
  const rsaFile = join(dir, 'id_rsa');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'corral-test-ed25519', '-f', ed25519File]);
  execFileSync('ssh-keygen', ['-q', '-t', 'rsa', '-b', '3072', '-N', '', '-C', 'corral-test-rsa', '-f', rsaFile]);
  const publicLines = [ed25519File, rsaFile].map((f) => readFileSync(`${f}.pub`, 'utf8').trim());
  return { ed25519File, rsaFile, publicLines };
}

/** Direct and indirect children of a process, from /proc (the per-connection sshd processes). */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // The command name may hold spaces and parentheses: the parent pid follows the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // The process ended while we looked.
    }
  }
  const out: number[] = [];
  const walk = (p: number): void => {
    for (const c of children.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

function signalTree(child: ChildProcess | undefined, signal: NodeJS.Signals): void {
  if (child?.pid === undefined) return;
  for (const pid of [child.pid, ...descendants(child.pid)]) {
    try {
      process.kill(pid, signal);
    } catch {
      // Already gone.
    }
  }
}

function killTree(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const pids = [child.pid, ...descendants(child.pid)];
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  return exited;
}

function sshdConfig(dir: string, port: number, logLevel: string): string {
  return [
    `Port ${port}`,
    'ListenAddress 127.0.0.1',
    `HostKey ${join(dir, 'host', 'ssh_host_ed25519_key')}`,
    `HostKey ${join(dir, 'host', 'ssh_host_rsa_key')}`,
    `PidFile ${join(dir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${join(dir, 'authorized_keys')}/%u`,
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    'StrictModes no',
    'PermitRootLogin prohibit-password',
    'AllowTcpForwarding yes',
    'MaxStartups 100',
    'MaxSessions 20',
    `LogLevel ${logLevel}`,
    '',
  ].join('\n');
}

/** Starts sshd on a free port of 127.0.0.1 (or the given one) and waits until it listens. */
function launch(config: string, log: string[]): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(SSHD, ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    let seen = '';
    const onData = (chunk: Buffer): void => {
      const text = chunk.toString('utf8');
      log.push(text);
      seen += text;
      if (/Server listening on 127\.0\.0\.1 port/.test(seen)) {
        child.off('exit', onExit);
        resolve(child);
      }
    };
    const onExit = (code: number | null): void => reject(new Error(`sshd exited (${code}) before listening:\n${seen}`));
    child.stderr.on('data', onData);
    child.once('exit', onExit);
    child.once('error', reject);
  });
}

export async function startSshd(opts: SshdOptions = {}): Promise<Sshd> {
  ensureSshd();
  const dir = tempDir();
  const keysDir = join(dir, 'host');
  const authDir = join(dir, 'authorized_keys');
  mkdirSync(keysDir, { mode: 0o700 });
  mkdirSync(authDir, { mode: 0o755 });
  for (const type of ['ed25519', 'rsa']) {
    execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', '', '-f', join(keysDir, `ssh_host_${type}_key`)]);
  }
  const clientKeys = opts.clientKeys ?? createClientKeys(join(dir, 'client'));
  for (const user of ['root', SUDO_USER, PLAIN_USER]) {
    writeFileSync(join(authDir, user), clientKeys.publicLines.join('\n') + '\n', { mode: 0o644 });
  }

  const log: string[] = [];
  let port = 0;
  let child: ChildProcess | undefined;
  const config = join(dir, 'sshd_config');
  // The free port may be taken between our probe and sshd's bind: try a few.
  for (let attempt = 0; !child; attempt++) {
    port = await freePort();
    writeFileSync(config, sshdConfig(dir, port, opts.logLevel ?? 'INFO'));
    try {
      child = await launch(config, log);
    } catch (err) {
      if (attempt >= 4) throw err;
    }
  }

  const hostPublicKeyFiles = {
    ed25519: join(keysDir, 'ssh_host_ed25519_key.pub'),
    rsa: join(keysDir, 'ssh_host_rsa_key.pub'),
  };
  const hostKeyLines = [hostPublicKeyFiles.ed25519, hostPublicKeyFiles.rsa].map((f) => {
    const [type, blob] = readFileSync(f, 'utf8').trim().split(/\s+/);
    return `[127.0.0.1]:${port} ${type} ${blob}`;
  });

  return {
    port,
    hostKeyLines,
    hostPublicKeyFiles,
    clientKeyFile: clientKeys.ed25519File,
    clientKeys,
    logs: () => log.join(''),
    stop: async () => {
      if (child) await killTree(child);
    },
    killSessions: () => {
      const pids = child?.pid === undefined ? [] : descendants(child.pid);
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
      return pids;
    },
    pause: () => signalTree(child, 'SIGSTOP'),
    resume: () => signalTree(child, 'SIGCONT'),
    dispose: async () => {
      if (child) await killTree(child);
      rmSync(dir, { recursive: true, force: true });
    },
    restart: async () => {
      if (child) await killTree(child);
      // The old listener's port is free again at once (sshd sets SO_REUSEADDR); retry briefly anyway.
      for (let attempt = 0; ; attempt++) {
        try {
          child = await launch(config, log);
          return;
        } catch (err) {
          if (attempt >= 20) throw err;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    },
  };
}

/**
 * Creates (once; later calls just check) two local users that the test sshd lets in with the client
 * keys: SUDO_USER may run anything as root without a password, PLAIN_USER has no sudo rights.
 * Their password field is `*` because sshd without PAM refuses a locked (`!`) account.
 */
export function ensureSudo(): void {
  if (!existsSync('/usr/bin/sudo')) aptInstall('sudo');
}

export function ensureTestUsers(): { sudoUser: string; plainUser: string } {
  ensureSudo();
  for (const user of [SUDO_USER, PLAIN_USER]) {
    // Test files run in parallel: another may be adding the user now (useradd then fails on its lock).
    for (let attempt = 0; !userExists(user); attempt++) {
      try {
        execFileSync('useradd', ['-m', '-s', '/bin/bash', '-p', '*', user], { stdio: 'ignore' });
      } catch (err) {
        if (attempt >= 20) throw err;
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
      }
    }
  }
  const sudoers = `/etc/sudoers.d/${SUDO_USER}`;
  const rule = `${SUDO_USER} ALL=(ALL:ALL) NOPASSWD: ALL\n`;
  if (!existsSync(sudoers) || readFileSync(sudoers, 'utf8') !== rule) {
    const tmp = `${sudoers}.${process.pid}.tmp`;
    writeFileSync(tmp, rule, { mode: 0o440 });
    execFileSync('visudo', ['-c', '-q', '-f', tmp]);
    renameSync(tmp, sudoers);
  }
  return { sudoUser: SUDO_USER, plainUser: PLAIN_USER };
}

function userExists(user: string): boolean {
  try {
    execFileSync('id', ['-u', user], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** An ssh-agent in the foreground on its own socket, holding the given keys. */
export async function startAgent(keyFiles: string[]): Promise<{ socket: string; stop(): Promise<void> }> {
  ensureSshd();
  const dir = mkdtempSync(join(tmpdir(), 'corral-agent-'));
  const socket = join(dir, 'agent.sock');
  const child = spawn('ssh-agent', ['-D', '-a', socket], { stdio: 'ignore' });
  for (let i = 0; !existsSync(socket); i++) {
    if (i > 100 || child.exitCode !== null) throw new Error('ssh-agent did not create its socket');
    await new Promise((r) => setTimeout(r, 20));
  }
  for (const key of keyFiles) execFileSync('ssh-add', ['-q', key], { env: { ...process.env, SSH_AUTH_SOCK: socket }, stdio: 'ignore' });
  return {
    socket,
    stop: async () => {
      await killTree(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
