// Two daemons sharing one fleet through a real etcd, in this process: each cluster synced by one of
// them, shown by both with its owner; the commit statuses of a revision (and the failure of an invalid
// one) sent by one daemon only; a sync asked of, or a suspension made on, the daemon that does not own
// the cluster passed to the one that does, and its new plan readable from both. The first daemon up
// takes every cluster; once the second is seen, the clusters it is the choice of are handed to it. The hosts are this machine on a closed port:
// every sync ends Unreachable at once.
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Daemon, type DaemonEvents, type Revision, type RevisionSource } from '../../src/daemon/daemon.js';
import { CorralMetrics } from '../../src/daemon/metrics.js';
import { EtcdCoordination } from '../../src/daemon/coordination.js';
import { Etcd } from '../../src/daemon/etcd.js';
import { createTransport } from '../../src/transport/index.js';
import { startEtcd, type EtcdServer } from '../helpers/etcd.js';
import { testAuthority } from '../helpers/pki.js';
import { tmpRepo } from '../helpers/tmp.js';
import { until } from '../helpers/until.js';

const clusters = (n: number): string =>
  `all:\n  children:\n${Array.from({ length: n }, (_, i) => `    c${i}: { hosts: { 127.0.0.${i + 2}: {} }, vars: { node_cluster: c${i} } }\n`).join('')}  vars: { ansible_port: 1 }\n`;

let etcd: EtcdServer | undefined;
const stops: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
  await etcd?.stop();
});

describe('two daemons on one etcd', () => {
  it('share the clusters, show each with its owner, send each revision status once, and pass a sync to the owner', async () => {
    etcd = await startEtcd();
    let current: Revision = { revision: 'a'.repeat(40), author: 't', subject: 'six clusters', dir: tmpRepo({ 'pigsty.yml': clusters(6), 'corral.yml': 'sync:\n  defaults: { sync: auto, driftInterval: 1h }\n' }) };
    const source: RevisionSource = { describe: 'test', latest: () => Promise.resolve(current) };
    const sent: Record<string, { progress: number; invalid: number }> = {};
    const daemon = async (id: string): Promise<Daemon> => {
      const stateDir = mkdtempSync(join(tmpdir(), `corral-shared-${id}-`));
      sent[id] = { progress: 0, invalid: 0 };
      const events: DaemonEvents = { progress: () => void sent[id]!.progress++, invalid: () => void sent[id]!.invalid++ };
      const transport = createTransport({ hostKeys: { knownHostsFile: join(stateDir, 'known_hosts'), mode: 'strict' }, connectTimeoutMs: 1000 });
      const coordination = new EtcdCoordination({ etcd: new Etcd({ endpoints: [etcd!.url] }), id, ttlSeconds: 5, logger: pino({ level: 'silent' }) });
      const d = new Daemon({ source, stateDir, transport, metrics: new CorralMetrics(), logger: pino({ level: 'silent' }), ssh: {}, pki: await testAuthority(), version: 'test', events, coordination });
      stops.push(async () => {
        await d.stop();
        await transport.close();
      });
      return d;
    };
    const [a, b] = [await daemon('a'), await daemon('b')];
    await Promise.all([a.start(), b.start()]);
    const ownersOf = (d: Daemon): string => d.status().clusters.map((c) => (c.sync === 'Failed' ? c.owner : '?')).join();
    const owners = await until('both daemons to show every cluster synced by one owner, shared by both daemons', () => {
      const seen = ownersOf(a);
      return seen === ownersOf(b) && !seen.includes('?') && seen.includes('a') && seen.includes('b') ? seen.split(',') : undefined;
    }, 30_000, 100);
    expect(owners).toHaveLength(6);
    expect(a.status().daemons).toEqual(['a', 'b']);
    // One daemon reports the revision's status; the other, never.
    expect([sent.a!.progress, sent.b!.progress].filter((n) => n > 0)).toHaveLength(1);

    // A sync asked of the daemon that does not own the cluster runs on its owner.
    const name = a.status().clusters.find((c) => c.owner === 'b')!.name;
    const planOf = (d: Daemon): string | undefined => d.status().clusters.find((c) => c.name === name)!.lastPlanId;
    const before = planOf(b);
    const asked = a.sync(name, 'api');
    expect(asked).toMatchObject({ accepted: true });
    expect(asked.message).toContain('passed to b');
    const planned = await until(`b to sync ${name}`, () => (planOf(b) !== before ? planOf(b) : undefined), 15_000, 100);
    await until(`a to show b's new plan of ${name}`, () => (planOf(a) === planned ? true : undefined), 15_000, 100);
    expect(a.plan(planned)?.cluster).toBe(name);

    // Suspended through the daemon that does not own it: held by its owner too.
    expect(a.suspend(name)).toBe(true);
    await until(`b to hold ${name}`, () => (b.status().clusters.find((c) => c.name === name)?.sync === 'Suspended' ? true : undefined), 10_000, 100);
    expect(b.sync(name, 'api').accepted).toBe(false);

    // An invalid revision: both daemons refuse it; one says so.
    current = { ...current, revision: 'b'.repeat(40), subject: 'broken', dir: tmpRepo({ 'pigsty.yml': 'all: [' }) };
    await Promise.all([a.fetchAndSync('webhook'), b.fetchAndSync('webhook')]);
    expect(a.status().git.invalidAt && b.status().git.invalidAt).toBeTruthy();
    expect(sent.a!.invalid + sent.b!.invalid).toBe(1);
  }, 60_000);
});
