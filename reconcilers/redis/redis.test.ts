import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { validateInventory } from '../../src/config/validate.js';
import type { HostView } from '../../src/config/hosts.js';
import { ASSUMED_FACTS } from '../../src/engine/facts.js';
import { ignoredNotes } from '../../src/engine/ignored.js';
import type { Desired, Note, Observation } from '../../src/engine/model.js';
import { observeScript } from '../../src/engine/observe.js';
import { plan } from '../../src/engine/plan.js';
import { renderJson, renderMarkdown, renderText } from '../../src/engine/render.js';
import { kindOf } from '../../src/engine/resources/index.js';
import type { Resource } from '../../src/engine/resources/kind.js';
import { tmpRepo } from '../../test/helpers/tmp.js';
import { certificatesFor } from '../../test/helpers/pki.js';
import { redis } from './index.js';
import { redisSize } from './params.js';
import { secretHash, type RedisInstanceWant } from './kinds/instance.js';
import { redisClusterId, type RedisClusterWant } from './kinds/cluster.js';
import { redisMembersId, type RedisMembersWant } from './kinds/members.js';

const PASSWORD = 'Canary.Redis.7';
const MASTER_PASSWORD = 'Canary.Master.9';

const lab = (vars: string, hosts = `        10.0.0.11: { redis_node: 1, redis_instances: { 6379: {}, 6380: {} } }\n        10.0.0.12: { redis_node: 2, redis_instances: { 6379: { replica_of: '10.0.0.11 6379' } } }`): string => `
all:
  children:
    redis-ms:
      hosts:
${hosts}
      vars: { redis_cluster: redis-ms, redis_password: ${PASSWORD}${vars} }
    redis-meta:
      hosts:
        10.0.0.13: { redis_node: 1, redis_instances: { 26379: {}, 26380: {} } }
      vars:
        redis_cluster: redis-meta
        redis_mode: sentinel
        redis_sentinel_monitor: [ { name: redis-ms, host: 10.0.0.11, port: 6379, password: ${MASTER_PASSWORD}, quorum: 2 } ]
`;

interface Loaded {
  hosts: HostView[];
  desired: Desired;
  notes: Note[];
  /** What the plan says of the cluster's parameters that Corral does not honour (the schema's x-corral). */
  ignored: Note[];
}

async function load(text: string, cluster = 'redis-ms'): Promise<Loaded> {
  const v = await validateInventory(tmpRepo({ 'pigsty.yml': text }));
  expect(v.problems.filter((p) => p.severity === 'error')).toEqual([]);
  const c = v.clusters.find((x) => x.module === 'redis' && x.name === cluster)!;
  const out = redis.desired({ cluster: c, hosts: v.hosts, facts: () => ASSUMED_FACTS, certificates: await certificatesFor(v), together: () => true });
  const target = (name: string) => ({ name, address: name, port: 22, user: 'root', connection: 'ssh' as const });
  return { hosts: v.hosts, notes: out.notes, ignored: ignoredNotes(c), desired: { hosts: [...out.resources].map(([host, resources]) => ({ host, target: target(host), resources })), edges: out.edges } };
}

const on = (d: Desired, host: string): Resource[] => d.hosts.find((h) => h.host === host)!.resources;
const find = <W>(d: Desired, host: string, kind: string, name?: string): W => on(d, host).find((r) => r.kind === kind && (name === undefined || (r.want as { name?: string; path?: string }).name === name || (r.want as { path?: string }).path === name))!.want as W;
const parse = (kind: string, out: string, want: unknown): unknown => kindOf(kind).parse(out, want);
const diffOf = (kind: string, want: unknown, have: unknown) => kindOf(kind).diff(want, have);
const b64 = (s: string): string => Buffer.from(s).toString('base64');

/** What the instance probe prints for a config file (secrets filtered as the probe does), the unit, and the service and live values. */
function instanceProbe(w: RedisInstanceWant, o: { conf?: string; running?: boolean; live?: Record<string, string>; secrets?: Record<string, string> } = {}): string {
  const lines: string[] = [];
  if (o.conf !== undefined) {
    const shown = o.conf
      .split('\n')
      .filter((l) => !/^\s*(requirepass|masterauth)\s/i.test(l))
      .join('\n');
    lines.push('owner=redis', 'group=redis', 'mode=600', `text=${b64(shown)}`, ...Object.entries(o.secrets ?? {}).map(([k, v]) => `secret.${k}=${v}`));
  }
  lines.push(`unit=${b64(w.unit)}`, `UnitFileState=enabled`, `ActiveState=${o.running === false ? 'inactive' : 'active'}`);
  for (const [k, v] of Object.entries(o.live ?? {})) lines.push(`live.${k}=${v}`);
  return lines.join('\n');
}

const secretsOf = (w: RedisInstanceWant): Record<string, string> => ({ requirepass: secretHash(w.name, PASSWORD), masterauth: secretHash(w.name, PASSWORD) });
const LIVE = { maxmemory: '1073741824', 'maxmemory-policy': 'allkeys-lru', save: '1200 1', appendonly: 'no' };

