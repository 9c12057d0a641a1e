/**
 * Instances of a cluster that run on a node but the inventory no longer lists (a port taken out of
 * redis_instances, or the whole node out of the cluster), found by the marker in the units Corral
 * writes. Removing one stops and disables it and deletes its unit and config, and its data when
 * redis_rm_data: destructive, so held unless prune is allowed, and never while redis_safeguard is
 * on. A native cluster's instance leaves the cluster first (`--cluster del-node`), which Redis
 * allows only once it holds no slots. On a node that left the cluster, its membership record goes
 * too: were it added back, its stale record would name members long gone.
 */
import { sh } from '../../../src/engine/shell.js';
import { keyValues, refTo, type Kind, type Ref, type Unsupported } from '../../../src/engine/resources/kind.js';
import { asInstance, authFromFile, clusterCli, cli, confPathOf, section, unitPathOf, type RedisClient } from './cli.js';
import { parseClusterNode } from './cluster.js';

export interface RedisRetireWant {
  cluster: string;
  /** Instances the inventory lists on this node. */
  keep: string[];
  /** redis_rm_data: delete a removed instance's data directory. */
  rmData: boolean;
  fsMain: string;
  /** redis_safeguard. */
  safeguard: boolean;
  /** On a node that left the cluster: its membership record, deleted. */
  record?: string;
}

export interface RetiringInstance {
  name: string;
  host: string;
  port: number;
  /** Slots it holds in a native cluster; null when it is not in one (or not running). */
  slots: number | null;
}

export interface RedisRetireHave {
  /** Every instance of the cluster whose unit Corral wrote on this node. */
  instances: RetiringInstance[];
  /** The record of `want.record` is there. */
  record: boolean;
}

/** The line in each unit Corral writes that says whose instance it is. */
export const unitMarker = (cluster: string, host: string, port: number): string => `# corral redis: cluster=${cluster} host=${host} port=${port}`;
const MARKER = /^# corral redis: cluster=(\S+) host=(\S+) port=(\d+)$/;

const stale = (w: RedisRetireWant, h: RedisRetireHave | null): RetiringInstance[] => (h?.instances ?? []).filter((i) => !w.keep.includes(i.name));
const clientOf = (i: RetiringInstance): RedisClient => ({ host: i.host, port: i.port, confPath: confPathOf(i.name) });

export const redisRetireId = (cluster: string): Ref<RedisRetireHave> => refTo(redisRetire, cluster);

export const redisRetire: Kind<RedisRetireWant, RedisRetireHave, 'redis-retire'> = {
  name: 'redis-retire',
  id: (w) => redisRetireId(w.cluster),
  probe: (w) =>
    sh`for f in /etc/systemd/system/*.service; do m=$(grep -m1 ${`^# corral redis: cluster=${w.cluster} `} "$f" 2>/dev/null) || continue; n=$(basename "$f" .service); echo "unit.$n=$m"; ` +
    // The instance's own line of CLUSTER NODES says how many slots it holds.
    sh`h=$(echo "$m" | sed -n 's/.* host=\\([^ ]*\\) .*/\\1/p'); p=$(echo "$m" | sed -n 's/.* port=\\([0-9]*\\)$/\\1/p'); ` +
    `(${authFromFile('"/etc/redis/$n.conf"')}` +
    `timeout 10 redis-cli --no-auth-warning -h "$h" -p "$p" CLUSTER NODES 2>/dev/null | tr -d '\\r' | grep myself | sed "s/^/slots.$n=/"); done` +
    (w.record ? sh`\n[ ! -f ${w.record} ] || echo record=1` : ''),
  parse: (out, w): RedisRetireHave | Unsupported => {
    const kv = keyValues(out);
    const instances: RetiringInstance[] = [];
    for (const [key, marker] of kv) {
      const m = key.startsWith('unit.') ? MARKER.exec(marker) : null;
      if (!m || m[1] !== w.cluster) continue;
      const name = key.slice('unit.'.length);
      const node = section(out, `slots.${name}=`)[0];
      instances.push({ name, host: m[2]!, port: Number(m[3]), slots: node ? (parseClusterNode(node)?.slots ?? null) : null });
    }
    const have = { instances, record: kv.has('record') };
    const gone = stale(w, have);
    if (gone.length && w.safeguard) {
      return { unsupported: `redis_safeguard is on for ${w.cluster}: ${gone.map((i) => i.name).join(', ')} left the inventory but are not removed (set redis_safeguard: false to let Corral remove them)` };
    }
    const holding = gone.filter((i) => (i.slots ?? 0) > 0);
    if (holding.length) {
      return { unsupported: `${holding.map((i) => `${i.name} holds ${i.slots} hash slots`).join(', ')} of cluster ${w.cluster}: move them to other masters first (redis-cli --cluster reshard), then it is removed` };
    }
    return have;
  },
  diff: (w, h) => {
    const gone = stale(w, h);
    return [
      ...(gone.length ? [{ field: 'instances', from: gone.map((i) => i.name), to: `removed: stopped, unit and config deleted, ${w.rmData ? 'data deleted' : 'data kept'} (redis_rm_data)` }] : []),
      ...(w.record && h?.record ? [{ field: 'record', from: w.record, to: 'deleted: the node left the cluster' }] : []),
    ];
  },
  apply: (w, h) =>
    stale(w, h)
      .flatMap((i) => [
        ...(i.slots !== null ? [asInstance(clientOf(i), clusterCli(sh`del-node ${`${i.host}:${i.port}`} `) + `"$(${cli(clientOf(i), 'CLUSTER MYID')} | tr -d '\\r')"`)] : []),
        sh`systemctl disable --now ${`${i.name}.service`} || true`,
        sh`rm -f ${unitPathOf(i.name)} ${confPathOf(i.name)} ${`/var/lib/corral/redis/${i.name}.upstream`}`,
        ...(w.rmData ? [sh`rm -rf ${`${w.fsMain}/${i.name}`}`] : []),
      ])
      .concat('systemctl daemon-reload', w.record && h?.record ? [sh`rm -f ${w.record}`] : [])
      .join('\n'),
  effects: (w, h) => ({ destructive: stale(w, h).length > 0 }),
};
