/**
 * REDIS on three bare lab nodes, brought up once, the scenarios in sequence: a primary and its
 * replica (with a second instance) and three Sentinels in one apply; a live maxmemory change; an
 * instance removed (refused without prune, blocked by redis_safeguard, done with prune); the
 * primary stopped (the Sentinels fail over, Corral reports drift and undoes nothing, the old
 * primary comes back as a replica); then a native Redis Cluster on all three nodes; then two
 * standalone nodes with no replica link, one taken out (found through the other's membership record).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateInventory } from '../../src/config/validate.js';
import type { ModuleHealth } from '../../src/engine/reconciler.js';
import { planRun } from '../../src/engine/run.js';
import { openAuthority } from '../../src/pki/authority.js';
import { createTransport } from '../../src/transport/index.js';
import { redis } from '../../reconcilers/redis/index.js';
import { lab, labEnv, LAB_KEY, LAB_KNOWN_HOSTS, LAB_PKI_DIR, onNode } from '../helpers/lab.js';

const CLI = join(import.meta.dirname, '../../bin/corral.js');
const MS = join(import.meta.dirname, '../fixtures/lab-redis/ms');
const NATIVE = join(import.meta.dirname, '../fixtures/lab-redis/cluster');
const PASSWORD = 'Redis.Lab.Pass';
const SENTINEL_PASSWORD = 'Sentinel.Lab.Pass';
const timings: Record<string, number> = {};

/** The built CLI, as an operator runs it. */
function corral(...argv: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...argv], { env: { ...process.env, ...labEnv }, maxBuffer: 16 * 1024 * 1024 }, (e, stdout, stderr) => {
      resolve({ code: e ? Number(e.code ?? 1) : 0, out: stdout + stderr });
    });
  });
}

/** The ms fixture (or `base`) with its text edited: a commit to the inventory. */
function inventory(edit: (text: string) => string, base = MS): string {
  const dir = mkdtempSync(join(tmpdir(), 'corral-redis-'));
  writeFileSync(join(dir, 'pigsty.yml'), edit(readFileSync(join(base, 'pigsty.yml'), 'utf8')));
  return dir;
}

/** redis-cli on a node, logged in with `password` (the test's own command line; Corral never puts one there). */
const redisCli = (node: string, port: number, args: string, password = PASSWORD): Promise<string> =>
  onNode(node, `REDISCLI_AUTH='${password}' redis-cli --no-auth-warning -p ${port} ${args} 2>&1 || true`).then((s) => s.trim());
const info = async (node: string, port: number, section: string): Promise<Map<string, string>> =>
  new Map(
    (await redisCli(node, port, `INFO ${section}`))
      .split('\n')
      .map((l) => l.trim().split(':') as [string, string])
      .filter((kv) => kv.length === 2),
  );
const sentinel = (port: number, args: string): Promise<string> => redisCli('n3', port, args, SENTINEL_PASSWORD);
const SENTINELS = [26379, 26380, 26381];

