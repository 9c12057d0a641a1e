/**
 * The replay store: kept by time (over the forges' retry windows) rather than by count, bounded
 * in size, and kept across restarts, also when a crash cut its last write short.
 */
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { StateStore } from '../../src/daemon/store.js';
import { SeenDeliveries } from '../../webhooks/deliveries.js';

const HOUR = 3600_000;
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function store(): StateStore {
  const dir = mkdtempSync(join(tmpdir(), 'corral-seen-'));
  dirs.push(dir);
  return new StateStore(dir);
}

const delivery = (n: number): string[] => SeenDeliveries.keysOf('github', `guid-${n}`, Buffer.from(JSON.stringify({ n })));

describe('deliveries seen', () => {
  it('deliveries kept by an earlier Corral (deliveries.json, keys in clear) are still known, and the old file goes', () => {
    const s = store();
    const body = Buffer.from(JSON.stringify({ n: 7 }));
    const clear = [`github:id:guid-7`, `github:body:${createHash('sha256').update(body).digest('hex')}`];
    s.write('webhooks/deliveries.json', clear.map((key) => ({ key, at: Date.now() - HOUR })));
    const seen = new SeenDeliveries(s);
    expect(seen.has(SeenDeliveries.keysOf('github', 'guid-7', Buffer.from('{}')))).toBe(true);
    expect(seen.has(SeenDeliveries.keysOf('github', 'made-up', body))).toBe(true);
    expect(existsSync(s.path('webhooks/deliveries.json'))).toBe(false);
    expect(new SeenDeliveries(s).has(SeenDeliveries.keysOf('github', 'guid-7', Buffer.from('{}')))).toBe(true);
  });

  it('delivery 1 is still a duplicate after 5,000 other deliveries, and after a restart', () => {
    const s = store();
    const seen = new SeenDeliveries(s);
    seen.add(delivery(1));
    for (let n = 2; n <= 5001; n++) {
      expect(seen.has(delivery(n))).toBe(false);
      seen.add(delivery(n));
    }
    expect(seen.has(delivery(1))).toBe(true);
    // By its body alone too: a replay under a made-up id.
    expect(seen.has(SeenDeliveries.keysOf('github', 'made-up', Buffer.from(JSON.stringify({ n: 1 }))))).toBe(true);
    const restarted = new SeenDeliveries(s);
    expect(restarted.has(delivery(1))).toBe(true);
    expect(restarted.has(delivery(5001))).toBe(true);
    expect(restarted.has(delivery(5002))).toBe(false);
  });

  it('kept 7 days, however few deliveries come, and forgotten after', () => {
    const s = store();
    let now = Date.parse('2030-01-01T00:00:00Z');
    const seen = new SeenDeliveries(s, { now: () => now });
    seen.add(delivery(1));
    now += 72 * HOUR;
    seen.add(delivery(2));
    expect(new SeenDeliveries(s, { now: () => now }).has(delivery(1))).toBe(true);
    now += 4 * 24 * HOUR - 1;
    expect(new SeenDeliveries(s, { now: () => now }).has(delivery(1))).toBe(true);
    now += 2;
    const later = new SeenDeliveries(s, { now: () => now });
    expect(later.has(delivery(1))).toBe(false);
    expect(later.has(delivery(2))).toBe(true);
  });

  it('over the cap, the oldest are forgotten first, and only they', () => {
    const seen = new SeenDeliveries(store(), { maxKeys: 100 });
    for (let n = 1; n <= 60; n++) seen.add(delivery(n));
    // Two keys each: 120 keys, so the 10 oldest deliveries are gone.
    for (let n = 1; n <= 10; n++) expect(seen.has(delivery(n)), String(n)).toBe(false);
    for (let n = 11; n <= 60; n++) expect(seen.has(delivery(n)), String(n)).toBe(true);
  });

  it('the journal stays bounded: rewritten when it holds twice the keys kept', () => {
    const s = store();
    const seen = new SeenDeliveries(s, { maxKeys: 1000 });
    for (let n = 1; n <= 5000; n++) seen.add(delivery(n));
    const bytes = statSync(s.path('webhooks/deliveries.log')).size;
    // About 47 bytes a key; at most twice the cap plus the slack.
    expect(bytes).toBeLessThan((2 * 1000 + 1000 + 2) * 48);
    expect(new SeenDeliveries(s).has(delivery(5000))).toBe(true);
  });

  it('a last line a crash cut short is dropped, and what came before it is kept', () => {
    const s = store();
    new SeenDeliveries(s).add(delivery(1));
    appendFileSync(s.path('webhooks/deliveries.log'), '1893456000000 0123ab');
    const restarted = new SeenDeliveries(s);
    expect(restarted.has(delivery(1))).toBe(true);
    restarted.add(delivery(2));
    const again = new SeenDeliveries(s);
    expect(again.has(delivery(1))).toBe(true);
    expect(again.has(delivery(2))).toBe(true);
  });
});
