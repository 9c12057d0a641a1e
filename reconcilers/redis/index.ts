/**
 * REDIS: the hosts with `redis_cluster` (and `redis_node`), each running the instances of its
 * `redis_instances` as Pigsty's redis role lays them out: `<redis_cluster>-<redis_node>-<port>`,
 * one systemd unit and one /etc/redis config per instance, data in redis_fs_main, on Debian's
 * redis packages (whose own redis-server and redis-sentinel services are stopped). Three modes:
 * standalone (primary-replica through `replica_of`), sentinel (Sentinels watching the masters of
 * redis_sentinel_monitor) and cluster (a native Redis Cluster, formed once). Every member keeps a
 * record of the cluster's membership, from which a node the inventory dropped is found and retired.
 */
import { membership } from '../../src/config/clusters.js';
import type { HostView } from '../../src/config/hosts.js';
import { stateOf, type CrossEdge, type Note, type Observation } from '../../src/engine/model.js';
import type { Kind, Ref, Resource } from '../../src/engine/resources/kind.js';
import { directory, file, sha256 } from '../../src/engine/resources/file.js';
import { packages, packagesId } from '../../src/engine/resources/packages.js';
import { reload } from '../../src/engine/resources/reload.js';
import { service } from '../../src/engine/resources/service.js';
import { resourceList, type Departure, type ModuleDesired, type Reconciler } from '../../src/engine/reconciler.js';
import { redisCluster, redisClusterId, type RedisClusterWant } from './kinds/cluster.js';
import { confPathOf } from './kinds/cli.js';
import { redisInstance, redisInstanceId, secretHash, type RedisInstanceWant } from './kinds/instance.js';
import { REDIS_KINDS } from './kinds/index.js';
import { membersPathOf, redisMembers, redisMembersId, type RedisMembersWant } from './kinds/members.js';
import { redisReplication, redisReplicationId } from './kinds/replication.js';
import { redisRetire, redisRetireId, type RedisRetireWant } from './kinds/retire.js';
import { redisSentinel, redisSentinelId, type RedisSentinelWant } from './kinds/sentinel.js';
import { redisHealth } from './health.js';
import { bindOf, clientAddress, clusterNotes, clusterOf, fsMainOf, instancesOf, modeOf, nodeOf, passwordOf, redisSize, type InstanceSpec } from './params.js';
import { exporterDefaults, redisConf, redisUnit, sentinelConf, type InstanceFiles } from './templates.js';

/** Sentinel's master passwords on a sentinel node: `<master> <password>` lines, read there by the scripts. */
const MASTER_PASSWORDS = '/etc/redis/sentinel-masters.pass';
const EXPORTER_DEFAULTS = '/etc/default/prometheus-redis-exporter';

/** The cluster's members in redis_node order: the first observes what is the cluster's own (a native cluster, its notes). */
const membersOf = (hosts: readonly HostView[], cluster: string): HostView[] =>
  hosts.filter((h) => membership(h, 'redis') === cluster).sort((a, b) => nodeOf(a) - nodeOf(b) || (a.name < b.name ? -1 : 1));

function files(h: HostView, i: InstanceSpec): InstanceFiles {
  return { cluster: clusterOf(h), name: i.name, ip: h.name, port: i.port, client: clientAddress(h), bind: bindOf(h), dataDir: `${fsMainOf(h)}/${i.name}`, password: passwordOf(h) };
}

function instanceWant(h: HostView, i: InstanceSpec): RedisInstanceWant {
  const f = files(h, i);
  const sentinel = modeOf(h) === 'sentinel';
  const conf = sentinel
    ? sentinelConf(f)
    : redisConf({
        ...f,
        maxMemory: redisSize(h.param('redis_max_memory')),
        memPolicy: h.param('redis_mem_policy'),
        rdbSave: h.param('redis_rdb_save'),
        aof: h.param('redis_aof_enabled'),
        renameCommands: h.param('redis_rename_commands'),
        clusterMode: modeOf(h) === 'cluster',
      });
  return { name: i.name, port: i.port, host: f.client, sentinel, conf, role: i.upstream ? `replicaof ${i.upstream}` : '', unit: redisUnit(f, sentinel) };
}

