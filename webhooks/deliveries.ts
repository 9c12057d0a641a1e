/**
 * Deliveries already taken, kept in the state directory so a redelivery or a replay after a
 * restart is still recognised. A delivery is known by the forge's delivery id and by a hash of
 * its raw body: a captured request sent again with a made-up delivery id is a replay too.
 *
 * Kept by time: 7 days, longer than a forge lets a delivery be redelivered (GitHub: 3 days),
 * however many deliveries come meanwhile; the oldest are forgotten early only over a cap of
 * 100,000 keys (about 5 MB on disk). On disk a journal, one `<ms> <key digest>` line per key: each
 * delivery appends its lines (fsynced, before it is answered), and the journal is rewritten whole
 * (atomically) at start and whenever it holds twice the keys still kept.
 */
import { closeSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { writeFileAtomic, type StateStore } from '../src/daemon/store.js';

const FILE = 'webhooks/deliveries.log';
/** What Corral kept before the journal: `[{key, at}]` with the keys in clear. Read once, then removed. */
const LEGACY_FILE = 'webhooks/deliveries.json';
/** A line a crash cut short matches nothing, and is dropped by the rewrite at start. */
const LINE = /^(\d+) ([0-9a-f]{32})$/;
/** Lines the journal may hold beyond twice the keys kept, so a small journal is not rewritten at every delivery. */
const REWRITE_SLACK = 1000;

export interface SeenOptions {
  /** Keys kept at most (a delivery has one or two); default 100,000. */
  maxKeys?: number;
  /** How long a key is kept; default 7 days. */
  maxAgeMs?: number;
  now?: () => number;
}

const digest = (key: string): string => createHash('sha256').update(key).digest('hex').slice(0, 32);

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

export class SeenDeliveries {
  /** Key digest -> when it was seen, oldest first (a Map iterates in insertion order). */
  private readonly seen = new Map<string, number>();
  private journalLines = 0;
  private readonly maxKeys: number;
  private readonly maxAgeMs: number;
  private readonly now: () => number;

  constructor(
    private readonly store: StateStore,
    o: SeenOptions = {},
  ) {
    this.maxKeys = o.maxKeys ?? 100_000;
    this.maxAgeMs = o.maxAgeMs ?? 7 * 24 * 3600_000;
    this.now = o.now ?? Date.now;
    const legacy = store.read<{ key: string; at: number }[]>(LEGACY_FILE, []);
    for (const { key, at } of legacy) this.seen.set(digest(key), at);
    for (const line of readText(this.path).split('\n')) {
      const m = LINE.exec(line);
      if (m) this.seen.set(m[2]!, Number(m[1]));
    }
    this.forgetOld();
    this.rewrite();
    if (legacy.length) store.remove(LEGACY_FILE);
  }

  private get path(): string {
    return this.store.path(FILE);
  }

  static keysOf(provider: string, deliveryId: string | undefined, raw: Buffer): string[] {
    const body = digest(`${provider}:body:${createHash('sha256').update(raw).digest('hex')}`);
    return deliveryId ? [digest(`${provider}:id:${deliveryId}`), body] : [body];
  }

  has(keys: readonly string[]): boolean {
    return keys.some((k) => this.seen.has(k));
  }

  /** Remember a delivery; written (crash-safe) before the delivery is answered. */
  add(keys: readonly string[]): void {
    const at = this.now();
    const fresh = keys.filter((k) => !this.seen.has(k));
    for (const key of fresh) this.seen.set(key, at);
    this.forgetOld();
    this.journalLines += fresh.length;
    if (this.journalLines > 2 * this.seen.size + REWRITE_SLACK) this.rewrite();
    else if (fresh.length) this.append(fresh.map((k) => `${at} ${k}\n`).join(''));
  }

  /** Drops what is past its age, and the oldest beyond the cap. */
  private forgetOld(): void {
    const cutoff = this.now() - this.maxAgeMs;
    for (const [key, at] of this.seen) {
      if (at >= cutoff && this.seen.size <= this.maxKeys) break;
      this.seen.delete(key);
    }
  }

  private rewrite(): void {
    writeFileAtomic(this.path, [...this.seen].map(([key, at]) => `${at} ${key}\n`).join(''));
    this.journalLines = this.seen.size;
  }

  private append(lines: string): void {
    const fd = openSync(this.path, 'a', 0o600);
    try {
      writeSync(fd, lines);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
}
