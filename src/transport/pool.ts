// Open SSH connections, one per (user, address, port, bastion), kept until the transport closes.
// A global cap bounds how many are open; at the cap the least recently used idle one is closed.
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
  /** Counted against the cap; bastions are not, so that targets behind one can never wait on it. */
  counted: boolean;
  pending: Promise<SshConnection>;
  conn?: SshConnection;
  /** Leases out now (execs running, or targets connected through this bastion). */
  active: number;
  lastUsed: number;
  dead: boolean;
}

export type Opener = (target: SshTarget, via: Lease | undefined) => Promise<SshConnection>;

export function connectionKey(target: SshTarget & { jump?: SshTarget }): string {
  const own = `${target.user}@${target.address}:${target.port}`;
  return target.jump ? `${own} via ${connectionKey(target.jump)}` : own;
}

export class ConnectionPool {
  private readonly entries = new Map<string, Entry>();
  private open = 0;
  private waiters: (() => void)[] = [];
  private isClosed = false;

  constructor(
    private readonly max: number,
    private readonly opener: Opener,
  ) {}

  /** A connection to the target, opened (through its bastion) if there is none. Release it when done. */
  async lease(target: SshTarget & { jump?: SshTarget }, counted = true): Promise<Lease> {
    const key = connectionKey(target);
    for (;;) {
      this.assertOpen(target.name);
      const entry = this.entries.get(key);
      if (entry && !entry.dead) {
        entry.active++;
        let conn: SshConnection;
        try {
          conn = await entry.pending;
        } catch (err) {
          this.release(entry);
          throw err;
        }
        if (conn.closed) {
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
    const entry: Entry = { key, counted, active: 0, lastUsed: Date.now(), dead: false, pending: this.connect(target) };
    entry.pending.then(
      (conn) => {
        entry.conn = conn;
        conn.onClose(() => this.drop(entry));
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
    entry.lastUsed = Date.now();
    if (entry.active === 0) this.wake();
  }

  private drop(entry: Entry): void {
    if (this.entries.get(entry.key) === entry) this.entries.delete(entry.key);
    if (entry.dead) return;
    entry.dead = true;
    if (entry.counted) this.freeSlot();
  }

  private async takeSlot(name: string): Promise<void> {
    while (this.open >= this.max) {
      let idle: Entry | undefined;
      for (const e of this.entries.values()) {
        if (e.counted && !e.dead && e.active === 0 && e.conn && (!idle || e.lastUsed < idle.lastUsed)) idle = e;
      }
      if (idle) {
        idle.conn!.close();
        this.drop(idle);
        continue;
      }
      await new Promise<void>((resolve) => this.waiters.push(resolve));
      this.assertOpen(name);
    }
    this.open++;
  }

  private freeSlot(): void {
    this.open--;
    this.wake();
  }

  /** Everyone waiting looks again: a slot is free, or a connection turned idle and may be closed. */
  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  private assertOpen(name: string): void {
    if (this.isClosed) throw new TransportError('disconnected', name, `${name}: the transport is closed. Nothing was run.`);
  }

  /** Closes every connection and waits (up to 2 s) until they are down. Later leases fail. */
  async close(): Promise<void> {
    this.isClosed = true;
    this.wake();
    const closing = [...this.entries.values()].map((e) =>
      e.pending.then(
        (conn) => new Promise<void>((resolve) => (conn.onClose(resolve), conn.close())),
        () => undefined,
      ),
    );
    await Promise.race([Promise.all(closing), new Promise((r) => setTimeout(r, 2000).unref())]);
  }
}
