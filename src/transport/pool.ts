// Open SSH connections, one per (user, address, port, bastion), kept open between execs (and so
// between syncs) until they sit idle for idleTimeoutMs or the transport closes.
// Two bounds: at most `maxBusy` connections connecting or running execs at once (the global
// concurrency), and at most `maxIdle` open with nothing to do: past it, the least recently used idle
// one is closed. A connection that dropped is forgotten when it closes, so the next lease reconnects.
import type { SshConnection, SshTarget } from './ssh.js';
import { TransportError } from './types.js';

export interface Lease {
  conn: SshConnection;
  release(): void;
  /** Closes the connection and forgets it now, so the next lease opens a new one. */
  discard(): void;
}

interface Entry {
  key: string;
  /** Counted against the caps; bastions are not, so that targets behind one can never wait on it. */
  counted: boolean;
  pending: Promise<SshConnection>;
  conn?: SshConnection;
  /** Leases out now (execs running or waiting for a slot, or targets connected through this bastion). */
  active: number;
  /** Holds one of the maxBusy slots (connecting, or active). */
  busy: boolean;
  dead: boolean;
  idleTimer?: NodeJS.Timeout;
}

export type Opener = (target: SshTarget, via: Lease | undefined) => Promise<SshConnection>;

export interface PoolLimits {
  /** Connections connecting or running execs at once, all hosts together. */
  maxBusy: number;
  /** Open connections with nothing to do, kept for the next exec. */
  maxIdle: number;
  /** An idle connection is closed after this long. */
  idleTimeoutMs: number;
}

export function connectionKey(target: SshTarget & { jump?: SshTarget }): string {
  const own = `${target.user}@${target.address}:${target.port}`;
  return target.jump ? `${own} via ${connectionKey(target.jump)}` : own;
}

export class ConnectionPool {
  private readonly entries = new Map<string, Entry>();
  /** Counted connections open with nothing to do, the least recently used first. */
  private readonly idleOnes = new Set<Entry>();
  private busy = 0;
  private waiters: (() => void)[] = [];
  private isClosed = false;

  constructor(
    private readonly limits: PoolLimits,
    private readonly opener: Opener,
  ) {}

  /** A connection to the target, opened (through its bastion) if there is none. Release it when done. */
  async lease(target: SshTarget & { jump?: SshTarget }, counted = true): Promise<Lease> {
    const key = connectionKey(target);
    for (;;) {
      this.assertOpen(target.name);
      const entry = this.entries.get(key);
      if (entry && !entry.dead) {
        // Active first, so that neither the idle timer nor the idle cap closes it while we wait.
        entry.active++;
        this.idleOnes.delete(entry);
        clearTimeout(entry.idleTimer);
        let conn: SshConnection;
        try {
          if (entry.counted && !entry.busy) {
            await this.takeSlot(target.name);
            if (entry.busy || entry.dead) this.freeSlot();
            else entry.busy = true;
          }
          conn = await entry.pending;
        } catch (err) {
          this.release(entry);
          throw err;
        }
        if (conn.closed || entry.dead) {
          this.release(entry);
          continue;
        }
        let released = false;
        return {
          conn,
          release: () => void (released || ((released = true), this.release(entry))),
          discard: () => {
            conn.close();
            this.drop(entry);
          },
        };
      }
      if (counted) await this.takeSlot(target.name);
      // Another lease may have opened this connection while we waited for a slot.
      if (this.entries.get(key)?.dead === false) {
        if (counted) this.freeSlot();
        continue;
      }
      this.entries.set(key, this.start(key, target, counted));
    }
  }

  private start(key: string, target: SshTarget & { jump?: SshTarget }, counted: boolean): Entry {
    const entry: Entry = { key, counted, active: 0, busy: counted, dead: false, pending: this.connect(target) };
    entry.pending.then(
      (conn) => {
        entry.conn = conn;
        conn.onClose(() => this.drop(entry));
        // Nobody took it yet (the lease that started it is about to): count it idle from now.
        if (entry.active === 0) this.idle(entry);
      },
      // A failed connect is not cached: the next exec tries again.
      () => this.drop(entry),
    );
    return entry;
  }

  private async connect(target: SshTarget & { jump?: SshTarget }): Promise<SshConnection> {
    const via = target.jump ? await this.lease(target.jump, false) : undefined;
    try {
      const conn = await this.opener(target, via);
      // The bastion stays open while a connection runs through it.
      conn.onClose(() => via?.release());
      return conn;
    } catch (err) {
      via?.release();
      throw err;
    }
  }

  private release(entry: Entry): void {
    entry.active--;
    if (entry.active === 0) this.idle(entry);
  }

  /** Nothing uses the entry now: its slot is free, and it stays open until the timeout or the idle cap. */
  private idle(entry: Entry): void {
    if (entry.dead || !entry.conn) return;
    if (entry.busy) {
      entry.busy = false;
      this.freeSlot();
    }
    clearTimeout(entry.idleTimer);
    entry.idleTimer = setTimeout(() => this.closeIdle(entry), this.limits.idleTimeoutMs);
    entry.idleTimer.unref();
    if (!entry.counted) return;
    // Kept in the order they went idle, so the oldest is first: no scan of every connection per release.
    this.idleOnes.delete(entry);
    this.idleOnes.add(entry);
    while (this.idleOnes.size > this.limits.maxIdle) {
      const oldest = this.idleOnes.values().next().value!;
      this.idleOnes.delete(oldest);
      this.closeIdle(oldest);
    }
  }

  private closeIdle(entry: Entry): void {
    if (entry.dead || entry.active > 0) return;
    entry.conn?.close();
    this.drop(entry);
  }

  private drop(entry: Entry): void {
    clearTimeout(entry.idleTimer);
    this.idleOnes.delete(entry);
    if (this.entries.get(entry.key) === entry) this.entries.delete(entry.key);
    if (entry.dead) return;
    entry.dead = true;
    if (entry.busy) {
      entry.busy = false;
      this.freeSlot();
    }
  }

  private async takeSlot(name: string): Promise<void> {
    while (this.busy >= this.limits.maxBusy) {
      await new Promise<void>((resolve) => this.waiters.push(resolve));
      this.assertOpen(name);
    }
    this.busy++;
  }

  private freeSlot(): void {
    this.busy--;
    const next = this.waiters.shift();
    next?.();
  }

  private assertOpen(name: string): void {
    if (this.isClosed) throw new TransportError('disconnected', name, `${name}: the transport is closed. Nothing was run.`);
  }

  /** Closes every connection and waits (up to 2 s) until they are down. Later leases fail. */
  async close(): Promise<void> {
    this.isClosed = true;
    for (const w of this.waiters.splice(0)) w();
    const closing = [...this.entries.values()].map((e) => {
      clearTimeout(e.idleTimer);
      return e.pending.then(
        (conn) => new Promise<void>((resolve) => (conn.onClose(resolve), conn.close())),
        () => undefined,
      );
    });
    await Promise.race([Promise.all(closing), new Promise((r) => setTimeout(r, 2000).unref())]);
  }
}