describe('REDIS rendering', () => {
  it('lays out each instance as Pigsty does: <cluster>-<node>-<port>, its unit, config and data', async () => {
    const { desired, notes } = await load(lab(''));
    expect(notes).toEqual([]);
    const w = find<RedisInstanceWant>(desired, '10.0.0.12', 'redis-instance', 'redis-ms-2-6379');
    expect(w.conf).toContain('port 6379\n');
    expect(w.conf).toContain('bind 0.0.0.0\n');
    expect(w.conf).toContain('dir /data/redis/redis-ms-2-6379\n');
    expect(w.conf).toContain('logfile /var/log/redis/redis-ms-2-6379.log\n');
    expect(w.conf).toContain('dbfilename redis-ms-2-6379.rdb\n');
    expect(w.conf).toContain('maxmemory 1GB\nmaxmemory-policy allkeys-lru\n');
    expect(w.conf).toContain('save 1200 1\n');
    expect(w.conf).toContain('appendonly no\n');
    expect(w.conf).toContain('cluster-enabled no\n');
    expect(w.conf).toContain(`requirepass ${PASSWORD}\n`);
    expect(w.conf).toContain(`masterauth ${PASSWORD}\n`);
    // The role line goes in only when the file is new: afterwards Redis and Sentinel own it.
    expect(w.conf).not.toContain('replicaof');
    expect(w.role).toBe('replicaof 10.0.0.11 6379');
    expect(w.unit).toContain('Type=notify\n');
    expect(w.unit).toContain('ExecStart=/usr/bin/redis-server /etc/redis/redis-ms-2-6379.conf --supervised systemd\n');
    expect(w.unit).toContain('User=redis\n');
    expect(w.unit).toContain('# corral redis: cluster=redis-ms host=127.0.0.1 port=6379\n');
    expect(find<{ path: string; mode: number }>(desired, '10.0.0.12', 'directory', '/data/redis/redis-ms-2-6379')).toMatchObject({ mode: 0o700, owner: 'redis' });
    expect(find<{ packages: string[] }>(desired, '10.0.0.12', 'packages').packages).toEqual(['redis-server', 'redis-sentinel', 'redis-tools', 'prometheus-redis-exporter']);
    // Debian's own services are stopped before an instance starts: they would hold 6379 and 26379.
    expect(on(desired, '10.0.0.12').find((r) => r.kind === 'redis-instance')!.deps).toEqual(expect.arrayContaining(['service:redis-server', 'service:redis-sentinel']));
    expect(find(desired, '10.0.0.12', 'service', 'redis-server')).toEqual({ name: 'redis-server', enabled: false, running: false });
    // The replica starts after its primary.
    expect(desired.edges).toContainEqual({ before: { host: '10.0.0.11', resource: 'redis-instance:redis-ms-1-6379' }, after: { host: '10.0.0.12', resource: 'redis-instance:redis-ms-2-6379' } });
  });

  it('honours the memory, persistence, bind and rename parameters', async () => {
    const { desired } = await load(lab(', redis_max_memory: 1.5GiB, redis_mem_policy: noeviction, redis_rdb_save: [], redis_aof_enabled: true, redis_bind_address: "", redis_rename_commands: { FLUSHALL: "" }'));
    const w = find<RedisInstanceWant>(desired, '10.0.0.11', 'redis-instance', 'redis-ms-1-6379');
    expect(w.conf).toContain(`maxmemory ${1.5 * 1024 ** 3}\nmaxmemory-policy noeviction\n`);
    expect(w.conf).toContain('save ""\n');
    expect(w.conf).toContain('appendonly yes\n');
    expect(w.conf).toContain('bind 10.0.0.11\n');
    expect(w.conf).toContain('rename-command FLUSHALL ""\n');
    // Bound to the node's address only: redis-cli reaches it there.
    expect(w.host).toBe('10.0.0.11');
    expect(redisSize('64MB')).toBe('64MB');
    expect(redisSize('2 TB')).toBe(String(2 * 1024 ** 4));
    expect(redisSize('1g')).toBe('1g');
  });

  it('renders Sentinels with the monitored masters registered at run time, their passwords in a secret file', async () => {
    const { desired } = await load(lab(''), 'redis-meta');
    const w = find<RedisInstanceWant>(desired, '10.0.0.13', 'redis-instance', 'redis-meta-1-26379');
    expect(w.sentinel).toBe(true);
    expect(w.conf).toContain('port 26379\n');
    expect(w.conf).toContain('sentinel deny-scripts-reconfig yes\n');
    expect(w.conf).not.toContain('sentinel monitor');
    expect(w.unit).toContain('--sentinel --supervised systemd');
    expect(find(desired, '10.0.0.13', 'file', '/etc/redis/sentinel-masters.pass')).toMatchObject({ content: `redis-ms ${MASTER_PASSWORD}\n`, mode: 0o600, secret: true });
    expect(find(desired, '10.0.0.13', 'redis-sentinel', 'redis-meta-1-26380')).toMatchObject({ port: 26380, masters: [{ name: 'redis-ms', host: '10.0.0.11', port: 6379, quorum: 2, remove: false }] });
    // A Sentinel registers its master once that runs.
    expect(desired.edges).toContainEqual({ before: { host: '10.0.0.11', resource: 'redis-instance:redis-ms-1-6379' }, after: { host: '10.0.0.13', resource: 'redis-sentinel:redis-meta-1-26379' } });
  });

  it('runs the exporter with Pigsty\'s settings, the password only in its secret environment file', async () => {
    const { desired } = await load(lab(', redis_exporter_port: 9122, redis_exporter_options: "--include-config-metrics"'));
    const env = find<{ content: string; secret: boolean; mode: number }>(desired, '10.0.0.11', 'file', '/etc/default/prometheus-redis-exporter');
    expect(env.content).toContain('REDIS_EXPORTER_WEB_LISTEN_ADDRESS=0.0.0.0:9122\n');
    expect(env.content).toContain('ARGS="--include-config-metrics"\n');
    expect(env.content).toContain('REDIS_EXPORTER_CONNECTION_TIMEOUT=10s\n');
    expect(env.content).toContain('REDIS_ADDR=tcp://127.0.0.1:6379\n');
    expect(env.content).toContain(`REDIS_PASSWORD=${PASSWORD}\n`);
    expect(env).toMatchObject({ secret: true, mode: 0o600 });
    // Debian's package starts the exporter before the settings are written: they are loaded with a restart.
    expect(on(desired, '10.0.0.11').find((r) => r.kind === 'reload')).toMatchObject({ want: { name: 'prometheus-redis-exporter', action: 'restart', firstTime: 'restart' }, deps: ['service:prometheus-redis-exporter', 'file:/etc/default/prometheus-redis-exporter'] });
  });

  it('names what it does not honour once per cluster, and blocks what it cannot do', async () => {
    const noted = await load(lab(', redis_conf: my-redis.conf, redis_rm_pkg: true, redis_cluster_replicas: 2'));
    expect([...noted.ignored, ...noted.notes].map((n) => `${n.host} ${n.blocking ? 'blocking ' : ''}${n.message.split(' ')[0]}`)).toEqual(['10.0.0.11 redis_conf:', '10.0.0.11 redis_rm_pkg:', '10.0.0.11 redis_cluster_replicas']);
    const blocked = await load(lab(', redis_type: valkey, redis_rename_commands: { CONFIG: "" }'));
    expect(blocked.notes.filter((n) => n.blocking).map((n) => n.message.split(':')[0])).toEqual(['redis_type', 'redis_rename_commands renames CONFIG, which Corral needs to manage the instances; rename other commands only']);
    expect(blocked.desired.hosts).toEqual([]);
  });
});

