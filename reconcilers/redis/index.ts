/**
 * REDIS: the hosts with `redis_cluster` (and `redis_node`), each running the instances of its
 * `redis_instances` as Pigsty's redis role lays them out: `<redis_cluster>-<redis_node>-<port>`,
 * one systemd unit and one /etc/redis config per instance, data in redis_fs_main, on Debian's
 * redis packages (whose own redis-server and redis-sentinel services are stopped). Three modes:
 * standalone (primary-replica through `replica_of`), sentinel (Sentinels watching the masters of
 * redis_sentinel_monitor) and cluster (a native Redis Cluster, formed once).
 */
import { membership } from '../../src/config/clusters.js';
import type { HostView } from '../../src/config/hosts.js';
import type { CrossEdge, Note } from '../../src/engine/model.js';
import type { Resource } from '../../src/engine/resources/kind.js';
import { sha256 } from '../../src/engine/resources/file.js';
import { resourceList, stateReader, type Departure, type ModuleDesired, type Reconciler, type StateOf } from '../../src/engine/reconciler.js';
import { redisClusterId, type RedisClusterHave, type RedisClusterWant } from './kinds/cluster.js';
import { confPathOf } from './kinds/cli.js';
import { secretHash, type RedisInstanceWant } from './kinds/instance.js';
import { redisReplicationId, type RedisReplicationHave } from './kinds/replication.js';
import type { RedisRetireWant } from './kinds/retire.js';
import type { RedisSentinelWant } from './kinds/sentinel.js';
import { redisHealth } from './health.js';
import { bindOf, clientAddress, clusterNotes, fsMainOf, instancesOf, modeOf, passwordOf, redisSize, type InstanceSpec } from './params.js';
import { exporterDefaults, redisConf, redisUnit, sentinelConf, type InstanceFiles } from './templates.js';

/** Sentinel's master passwords on a sentinel node: `<master> <password>` lines, read there by the scripts. */
const MASTER_PASSWORDS = '/etc/redis/sentinel-masters.pass';
const EXPORTER_DEFAULTS = '/etc/default/prometheus-redis-exporter';

/** The cluster's members in redis_node order: the first observes what is the cluster's own (a native cluster, its notes). */
const membersOf = (hosts: readonly HostView[], cluster: string): HostView[] =>
  hosts.filter((h) => membership(h, 'redis') === cluster).sort((a, b) => (a.param('redis_node') ?? 0) - (b.param('redis_node') ?? 0) || (a.name < b.name ? -1 : 1));

const instanceId = (name: string): string => `redis-instance:${name}`;

function files(h: HostView, i: InstanceSpec): InstanceFiles {
  return { cluster: h.param('redis_cluster') ?? '', name: i.name, ip: h.name, port: i.port, client: clientAddress(h), bind: bindOf(h), dataDir: `${fsMainOf(h)}/${i.name}`, password: passwordOf(h) };
}

function instanceWant(h: HostView, i: InstanceSpec): RedisInstanceWant {
  const f = files(h, i);
  const sentinel = modeOf(h) === 'sentinel';
  const conf = sentinel
    ? sentinelConf(f)
    : redisConf({
        ...f,
        maxMemory: redisSize(h.param('redis_max_memory') ?? '1GB'),
        memPolicy: h.param('redis_mem_policy') ?? 'allkeys-lru',
        rdbSave: h.param('redis_rdb_save') ?? ['1200 1'],
        aof: h.param('redis_aof_enabled') === true,
        renameCommands: h.param('redis_rename_commands') ?? {},
        clusterMode: modeOf(h) === 'cluster',
      });
  return { name: i.name, port: i.port, host: f.client, sentinel, conf, role: i.upstream ? `replicaof ${i.upstream}` : '', unit: redisUnit(f, sentinel) };
}

function sentinelWant(h: HostView, i: InstanceSpec): RedisSentinelWant {
  const masters = (h.param('redis_sentinel_monitor') ?? []).map((m) => ({
    name: m.name,
    host: m.host,
    port: m.port ?? 6379,
    quorum: m.quorum ?? 1,
    remove: m.remove === true,
    passwordHash: m.password ? secretHash(`${i.name}:${m.name}`, m.password) : null,
  }));
  return { name: i.name, host: clientAddress(h), port: i.port, passwordsFile: MASTER_PASSWORDS, masters };
}

