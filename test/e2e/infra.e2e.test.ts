/**
 * INFRA with Pigsty's single-node default (test/fixtures/lab-single, the shape of examples/single) on
 * one bare lab node: one apply gives NODE, etcd, pg-meta and the monitoring stack, and the next plan is
 * empty; VictoriaMetrics scrapes every target INFRA wrote and each is up; pg_up is 1 for pg-meta;
 * Alertmanager answers with Corral's config; vmalert has loaded Corral's rule groups and evaluates them.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { Daemon } from '../../src/daemon/daemon.js';
import { buildServer } from '../../src/daemon/http/server.js';
import { CorralMetrics } from '../../src/daemon/metrics.js';
import { gitRevisions } from '../../src/daemon/sources.js';
import { createGitSource } from '../../src/git/source.js';
import { openAuthority } from '../../src/pki/authority.js';
import { createTransport } from '../../src/transport/index.js';
import { startGitServer, type TestRepo } from '../helpers/git-server.js';
import { corralRules, shippedRules } from '../../reconcilers/infra/index.js';
import { corral, lab, LAB_KEY, LAB_KNOWN_HOSTS, LAB_PKI_DIR, nodeIp, onNode, useBareLab } from '../helpers/lab.js';

/** The lab host's own address on the lab's bridge (test/lab/lab.sh), where the nodes reach it. */
const LAB_HOST = '10.213.0.1';
import { until } from '../helpers/until.js';
import { freePort } from '../helpers/ports.js';

const FIXTURE = join(import.meta.dirname, '../fixtures/lab-single');
const IP = nodeIp(1);

/** The targets INFRA writes in /infra/targets for this inventory (reconcilers/infra/targets.ts), as `job instance`. */
const TARGETS = [
  `node ${IP}:9100`, // node_exporter (NODE)
  `node ${IP}:9101`, // HAProxy's admin page, its Prometheus endpoint (PGSQL)
  `ping ${IP}`, // the blackbox exporter's ICMP probe: the instance is the address pinged
  `infra ${IP}:9113`, // nginx's exporter
  `infra ${IP}:8428`, // VictoriaMetrics
  `infra ${IP}:8880`, // vmalert
  `infra ${IP}:9059`, // Alertmanager
  `infra ${IP}:9115`, // the blackbox exporter
  `etcd ${IP}:2379`, // https, with the infra node's client certificate of Corral's CA
  `pgsql ${IP}:9630`, // prometheus-postgres-exporter (PGSQL)
  `pgsql ${IP}:9631`, // prometheus-pgbouncer-exporter (PGSQL)
  `pgsql ${IP}:8008`, // Patroni's REST API
].sort();

