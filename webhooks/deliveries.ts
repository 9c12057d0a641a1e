/**
 * Deliveries already taken, kept in the state directory so a redelivery or a replay after a
 * restart is still recognised. A delivery is known by the forge's delivery id and by a hash of
 * its raw body: a captured request sent again with a made-up delivery id is a replay too.
 */
import { createHash } from 'node:crypto';
import type { StateStore } from '../src/daemon/store.js';

const FILE = 'webhooks/deliveries.json';

interface Seen {
  key: string;
  at: number;
}

export class SeenDeliveries {
  private seen: Seen[];
  private readonly keys: Set<string>;

  constructor(
    private readonly store: StateStore,
    private readonly max = 2000,
    private readonly maxAgeMs = 7 * 24 * 3600_000,
  ) {
    const cutoff = Date.now() - maxAgeMs;
    this.seen = store.read<Seen[]>(FILE, []).filter((s) => s.at >= cutoff);
    this.keys = new Set(this.seen.map((s) => s.key));
  }

  static keysOf(provider: string, deliveryId: string | undefined, raw: Buffer): string[] {
    const body = `${provider}:body:${createHash('sha256').update(raw).digest('hex')}`;
    return deliveryId ? [`${provider}:id:${deliveryId}`, body] : [body];
  }

  has(keys: readonly string[]): boolean {
    return keys.some((k) => this.keys.has(k));
  }

  /** Remember a delivery; written (crash-safe) before the delivery is answered. */
  add(keys: readonly string[]): void {
    const now = Date.now();
    for (const key of keys) {
      this.seen.push({ key, at: now });
      this.keys.add(key);
    }
    const cutoff = now - this.maxAgeMs;
    if (this.seen.length > this.max || this.seen[0]!.at < cutoff) {
      this.seen = this.seen.filter((s) => s.at >= cutoff).slice(-this.max);
      this.keys.clear();
      for (const s of this.seen) this.keys.add(s.key);
    }
    this.store.write(FILE, this.seen);
  }
}
