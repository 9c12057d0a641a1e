// The transport's contract: run a bash script on a node and get its output back. Only src/transport
// knows about SSH; the engine sees targets, results and TransportErrors.

export interface Target {
  /** Inventory name of the host (its identity), used in messages and stats. */
  name: string;
  /** Where to connect (ansible_host or the name). Host keys are looked up under this address. */
  address: string;
  /** Default 22. */
  port: number;
  /** Default 'root'; a non-root user runs scripts with `sudo -n`. */
  user: string;
  connection: 'ssh' | 'local';
  /** ed25519 or RSA, OpenSSH format, unencrypted. */
  privateKeyFile?: string;
  /** Path of an ssh-agent socket (SSH_AUTH_SOCK). */
  agent?: string;
  /** A bastion: connect to it (own credentials, own host key check), then forward to the target. */
  jump?: Omit<Target, 'jump' | 'connection'>;
}

export interface HostKeyPolicy {
  knownHostsFile: string;
  /** accept-new: a host with no key in the file is trusted and appended (plain form); a changed key is still refused. */
  mode: 'strict' | 'accept-new';
}

export interface ExecOptions {
  /** Default: the transport's commandTimeoutMs. Counted from the moment the script is handed to the host. */
  timeoutMs?: number;
  /** Default: true when the user is not root (for a local target: when this process is not root). */
  sudo?: boolean;
  /** Bytes the script reads on its standard input. */
  stdin?: string;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  /** The exit status; 128 + N when the script was killed by signal N. */
  code: number;
  durationMs: number;
}

export type TransportErrorKind = 'unreachable' | 'timeout' | 'auth' | 'hostkey-unknown' | 'hostkey-changed' | 'sudo' | 'disconnected';

/** Kinds that may pass by themselves (retry later); the others need a person to change something. */
const TRANSIENT: ReadonlySet<TransportErrorKind> = new Set(['unreachable', 'timeout', 'disconnected']);

export class TransportError extends Error {
  override readonly name = 'TransportError';
  /** True when a retry later may succeed without anyone changing anything. */
  readonly transient: boolean;

  constructor(
    readonly kind: TransportErrorKind,
    /** The target's inventory name. */
    readonly host: string,
    message: string,
    /** False when the script surely did not start; true when it was handed to the host and may have run, in part. */
    readonly mayHaveRun = false,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.transient = TRANSIENT.has(kind);
  }
}

export interface TransportEvents {
  onConnect?(host: string, ok: boolean, kind?: TransportErrorKind): void;
  onExec?(host: string, result: 'ok' | 'failed' | 'error', durationMs: number): void;
}

export interface Transport {
  /**
   * Run a bash script on the target: the script goes to `bash -s` on stdin (as `sudo -n bash -s` for
   * non-root users), so nothing is quoted on a command line. A non-zero exit is a result, not an
   * error; errors are TransportError.
   * The command line is `[sudo -n] timeout -k 2s <timeout>s bash -s`: the host itself kills the
   * script's process group at the deadline. The script is parsed whole before it runs (a syntax
   * error or a cut-off script runs nothing); `opts.stdin` follows it on the same stream.
   */
  exec(target: Target, script: string, opts?: ExecOptions): Promise<ExecResult>;
  /** Connections made so far, and execs run, per host (tests and benchmarks count round trips with this). */
  stats(): { connects: Record<string, number>; execs: Record<string, number> };
  /** Closes every connection; execs afterwards fail with 'disconnected'. */
  close(): Promise<void>;
}

export interface TransportOptions {
  hostKeys: HostKeyPolicy;
  /** TCP connect + SSH handshake + auth, per connection. Default 10 s. */
  connectTimeoutMs?: number;
  /** Default 10 min. */
  commandTimeoutMs?: number;
  /** Default 15 s; the connection is dropped after keepaliveCountMax unanswered keepalives. */
  keepaliveIntervalMs?: number;
  /** Default 3. */
  keepaliveCountMax?: number;
  /**
   * Connections to targets connecting or running scripts at once, all hosts together (bastions not
   * counted): the global concurrency. Default 32; an exec waits for a free one. One connection per
   * (user, address, port, bastion): targets that differ only in credentials share it.
   */
  maxConnections?: number;
  /**
   * Connections kept open with nothing to run, so that the next exec (the next sync) costs no
   * handshake. Default 1024; past it, the least recently used idle connection is closed.
   */
  maxIdleConnections?: number;
  /** An idle connection is closed after this long. Default 5 min; a dropped one is reopened by the next exec. */
  idleTimeoutMs?: number;
  /** Concurrent execs per host (address and port). Default 4. */
  maxPerHost?: number;
  events?: TransportEvents;
}
