// Daemons sharing units through a real etcd (Debian's etcd-server): ownership, takeover when a
// daemon is cut off, fencing in etcd and on the node (the guard script run by bash), and the
// requests, nudges, suspensions and views they pass to each other.
import { afterEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Etcd } from '../../src/daemon/etcd.js';
import { EtcdCoordination, guardScript, type CoordinationEvents } from '../../src/daemon/coordination.js';
import type { ClusterStatus, Trigger } from '../../src/daemon/types.js';
import { startEtcd, type EtcdServer } from '../helpers/etcd.js';
import { until } from '../helpers/until.js';

const UNITS = Array.from({ length: 12 }, (_, i) => `pg-${i}`);
const TTL = 5;
const logger = pino({ level: 'silent' });

/** A TCP hop to etcd that can be cut: packets stop (connections hang, new ones are never answered), like a partition. */
async function cuttable(target: string): Promise<{ url: string; cut(): void; close(): Promise<void> }> {
  const { hostname, port } = new URL(target);
  const sockets = new Set<Socket>();
  let cut = false;
  const server: Server = createServer((client) => {
    sockets.add(client);
    if (cut) return;
    const upstream = connect(Number(port), hostname);
    sockets.add(upstream);
    client.on('data', (d) => !cut && upstream.write(d));
    upstream.on('data', (d) => !cut && client.write(d));
    for (const s of [client, upstream]) s.on('error', () => undefined).on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${address.port}`,
    cut: () => (cut = true),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

interface Seen {
  takeovers: string[];
  requested: { unit: string; trigger: Trigger; force: boolean }[];
  nudged: number;
}

function daemon(id: string, url: string): { c: EtcdCoordination; seen: Seen; start(): Promise<void> } {
  const c = new EtcdCoordination({ etcd: new Etcd({ endpoints: [url], timeoutMs: 500 }), id, ttlSeconds: TTL, logger });
  const seen: Seen = { takeovers: [], requested: [], nudged: 0 };
  const events: CoordinationEvents = {
    takeover: (u) => seen.takeovers.push(u),
    requested: (unit, trigger, force) => seen.requested.push({ unit, trigger, force }),
    nudged: () => seen.nudged++,
    changed: () => undefined,
  };
  return { c, seen, start: () => c.start(() => UNITS, events) };
}

let etcd: EtcdServer | undefined;
const stops: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
  await etcd?.stop();
  etcd = undefined;
});

async function daemons(...ids: string[]): Promise<ReturnType<typeof daemon>[]> {
  etcd = await startEtcd();
  const all = ids.map((id) => daemon(id, etcd!.url));
  for (const d of all) {
    await d.start();
    stops.push(() => d.c.stop());
  }
  await until('every daemon to see the others', () => (all.every((d) => d.c.peers().length === ids.length) ? true : undefined), 10_000, 100);
  return all;
}

describe('daemons sharing units through etcd', () => {
  it('gives each unit to exactly one daemon, and spreads the units over the daemons alive', async () => {
    const all = await daemons('a', 'b', 'c');
    const owners = new Map<string, string>();
    for (const unit of UNITS) {
      const claims = await Promise.all(all.map((d) => d.c.claim(unit)));
      const winners = all.filter((_, i) => claims[i]);
      expect(winners.map((d) => d.c.id), unit).toHaveLength(1);
      owners.set(unit, winners[0]!.c.id);
      // Asked again, the owner keeps it and the others still do not get it.
      expect(await Promise.all(all.map((d) => d.c.claim(unit).then(Boolean)))).toEqual(all.map((d) => d.c.id === owners.get(unit)));
    }
    for (const d of all) expect([...owners.values()].filter((o) => o === d.c.id).length, `units of ${d.c.id}`).toBeGreaterThan(0);
    await until('the owners to be known everywhere', () => (all.every((d) => UNITS.every((u) => (d.c.ownerElsewhere(u) ?? d.c.id) === owners.get(u))) ? true : undefined), 5000, 100);
    expect(all.filter((d) => d.c.leads())).toHaveLength(1);
  });

  it('a daemon cut off from etcd fails its fence at once; another takes its unit within the TTL with a newer token, and the node refuses the old one', async () => {
    etcd = await startEtcd();
    const hop = await cuttable(etcd.url);
    stops.push(() => hop.close());
    const a = daemon('a', hop.url);
    const b = daemon('b', etcd.url);
    for (const d of [a, b]) {
      await d.start();
      stops.push(() => d.c.stop());
    }
    await until('both daemons alive', () => (a.c.peers().length === 2 && b.c.peers().length === 2 ? true : undefined), 10_000, 100);
    const unit = (await Promise.all(UNITS.map(async (u) => ((await a.c.claim(u)) ? u : undefined)))).find(Boolean)!;
    expect(unit, 'a owns some unit').toBeDefined();
    const fenceA = (await a.c.claim(unit))!.fence;
    await fenceA.check();

    hop.cut();
    const cutAt = Date.now();
    await expect(fenceA.check()).rejects.toThrow();
    const refusedAfter = Date.now() - cutAt;
    expect(refusedAfter, 'the cut-off daemon stops well before its lease ends').toBeLessThan(TTL * 1000);

    await until(`b to be told to take ${unit}`, () => (b.seen.takeovers.includes(unit) ? true : undefined), (TTL + 3) * 1000, 100);
    const tookAfter = Date.now() - cutAt;
    const fenceB = (await b.c.claim(unit))!.fence;
    await fenceB.check();
    expect(tookAfter, 'taken within the TTL plus a tick or two').toBeLessThan((TTL + 3) * 1000);
    await expect(fenceA.check()).rejects.toThrow();

    // On the node: b's token is newer, so a change a still sends there is refused.
    const dir = mkdtempSync(join(tmpdir(), 'corral-fence-'));
    const at = { dir: join(dir, 'fence'), log: join(dir, 'apply.log') };
    // guard() writes to the node's own paths; here the same script runs with the test's folder.
    expect(fenceA.guard('true', 'x')).toBe(guardScript(unit, 'a', fenceA.token, 'x', 'true'));
    const local = (owner: string, fence: typeof fenceA, change: string) => spawnSync('bash', ['-c', `set -euo pipefail\n${guardScript(unit, owner, fence.token, change, `touch ${join(dir, change)}`, at)}`], { encoding: 'utf8' });
    expect(Number(fenceB.token)).toBeGreaterThan(Number(fenceA.token));
    expect(local('b', fenceB, 'by-b').status).toBe(0);
    const stale = local('a', fenceA, 'by-a');
    expect(stale.status).toBe(75);
    expect(stale.stderr).toContain('fenced');
    expect(existsSync(join(dir, 'by-a'))).toBe(false);
    expect(existsSync(join(dir, 'by-b'))).toBe(true);
  });

  it('passes sync requests to the owner, nudges, suspensions and views between daemons', async () => {
    const [a, b] = (await daemons('a', 'b')) as [ReturnType<typeof daemon>, ReturnType<typeof daemon>];
    const unit = (await Promise.all(UNITS.map(async (u) => ((await b.c.claim(u)) ? u : undefined)))).find(Boolean)!;
    await until('a to know b owns it', () => (a.c.ownerElsewhere(unit) === 'b' ? true : undefined), 5000, 100);

    expect(await a.c.request(unit, 'api', true)).toBe('b');
    await until('b to be asked', () => (b.seen.requested.some((r) => r.unit === unit && r.trigger === 'api' && r.force) ? true : undefined), 5000, 100);

    await a.c.nudge();
    await until('b to be nudged', () => (b.seen.nudged > 0 ? true : undefined), 5000, 100);
    expect(a.seen.nudged, 'a daemon is not nudged by its own nudge').toBe(0);

    await a.c.setSuspended(unit, true);
    await until('b to see the suspension', () => (b.c.suspended(unit) === true ? true : undefined), 5000, 100);

    const status = { name: unit, module: 'pgsql', sync: 'Synced', health: 'Healthy', driftChanges: 0, hosts: [], policy: { sync: 'auto', prune: false, selfHeal: true, suspend: false, driftIntervalSeconds: 60 } } as unknown as ClusterStatus;
    b.c.publish(unit, { owner: 'b', status, history: [] });
    await until("a to see b's view", () => a.c.view(unit), 5000, 100);
    expect(a.c.view(unit)!.status.sync).toBe('Synced');
    const smallPlan = { id: 'p-small', cluster: unit, revision: 'r0', createdAt: '2026-12-07T00:00:00Z', plan: { changes: [] } as never, markdown: 'no changes', text: 'no changes' };
    b.c.publish(unit, { owner: 'b', status: { ...status, driftChanges: 1 }, lastPlan: smallPlan, history: [] });
    await until("a to see b's small plan", () => a.c.view(unit)?.lastPlan, 5000, 100);
    expect(a.c.view(unit)).toMatchObject({ owner: 'b', status: { driftChanges: 1 }, lastPlan: smallPlan, history: [] });

    // A plan of a large fleet (3 MB of text, over the 512 KiB a view may take as it is) travels gzipped, whole.
    const changes = Array.from({ length: 6000 }, (_, i) => ({ id: `10.0.${i >> 8}.${i & 255}|file:/etc/app.conf`, host: `10.0.${i >> 8}.${i & 255}`, resource: 'file:/etc/app.conf', action: 'update', reason: 'differs: content' }));
    const lastPlan = { id: 'p-large', cluster: unit, revision: 'r1', createdAt: '2026-12-07T00:00:00Z', plan: { changes } as never, markdown: 'x'.repeat(1_000_000), text: 'y'.repeat(1_000_000) };
    expect(JSON.stringify(lastPlan).length).toBeGreaterThan(2_500_000);
    b.c.publish(unit, { owner: 'b', status: { ...status, driftChanges: 6000 }, lastPlan, history: [] });
    await until("a to see b's large plan", () => (a.c.view(unit)?.lastPlan?.id === 'p-large' ? true : undefined), 10_000, 100);
    expect(a.c.view(unit)!.lastPlan).toEqual(lastPlan);
    // One that does not fit even gzipped (random text) is shared without its plan; the status still comes.
    const noise = randomBytes(900_000).toString('base64');
    b.c.publish(unit, { owner: 'b', status: { ...status, driftChanges: 7 }, lastPlan: { ...lastPlan, id: 'p-noise', text: noise }, history: [] });
    await until('a to see the status of the view without its plan', () => (a.c.view(unit)?.status.driftChanges === 7 ? true : undefined), 10_000, 100);
    expect(a.c.view(unit)!.lastPlan).toBeUndefined();
  });
});

describe('the fence on the node', () => {
  it('runs changes one at a time under the unit lock, in token order, and logs each start and end', () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-fence-'));
    const at = { dir: join(dir, 'fence'), log: join(dir, 'apply.log') };
    // Token 7 runs a slow change in the background; token 9 starts while it runs and must wait for it.
    const both = spawnSync('bash', ['-c', [`(set -euo pipefail\n${guardScript('pg-test', 'a', '7', 'slow', `sleep 1; touch ${dir}/slow`, at)}\n) &`, 'sleep 0.2', `(set -euo pipefail\n${guardScript('pg-test', 'b', '9', 'quick', `test -e ${dir}/slow`, at)}\n)`, 'wait'].join('\n')], { encoding: 'utf8' });
    expect(both.status, both.stderr).toBe(0);
    const log = readFileSync(at.log, 'utf8').trim().split('\n').map((l) => l.split(' ').slice(1).join(' '));
    expect(log).toEqual([
      "start unit=pg-test owner=a token=7 change=slow",
      "end unit=pg-test owner=a token=7 change=slow rc=0",
      "start unit=pg-test owner=b token=9 change=quick",
      "end unit=pg-test owner=b token=9 change=quick rc=0",
    ]);
    const old = spawnSync('bash', ['-c', `set -euo pipefail\n${guardScript('pg-test', 'a', '7', 'late', `touch ${dir}/late`, at)}`], { encoding: 'utf8' });
    expect(old.status).toBe(75);
    expect(existsSync(join(dir, 'late'))).toBe(false);
    const failing = spawnSync('bash', ['-c', `set -euo pipefail\n${guardScript('pg-test', 'b', '9', 'fails', 'exit 3', at)}`], { encoding: 'utf8' });
    expect(failing.status).toBe(3);
    expect(readFileSync(at.log, 'utf8')).toContain('change=fails rc=3');
  });
});