const retireWant = (cluster: string, anchor: HostView, keep: string[]): RedisRetireWant => ({
  cluster,
  keep,
  rmData: anchor.param('redis_rm_data') !== false,
  fsMain: fsMainOf(anchor),
  safeguard: anchor.param('redis_safeguard') === true,
});

/** Every resource of one node: packages, directories, its instances, the exporter, and the removal of instances it no longer has. */
function nodeResources(h: HostView, cluster: string, anchor: HostView): Resource[] {
  const r = resourceList('redis', cluster);
  const mode = modeOf(h);
  const exporter = h.param('redis_exporter_enabled') !== false;
  const pkg = r.add('packages', { name: 'redis', manager: 'apt', packages: ['redis-server', 'redis-sentinel', 'redis-tools', ...(exporter ? ['prometheus-redis-exporter'] : [])] });
  // Debian starts a redis-server on 6379 and a redis-sentinel on 26379 at install: they would hold the instances' ports.
  const defaults = ['redis-server', 'redis-sentinel'].map((name) => r.add('service', { name, enabled: false, running: false }, [pkg]));
  // The modes Debian's package gives these folders (a numeric chmod keeps a folder's setgid bit, so another mode would never settle).
  const dirs = [
    r.add('directory', { path: '/etc/redis', mode: 0o2770, owner: 'redis', group: 'redis' }, [pkg]),
    r.add('directory', { path: '/var/log/redis', mode: 0o2750, owner: 'redis', group: 'adm' }, [pkg]),
    r.add('directory', { path: fsMainOf(h), mode: 0o700, owner: 'redis', group: 'redis' }, [pkg]),
  ];
  const passwords =
    mode === 'sentinel'
      ? r.add(
          'file',
          { path: MASTER_PASSWORDS, content: (h.param('redis_sentinel_monitor') ?? []).filter((m) => m.password).map((m) => `${m.name} ${m.password}\n`).join(''), mode: 0o600, secret: true },
          [dirs[0]],
        )
      : undefined;
  for (const i of instancesOf(h)) {
    const data = r.add('directory', { path: `${fsMainOf(h)}/${i.name}`, mode: 0o700, owner: 'redis', group: 'redis' }, [dirs[2]]);
    const instance = r.add('redis-instance', instanceWant(h, i), [...defaults, ...dirs, data]);
    if (mode === 'standalone') r.add('redis-replication', { name: i.name, host: clientAddress(h), port: i.port, upstream: i.upstream }, [instance]);
    if (mode === 'sentinel') r.add('redis-sentinel', sentinelWant(h, i), [instance, passwords]);
  }
  if (exporter) {
    const password = passwordOf(h);
    const metricsPath = h.str('exporter_metrics_path') ?? '/metrics';
    const first = instancesOf(h)[0];
    const settings = { port: h.param('redis_exporter_port') ?? 9121, options: h.param('redis_exporter_options') ?? '', metricsPath, password, ...(first ? { first: `${clientAddress(h)}:${first.port}` } : {}) };
    const content = exporterDefaults(settings);
    const env = r.add('file', { path: EXPORTER_DEFAULTS, content, mode: 0o600, secret: password !== '' }, [pkg]);
    // Debian's package starts the exporter at install, before Corral's settings: its first load of them is a restart.
    const exporterService = r.add('service', { name: 'prometheus-redis-exporter', enabled: true, running: true }, [pkg]);
    r.add('reload', { name: 'prometheus-redis-exporter', sha256: sha256(content), action: 'restart', firstTime: 'restart' }, [exporterService, env]);
  }
  r.add('redis-retire', retireWant(cluster, anchor, instancesOf(h).map((i) => i.name)), [pkg]);
  return r.list;
}

/** Instance `<ip> <port>` of the inventory, as a host and its instance. */
function findInstance(members: readonly HostView[], address: string): { host: HostView; name: string } | undefined {
  const [ip, port] = address.split(' ');
  const host = members.find((h) => h.name === ip);
  const spec = host && instancesOf(host).find((i) => String(i.port) === port);
  return host && spec ? { host, name: spec.name } : undefined;
}

