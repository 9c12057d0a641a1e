/**
 * A native Redis Cluster (redis_mode: cluster), observed from one member: formed once with
 * `redis-cli --cluster create ... --cluster-replicas N` while no instance knows another or holds a
 * slot, never again after; an instance the inventory adds to a formed cluster joins with
 * `--cluster add-node` as a master without slots, and slots move only when an operator rebalances.
 */
import { sh } from '../../../src/engine/shell.js';
import { refTo, type Kind, type Ref } from '../../../src/engine/resources/kind.js';
import { asInstance, cli, clusterCli, infoFields, prefixed, section, type RedisClient } from './cli.js';

export const CLUSTER_SLOTS = 16384;

export interface RedisClusterWant {
  cluster: string;
  /** `ip:port` of every instance the inventory lists, in the inventory's order (which --cluster create pairs masters and replicas by). */
  nodes: string[];
  replicas: number;
  /** The config of a local instance, whose requirepass logs redis-cli in (the password is the cluster's). */
  confPath: string;
}

export interface ClusterNodeInfo {
  state: string;
  slotsAssigned: number;
  slotsOk: number;
  knownNodes: number;
}

export interface ClusterMember {
  id: string;
  /** `ip:port`. */
  address: string;
  flags: string[];
  slots: number;
}

export interface RedisClusterHave {
  /** CLUSTER INFO of each instance that answered. */
  nodes: Record<string, ClusterNodeInfo>;
  /** CLUSTER NODES as the first instance that answered lists them. */
  members: ClusterMember[];
}

/** Slots a CLUSTER NODES line holds: `0-5460`, `5461`, and migrating markers like `[5461->-id]`. */
export function slotCount(ranges: readonly string[]): number {
  return ranges.filter((r) => !r.startsWith('[')).reduce((n, r) => {
    const [from, to = from] = r.split('-').map(Number);
    return n + (to! - from! + 1);
  }, 0);
}

/** A line of CLUSTER NODES: `<id> <ip:port@bus[,hostname]> <flags> <master> <ping> <pong> <epoch> <link> <slot>...`. */
export function parseClusterNode(line: string): ClusterMember | null {
  const f = line.trim().split(/\s+/);
  if (f.length < 8) return null;
  return { id: f[0]!, address: f[1]!.split('@')[0]!, flags: f[2]!.split(','), slots: slotCount(f.slice(8)) };
}

/** Formed: an instance knows another or holds a slot. `--cluster create` on such a cluster would fail or, worse, half-succeed. */
export const isFormed = (h: RedisClusterHave | null): boolean => Object.values(h?.nodes ?? {}).some((n) => n.knownNodes > 1 || n.slotsAssigned > 0);

const missing = (w: RedisClusterWant, h: RedisClusterHave | null): string[] => w.nodes.filter((n) => !h?.members.some((m) => m.address === n));

const client = (w: RedisClusterWant, address: string): RedisClient => {
  const [host, port] = address.split(':');
  return { host: host!, port: Number(port), confPath: w.confPath };
};

/** `$(...)` printing the cluster_known_nodes of instance `address`, empty when it does not answer. */
const knownNodes = (w: RedisClusterWant, address: string): string => `$(${cli(client(w, address), 'CLUSTER INFO')} 2>/dev/null | tr -d '\\r' | sed -n 's/^cluster_known_nodes://p')`;

/**
 * Waits, 30 s at most, until every instance knows every other: `--cluster create` and `add-node`
 * return once the nodes agree on the slots, but the last MEETs still travel by gossip, and a check
 * made at once finds a node that knows one fewer. Not reached in time is not a failure here: health
 * reports the node that knows too few.
 */
const gossiped = (w: RedisClusterWant): string =>
  ['end=$((SECONDS + 30))', ...w.nodes.map((n) => `until [ "$SECONDS" -ge "$end" ] || [ "${knownNodes(w, n)}" -ge ${w.nodes.length} ] 2>/dev/null; do sleep 0.5; done`)].join('\n');

export const redisClusterId = (cluster: string): Ref<RedisClusterHave> => refTo(redisCluster, cluster);

export const redisCluster: Kind<RedisClusterWant, RedisClusterHave, 'redis-cluster'> = {
  name: 'redis-cluster',
  id: (w) => redisClusterId(w.cluster),
  probe: (w) =>
    [
      ...w.nodes.map((n) => prefixed(`n.${n}.`, asInstance(client(w, n), cli(client(w, n), 'CLUSTER INFO')))),
      // The first instance that answers speaks for the cluster's membership.
      asInstance(
        client(w, w.nodes[0]!),
        sh`for a in ${w.nodes}; do ` +
          `out=$(timeout 10 redis-cli --no-auth-warning -h "\${a%:*}" -p "\${a##*:}" CLUSTER NODES 2>/dev/null | tr -d '\\r'); ` +
          `case "$out" in ''|*ERR*|*NOAUTH*) continue ;; esac; printf '%s\\n' "$out" | sed 's/^/member=/'; break; done`,
      ),
    ].join('\n'),
  parse: (out, w) => {
    const nodes: Record<string, ClusterNodeInfo> = {};
    for (const n of w.nodes) {
      const info = infoFields(section(out, `n.${n}.`));
      if (!info.has('cluster_state')) continue;
      nodes[n] = { state: info.get('cluster_state')!, slotsAssigned: Number(info.get('cluster_slots_assigned') ?? 0), slotsOk: Number(info.get('cluster_slots_ok') ?? 0), knownNodes: Number(info.get('cluster_known_nodes') ?? 0) };
    }
    const members = section(out, 'member=').map(parseClusterNode).filter((m): m is ClusterMember => m !== null);
    return Object.keys(nodes).length ? { nodes, members } : null;
  },
  diff: (w, h) => {
    if (!isFormed(h)) return [{ field: 'cluster', from: 'not formed', to: `--cluster create: ${w.nodes.length} instances, ${w.replicas} replica${w.replicas === 1 ? '' : 's'} per master` }];
    const added = missing(w, h);
    const rebalance = `redis-cli --cluster rebalance ${h!.members[0]?.address ?? w.nodes[0]} --cluster-use-empty-masters`;
    return added.length ? [{ field: 'add-node', from: null, to: `${added.join(', ')} as masters without slots; to give them slots, rebalance by hand: ${rebalance}` }] : [];
  },
  apply: (w, h) => {
    const anchor = client(w, w.nodes[0]!);
    if (!isFormed(h)) {
      // Checked again at apply: never create over a cluster that formed since the plan.
      const guard = w.nodes.map((n) => `k=${knownNodes(w, n)}; if [ "\${k:-1}" -gt 1 ]; then echo ${sh`${n} already knows other nodes: not creating the cluster again`} >&2; exit 1; fi`);
      return asInstance(anchor, [...guard, clusterCli(sh`create ${w.nodes} --cluster-replicas ${w.replicas} --cluster-yes`), gossiped(w)].join('\n'));
    }
    const entry = h!.members[0]!.address;
    return asInstance(anchor, [...missing(w, h).map((n) => clusterCli(sh`add-node ${n} ${entry}`)), gossiped(w)].join('\n'));
  },
};