describe('redis-instance: settings compared, not bytes; live or restart', () => {
  const wantOf = async (vars = ''): Promise<RedisInstanceWant> => find<RedisInstanceWant>((await load(lab(vars))).desired, '10.0.0.11', 'redis-instance', 'redis-ms-1-6379');

  it('is in sync with a file Redis rewrote (CONFIG REWRITE: quotes, 1gb, its own lines, a replicaof)', async () => {
    const w = await wantOf();
    const rewritten =
      w.conf.replace('dir /data/redis/redis-ms-1-6379', 'dir "/data/redis/redis-ms-1-6379"').replace('maxmemory 1GB', 'maxmemory 1gb').replace('save 1200 1', 'save 1200 1') +
      '\n# Generated by CONFIG REWRITE\nlatency-tracking-info-percentiles 50 99 99.9\nuser default on #abc ~* &* +@all\nreplicaof 10.0.0.12 6379\n';
    const have = parse('redis-instance', instanceProbe(w, { conf: rewritten, live: LIVE, secrets: secretsOf(w) }), w);
    expect(diffOf('redis-instance', w, have)).toEqual([]);
  });

  it('sets maxmemory live with CONFIG SET and rewrites the file, without a restart', async () => {
    const w = await wantOf(', redis_max_memory: 2GB');
    const before = (await wantOf()).conf;
    const have = parse('redis-instance', instanceProbe(w, { conf: before, live: LIVE, secrets: secretsOf(w) }), w);
    const fields = diffOf('redis-instance', w, have);
    expect(fields.map((f) => `${f.field}: ${String(f.from)} -> ${String(f.to)}`)).toEqual([`maxmemory: 1073741824 -> ${2 * 1024 ** 3}`, 'live: null -> CONFIG SET maxmemory, no restart']);
    expect(kindOf('redis-instance').effects!(w, have)).toEqual({ restarts: false });
    const script = kindOf('redis-instance').apply(w, have);
    expect(script).toContain('CONFIG SET maxmemory 2GB');
    expect(script).not.toContain('systemctl restart');
    expect(script).toContain('mv -f /etc/redis/redis-ms-1-6379.conf.corral-tmp /etc/redis/redis-ms-1-6379.conf');
    // The file keeps the role line Redis or Sentinel wrote.
    expect(script).toContain("{ grep -iE '^[[:space:]]*(replicaof|slaveof)[[:space:]]' /etc/redis/redis-ms-1-6379.conf || true; } >> /etc/redis/redis-ms-1-6379.conf.corral-tmp");
  });

  it('sets a live value back that someone changed by hand, the file being right', async () => {
    const w = await wantOf();
    const have = parse('redis-instance', instanceProbe(w, { conf: w.conf, live: { ...LIVE, 'maxmemory-policy': 'noeviction' }, secrets: secretsOf(w) }), w);
    expect(diffOf('redis-instance', w, have).map((f) => f.field)).toEqual(['maxmemory-policy (running)', 'live']);
    const script = kindOf('redis-instance').apply(w, have);
    expect(script).toContain('CONFIG SET maxmemory-policy allkeys-lru');
    // The file is right already: not written again.
    expect(script).not.toContain('base64 -d');
  });

  it('restarts this instance alone for a setting Redis reads only at start, and says so', async () => {
    const w = await wantOf(', redis_bind_address: 10.0.0.11, redis_max_memory: 2GB');
    const before = (await wantOf()).conf;
    const have = parse('redis-instance', instanceProbe(w, { conf: before, live: LIVE, secrets: secretsOf(w) }), w);
    const fields = diffOf('redis-instance', w, have);
    expect(fields.find((f) => f.field === 'restart')!.to).toBe('Redis reads bind only when it starts');
    expect(fields.some((f) => f.field === 'live')).toBe(false);
    expect(kindOf('redis-instance').effects!(w, have)).toEqual({ restarts: true });
    const script = kindOf('redis-instance').apply(w, have);
    expect(script).toContain('systemctl restart redis-ms-1-6379.service');
    expect(script).not.toContain('CONFIG SET');
  });

  it('compares the password by a salted hash, shown only as changed', async () => {
    const w = await wantOf();
    const have = parse('redis-instance', instanceProbe(w, { conf: w.conf, live: LIVE, secrets: { requirepass: secretHash(w.name, 'old'), masterauth: secretsOf(w).masterauth! } }), w);
    const fields = diffOf('redis-instance', w, have);
    expect(fields[0]).toEqual({ field: 'requirepass', from: 'set', to: 'set', secret: true });
    expect(fields.find((f) => f.field === 'restart')!.to).toContain('requirepass');
  });
});