function sentinelWant(h: HostView, i: InstanceSpec): RedisSentinelWant {
  const masters = h.param('redis_sentinel_monitor').map((m) => ({
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
  rmData: anchor.param('redis_rm_data'),
  fsMain: fsMainOf(anchor),
  safeguard: anchor.param('redis_safeguard'),
});

/** The cluster's membership recorded on one member; on a Sentinel node, its Sentinels and the masters they reset when one leaves. */
function membersWant(h: HostView, cluster: string, members: readonly HostView[], anchor: HostView): RedisMembersWant {
  const sentinel = modeOf(h) === 'sentinel';
  return {
    cluster,
    lines: members.map((m) => [m.name, ...instancesOf(m).map((i) => i.name)].join(' ')),
    safeguard: anchor.param('redis_safeguard'),
    sentinels: sentinel ? instancesOf(h).map((i) => ({ name: i.name, host: clientAddress(h), port: i.port })) : [],
    masters: sentinel ? h.param('redis_sentinel_monitor').filter((m) => !m.remove).map((m) => m.name) : [],
    pause: sentinel && members.indexOf(h) > 0,
  };
}

/**
 * Every resource of one node (packages, directories, its instances, the exporter, the removal of
 * instances it no longer has, the membership record), and its instances' ids.
 */
function nodeResources(h: HostView, cluster: string, members: readonly HostView[], anchor: HostView): { list: Resource[]; instances: Ref[] } {
  const r = resourceList('redis', cluster, REDIS_KINDS);
  const mode = modeOf(h);
  const exporter = h.param('redis_exporter_enabled');
  const pkg = r.add(packages, { name: 'redis', manager: 'apt', packages: ['redis-server', 'redis-sentinel', 'redis-tools', ...(exporter ? ['prometheus-redis-exporter'] : [])] });
  // Debian starts a redis-server on 6379 and a redis-sentinel on 26379 at install: they would hold the instances' ports.
  const defaults = ['redis-server', 'redis-sentinel'].map((name) => r.add(service, { name, enabled: false, running: false }, [pkg]));
  // The modes Debian's package gives these folders (a numeric chmod keeps a folder's setgid bit, so another mode would never settle).
  const dirs = [
    r.add(directory, { path: '/etc/redis', mode: 0o2770, owner: 'redis', group: 'redis' }, [pkg]),
    r.add(directory, { path: '/var/log/redis', mode: 0o2750, owner: 'redis', group: 'adm' }, [pkg]),
    r.add(directory, { path: fsMainOf(h), mode: 0o700, owner: 'redis', group: 'redis' }, [pkg]),
  ];
  const passwords =
    mode === 'sentinel'
      ? r.add(
          file,
          { path: MASTER_PASSWORDS, content: h.param('redis_sentinel_monitor').filter((m) => m.password).map((m) => `${m.name} ${m.password}\n`).join(''), mode: 0o600, secret: true },
          [dirs[0]],
        )
      : undefined;
  const instances: Ref[] = [];
  for (const i of instancesOf(h)) {
    const data = r.add(directory, { path: `${fsMainOf(h)}/${i.name}`, mode: 0o700, owner: 'redis', group: 'redis' }, [dirs[2]]);
    const instance = r.add(redisInstance, instanceWant(h, i), [...defaults, ...dirs, data]);
    instances.push(instance);
    if (mode === 'standalone') r.add(redisReplication, { name: i.name, host: clientAddress(h), port: i.port, upstream: i.upstream }, [instance]);
    if (mode === 'sentinel') r.add(redisSentinel, sentinelWant(h, i), [instance, passwords]);
  }
  if (exporter) {
    const password = passwordOf(h);
    const metricsPath = h.str('exporter_metrics_path');
    const first = instancesOf(h)[0];
    const settings = { port: h.param('redis_exporter_port'), options: h.param('redis_exporter_options'), metricsPath, password, ...(first ? { first: `${clientAddress(h)}:${first.port}` } : {}) };
    const content = exporterDefaults(settings);
    const env = r.add(file, { path: EXPORTER_DEFAULTS, content, mode: 0o600, secret: password !== '' }, [pkg]);
    // Debian's package starts the exporter at install, before Corral's settings: its first load of them is a restart.
    const exporterService = r.add(service, { name: 'prometheus-redis-exporter', enabled: true, running: true }, [pkg]);
    r.add(reload, { name: 'prometheus-redis-exporter', sha256: sha256(content), action: 'restart', firstTime: 'restart' }, [exporterService, env]);
  }
  const retire = r.add(redisRetire, retireWant(cluster, anchor, instancesOf(h).map((i) => i.name)), [pkg]);
  r.add(redisMembers, membersWant(h, cluster, members, anchor), [retire]);
  return { list: r.list, instances };
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
      if (up) edges.push({ before: { host: up.host.name, resource: redisInstanceId(up.name) }, after: { host: h.name, resource: redisInstanceId(i.name) } });
      if (modeOf(h) === 'cluster' && h !== anchor) edges.push({ before: { host: h.name, resource: redisInstanceId(i.name) }, after: { host: anchor.name, resource: redisClusterId(clusterOf(h)) } });
      for (const m of modeOf(h) === 'sentinel' ? h.param('redis_sentinel_monitor') : []) {
        const master = findInstance(redisHosts, `${m.host} ${m.port ?? 6379}`);
        if (master) edges.push({ before: { host: master.host.name, resource: redisInstanceId(master.name) }, after: { host: h.name, resource: redisSentinelId(i.name) } });
      }
    }
  }
  edges.push(...recordOrder(members, anchor));
  return edges;
}