interface Target {
  labels: Record<string, string>;
  health: string;
  lastError: string;
}
type Vector = { data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
type Rules = { data: { groups: { name: string; rules: { name: string; health: string; lastError: string; lastEvaluation: string }[] }[] } };

/** A JSON document from a port of n1 (the host reaches the lab's addresses over its bridge). */
async function get<T>(port: number, path: string): Promise<T> {
  const res = await fetch(`http://${IP}:${port}${path}`, { signal: AbortSignal.timeout(5000) });
  if (!res.ok) throw new Error(`GET :${port}${path}: HTTP ${res.status}`);
  return (await res.json()) as T;
}

/** Each target as `job instance health`, with the scrape error of one that is not up. */
const state = (ts: readonly Target[]): string[] => ts.map((t) => `${t.labels.job} ${t.labels.instance} ${t.health}${t.lastError ? ` (${t.lastError})` : ''}`).sort();

describe("INFRA: Pigsty's single node on one lab node", () => {
  useBareLab(1);

  it('one apply converges; every target INFRA wrote is up; pg_up is 1; Alertmanager and vmalert answer', async () => {
    const applied = await corral('apply', FIXTURE, '--yes');
    const ended = Date.now();
    if (!applied.out.includes('the nodes converged')) console.log(applied.out);
    expect(applied.out).toContain('the nodes converged');
    expect(applied.code).toBe(0);

    // VictoriaMetrics re-reads the target files every 5 s (vmetrics_options) and scrapes every 10 s.
    let targets: Target[] = [];
    const want = TARGETS.map((t) => `${t} up`);
    await until(
      'every target to be up',
      async () => {
        targets = await get<{ data: { activeTargets: Target[] } }>(8428, '/api/v1/targets').then((r) => r.data.activeTargets, () => targets);
        return state(targets).join('\n') === want.join('\n') ? true : undefined;
      },
      60_000,
      1000,
    ).catch(() => undefined);
    expect(state(targets)).toEqual(want);
    console.log(`apply's end to all ${TARGETS.length} targets up: ${((Date.now() - ended) / 1000).toFixed(1)} s`);
    expect(targets.filter((t) => t.labels.job === 'pgsql').map((t) => `${t.labels.cls} ${t.labels.ins}`)).toEqual(Array(3).fill('pg-meta pg-meta-1'));

    const again = await corral('plan', FIXTURE, '--detailed-exitcode');
    if (again.code !== 0) console.log(again.out);
    expect(again.code).toBe(0);

    // A sample shows in queries ~30 s after its scrape (VictoriaMetrics' -search.latencyOffset).
    const query = `/api/v1/query?query=${encodeURIComponent('pg_up{cls="pg-meta"}')}`;
    const pgUp = await until('pg_up of pg-meta', () => get<Vector>(8428, query).then((r) => r.data.result[0], () => undefined), 90_000, 2000);
    expect(pgUp.metric.ins).toBe('pg-meta-1');
    expect(pgUp.value[1]).toBe('1');

    // Alertmanager on alertmanager_port with Corral's config (Pigsty's default: its NodeDown inhibit rule).
    const am = await get<{ config: { original: string } }>(9059, '/api/v2/status');
    expect(am.config.original).toContain('NodeDown');

    // vmalert: agent.yml and Corral's rule files loaded, and every rule evaluated once without an error.
    const groups = ['agent-rules', 'agent-alert', ...[...shippedRules(), corralRules()].flatMap(([, text]) => (parse(text) as { groups: { name: string }[] }).groups.map((g) => g.name))].sort();
    let loaded: Rules['data']['groups'] = [];
    const failing = (): string[] => loaded.flatMap((g) => g.rules.filter((r) => r.health !== 'ok' || r.lastEvaluation.startsWith('0001')).map((r) => `${g.name}/${r.name}: ${r.lastError || 'not evaluated'}`));
    await until(
      'vmalert to evaluate every rule',
      async () => {
        loaded = await get<Rules>(8880, '/api/v1/rules').then((r) => r.data.groups, () => loaded);
        return loaded.length > 0 && !failing().length ? true : undefined;
      },
      60_000,
      2000,
    ).catch(() => undefined);
    expect(loaded.map((g) => g.name).sort()).toEqual(groups);
    expect(failing()).toEqual([]);
  }, 20 * 60_000);

  it('three PGSQL members more: every exporter of every member is up; Patroni stopped fires PatroniDown within for: + 2 scrapes, started clears it', async () => {
    await lab('up', '4');
    const fleet = withPgTest(readFileSync(join(FIXTURE, 'pigsty.yml'), 'utf8'));
    const applied = await corral('apply', inventoryDir({ 'pigsty.yml': fleet }), '--yes');
    if (!applied.out.includes('the nodes converged')) console.log(applied.out);
    expect(applied.out).toContain('the nodes converged');

    const members = [2, 3, 4].map(nodeIp);
    const want = [
      ...TARGETS,
      ...members.flatMap((ip) => [`node ${ip}:9100`, `node ${ip}:9101`, `ping ${ip}`, `pgsql ${ip}:9630`, `pgsql ${ip}:9631`, `pgsql ${ip}:8008`]),
    ].sort().map((t) => `${t} up`);
    let targets: Target[] = [];
    await until('every exporter of every member to be up', async () => {
      targets = await activeTargets().catch(() => targets);
      return state(targets).join('\n') === want.join('\n') ? true : undefined;
    }, 90_000, 1000).catch(() => undefined);
    expect(state(targets)).toEqual(want);

    // pg-test-2 on n3, a replica: its Patroni stops (and PostgreSQL with it). The clock starts when its REST API stops answering.
    const patroni = `http://${nodeIp(3)}:8008/health`;
    const answers = (): Promise<boolean> => fetch(patroni, { signal: AbortSignal.timeout(1000) }).then(() => true, () => false);
    await onNode('n3', 'systemctl stop patroni');
    await until('Patroni on n3 to stop answering', async () => ((await answers()) ? undefined : true), 60_000, 200);
    const down = Date.now();
    const bound = (60 + 2 * SCRAPE_SECONDS) * 1000; // PatroniDown's for: 1m, plus two scrape intervals
    const fired = await until('PatroniDown for pg-test-2 in Alertmanager', () => patroniDown().then((a) => a ?? undefined), bound + 60_000, 500).catch(() => undefined);
    const firedAfter = Date.now() - down;
    console.log(`Patroni down to PatroniDown in Alertmanager: ${(firedAfter / 1000).toFixed(1)} s (bound ${bound / 1000} s)`);
    expect(fired?.labels).toMatchObject({ alertname: 'PatroniDown', cls: 'pg-test', ins: 'pg-test-2', instance: `${nodeIp(3)}:8008`, severity: 'CRIT' });
    expect(firedAfter).toBeLessThanOrEqual(bound);

    await onNode('n3', 'systemctl start patroni');
    await until('Patroni on n3 to answer', async () => ((await answers()) ? true : undefined), 60_000, 200);
    const up = Date.now();
    const cleared = await until('PatroniDown for pg-test-2 to clear', () => patroniDown().then((a) => (a ? undefined : true)), 120_000, 500).catch(() => false);
    console.log(`Patroni up to PatroniDown gone: ${((Date.now() - up) / 1000).toFixed(1)} s`);
    expect(cleared).toBe(true);
  }, 20 * 60_000);

  it("the daemon: a Redis cluster added in a commit gets its targets, up, in that sync; removed in the next, its target files are gone; the infra node scrapes the daemon's /metrics", async () => {
    const fleet = withPgTest(readFileSync(join(FIXTURE, 'pigsty.yml'), 'utf8'));
    const daemon = await startDaemon(fleet);
    try {
      await daemon.synced(await daemon.repo.head());
      const redisTargets = (ts: readonly Target[]): string[] => state(ts.filter((t) => t.labels.job === 'redis'));

      const added = await daemon.repo.commit({ 'pigsty.yml': withRedis(fleet) }, 'redis-test on n2');
      await daemon.repo.push();
      await daemon.synced(added);
      const synced = Date.now();
      expect((await onNode('n1', 'ls /infra/targets/redis')).trim()).toBe('redis-test-1.yml');
      const want = [`redis ${nodeIp(2)}:6379 up`, `redis ${nodeIp(2)}:6380 up`];
      let targets: Target[] = [];
      await until('the Redis targets to be up', async () => {
        targets = await activeTargets().catch(() => targets);
        return redisTargets(targets).join('\n') === want.join('\n') ? true : undefined;
      }, 60_000, 1000).catch(() => undefined);
      expect(redisTargets(targets)).toEqual(want);
      console.log(`Redis commit synced to its targets up: ${((Date.now() - synced) / 1000).toFixed(1)} s`);
      expect(targets.filter((t) => t.labels.job === 'redis').map((t) => `${t.labels.cls} ${t.labels.ins}`)).toEqual(['redis-test redis-test-1-6379', 'redis-test redis-test-1-6380']);

      // The daemon's own /metrics, as a component of the infra node (job infra, ins corral).
      const own = targets.find((t) => t.labels.ins === 'corral');
      expect(own && `${own.labels.job} ${own.labels.instance} ${own.health}`).toBe(`infra ${daemon.metrics} up`);

      const removed = await daemon.repo.commit({ 'pigsty.yml': fleet }, 'redis-test removed');
      await daemon.repo.push();
      await daemon.synced(removed);
      expect((await onNode('n1', 'ls -A /infra/targets/redis')).trim()).toBe('');
      await until('the Redis targets to leave VictoriaMetrics', async () => (redisTargets(await activeTargets()).length ? undefined : true), 60_000, 1000);
    } finally {
      await daemon.close();
    }
  }, 30 * 60_000);
});

/** VictoriaMetrics' scrape interval in the fixture (vmetrics_scrape_interval, Pigsty's default). */
const SCRAPE_SECONDS = 10;

const activeTargets = (): Promise<Target[]> => get<{ data: { activeTargets: Target[] } }>(8428, '/api/v1/targets').then((r) => r.data.activeTargets);

type Alert = { labels: Record<string, string>; endsAt: string };
/** pg-test-2's PatroniDown as Alertmanager has it while it fires (vmalert sends a resolved alert with an end in the past). */
async function patroniDown(): Promise<Alert | undefined> {
  const alerts = await get<Alert[]>(9059, `/api/v2/alerts?filter=${encodeURIComponent('alertname="PatroniDown"')}`).catch(() => []);
  return alerts.find((a) => a.labels.ins === 'pg-test-2' && Date.parse(a.endsAt) > Date.now());
}

/** The single-node inventory plus pg-test, a three-member PGSQL cluster on n2..n4 using n1's etcd. */
const withPgTest = (text: string): string =>
  text.replace(
    '  vars:\n    version:',
    `    pg-test:
      hosts:
        ${nodeIp(2)}: { pg_seq: 1, pg_role: primary }
        ${nodeIp(3)}: { pg_seq: 2, pg_role: replica }
        ${nodeIp(4)}: { pg_seq: 3, pg_role: replica }
      vars:
        pg_cluster: pg-test
        pg_users: [ { name: dbuser_test, password: Test.Lab.Pass, pgbouncer: true, roles: [ dbrole_readwrite ] } ]
        pg_databases: [ { name: test, owner: dbuser_test } ]
  vars:
    version:`,
  );

/** …plus redis-test: a primary and a replica on n2. */
const withRedis = (text: string): string =>
  text.replace(
    '  vars:\n    version:',
    `    redis-test:
      hosts:
        ${nodeIp(2)}: { redis_node: 1, redis_instances: { 6379: {}, 6380: { replica_of: '${nodeIp(2)} 6379' } } }
      vars: { redis_cluster: redis-test, redis_password: Redis.Lab.Pass, redis_max_memory: 64MB }
  vars:
    version:`,
  );

function inventoryDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'corral-infra-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

/**
 * The daemon on a git server, syncing every unit on its own. It runs on this machine, the lab's host,
 * and listens on the host's lab address (10.213.0.1); it is told it runs on n1, as it would on an
 * infra node (the nodes have no Node.js to run it), so n1 scrapes it at that address.
 */
async function startDaemon(inventory: string): Promise<{ repo: TestRepo; metrics: string; synced: (sha: string) => Promise<void>; close: () => Promise<void> }> {
  const server = await startGitServer();
  const repo = await server.createRepo('fleet');
  await repo.commit({ 'pigsty.yml': inventory, 'corral.yml': 'sync:\n  pollInterval: 1s\n  defaults: { sync: auto, driftInterval: 1h }\n' }, 'the lab fleet');
  await repo.push();
  const stateDir = mkdtempSync(join(tmpdir(), 'corral-infra-daemon-'));
  const metrics = new CorralMetrics();
  const logger = pino({ level: 'silent' });
  const transport = createTransport({ hostKeys: { knownHostsFile: LAB_KNOWN_HOSTS, mode: 'strict' }, events: metrics.transportEvents() });
  const git = createGitSource({ url: server.repoUrl('fleet'), branch: 'main', stateDir: join(stateDir, 'git') });
  const port = await freePort(LAB_HOST);
  const address = `${LAB_HOST}:${port}`;
  const daemon = new Daemon({
    source: gitRevisions(git, 'fleet'),
    stateDir,
    transport,
    metrics,
    logger,
    ssh: { privateKeyFile: LAB_KEY },
    pki: await openAuthority(LAB_PKI_DIR, { create: true }),
    version: 'test',
    controller: { addresses: [nodeIp(1)], metrics: address },
  });
  const app = buildServer({ api: daemon, metrics, logger });
  await app.listen({ host: LAB_HOST, port });
  await daemon.start();
  return {
    repo,
    metrics: address,
    synced: async (sha) => {
      const all = (): true | undefined => {
        const { clusters } = daemon.status();
        return clusters.length && clusters.every((c) => c.sync === 'Synced' && c.revision === sha) ? true : undefined;
      };
      await until(`every unit synced at ${sha.slice(0, 12)}`, all, 10 * 60_000, 1000).catch((e: unknown) => {
        console.log(daemon.status().clusters.map((c) => `${c.name}: ${c.sync} ${c.revision?.slice(0, 12) ?? ''} ${c.message ?? ''}`).join('\n'));
        throw e;
      });
    },
    close: async () => {
      await daemon.stop();
      await app.close();
      await transport.close();
      await server.close();
    },
  };
}
