// The transport: per-host exec limits, pooled SSH connections kept open between execs (one retry
// when a pooled connection turns out dead before the script started), the local connector, stats and events.
import { userInfo } from 'node:os';
import { execLocal } from './local.js';
import { ConnectionPool } from './pool.js';
import type { Lease } from './pool.js';
import { isLostConnection, looksLikeSudoFailure, sudoError, where } from './script.js';
import { Semaphore } from './semaphore.js';
import type { SshTarget } from './ssh.js';
import { TransportError } from './types.js';
import type { ExecOptions, ExecResult, Target, Transport, TransportEvents, TransportOptions } from './types.js';

export * from './types.js';
export { fingerprint, parseKnownHosts, checkHostKey, knownHostsLine } from './known-hosts.js';

const DEFAULTS = { connectTimeoutMs: 10_000, commandTimeoutMs: 600_000, keepaliveIntervalMs: 15_000, keepaliveCountMax: 3, idleTimeoutMs: 300_000, maxConnections: 32, maxIdleConnections: 1024, maxPerHost: 4 };

export function createTransport(opts: TransportOptions): Transport {
  const o = { ...DEFAULTS, ...stripUndefined(opts) };
  const events: TransportEvents = opts.events ?? {};
  const connects: Record<string, number> = {};
  const execs: Record<string, number> = {};
  const perHost = new Map<string, Semaphore>();
  let closed = false;

  const limits = { maxBusy: o.maxConnections, maxIdle: o.maxIdleConnections, idleTimeoutMs: o.idleTimeoutMs };
  const pool = new ConnectionPool(limits, async (t: SshTarget, via: Lease | undefined) => {
    try {
      const keepalive = { keepaliveIntervalMs: o.keepaliveIntervalMs, keepaliveCountMax: o.keepaliveCountMax };
      // ssh2 is loaded on the first connection: commands that never connect (validate, inventory) skip it.
      const { connectSsh } = await import('./ssh.js');
      const conn = await connectSsh(t, { hostKeys: opts.hostKeys, connectTimeoutMs: o.connectTimeoutMs, ...keepalive, ...(via ? { via: via.conn } : {}) });
      connects[t.name] = (connects[t.name] ?? 0) + 1;
      notify(() => events.onConnect?.(t.name, true));
      return conn;
    } catch (err) {
      notify(() => events.onConnect?.(t.name, false, err instanceof TransportError ? err.kind : undefined));
      throw err;
    }
  });

  async function run(t: Target, script: string, sudo: boolean, execOpts: ExecOptions): Promise<ExecResult> {
    const timeoutMs = execOpts.timeoutMs ?? o.commandTimeoutMs;
    if (!(timeoutMs > 0)) throw new RangeError(`timeoutMs must be a positive number of milliseconds, not ${timeoutMs}`);
    const onStart = (): void => void (execs[t.name] = (execs[t.name] ?? 0) + 1);
    const runOpts = { sudo, timeoutMs, onStart, ...(execOpts.stdin !== undefined ? { stdin: execOpts.stdin } : {}) };
    if (t.connection === 'local') return execLocal(t.name, script, runOpts);
    for (let attempt = 1; ; attempt++) {
      const lease = await pool.lease(t);
      try {
        return await lease.conn.exec(script, runOpts);
      } catch (err) {
        // A pooled connection found dead before the script started: safe to retry once on a new one.
        if (attempt > 1 || !isLostConnection(err)) throw err;
        lease.discard();
      } finally {
        lease.release();
      }
    }
  }

  /** The script's result, unless sudo refused to start it (confirmed with a bare `sudo -n true`). */
  async function runChecked(t: Target, script: string, execOpts: ExecOptions): Promise<ExecResult> {
    const local = t.connection === 'local';
    const sudo = execOpts.sudo ?? (local ? process.getuid?.() !== 0 : t.user !== 'root');
    const result = await run(t, script, sudo, execOpts);
    if (!sudo || !looksLikeSudoFailure(result)) return result;
    const check = await run(t, 'sudo -n true', false, { timeoutMs: 30_000 });
    if (check.code === 0) return result;
    const user = local ? userInfo().username : t.user;
    throw sudoError(t.name, local ? `${t.name} (local)` : where(t), user, check);
  }

  return {
    async exec(t, script, execOpts = {}) {
      const started = Date.now();
      const hostKey = t.connection === 'local' ? 'local' : `${t.address}:${t.port}`;
      let slot = perHost.get(hostKey);
      if (!slot) perHost.set(hostKey, (slot = new Semaphore(o.maxPerHost)));
      const release = await slot.acquire();
      try {
        if (closed) throw new TransportError('disconnected', t.name, `${t.name}: the transport is closed. Nothing was run.`);
        const result = await runChecked(t, script, execOpts);
        notify(() => events.onExec?.(t.name, result.code === 0 ? 'ok' : 'failed', result.durationMs));
        return result;
      } catch (err) {
        notify(() => events.onExec?.(t.name, 'error', Date.now() - started));
        throw err;
      } finally {
        release();
      }
    },
    stats: () => ({ connects: { ...connects }, execs: { ...execs } }),
    async close() {
      closed = true;
      await pool.close();
    },
  };
}

/** A listener's bug must not break the exec it watches. */
function notify(call: () => void): void {
  try {
    call();
  } catch {
    // ignored on purpose
  }
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