/**
 * A record forgets an instance that left once it is stopped, wherever it ran; a Sentinel node's
 * Sentinels forget one then too, one node after the other (sentinel).
 */
function recordOrder(members: readonly HostView[], anchor: HostView): CrossEdge[] {
  const cluster = clusterOf(anchor);
  const at = (h: HostView, resource: Ref): CrossEdge['before'] => ({ host: h.name, resource });
  return members.flatMap((h, k) => [
    ...members.filter((o) => o !== h).map((o) => ({ before: at(o, redisRetireId(cluster)), after: at(h, redisMembersId(cluster)) })),
    ...(k > 0 && modeOf(anchor) === 'sentinel' ? [{ before: at(members[k - 1]!, redisMembersId(cluster)), after: at(h, redisMembersId(cluster)) }] : []),
  ]);
}

function clusterWant(cluster: string, members: readonly HostView[], anchor: HostView): RedisClusterWant {
  return {
    cluster,
    nodes: members.flatMap((h) => instancesOf(h).map((i) => `${h.name}:${i.port}`)),
    replicas: anchor.param('redis_cluster_replicas'),
    confPath: confPathOf(instancesOf(anchor)[0]!.name),
  };
}

/** The names and addresses of the inventory's members: a node by either is no departure. */
const namedOf = (members: readonly HostView[]): Set<string> => new Set(members.flatMap((h) => [h.name, h.address]));

/** Addresses the cluster's own views (a primary's replicas, a native cluster's nodes) still list but the inventory no longer has as members. */
function departedAddresses(members: readonly HostView[], observations: readonly Observation[]): string[] {
  const named = namedOf(members);
  const seen = new Set<string>();
  for (const h of members) {
    for (const i of instancesOf(h)) for (const r of stateOf(observations, h.name, redisReplicationId(i.name))?.replicas ?? []) seen.add(r.ip);
  }
  const anchor = members[0];
  if (anchor) for (const m of stateOf(observations, anchor.name, redisClusterId(clusterOf(anchor)))?.members ?? []) seen.add(m.address.split(':')[0]!);
  return [...seen].filter((ip) => ip && !named.has(ip));
}

