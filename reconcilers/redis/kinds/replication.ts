/**
 * An instance's place in replication: the upstream `replica_of` names, or none for a primary. A
 * Sentinel failover changes roles on its own; Corral must tell that from a commit that changes
 * `replica_of`, so it keeps on the node the upstream it last acted on (as PGSQL keeps its intention
 * in Patroni's DCS). The inventory differing from that record is an intended change, made with
 * REPLICAOF; the running role differing from a record the inventory still matches is drift,
 * reported by the module's health and never undone.
 */
import { sh } from '../../../src/engine/shell.js';
import { keyValues, refTo, type Kind, type Ref } from '../../../src/engine/resources/kind.js';
import { asInstance, cli, confPathOf, infoFields, mustBeOk, prefixed, section, type RedisClient } from './cli.js';

export interface RedisReplicationWant {
  name: string;
  host: string;
  port: number;
  /** `<ip> <port>` of the upstream, '' for a primary. */
  upstream: string;
}

export interface ReplicaLink {
  ip: string;
  port: number;
  state: string;
}

export interface RedisReplicationHave {
  /** The upstream Corral last made this instance follow ('' a primary); null: none recorded yet. */
  recorded: string | null;
  /** The running role; null when the instance did not answer. */
  role: 'master' | 'slave' | null;
  /** What it replicates from, `<ip> <port>`, when a replica. */
  upstream: string;
  /** A replica's link to its upstream is up. */
  linkUp: boolean;
  /** The replicas a primary lists. */
  replicas: ReplicaLink[];
}

const STATE_DIR = '/var/lib/corral/redis';
const recordOf = (name: string): string => `${STATE_DIR}/${name}.upstream`;
const clientOf = (w: RedisReplicationWant): RedisClient => ({ host: w.host, port: w.port, confPath: confPathOf(w.name) });

export const describeUpstream = (upstream: string): string => (upstream ? `replica of ${upstream}` : 'primary');

/** `slave0:ip=10.0.0.2,port=6379,state=online,...` lines of INFO replication. */
function replicasOf(info: Map<string, string>): ReplicaLink[] {
  return [...info]
    .filter(([k]) => /^slave\d+$/.test(k))
    .map(([, v]) => new Map(v.split(',').map((kv) => kv.split('=') as [string, string])))
    .map((f) => ({ ip: f.get('ip') ?? '', port: Number(f.get('port') ?? 0), state: f.get('state') ?? '' }));
}

export const redisReplicationId = (name: string): Ref<RedisReplicationHave> => refTo(redisReplication, name);

export const redisReplication: Kind<RedisReplicationWant, RedisReplicationHave, 'redis-replication'> = {
  name: 'redis-replication',
  id: (w) => redisReplicationId(w.name),
  probe: (w) => [sh`[ -f ${recordOf(w.name)} ] && echo "recorded=$(cat ${recordOf(w.name)})"`, prefixed('info.', asInstance(clientOf(w), cli(clientOf(w), 'INFO replication')))].join('\n'),
  parse: (out) => {
    const kv = keyValues(out);
    const info = infoFields(section(out, 'info.'));
    const role = info.get('role');
    return {
      recorded: kv.get('recorded') ?? null,
      role: role === 'master' || role === 'slave' ? role : null,
      upstream: role === 'slave' ? `${info.get('master_host') ?? ''} ${info.get('master_port') ?? ''}` : '',
      linkUp: info.get('master_link_status') === 'up',
      replicas: replicasOf(info),
    };
  },
  diff: (w, h) => (h?.recorded === w.upstream ? [] : [{ field: 'replica_of', from: h?.recorded === null || !h ? null : describeUpstream(h.recorded), to: describeUpstream(w.upstream) }]),
  apply: (w) => {
    const conf = confPathOf(w.name);
    const tmp = `${conf}.corral-tmp`;
    const [host, port] = w.upstream.split(' ');
    return [
      asInstance(clientOf(w), mustBeOk(cli(clientOf(w), w.upstream ? sh`REPLICAOF ${host!} ${port!}` : 'REPLICAOF NO ONE'))),
      // The file says the same, so a restart keeps the role (Corral never runs CONFIG REWRITE).
      sh`grep -viE '^[[:space:]]*(replicaof|slaveof)[[:space:]]' ${conf} > ${tmp} || true`,
      ...(w.upstream ? [sh`printf '%s\\n' ${`replicaof ${w.upstream}`} >> ${tmp}`] : []),
      sh`chown redis:redis ${tmp} && chmod 0600 ${tmp} && mv -f ${tmp} ${conf}`,
      sh`mkdir -p ${STATE_DIR} && printf '%s' ${w.upstream} > ${recordOf(w.name)}`,
    ].join('\n');
  },
};