describe('redis-replication: an intended change is REPLICAOF, a failover is drift', () => {
  const want = { name: 'redis-ms-2-6379', host: '127.0.0.1', port: 6379, upstream: '10.0.0.11 6379' };
  const info = (role: string): string => (role === 'master' ? 'info.role:master\ninfo.connected_slaves:0' : `info.role:slave\ninfo.master_host:${role.split(' ')[0]}\ninfo.master_port:${role.split(' ')[1]}\ninfo.master_link_status:up`);

  it('records the upstream it acted on; the next plan is empty', () => {
    const fresh = parse('redis-replication', info('10.0.0.11 6379'), want);
    expect(diffOf('redis-replication', want, fresh)).toEqual([{ field: 'replica_of', from: null, to: 'replica of 10.0.0.11 6379' }]);
    const script = kindOf('redis-replication').apply(want, fresh);
    expect(script).toContain('REPLICAOF 10.0.0.11 6379');
    expect(script).toContain("printf '%s' '10.0.0.11 6379' > /var/lib/corral/redis/redis-ms-2-6379.upstream");
    expect(diffOf('redis-replication', want, parse('redis-replication', `recorded=10.0.0.11 6379\n${info('10.0.0.11 6379')}`, want))).toEqual([]);
  });

  it('leaves a promoted replica alone while the inventory still says what was recorded', () => {
    const promoted = parse('redis-replication', `recorded=10.0.0.11 6379\n${info('master')}`, want);
    expect(promoted).toMatchObject({ role: 'master', recorded: '10.0.0.11 6379' });
    expect(diffOf('redis-replication', want, promoted)).toEqual([]);
  });

  it('makes a commit that changes replica_of happen, whatever the running role', () => {
    const primary = { ...want, upstream: '' };
    const replica = parse('redis-replication', `recorded=10.0.0.11 6379\n${info('10.0.0.11 6379')}`, primary);
    expect(diffOf('redis-replication', primary, replica)).toEqual([{ field: 'replica_of', from: 'replica of 10.0.0.11 6379', to: 'primary' }]);
    expect(kindOf('redis-replication').apply(primary, replica)).toContain('REPLICAOF NO ONE');
  });
});

describe('health', () => {
  const observations = (d: Desired, states: Record<string, Record<string, unknown>>): Observation[] => d.hosts.map((h) => ({ host: h.host, ok: true as const, facts: ASSUMED_FACTS, states: states[h.host] ?? {}, durationMs: 1 }));

  it('is Healthy with links up, and reports a failover as role drift without calling it down', async () => {
    const { desired, hosts } = await load(lab(''));
    const cluster = { module: 'redis' as const, name: 'redis-ms', members: hosts.filter((h) => h.str('redis_cluster') === 'redis-ms') };
    const master = { recorded: '', role: 'master', upstream: '', linkUp: false, replicas: [{ ip: '10.0.0.12', port: 6379, state: 'online' }] };
    const replica = { recorded: '10.0.0.11 6379', role: 'slave', upstream: '10.0.0.11 6379', linkUp: true, replicas: [] };
    const healthy = redis.health!({ cluster, hosts, observations: observations(desired, { '10.0.0.11': { 'redis-replication:redis-ms-1-6379': master, 'redis-replication:redis-ms-1-6380': master }, '10.0.0.12': { 'redis-replication:redis-ms-2-6379': replica } }) });
    expect(healthy).toEqual({
      status: 'Healthy',
      problems: [],
      members: [
        { name: 'redis-ms-1-6379', role: 'primary', state: 'running' },
        { name: 'redis-ms-1-6380', role: 'primary', state: 'running' },
        { name: 'redis-ms-2-6379', role: 'replica of 10.0.0.11 6379', state: 'link up' },
      ],
    });
    const failedOver = redis.health!({ cluster, hosts, observations: observations(desired, { '10.0.0.11': { 'redis-replication:redis-ms-1-6380': master }, '10.0.0.12': { 'redis-replication:redis-ms-2-6379': { ...replica, role: 'master', upstream: '' } } }) });
    expect(failedOver.status).toBe('Degraded');
    expect(failedOver.members?.[0]).toEqual({ name: 'redis-ms-1-6379', role: '', state: 'no answer' });
    expect(failedOver.problems).toEqual(['redis-ms-1-6379 does not answer', 'role drift: redis-ms-2-6379 is primary, the inventory has it replica of 10.0.0.11 6379; Corral does not undo a failover (commit a replica_of change to make it so)']);
  });
});

