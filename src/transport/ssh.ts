// One SSH connection (ssh2, the only importer of it): connect with host key check and key or agent
// auth, optionally through a bastion's forwarded stream, then run scripts on channels.
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import ssh2 from 'ssh2';
import type { ClientChannel, ConnectConfig, ServerHostKeyAlgorithm } from 'ssh2';
import { hostKeyCheck } from './host-keys.js';
import { CLIENT_GRACE_MS, commandArgv, exitCode, formatMs, judgeExit, lostConnection, stdinPayload, timeoutError, where } from './script.js';
import { TransportError } from './types.js';
import type { ExecResult, HostKeyPolicy, Target } from './types.js';

const { Client } = ssh2;

export type SshTarget = Omit<Target, 'jump' | 'connection'>;

export interface ConnectOptions {
  hostKeys: HostKeyPolicy;
  connectTimeoutMs: number;
  keepaliveIntervalMs: number;
  /** Unanswered keepalives after which the connection counts as dropped. */
  keepaliveCountMax: number;
  /** An open connection to the bastion to reach the target through. */
  via?: SshConnection;
}

export interface RunOptions {
  sudo: boolean;
  timeoutMs: number;
  stdin?: string;
  /** Called when the script has been handed to the host (the exec counts from here). */
  onStart?(): void;
}

type ClientInstance = InstanceType<typeof Client>;

export class SshConnection {
  private isClosed = false;
  /** Execs waiting for a channel or running: told when the connection drops. */
  private readonly inFlight = new Set<(why: string) => void>();
  private readonly closeListeners: (() => void)[] = [];
  private lastError: Error | undefined;

  constructor(
    private readonly client: ClientInstance,
    readonly target: SshTarget,
  ) {
    client.on('error', (err) => (this.lastError = err));
    client.on('close', () => {
      this.isClosed = true;
      const why = this.lastError ? ` (${this.lastError.message})` : '';
      for (const drop of this.inFlight) drop(why);
      this.inFlight.clear();
      for (const listener of this.closeListeners.splice(0)) listener();
    });
  }

  get closed(): boolean {
    return this.isClosed;
  }

  onClose(listener: () => void): void {
    if (this.isClosed) listener();
    else this.closeListeners.push(listener);
  }

  close(): void {
    if (!this.isClosed) this.client.end();
  }