/**
 * Nodes the members' membership records list but the inventory no longer has (a standalone node
 * no replica names, a Sentinel). Only the records of the inventory's members are read; a node one
 * of them lists and another's leaves out is not removed on that record's word (it may be stale: its
 * node was away while the others moved on), and is named in a note.
 */
function recordedDepartures(members: readonly HostView[], observations: readonly Observation[], cluster: string, known: readonly string[]): { addresses: string[]; notes: string[] } {
  const named = namedOf(members);
  const records = members.flatMap((h) => {
    const nodes = stateOf(observations, h.name, redisMembersId(cluster))?.nodes;
    return nodes ? [{ host: h.name, nodes }] : [];
  });
  const out: { addresses: string[]; notes: string[] } = { addresses: [], notes: [] };
  for (const ip of new Set(records.flatMap((r) => Object.keys(r.nodes)))) {
    if (named.has(ip) || known.includes(ip)) continue;
    const silent = records.filter((r) => r.nodes[ip] === undefined).map((r) => r.host);
    if (!silent.length) out.addresses.push(ip);
    else {
      const listing = records.filter((r) => r.nodes[ip] !== undefined).map((r) => r.host);
      out.notes.push(
        `${ip} is in the membership record of ${listing.join(', ')} but not in that of ${silent.join(', ')}: it is not removed on a record the others contradict ` +
          `(if it still runs instances of ${cluster}, add it back to the inventory, apply, and take it out again)`,
      );
    }
  }
  return out;
}

export const redis: Reconciler = {
  module: 'redis',
  kinds: REDIS_KINDS,
  desired({ cluster, hosts, facts }) {
    const out: ModuleDesired = { resources: new Map(), edges: [], notes: [] };
    // The whole cluster, also under --limit: a native cluster forms from all its instances, and the first node speaks for the cluster.
    const members = membersOf(hosts, cluster.name);
    const anchor = members[0]!;
    out.notes.push(...clusterNotes(anchor, members));
    if (out.notes.some((n) => n.blocking)) return out;
    for (const h of cluster.members) {
      if (facts(h.name).packageManager !== 'apt') {
        out.notes.push({ host: h.name, resource: packagesId('redis'), message: 'REDIS is built on Debian packages: no apt on this node, nothing is done' });
        continue;
      }
      const { list, instances } = nodeResources(h, cluster.name, members, anchor);
      if (h === anchor && modeOf(h) === 'cluster') {
        list.push(...single(cluster.name, redisCluster, clusterWant(cluster.name, members, anchor), instances));
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
    const out: { departures: Departure[]; notes: Note[]; edges: CrossEdge[] } = { departures: [], notes: [], edges: [] };
    if (!anchor) return out;
    const seen = departedAddresses(members, observations);
    const recorded = recordedDepartures(members, observations, cluster.name, seen);
    for (const message of recorded.notes) out.notes.push({ host: anchor.name, resource: redisMembersId(cluster.name), message });
    for (const address of [...seen, ...recorded.addresses]) {
      const retire: RedisRetireWant = { ...retireWant(cluster.name, anchor, []), record: membersPathOf(cluster.name) };
      out.departures.push({ address, reachedAs: hosts.find((h) => h.address === address || h.name === address) ?? anchor, resources: single(cluster.name, redisRetire, retire, []) });
      // The remaining members' records forget it, and their Sentinels stop counting it, only after its retirement.
      out.edges.push(...members.map((h) => ({ before: { host: address, resource: redisRetireId(cluster.name) }, after: { host: h.name, resource: redisMembersId(cluster.name) } })));
    }
    return out;
  },
};

/** One resource of the cluster, on its own list. */
function single<W>(cluster: string, kind: Kind<W, unknown, (typeof REDIS_KINDS)[number]['name']>, want: NoInfer<W>, deps: readonly Ref[]): Resource[] {
  const r = resourceList('redis', cluster, REDIS_KINDS);
  r.add(kind, want, deps);
  return r.list;
}