describe('native cluster', () => {
  const native = `
all:
  children:
    redis-test:
      hosts:
        10.0.0.11: { redis_node: 1, redis_instances: { 7001: {}, 7002: {} } }
        10.0.0.12: { redis_node: 2, redis_instances: { 7001: {}, 7002: {} } }
      vars: { redis_cluster: redis-test, redis_mode: cluster, redis_cluster_replicas: 1, redis_password: ${PASSWORD} }
`;
  const ADDRESSES = ['10.0.0.11:7001', '10.0.0.11:7002', '10.0.0.12:7001', '10.0.0.12:7002'];
  const info = (knownNodes: number) => ({ state: 'ok', slotsAssigned: 16384, slotsOk: 16384, knownNodes });

  it('waits after --cluster create for every node to know the others, and calls a node that knows too few Degraded', async () => {
    const { desired, hosts } = await load(native, 'redis-test');
    const want = find<RedisClusterWant>(desired, '10.0.0.11', 'redis-cluster');
    expect(want.nodes).toEqual(ADDRESSES);
    const script = kindOf('redis-cluster').apply(want, null);
    expect(spawnSync('bash', ['-n'], { input: script }).status).toBe(0);
    expect(script.indexOf('--cluster create')).toBeLessThan(script.indexOf('end=$((SECONDS + 30))'));
    for (const a of ADDRESSES) expect(script).toContain(`-h ${a.split(':')[0]} -p ${a.split(':')[1]} CLUSTER INFO 2>/dev/null | tr -d '\\r' | sed -n 's/^cluster_known_nodes://p')" -ge 4 ]`);
    const cluster = { module: 'redis' as const, name: 'redis-test', members: hosts.filter((h) => h.str('redis_cluster') === 'redis-test') };
    const seen = (nodes: Record<string, ReturnType<typeof info>>) =>
      redis.health!({ cluster, hosts, observations: [{ host: '10.0.0.11', ok: true as const, facts: ASSUMED_FACTS, states: { [redisClusterId('redis-test')]: { nodes, members: [] } }, durationMs: 1 }] });
    expect(seen(Object.fromEntries(ADDRESSES.map((a) => [a, info(4)])))).toMatchObject({ status: 'Healthy', problems: [] });
    const late = seen({ ...Object.fromEntries(ADDRESSES.map((a) => [a, info(4)])), '10.0.0.12:7002': info(3) });
    expect(late).toMatchObject({ status: 'Degraded', problems: ['10.0.0.12:7002 knows 3 of the 4 nodes the inventory lists: gossip has not reached it yet'] });
  });
});