  /**
   * Runs the script; a non-zero exit is a result. Rejects with a TransportError; one of kind
   * 'disconnected' with mayHaveRun false means no channel was opened, so a retry is safe.
   */
  exec(script: string, opts: RunOptions): Promise<ExecResult> {
    const { target } = this;
    const at = where(target);
    const notStarted = (detail: string): TransportError => {
      const err = new TransportError('disconnected', target.name, `${at}: could not start the script: ${detail}. Nothing was run; retry.`);
      lostConnection.add(err);
      return err;
    };
    if (this.isClosed) return Promise.reject(notStarted('the connection is closed'));

    return new Promise<ExecResult>((resolve, reject) => {
      let started = false;
      let settled = false;
      let timer: NodeJS.Timeout | undefined;
      const finish = (err: TransportError | undefined, result?: ExecResult): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.inFlight.delete(drop);
        if (err) reject(err);
        else resolve(result!);
      };
      const drop = (why: string): void =>
        finish(
          started
            ? new TransportError('disconnected', target.name, `${at}: the connection dropped while the script ran${why}; it may have run in part. Retry once the host answers again.`, true)
            : notStarted(`the connection dropped${why}`),
        );
      this.inFlight.add(drop);

      const onChannel = (err: Error | undefined, channel: ClientChannel): void => {
        // The connection is fine; the host will not open another session on it now (sshd's MaxSessions).
        if (err) return finish(new TransportError('disconnected', target.name, `${at}: the host refused a session for the script (${err.message}). Nothing was run. Keep maxPerHost at or below sshd's MaxSessions (default 10).`));
        if (settled) return void channel.close();
        started = true;
        opts.onStart?.();
        // The host's `timeout` kills the script at the deadline; this is for a host that stopped answering.
        timer = setTimeout(() => {
          finish(timeoutError(target.name, at, opts.timeoutMs, 'the host did not report it stopped, so it may still be running'));
          channel.close();
        }, opts.timeoutMs + CLIENT_GRACE_MS);
        void runOnChannel(channel, stdinPayload(script, opts.stdin)).then((result) => {
          // Without an exit status the connection is likely going down: let its 'close' report that first.
          if (!result) return void setImmediate(() => finish(new TransportError('disconnected', target.name, `${at}: the script's channel closed without an exit status; it may have run in part.`, true)));
          try {
            finish(undefined, judgeExit(result, { host: target.name, where: at, timeoutMs: opts.timeoutMs }));
          } catch (e) {
            finish(e as TransportError);
          }
        });
      };

      try {
        this.client.exec(commandArgv(opts.sudo, opts.timeoutMs).join(' '), onChannel);
      } catch (err) {
        // ssh2 throws 'Not connected' when the socket died and its 'close' has not come yet.
        finish(notStarted((err as Error).message));
      }
    });
  }

  /** A stream to host:port opened by this connection's server (for a target behind this bastion). */
  forwardOut(host: string, port: number, timeoutMs: number, forName: string): Promise<Duplex> {
    return new Promise((resolve, reject) => {
      const unreachable = (detail: string): TransportError =>
        new TransportError('unreachable', forName, `${forName} (${host}:${port}): bastion ${this.target.name} could not reach it: ${detail}. Check that the host is up and that the bastion can reach its SSH port.`);
      const timer = setTimeout(() => reject(unreachable(`no answer within ${formatMs(timeoutMs)}`)), timeoutMs);
      try {
        this.client.forwardOut('127.0.0.1', 0, host, port, (err, stream) => {
          clearTimeout(timer);
          if (err) reject(unreachable(err.message));
          else resolve(stream);
        });
      } catch (err) {
        clearTimeout(timer);
        reject(unreachable((err as Error).message));
      }
    });
  }
}

/** Sends the input, collects the output; resolves when the channel closes (undefined: no exit status came). */
function runOnChannel(channel: ClientChannel, input: string): Promise<ExecResult | undefined> {
  const started = Date.now();
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  let exit: { code: number | null; signal: string | null } | undefined;
  channel.on('data', (chunk: Buffer) => stdout.push(chunk));
  channel.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
  channel.on('exit', (code: number | null, signal?: string) => (exit = { code, signal: signal ?? null }));
  const closed = new Promise<ExecResult | undefined>((resolve) =>
    channel.on('close', () =>
      resolve(
        exit && {
          stdout: Buffer.concat(stdout).toString('utf8'),
          stderr: Buffer.concat(stderr).toString('utf8'),
          code: exitCode(exit.code, exit.signal),
          durationMs: Date.now() - started,
        },
      ),
    ),
  );
  channel.end(input);
  return closed;
}

/** The key and agent to offer: the target's, else what ssh would use (SSH_AUTH_SOCK, ~/.ssh/id_ed25519, ~/.ssh/id_rsa). */
function credentials(target: SshTarget): { privateKey?: Buffer; agent?: string; describe: string } {
  const agent = target.agent ?? (target.privateKeyFile ? undefined : process.env.SSH_AUTH_SOCK);
  const keyFile = target.privateKeyFile ?? (target.agent ? undefined : ['id_ed25519', 'id_rsa'].map((f) => join(homedir(), '.ssh', f)).find((f) => existsSync(f)));
  let privateKey: Buffer | undefined;
  if (keyFile) {
    try {
      privateKey = readFileSync(keyFile);
    } catch (err) {
      throw new TransportError('auth', target.name, `${where(target)}: cannot read the private key file ${keyFile} (${(err as NodeJS.ErrnoException).code}). Check the path and its permissions.`);
    }
  }
  const offered = [keyFile && `key ${keyFile}`, agent && `agent ${agent}`].filter(Boolean).join(' and ');
  if (!offered) {
    throw new TransportError('auth', target.name, `${where(target)}: no credentials: set a private key file or an ssh-agent socket for this host.`);
  }
  return { ...(privateKey ? { privateKey } : {}), ...(agent ? { agent } : {}), describe: offered };
}