async function until<T>(what: string, read: () => Promise<T>, ok: (v: T) => boolean, seconds = 60): Promise<T> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const v = await read();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(v)} after ${seconds} s`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

async function health(dir: string, name: string): Promise<ModuleHealth> {
  const validated = await validateInventory(dir);
  const transport = createTransport({ hostKeys: { knownHostsFile: LAB_KNOWN_HOSTS, mode: 'strict' }, connectTimeoutMs: 5000 });
  try {
    const planning = await planRun({ validated, transport, ssh: { privateKeyFile: LAB_KEY }, revision: 'e2e', pki: await openAuthority(LAB_PKI_DIR, { create: true }) });
    const cluster = validated.clusters.find((c) => c.module === 'redis' && c.name === name)!;
    return redis.health!({ cluster, hosts: validated.hosts, observations: planning.observations });
  } finally {
    await transport.close();
  }
}

interface PlannedChange {
  host: string;
  resource: string;
  restarts: boolean;
  destructive: boolean;
  fields: { field: string }[];
}
const planOf = async (dir: string): Promise<{ changes: PlannedChange[]; notes: { message: string }[] }> => JSON.parse((await corral('plan', dir, '--format', 'json')).out) as never;

/** The next plan of `dir` has no change (its output shown when it has). */
async function expectNoChanges(dir: string): Promise<void> {
  const planned = await corral('plan', dir, '--detailed-exitcode');
  expect(planned.code, planned.out).toBe(0);
  expect(planned.out).toContain('No changes');
}

const timed = async (name: string, body: () => Promise<void>): Promise<void> => {
  const started = Date.now();
  await body();
  timings[name] = Math.round((Date.now() - started) / 100) / 10;
};

// After scenario 4: maxmemory 128MB; then n1's second instance taken out.
const withoutSecond = (t: string): string => t.replace('6379: {}, 6380: {} }', '6379: {} }').replace('redis_max_memory: 64MB', 'redis_max_memory: 128MB');
const WITHOUT_6380 = inventory(withoutSecond);

describe('REDIS on three lab nodes', () => {
  beforeAll(async () => {
    await lab('down', '--wipe');
    await lab('up', '3');
  }, 5 * 60_000);
  afterAll(() => console.log(`redis lab timings (s): ${JSON.stringify(timings)}`));

  it('1. a primary and its replica, and three Sentinels, from bare nodes in one apply; a key set on the primary reads on the replica; the next plan is empty', () =>
    timed('standalone+sentinel bring-up', async () => {
      const applied = await corral('apply', MS, '--yes');
      expect(applied.out).toContain('the nodes converged');
      expect(applied.code, applied.out).toBe(0);
      expect(applied.out).not.toContain(PASSWORD);
      await redisCli('n1', 6379, 'SET corral-e2e written-on-n1');
      expect(await until('the key on the replica', () => redisCli('n2', 6379, 'GET corral-e2e'), (v) => v === 'written-on-n1', 15)).toBe('written-on-n1');
      expect(await redisCli('n2', 6379, 'SET x 1')).toContain('READONLY');
      expect(Object.fromEntries(await info('n2', 6379, 'replication'))).toMatchObject({ role: 'slave', master_host: '10.213.0.11', master_link_status: 'up' });
      // Pigsty's layout; Debian's own services stopped; the password is asked for.
      expect(await onNode('n1', 'stat -c "%U %a" /etc/redis/redis-ms-1-6379.conf; test -d /data/redis/redis-ms-1-6380 && echo data; systemctl is-active redis-server redis-sentinel redis-ms-1-6379 || true')).toBe('redis 600\ndata\ninactive\ninactive\nactive\n');
      expect(await onNode('n1', 'redis-cli -p 6379 GET corral-e2e 2>&1')).toContain('NOAUTH');
      // No curl on a lab node: bash's /dev/tcp asks the exporter, which reaches the node's first instance with the password.
      const metrics = (): Promise<string> => onNode('n1', `exec 3<>/dev/tcp/127.0.0.1/9121 && printf 'GET /metrics HTTP/1.0\\r\\n\\r\\n' >&3 && grep '^redis_up ' <&3 || true`);
      expect(await until('the exporter to scrape the first instance', metrics, (m) => m === 'redis_up 1\n', 15)).toBe('redis_up 1\n');
      for (const port of SENTINELS) {
        const master = (await sentinel(port, 'SENTINEL MASTER redis-ms')).split('\n');
        expect(master[master.indexOf('ip') + 1]).toBe('10.213.0.11');
        expect(master[master.indexOf('quorum') + 1]).toBe('2');
      }
      await until('the Sentinels to find each other', () => sentinel(26379, 'SENTINEL MASTER redis-ms'), (v) => /num-other-sentinels\n2/.test(v), 30);
      await expectNoChanges(MS);
      const ms = await health(MS, 'redis-ms');
      expect(ms).toMatchObject({ status: 'Healthy', problems: [] });
      // Each instance as it answered, for the status page: a primary, and replicas with their link up.
      expect(ms.members?.length).toBeGreaterThan(1);
      expect(ms.members?.every((m) => m.state === 'running' || m.state === 'link up')).toBe(true);
      expect(await health(MS, 'redis-meta')).toMatchObject({ status: 'Healthy', problems: [] });
    }), 6 * 60_000);

  it('4. maxmemory changed in git: set live, no restart (same run id and uptime), file rewritten, next plan empty', () =>
    timed('live maxmemory', async () => {
      const dir = inventory((t) => t.replace('redis_max_memory: 64MB', 'redis_max_memory: 128MB'));
      const before = await info('n1', 6379, 'server');
      const planned = await planOf(dir);
      const changes = planned.changes.filter((c) => c.resource.startsWith('redis-instance:'));
      expect(changes.map((c) => `${c.host} ${c.resource} restarts=${c.restarts}`)).toEqual(['10.213.0.11 redis-instance:redis-ms-1-6379 restarts=false', '10.213.0.11 redis-instance:redis-ms-1-6380 restarts=false', '10.213.0.12 redis-instance:redis-ms-2-6379 restarts=false']);
      const applied = await corral('apply', dir, '--yes');
      expect(applied.code, applied.out).toBe(0);
      expect(await redisCli('n1', 6379, 'CONFIG GET maxmemory')).toBe(`maxmemory\n${128 * 1024 * 1024}`);
      const after = await info('n1', 6379, 'server');
      expect(after.get('run_id')).toBe(before.get('run_id'));
      expect(Number(after.get('uptime_in_seconds'))).toBeGreaterThanOrEqual(Number(before.get('uptime_in_seconds')));
      expect(await onNode('n1', 'grep ^maxmemory /etc/redis/redis-ms-1-6379.conf')).toBe('maxmemory 128MB\nmaxmemory-policy allkeys-lru\n');
      await expectNoChanges(dir);
    }), 3 * 60_000);

  it('5. an instance taken out: refused without prune, blocked by redis_safeguard, removed with prune', () =>
    timed('instance removal', async () => {
      const planned = await planOf(WITHOUT_6380);
      const removal = planned.changes.filter((c) => c.destructive);
      expect(removal.map((c) => `${c.host} ${c.resource}`)).toEqual(['10.213.0.11 redis-retire:redis-ms']);
      const refused = await corral('apply', WITHOUT_6380, '--yes');
      expect(refused.code, refused.out).toBe(1);
      expect(refused.out).toContain('not applied: the plan removes redis-retire:redis-ms on 10.213.0.11; pass --prune to allow it');
      const guarded = inventory((t) => withoutSecond(t).replace('redis_max_memory: 128MB', 'redis_max_memory: 128MB, redis_safeguard: true'));
      const blocked = await corral('apply', guarded, '--yes', '--prune');
      expect(blocked.out).toContain('redis_safeguard is on for redis-ms: redis-ms-1-6380 left the inventory but are not removed (set redis_safeguard: false');
      expect(await onNode('n1', 'systemctl is-active redis-ms-1-6380')).toBe('active\n');
      const pruned = await corral('apply', WITHOUT_6380, '--yes', '--prune');
      expect(pruned.code, pruned.out).toBe(0);
      expect(await onNode('n1', 'systemctl is-active redis-ms-1-6380 || true; ls /etc/systemd/system/redis-ms-1-6380.service /etc/redis/redis-ms-1-6380.conf /data/redis/redis-ms-1-6380 2>&1 | grep -c "No such file"')).toBe('inactive\n3\n');
      expect(await redisCli('n1', 6379, 'PING')).toBe('PONG');
      await expectNoChanges(WITHOUT_6380);
    }), 3 * 60_000);

  it('2. the primary stopped: the Sentinels promote the replica, Corral reports the drift and undoes nothing; the old primary comes back as a replica', () =>
    timed('sentinel failover', async () => {
      // Faster than Sentinel's 30 s default, for the test: Corral does not manage these.
      for (const port of SENTINELS) expect(await sentinel(port, 'SENTINEL SET redis-ms down-after-milliseconds 3000 failover-timeout 10000')).toBe('OK');
      await onNode('n1', 'systemctl stop redis-ms-1-6379');
      const stoppedAt = Date.now();
      await until('a Sentinel to promote n2', () => sentinel(26379, 'SENTINEL GET-MASTER-ADDR-BY-NAME redis-ms'), (v) => v === '10.213.0.12\n6379', 60);
      timings['failover after the stop'] = Math.round((Date.now() - stoppedAt) / 100) / 10;
      expect((await info('n2', 6379, 'replication')).get('role')).toBe('master');
      // The only change is to start the stopped instance: nothing touches n2's role or replication.
      const planned = await planOf(WITHOUT_6380);
      expect(planned.changes.map((c) => `${c.host} ${c.resource} ${c.fields.map((f) => f.field).join(',')}`)).toEqual(['10.213.0.11 redis-instance:redis-ms-1-6379 running']);
      const degraded = await health(WITHOUT_6380, 'redis-ms');
      expect(degraded.status).toBe('Degraded');
      expect(degraded.problems).toContain('role drift: redis-ms-2-6379 is primary, the inventory has it replica of 10.213.0.11 6379; Corral does not undo a failover (commit a replica_of change to make it so)');
      const meta = await health(WITHOUT_6380, 'redis-meta');
      expect(meta.problems).toContain('role drift: the sentinels moved redis-ms to 10.213.0.12:6379 (a failover), the inventory names 10.213.0.11:6379; Corral does not undo it');
      const applied = await corral('apply', WITHOUT_6380, '--yes');
      expect(applied.code, applied.out).toBe(0);
      const back = await until('the old primary to follow n2', () => info('n1', 6379, 'replication'), (i) => i.get('master_host') === '10.213.0.12' && i.get('master_link_status') === 'up', 60);
      expect(back.get('role')).toBe('slave');
      expect((await info('n2', 6379, 'replication')).get('role')).toBe('master');
      expect(await until('the key on the old primary', () => redisCli('n1', 6379, 'GET corral-e2e'), (v) => v === 'written-on-n1', 15)).toBe('written-on-n1');
      // Sentinel rewrote both configs: still nothing to change, and the drift is reported, not fought.
      await expectNoChanges(WITHOUT_6380);
      const drifted = await health(WITHOUT_6380, 'redis-ms');
      expect(drifted.status).toBe('Healthy');
      expect(drifted.problems.every((p) => p.startsWith('role drift: '))).toBe(true);
      expect(drifted.problems).toHaveLength(2);
    }), 4 * 60_000);

  it('3. a native Redis Cluster on three nodes, two instances each, one replica per master: cluster_state ok, 16384 slots, a key reachable from any node', () =>
    timed('native cluster', async () => {
      const applied = await corral('apply', NATIVE, '--yes');
      expect(applied.out).toContain('the nodes converged');
      expect(applied.code, applied.out).toBe(0);
      for (const node of ['n1', 'n2', 'n3']) {
        const c = new Map((await redisCli(node, 7001, 'CLUSTER INFO', 'Cluster.Lab.Pass')).split('\n').map((l) => l.trim().split(':') as [string, string]));
        expect([c.get('cluster_state'), c.get('cluster_slots_assigned'), c.get('cluster_slots_ok'), c.get('cluster_known_nodes')]).toEqual(['ok', '16384', '16384', '6']);
      }
      // Every node learns the replicas' roles by gossip, soon after --cluster create returns.
      const roles = (nodes: string): string[] => nodes.split('\n').map((l) => (/[ ,]master /.test(l) ? 'master' : /[ ,]slave /.test(l) ? 'replica' : '?')).sort();
      const seen = await until('every node to see 3 masters and 3 replicas', () => redisCli('n2', 7002, 'CLUSTER NODES', 'Cluster.Lab.Pass'), (v) => roles(v).join() === 'master,master,master,replica,replica,replica', 20);
      expect(roles(seen)).toHaveLength(6);
      expect(await redisCli('n1', 7001, '-c SET corral-cluster-key on-n1', 'Cluster.Lab.Pass')).toBe('OK');
      for (const [node, port] of [['n1', 7002], ['n2', 7001], ['n3', 7002]] as const) expect(await redisCli(node, port, '-c GET corral-cluster-key', 'Cluster.Lab.Pass')).toBe('on-n1');
      await expectNoChanges(NATIVE);
      expect(await health(NATIVE, 'redis-test')).toMatchObject({ status: 'Healthy', problems: [] });
    }), 4 * 60_000);

  it('6. two standalone nodes with no replica link, one taken out: found through the record the other keeps, refused without prune, removed with prune', () =>
    timed('standalone node removal', async () => {
      // The native fixture's nodes and vars, its cluster replaced by redis-solo on port 6391 of the nodes given.
      const solo = (...nodes: number[]): string =>
        inventory(
          (t) => t.replace(/ {4}redis-test:[\s\S]*?(?=^ {2}vars:)/m, `    redis-solo:\n      hosts:\n${nodes.map((n) => `        10.213.0.1${n}: { redis_node: ${n}, redis_instances: { 6391: {} } }\n`).join('')}      vars: { redis_cluster: redis-solo, redis_password: ${PASSWORD} }\n`),
          NATIVE,
        );
      const record = (node: string): Promise<string> => onNode(node, 'cat /var/lib/corral/redis/redis-solo.members 2>&1 || true');
      const both = solo(1, 2);
      const applied = await corral('apply', both, '--yes');
      expect(applied.code, applied.out).toBe(0);
      expect(await record('n1')).toBe('10.213.0.11 redis-solo-1-6391\n10.213.0.12 redis-solo-2-6391\n');
      const one = solo(1);
      const planned = await planOf(one);
      expect(planned.changes.filter((c) => c.destructive).map((c) => `${c.host} ${c.resource}`)).toEqual(['10.213.0.12 redis-retire:redis-solo']);
      const refused = await corral('apply', one, '--yes');
      expect(refused.code, refused.out).toBe(1);
      expect(refused.out).toContain('not applied: the plan removes redis-retire:redis-solo on 10.213.0.12; pass --prune to allow it');
      expect(await onNode('n2', 'systemctl is-active redis-solo-2-6391')).toBe('active\n');
      const pruned = await corral('apply', one, '--yes', '--prune');
      expect(pruned.code, pruned.out).toBe(0);
      // n2's instance, unit, config and stale record are gone; n1 keeps running and records itself alone.
      expect(await onNode('n2', 'systemctl is-active redis-solo-2-6391 || true; ls /etc/systemd/system/redis-solo-2-6391.service /etc/redis/redis-solo-2-6391.conf /var/lib/corral/redis/redis-solo.members 2>&1 | grep -c "No such file"')).toBe('inactive\n3\n');
      expect(await record('n1')).toBe('10.213.0.11 redis-solo-1-6391\n');
      expect(await redisCli('n1', 6391, 'PING')).toBe('PONG');
      await expectNoChanges(one);
    }), 4 * 60_000);
});