describe('membership records and departed members', () => {
  const two = (second = true, vars = ''): string =>
    lab(vars, `        10.0.0.11: { redis_node: 1, redis_instances: { 6379: {} } }${second ? '\n        10.0.0.12: { redis_node: 2, redis_instances: { 6379: {} } }' : ''}`);
  const sentinels = (nodes: number[], vars = ''): string => `
all:
  children:
    redis-ms:
      hosts: { 10.0.0.11: { redis_node: 1, redis_instances: { 6379: {} } } }
      vars: { redis_cluster: redis-ms, redis_password: ${PASSWORD} }
    redis-meta:
      hosts:
${nodes.map((n) => `        10.0.0.${n}: { redis_node: ${n - 12}, redis_instances: { 26379: {} } }`).join('\n')}
      vars: { redis_cluster: redis-meta, redis_mode: sentinel, redis_sentinel_monitor: [ { name: redis-ms, host: 10.0.0.11, port: 6379, quorum: 2 } ]${vars} }
`;
  /** What the members probe prints: the record's lines, and what each Sentinel counts. */
  const recorded = (lines: string[], counted: Record<string, string[]> = {}): string =>
    ['record=1', ...lines.map((l) => `rec=${l}`), ...Object.entries(counted).flatMap(([k, v]) => v.map((a) => `c.${k}=${a}`))].join('\n');
  const observed = (states: Record<string, Record<string, unknown>>): Observation[] => Object.entries(states).map(([host, s]) => ({ host, ok: true as const, facts: ASSUMED_FACTS, states: s, durationMs: 1 }));
  const clusterOf = (hosts: HostView[], name: string) => ({ module: 'redis' as const, name, members: hosts.filter((h) => h.str('redis_cluster') === name) });
  const membersOn = (d: Desired, host: string): RedisMembersWant => find<RedisMembersWant>(d, host, 'redis-members');
  const recordOn = async (text: string, host: string, lines: string[], cluster = 'redis-ms', counted: Record<string, string[]> = {}) => {
    const w = membersOn((await load(text, cluster)).desired, host);
    return { [redisMembersId(cluster)]: parse('redis-members', recorded(lines, counted), w) };
  };
  const unit = (name: string, port: number): string => `unit.${name}=# corral redis: cluster=redis-ms host=127.0.0.1 port=${port}`;

  it('records the cluster on every member, written last, after the instances that left are stopped wherever they ran', async () => {
    const { desired } = await load(lab(''));
    for (const host of ['10.0.0.11', '10.0.0.12']) {
      expect(membersOn(desired, host)).toMatchObject({ cluster: 'redis-ms', lines: ['10.0.0.11 redis-ms-1-6379 redis-ms-1-6380', '10.0.0.12 redis-ms-2-6379'], safeguard: false, sentinels: [] });
      expect(on(desired, host).at(-1)).toMatchObject({ kind: 'redis-members', deps: ['redis-retire:redis-ms'] });
    }
    expect(desired.edges).toContainEqual({ before: { host: '10.0.0.12', resource: 'redis-retire:redis-ms' }, after: { host: '10.0.0.11', resource: 'redis-members:redis-ms' } });
    const w = membersOn(desired, '10.0.0.11');
    expect(diffOf('redis-members', w, null)).toEqual([{ field: 'members', from: null, to: '10.0.0.11 redis-ms-1-6379 redis-ms-1-6380; 10.0.0.12 redis-ms-2-6379' }]);
    expect(kindOf('redis-members').apply(w, null)).toContain("printf '%s\\n' '10.0.0.11 redis-ms-1-6379 redis-ms-1-6380' '10.0.0.12 redis-ms-2-6379' > /var/lib/corral/redis/redis-ms.members.corral-tmp");
    expect(diffOf('redis-members', w, parse('redis-members', recorded(w.lines), w))).toEqual([]);
  });

  it('finds a standalone node taken out from a remaining member\'s record and retires it: destructive, blocked by redis_safeguard', async () => {
    const before = two();
    const after = await load(two(false));
    const cluster = clusterOf(after.hosts, 'redis-ms');
    const records = { '10.0.0.11': await recordOn(before, '10.0.0.11', ['10.0.0.11 redis-ms-1-6379', '10.0.0.12 redis-ms-2-6379']) };
    const out = redis.departed!({ cluster, hosts: after.hosts, observations: observed(records) });
    expect(out.notes).toEqual([]);
    expect(out.departures.map((d) => `${d.address} as ${d.reachedAs.name}`)).toEqual(['10.0.0.12 as 10.0.0.11']);
    const retire = out.departures[0]!.resources[0]!;
    expect(retire).toMatchObject({ kind: 'redis-retire', want: { cluster: 'redis-ms', keep: [], record: '/var/lib/corral/redis/redis-ms.members', safeguard: false } });
    expect(out.edges).toEqual([{ before: { host: '10.0.0.12', resource: 'redis-retire:redis-ms' }, after: { host: '10.0.0.11', resource: 'redis-members:redis-ms' } }]);
    // On the departed node: its instance and its stale record go, in one destructive change that waits for nothing; the record of 10.0.0.11 waits for it.
    const have = parse('redis-retire', `${unit('redis-ms-2-6379', 6379)}\nrecord=1`, retire.want);
    const desired: Desired = { hosts: [...after.desired.hosts, { host: '10.0.0.12', target: { name: '10.0.0.12', address: '10.0.0.12', port: 22, user: 'root', connection: 'ssh' }, resources: [retire] }], edges: [...after.desired.edges, ...out.edges!] };
    const planned = plan(desired, observed({ ...records, '10.0.0.12': { 'redis-retire:redis-ms': have } }), 'r2');
    const removal = planned.plan.changes.find((c) => c.host === '10.0.0.12')!;
    expect(removal).toMatchObject({ resource: 'redis-retire:redis-ms', destructive: true });
    expect(removal.fields.map((f) => f.field)).toEqual(['instances', 'record']);
    const script = planned.scripts.get(removal.id)!;
    expect(script).toContain('systemctl disable --now redis-ms-2-6379.service');
    expect(script).toContain('rm -f /var/lib/corral/redis/redis-ms.members');
    const record = planned.plan.changes.find((c) => c.host === '10.0.0.11' && c.resource === 'redis-members:redis-ms')!;
    expect(record).toMatchObject({ destructive: false, after: [removal.id] });
    expect(record.fields).toEqual([{ field: 'members', from: '10.0.0.11 redis-ms-1-6379; 10.0.0.12 redis-ms-2-6379', to: '10.0.0.11 redis-ms-1-6379' }]);
    // Forgotten once it no longer answers: a retirement that did not stop it leaves it listed.
    expect(planned.scripts.get(record.id)).toContain("if answers 10.0.0.12 6379; then printf '%s\\n' '10.0.0.12 redis-ms-2-6379' >> /var/lib/corral/redis/redis-ms.members.corral-tmp; fi");
    // redis_safeguard: the same message as an instance taken out, and the record keeps the node while it is held.
    const guarded = redis.departed!({ cluster, hosts: (await load(two(false, ', redis_safeguard: true'))).hosts, observations: observed(records) });
    expect(parse('redis-retire', unit('redis-ms-2-6379', 6379), guarded.departures[0]!.resources[0]!.want)).toEqual({
      unsupported: 'redis_safeguard is on for redis-ms: redis-ms-2-6379 left the inventory but are not removed (set redis_safeguard: false to let Corral remove them)',
    });
    const kept = membersOn((await load(two(false, ', redis_safeguard: true'))).desired, '10.0.0.11');
    expect(diffOf('redis-members', kept, records['10.0.0.11'][redisMembersId('redis-ms')])).toEqual([]);
  });

  it('departs nothing while the records agree with the inventory; an instance taken out of a remaining node is its own retirement', async () => {
    const { hosts, desired } = await load(two());
    const cluster = clusterOf(hosts, 'redis-ms');
    const lines = ['10.0.0.11 redis-ms-1-6379 redis-ms-1-6380', '10.0.0.12 redis-ms-2-6379'];
    const records = { '10.0.0.11': await recordOn(two(), '10.0.0.11', lines), '10.0.0.12': await recordOn(two(), '10.0.0.12', lines) };
    expect(redis.departed!({ cluster, hosts, observations: observed(records) })).toEqual({ departures: [], notes: [], edges: [] });
    // 6380 left 10.0.0.11's redis_instances: that node's own retirement removes it, as before.
    expect(find(desired, '10.0.0.11', 'redis-retire')).toMatchObject({ keep: ['redis-ms-1-6379'] });
  });

  it('does not trust a record alone: a dropped node\'s own record is not read, and a node one remaining record lists and another leaves out is only named', async () => {
    const three = (vars = ''): string => lab(vars, ['21', '22', '23'].map((n, i) => `        10.0.0.${n}: { redis_node: ${i + 1}, redis_instances: { 6379: {} } }`).join('\n'));
    const { hosts } = await load(three());
    const cluster = clusterOf(hosts, 'redis-ms');
    const current = ['10.0.0.21 redis-ms-1-6379', '10.0.0.22 redis-ms-2-6379', '10.0.0.23 redis-ms-3-6379'];
    const record = (host: string, lines: string[]) => recordOn(three(), '10.0.0.21', lines).then((r) => ({ [host]: r }));
    const departed = (...records: Record<string, Record<string, unknown>>[]) => redis.departed!({ cluster, hosts, observations: observed(Object.assign({}, ...records) as Record<string, Record<string, unknown>>) });
    // 10.0.0.24 left: the remaining records agree on it. Its own record, stale, names 10.0.0.26 too: not read.
    const left = departed(await record('10.0.0.21', [...current, '10.0.0.24 redis-ms-4-6379']), await record('10.0.0.22', [...current, '10.0.0.24 redis-ms-4-6379']), await record('10.0.0.24', [...current, '10.0.0.24 redis-ms-4-6379', '10.0.0.26 redis-ms-6-6379']));
    expect(left.departures.map((d) => d.address)).toEqual(['10.0.0.24']);
    // Two remaining members disagree: the one record that names 10.0.0.24 may be stale (its node was away while the others moved on).
    const disagree = departed(await record('10.0.0.21', [...current, '10.0.0.24 redis-ms-4-6379']), await record('10.0.0.22', current));
    expect(disagree.departures).toEqual([]);
    expect(disagree.notes.map((n) => `${n.host} ${n.resource}: ${n.message}`)).toEqual([
      '10.0.0.21 redis-members:redis-ms: 10.0.0.24 is in the membership record of 10.0.0.21 but not in that of 10.0.0.22: it is not removed on a record the others contradict (if it still runs instances of redis-ms, add it back to the inventory, apply, and take it out again)',
    ]);
    // A member with no record yet (just added) contradicts nothing.
    expect(departed(await record('10.0.0.21', [...current, '10.0.0.24 redis-ms-4-6379'])).departures.map((d) => d.address)).toEqual(['10.0.0.24']);
  });

  it('retires a Sentinel taken out, then resets the remaining Sentinels one after the other, 30 s apart, once it no longer answers', async () => {
    const after = await load(sentinels([13, 14]), 'redis-meta');
    const cluster = clusterOf(after.hosts, 'redis-meta');
    const lines = ['10.0.0.13 redis-meta-1-26379', '10.0.0.14 redis-meta-2-26379', '10.0.0.15 redis-meta-3-26379'];
    const states = {
      '10.0.0.13': await recordOn(sentinels([13, 14]), '10.0.0.13', lines, 'redis-meta', { 'redis-meta-1-26379 redis-ms': ['10.0.0.14:26379', '10.0.0.15:26379'] }),
      '10.0.0.14': await recordOn(sentinels([13, 14]), '10.0.0.14', lines, 'redis-meta', { 'redis-meta-2-26379 redis-ms': ['10.0.0.13:26379', '10.0.0.15:26379'] }),
    };
    const out = redis.departed!({ cluster, hosts: after.hosts, observations: observed(states) });
    expect(out.departures.map((d) => `${d.address} ${d.resources.map((r) => r.kind).join()}`)).toEqual(['10.0.0.15 redis-retire']);
    expect(out.edges!.map((e) => `${e.before.host} ${e.before.resource} -> ${e.after.host} ${e.after.resource}`)).toEqual([
      '10.0.0.15 redis-retire:redis-meta -> 10.0.0.13 redis-members:redis-meta',
      '10.0.0.15 redis-retire:redis-meta -> 10.0.0.14 redis-members:redis-meta',
    ]);
    // The second node's Sentinels are reset after the first's.
    expect(after.desired.edges).toContainEqual({ before: { host: '10.0.0.13', resource: 'redis-members:redis-meta' }, after: { host: '10.0.0.14', resource: 'redis-members:redis-meta' } });
    const first = membersOn(after.desired, '10.0.0.13');
    const second = membersOn(after.desired, '10.0.0.14');
    expect(first).toMatchObject({ sentinels: [{ name: 'redis-meta-1-26379', host: '127.0.0.1', port: 26379 }], masters: ['redis-ms'], pause: false });
    expect(diffOf('redis-members', first, states['10.0.0.13'][redisMembersId('redis-meta')])).toEqual([
      { field: 'members', from: lines.join('; '), to: '10.0.0.13 redis-meta-1-26379; 10.0.0.14 redis-meta-2-26379' },
      { field: 'sentinels', from: '10.0.0.15:26379', to: 'forgotten: SENTINEL RESET redis-ms on redis-meta-1-26379, 30 s apart' },
    ]);
    const script = kindOf('redis-members').apply(first, states['10.0.0.13'][redisMembersId('redis-meta')]);
    expect(script).toContain("if answers 10.0.0.15 26379; then echo 'the Sentinel at 10.0.0.15:26379 left the inventory but still answers: not forgotten until it is stopped' >&2; exit 1; fi");
    expect(script).toContain('redis-cli --no-auth-warning -h 127.0.0.1 -p 26379 SENTINEL RESET redis-ms');
    expect(script).toContain('export REDISCLI_AUTH="$pw"');
    expect(script).not.toContain('sleep 30');
    expect(script.indexOf('answers 10.0.0.15')).toBeLessThan(script.indexOf('SENTINEL RESET'));
    expect(spawnSync('bash', ['-n'], { input: script }).status).toBe(0);
    expect(kindOf('redis-members').apply(second, states['10.0.0.14'][redisMembersId('redis-meta')])).toMatch(/sleep 30\n.*SENTINEL RESET redis-ms/);
    // Health: the remaining Sentinels still count it.
    const running = { running: true };
    const view = { ip: '10.0.0.11', port: 6379, quorum: 2, flags: ['master'], otherSentinels: 2, replicas: [], authHash: null };
    const health = redis.health!({
      cluster,
      hosts: after.hosts,
      observations: observed({
        '10.0.0.13': { ...states['10.0.0.13'], 'redis-instance:redis-meta-1-26379': running, 'redis-sentinel:redis-meta-1-26379': { masters: { 'redis-ms': view } } },
        '10.0.0.14': { ...states['10.0.0.14'], 'redis-instance:redis-meta-2-26379': running, 'redis-sentinel:redis-meta-2-26379': { masters: { 'redis-ms': { ...view, otherSentinels: 1 } } } },
      }),
    });
    expect(health).toMatchObject({ status: 'Degraded', problems: ['sentinel redis-meta-1-26379 counts 3 sentinels of redis-ms, the inventory has 2 (10.0.0.15:26379 not in it): a Sentinel that left is still counted'] });
    expect(health.members).toEqual([
      { name: 'redis-meta-1-26379', role: 'sentinel', state: 'running' },
      { name: 'redis-meta-2-26379', role: 'sentinel', state: 'running' },
    ]);
  });
});