/** Order across nodes: an upstream runs before its replicas; a native cluster forms once every instance runs; a master runs before the Sentinels register it. */
function crossEdges(members: readonly HostView[], hosts: readonly HostView[], anchor: HostView): CrossEdge[] {
  const edges: CrossEdge[] = [];
  const redisHosts = hosts.filter((h) => membership(h, 'redis') !== undefined);
  for (const h of members) {
    for (const i of instancesOf(h)) {
      const up = i.upstream && findInstance(members, i.upstream);
      if (up) edges.push({ before: { host: up.host.name, resource: instanceId(up.name) }, after: { host: h.name, resource: instanceId(i.name) } });
      if (modeOf(h) === 'cluster' && h !== anchor) edges.push({ before: { host: h.name, resource: instanceId(i.name) }, after: { host: anchor.name, resource: redisClusterId(h.param('redis_cluster') ?? '') } });
      for (const m of modeOf(h) === 'sentinel' ? (h.param('redis_sentinel_monitor') ?? []) : []) {
        const master = findInstance(redisHosts, `${m.host} ${m.port ?? 6379}`);
        if (master) edges.push({ before: { host: master.host.name, resource: instanceId(master.name) }, after: { host: h.name, resource: `redis-sentinel:${i.name}` } });
      }
    }
  }
  return edges;
}

function clusterWant(cluster: string, members: readonly HostView[], anchor: HostView): RedisClusterWant {
  return {
    cluster,
    nodes: members.flatMap((h) => instancesOf(h).map((i) => `${h.name}:${i.port}`)),
    replicas: anchor.param('redis_cluster_replicas') ?? 1,
    confPath: confPathOf(instancesOf(anchor)[0]!.name),
  };
}

/** Addresses the cluster's own views (a primary's replicas, a native cluster's nodes) still list but the inventory no longer has as members. */
function departedAddresses(members: readonly HostView[], observations: StateOf): string[] {
  const named = new Set(members.map((h) => h.name));
  const seen = new Set<string>();
  for (const h of members) {
    for (const i of instancesOf(h)) for (const r of observations<RedisReplicationHave>(h.name, redisReplicationId(i.name))?.replicas ?? []) seen.add(r.ip);
  }
  const anchor = members[0];
  if (anchor) for (const m of observations<RedisClusterHave>(anchor.name, redisClusterId(anchor.param('redis_cluster') ?? ''))?.members ?? []) seen.add(m.address.split(':')[0]!);
  return [...seen].filter((ip) => ip && !named.has(ip));
}

export const redis: Reconciler = {
  module: 'redis',
  desired({ cluster, hosts, facts }) {
    const out: ModuleDesired = { resources: new Map(), edges: [], notes: [] };
    // The whole cluster, also under --limit: a native cluster forms from all its instances, and the first node speaks for the cluster.
    const members = membersOf(hosts, cluster.name);
    const anchor = members[0]!;
    out.notes.push(...clusterNotes(anchor, members));
    if (out.notes.some((n) => n.blocking)) return out;
    for (const h of cluster.members) {
      if (facts(h.name).packageManager !== 'apt') {
        out.notes.push({ host: h.name, resource: 'packages:redis', message: 'REDIS is built on Debian packages: no apt on this node, nothing is done' });
        continue;
      }
      const list = nodeResources(h, cluster.name, anchor);
      if (h === anchor && modeOf(h) === 'cluster') {
        const local = list.filter((x) => x.kind === 'redis-instance').map((x) => instanceId((x.want as RedisInstanceWant).name));
        list.push(...resourceListOf(cluster.name, 'redis-cluster', clusterWant(cluster.name, members, anchor), local));
      }
      out.resources.set(h.name, list);
    }
    out.edges.push(...crossEdges(members, hosts, anchor));
    return out;
  },
  health: ({ cluster, hosts, observations }) => redisHealth(membersOf(hosts, cluster.name), observations),
  departed({ cluster, hosts, observations }) {
    const members = membersOf(hosts, cluster.name);
    const anchor = members[0];
    const out: { departures: Departure[]; notes: Note[] } = { departures: [], notes: [] };
    if (!anchor) return out;
    for (const address of departedAddresses(members, stateReader(observations))) {
      out.departures.push({ address, reachedAs: hosts.find((h) => h.address === address || h.name === address) ?? anchor, resources: resourceListOf(cluster.name, 'redis-retire', retireWant(cluster.name, anchor, []), []) });
    }
    return out;
  },
};

function resourceListOf(cluster: string, kind: string, want: unknown, deps: string[]): Resource[] {
  const r = resourceList('redis', cluster);
  r.add(kind, want, deps);
  return r.list;
}