/** Opens and authenticates a connection. Rejects with a TransportError of kind unreachable, auth or hostkey-*. */
export async function connectSsh(target: SshTarget, opts: ConnectOptions): Promise<SshConnection> {
  const creds = credentials(target);
  let check: ReturnType<typeof hostKeyCheck>;
  try {
    check = hostKeyCheck(opts.hostKeys, target);
  } catch (err) {
    throw new TransportError('hostkey-unknown', target.name, `${where(target)}: cannot read ${opts.hostKeys.knownHostsFile} (${(err as NodeJS.ErrnoException).code}), so the host key cannot be checked. Nothing was run.`);
  }
  const sock = opts.via ? await opts.via.forwardOut(target.address, target.port, opts.connectTimeoutMs, target.name) : undefined;

  const client = new Client();
  const config: ConnectConfig = {
    host: target.address,
    port: target.port,
    username: target.user,
    ...(creds.privateKey ? { privateKey: creds.privateKey } : {}),
    ...(creds.agent ? { agent: creds.agent } : {}),
    ...(sock ? { sock } : {}),
    readyTimeout: opts.connectTimeoutMs,
    keepaliveInterval: opts.keepaliveIntervalMs,
    keepaliveCountMax: opts.keepaliveCountMax,
    hostVerifier: (key: Buffer) => check.verify(key),
    algorithms: { serverHostKey: check.algorithms as ServerHostKeyAlgorithm[] },
  };

  return new Promise<SshConnection>((resolve, reject) => {
    // Built before connecting so that its 'close' handler sees a drop at any time after 'ready'.
    const connection = new SshConnection(client, target);
    let done = false;
    const fail = (err: TransportError): void => {
      if (done) return;
      done = true;
      client.end();
      sock?.destroy();
      reject(err);
    };
    client.once('ready', () => {
      if (done) return;
      try {
        check.commit();
      } catch (err) {
        return fail(new TransportError('hostkey-unknown', target.name, `${where(target)}: accepted the new host key but could not record it in ${opts.hostKeys.knownHostsFile} (${(err as NodeJS.ErrnoException).code}).`));
      }
      // Each exec is a few small request/response packets: Nagle plus delayed ACKs cost ~40 ms apiece.
      client.setNoDelay(true);
      done = true;
      resolve(connection);
    });
    client.on('error', (err: Error & { level?: string; code?: string }) => fail(connectError(target, err, check.error, creds.describe, opts.connectTimeoutMs)));
    client.on('close', () => fail(check.error ?? new TransportError('unreachable', target.name, `${where(target)}: the connection closed during the SSH handshake. Check that an SSH server listens on that port.`)));
    try {
      client.connect(config);
    } catch (err) {
      // ssh2 checks the private key synchronously; its message names the problem, never the key.
      fail(new TransportError('auth', target.name, `${where(target)}: cannot use ${creds.describe}: ${(err as Error).message}. Use an unencrypted ed25519 or RSA key in OpenSSH format, or an ssh-agent.`));
    }
  });
}

function connectError(target: SshTarget, err: Error & { level?: string; code?: string }, hostKeyError: TransportError | undefined, offered: string, timeoutMs: number): TransportError {
  if (hostKeyError) return hostKeyError;
  const at = where(target);
  if (err.level === 'client-authentication') {
    return new TransportError('auth', target.name, `${at}: the host refused ${offered}. Check that the public key is in ~${target.user}/.ssh/authorized_keys on the host and that the user exists.`);
  }
  if (err.level === 'client-timeout') {
    return new TransportError('unreachable', target.name, `${at}: no SSH handshake within ${formatMs(timeoutMs)}. Check that the host is up and the port is right, and that no firewall drops the connection.`);
  }
  if (err.code === 'ECONNREFUSED') {
    return new TransportError('unreachable', target.name, `${at}: connection refused: nothing listens on port ${target.port}. Check that sshd runs and the port is right.`);
  }
  return new TransportError('unreachable', target.name, `${at}: cannot connect: ${err.message}. Check the address, the port and the network.`, false, { cause: err });
}