describe('secrets', () => {
  it('never shows a password in a plan (text, JSON, Markdown), nor in a script other than the file writes that carry it', async () => {
    for (const cluster of ['redis-ms', 'redis-meta']) {
      const { desired } = await load(lab(''), cluster);
      const planned = plan(desired, desired.hosts.map((h) => ({ host: h.host, ok: true as const, facts: ASSUMED_FACTS, states: {}, durationMs: 1 })), 'r1');
      for (const text of [renderText(planned.plan), renderJson(planned.plan), renderMarkdown(planned.plan)]) {
        expect(text).not.toContain(PASSWORD);
        expect(text).not.toContain(MASTER_PASSWORD);
      }
      for (const [id, script] of planned.scripts) {
        const carriesFile = /\|file:|\|redis-instance:/.test(id);
        for (const secret of [PASSWORD, MASTER_PASSWORD]) {
          expect(script, id).not.toContain(secret);
          if (!carriesFile) expect(script, id).not.toContain(b64(secret).slice(0, 12));
        }
      }
      for (const h of desired.hosts) expect(observeScript(h.resources, 'n0nce')).not.toContain(PASSWORD);
    }
  });
});

describe('scripts sent to nodes', () => {
  const parses = (script: string): boolean => spawnSync('bash', ['-n'], { input: script }).status === 0;
  it('parse as bash for every resource of every mode', async () => {
    const native = `        10.0.0.11: { redis_node: 1, redis_instances: { 7001: {}, 7002: {} } }\n        10.0.0.12: { redis_node: 2, redis_instances: { 7001: {}, 7002: {} } }`;
    const loads = [await load(lab('')), await load(lab(''), 'redis-meta'), await load(lab(', redis_mode: cluster', native))];
    const broken: string[] = [];
    for (const { desired } of loads) {
      for (const h of desired.hosts) {
        if (!parses(observeScript(h.resources, 'n0nce'))) broken.push(`${h.host} observation`);
        for (const r of h.resources) if (!parses(kindOf(r.kind).apply(r.want, null))) broken.push(`${h.host} ${kindOf(r.kind).id(r.want)} apply`);
      }
    }
    expect(broken).toEqual([]);
  });
});
