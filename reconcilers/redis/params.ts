/**
 * The inventory's REDIS parameters as the module reads them, and what it cannot honour: said once
 * per cluster, on its first node, so nothing is skipped without a word.
 */
import type { HostView } from '../../src/config/hosts.js';
import type { Note } from '../../src/engine/model.js';
import type { RedisInstance } from '../../src/types/inventory.gen.js';

export type RedisMode = 'standalone' | 'sentinel' | 'cluster';

export interface InstanceSpec {
  port: number;
  name: string;
  /** `<ip> <port>` of the upstream, '' for none. */
  upstream: string;
  options: RedisInstance;
}

export const modeOf = (h: HostView): RedisMode => h.param('redis_mode');
export const fsMainOf = (h: HostView): string => h.param('redis_fs_main');
export const passwordOf = (h: HostView): string => h.param('redis_password');
// The identity variables have no role default; every member has them (the redis/missing-identity check), so the fallbacks only satisfy the types.
export const clusterOf = (h: HostView): string => h.param('redis_cluster') ?? '';
export const nodeOf = (h: HostView): number => h.param('redis_node') ?? 0;
export const instanceName = (h: HostView, port: number): string => `${clusterOf(h)}-${nodeOf(h)}-${port}`;

/** `bind`: redis_bind_address, the node's own address when it is empty (as Pigsty). */
export const bindOf = (h: HostView): string => (h.param('redis_bind_address') === '' ? h.name : h.param('redis_bind_address'));

/** Where redis-cli on the node reaches its instances: loopback when they listen on it (or everywhere), else the first bound address. */
export function clientAddress(h: HostView): string {
  const words = bindOf(h).split(/\s+/);
  return words.some((w) => ['0.0.0.0', '*', '127.0.0.1'].includes(w)) ? '127.0.0.1' : words[0]!;
}

export function instancesOf(h: HostView): InstanceSpec[] {
  return Object.entries(h.param('redis_instances') ?? {}).map(([port, options = {}]) => ({
    port: Number(port),
    name: instanceName(h, Number(port)),
    upstream: modeOf(h) === 'standalone' && options.replica_of ? options.replica_of.trim().split(/\s+/).join(' ') : '',
    options,
  }));
}

/** redis_max_memory as Redis reads it: `1GB` is Redis's own unit syntax and stays; `1.5GiB` or `2 TB` become bytes. */
export function redisSize(size: string): string {
  const compact = size.replace(/\s+/g, '');
  const m = /^([0-9.]+)([KkMmGgTtPpEe]?)([Ii]?[Bb])?$/.exec(compact);
  if (/^\d+(k|kb|m|mb|g|gb)?$/i.test(compact) || !m) return compact;
  // As Redis reads `1g` and `1gb`: a bare letter is a power of ten, with B (or iB) a power of two.
  const power = m[2] ? 'kmgtpe'.indexOf(m[2].toLowerCase()) + 1 : 0;
  return String(Math.round(Number(m[1]) * (m[3] ? 1024 : 1000) ** power));
}

/** What Corral's own commands need: renaming them would leave the instances unmanageable. */
const NEEDED_COMMANDS = ['CONFIG', 'INFO', 'REPLICAOF', 'SLAVEOF', 'CLUSTER', 'PING', 'SHUTDOWN'];

/** A password or master name Corral can write unquoted to a Redis config and to redis-cli's stdin. */
const PLAIN_WORD = /^[^\s"'\\]+$/;
const MASTER_NAME = /^[A-Za-z0-9._-]+$/;

/** Once per cluster, on its first node: values not honoured here, and those that block the cluster (parameters never honoured are the schema's x-corral). */
export function clusterNotes(anchor: HostView, members: readonly HostView[]): Note[] {
  const out: Note[] = [];
  const note = (message: string, blocking = false): number => out.push({ host: anchor.name, resource: `redis:${clusterOf(anchor)}`, message, ...(blocking ? { blocking } : {}) });
  const mode = modeOf(anchor);
  if (anchor.param('redis_type') === 'valkey') note('redis_type: valkey is not built: Debian 12 ships redis only; set redis_type: redis', true);
  const password = passwordOf(anchor);
  if (password && !PLAIN_WORD.test(password)) note('redis_password holds a blank, a quote or a backslash, which Corral does not write into redis.conf; choose one without them', true);
  const renamed = Object.keys(anchor.param('redis_rename_commands')).filter((c) => NEEDED_COMMANDS.includes(c.toUpperCase()));
  if (renamed.length) note(`redis_rename_commands renames ${renamed.join(', ')}, which Corral needs to manage the instances; rename other commands only`, true);
  for (const m of anchor.param('redis_sentinel_monitor')) {
    if (!MASTER_NAME.test(m.name)) note(`redis_sentinel_monitor: master name ${JSON.stringify(m.name)} is not one Sentinel accepts (letters, digits, ".", "-", "_")`, true);
    if (m.password && !PLAIN_WORD.test(m.password)) note(`redis_sentinel_monitor: the password of ${m.name} holds a blank, a quote or a backslash; choose one without them`, true);
  }
  if (mode !== 'sentinel' && anchor.param('redis_sentinel_monitor').length) note(`redis_sentinel_monitor is read only by a sentinel cluster; ${anchor.param('redis_cluster')} is ${mode}`);
  if (mode !== 'cluster' && anchor.has('redis_cluster_replicas')) note(`redis_cluster_replicas is read only in redis_mode: cluster; ${anchor.param('redis_cluster')} is ${mode}`);
  if (mode === 'sentinel') {
    const redisOnly = ['redis_max_memory', 'redis_mem_policy', 'redis_rdb_save', 'redis_aof_enabled', 'redis_rename_commands'].filter((p) => anchor.has(p));
    if (redisOnly.length) note(`${redisOnly.join(', ')} configure Redis instances; the instances of a sentinel cluster are Sentinels, which do not read them`);
  }
  const specs = members.flatMap(instancesOf);
  if (mode !== 'standalone' && specs.some((s) => s.options.replica_of)) note(`replica_of is not honoured in redis_mode: ${mode}: ${mode === 'cluster' ? 'redis_cluster_replicas and --cluster create pair masters and replicas' : 'Sentinels do not replicate'}`);
  const unknown = [...new Set(specs.flatMap((s) => Object.keys(s.options).filter((k) => k !== 'replica_of')))];
  if (unknown.length) note(`redis_instances options ${unknown.join(', ')} are not read (by Pigsty either): only replica_of is`);
  return out;
}
