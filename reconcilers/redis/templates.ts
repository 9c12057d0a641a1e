/**
 * The files REDIS writes, with the settings of Pigsty's redis role (its redis.conf,
 * redis-sentinel.conf, redis.svc and redis_exporter defaults), in Corral's own words. Only
 * settings: Redis and Sentinel rewrite these files, so comments would not last anyway.
 */
import { unitMarker } from './kinds/retire.js';

export interface InstanceFiles {
  cluster: string;
  /** `<redis_cluster>-<redis_node>-<port>`. */
  name: string;
  /** The inventory address of the node. */
  ip: string;
  port: number;
  /** Where redis-cli on the node reaches the instance. */
  client: string;
  /** `bind`: redis_bind_address, or the node's address when that is empty. */
  bind: string;
  dataDir: string;
  /** requirepass and masterauth; '' for none. */
  password: string;
}

export interface RedisSettings extends InstanceFiles {
  cluster: string;
  maxMemory: string;
  memPolicy: string;
  /** `save` lines (`<seconds> <changes>`); none turns snapshots off. */
  rdbSave: string[];
  aof: boolean;
  renameCommands: Record<string, string | undefined>;
  clusterMode: boolean;
}

const quoted = (s: string): string => JSON.stringify(s);

/** Lines every instance has: where it listens, logs and keeps its files. */
function common(f: InstanceFiles): string[] {
  return [
    `# managed by corral (REDIS): ${f.name} @ ${f.ip}:${f.port}`,
    `bind ${f.bind}`,
    'protected-mode no',
    `port ${f.port}`,
    'daemonize no',
    'supervised systemd',
    `pidfile /run/redis/${f.name}.pid`,
    `logfile /var/log/redis/${f.name}.log`,
    `dir ${f.dataDir}`,
    'acllog-max-len 128',
    ...(f.password ? [`requirepass ${f.password}`] : []),
  ];
}

/** /etc/redis/<name>.conf of a Redis instance, without its `replicaof` line (see RedisInstanceWant.role). */
export function redisConf(s: RedisSettings): string {
  return [
    ...common(s),
    'tcp-backlog 1024',
    'timeout 0',
    'tcp-keepalive 300',
    'loglevel notice',
    'databases 16',
    'always-show-logo no',
    'set-proc-title yes',
    `proc-title-template ${quoted(`{title} {listen-addr} {server-mode} ${s.name}`)}`,
    ...(s.rdbSave.length ? s.rdbSave.map((x) => `save ${x}`) : ['save ""']),
    'stop-writes-on-bgsave-error no',
    'rdbcompression yes',
    'rdbchecksum yes',
    `dbfilename ${s.name}.rdb`,
    'rdb-del-sync-files no',
    ...(s.password ? [`masterauth ${s.password}`] : []),
    'replica-serve-stale-data yes',
    'replica-read-only yes',
    'repl-diskless-sync no',
    'repl-diskless-sync-delay 5',
    'repl-diskless-load disabled',
    'repl-disable-tcp-nodelay no',
    'replica-priority 100',
    ...Object.entries(s.renameCommands).map(([cmd, to = '']) => `rename-command ${cmd} ${quoted(to)}`),
    'maxclients 6000',
    `maxmemory ${s.maxMemory}`,
    `maxmemory-policy ${s.memPolicy}`,
    'lazyfree-lazy-eviction no',
    'lazyfree-lazy-expire no',
    'lazyfree-lazy-server-del no',
    'replica-lazy-flush no',
    'lazyfree-lazy-user-del no',
    'lazyfree-lazy-user-flush no',
    'oom-score-adj no',
    'oom-score-adj-values 0 200 800',
    'disable-thp yes',
    `appendonly ${s.aof ? 'yes' : 'no'}`,
    `appendfilename ${quoted(`${s.name}.aof`)}`,
    'appendfsync everysec',
    'no-appendfsync-on-rewrite no',
    'auto-aof-rewrite-percentage 100',
    'auto-aof-rewrite-min-size 64mb',
    'aof-load-truncated yes',
    'aof-use-rdb-preamble yes',
    // Redis 7's name for lua-time-limit, which CONFIG REWRITE writes instead.
    'busy-reply-threshold 5000',
    `cluster-enabled ${s.clusterMode ? 'yes' : 'no'}`,
    // In the data directory, so instances of one node never share it.
    ...(s.clusterMode ? [`cluster-config-file nodes-${s.port}.conf`] : []),
    'cluster-migration-barrier 10',
    'cluster-require-full-coverage no',
    'slowlog-log-slower-than 10000',
    'slowlog-max-len 128',
    'latency-monitor-threshold 0',
    'notify-keyspace-events ""',
    // Redis 7's names too, for the older *-ziplist-* ones.
    'hash-max-listpack-entries 512',
    'hash-max-listpack-value 64',
    'list-max-listpack-size -2',
    'list-compress-depth 0',
    'set-max-intset-entries 512',
    'zset-max-listpack-entries 128',
    'zset-max-listpack-value 64',
    'hll-sparse-max-bytes 3000',
    'stream-node-max-bytes 4096',
    'stream-node-max-entries 100',
    'activerehashing yes',
    'client-output-buffer-limit normal 0 0 0',
    'client-output-buffer-limit replica 256mb 64mb 60',
    'client-output-buffer-limit pubsub 32mb 8mb 60',
    'hz 10',
    'dynamic-hz yes',
    'aof-rewrite-incremental-fsync yes',
    'rdb-save-incremental-fsync yes',
    'jemalloc-bg-thread yes',
    '',
  ].join('\n');
}

/** /etc/redis/<name>.conf of a Sentinel. Sentinel adds its own state (myid, masters, replicas) to this file. */
export function sentinelConf(f: InstanceFiles): string {
  return [...common(f), 'sentinel deny-scripts-reconfig yes', 'sentinel resolve-hostnames no', 'sentinel announce-hostnames no', ''].join('\n');
}

/** /etc/systemd/system/<name>.service: one unit per instance, as in Pigsty. */
export function redisUnit(f: InstanceFiles, sentinel: boolean): string {
  return [
    '# managed by corral (REDIS)',
    unitMarker(f.cluster, f.client, f.port),
    '[Unit]',
    `Description=Redis ${sentinel ? 'Sentinel ' : ''}instance ${f.name} @ ${f.ip}:${f.port}`,
    'Documentation=https://redis.io/docs/',
    'After=network-online.target',
    'Wants=network-online.target',
    `AssertPathExists=/etc/redis/${f.name}.conf`,
    '',
    '[Service]',
    'Type=notify',
    `ExecStart=/usr/bin/redis-server /etc/redis/${f.name}.conf${sentinel ? ' --sentinel' : ''} --supervised systemd`,
    `WorkingDirectory=${f.dataDir}`,
    // Shared by the node's instances, and kept when one stops: the others' pid files are in it.
    'RuntimeDirectory=redis',
    'RuntimeDirectoryPreserve=yes',
    'LimitNOFILE=10032',
    'TimeoutStartSec=60',
    'TimeoutStopSec=60',
    'UMask=0077',
    'User=redis',
    'Group=redis',
    'Restart=on-failure',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}

/**
 * /etc/default/prometheus-redis-exporter: Pigsty's exporter settings, as environment the exporter reads.
 * Debian's build dials only tcp:// addresses (its redis:// default fails with "unknown network redis"),
 * so its own /metrics is pointed at the node's first instance that way; other targets go as tcp://ip:port.
 */
export function exporterDefaults(o: { port: number; options: string; metricsPath: string; password: string; first?: string }): string {
  return [
    '# managed by corral (REDIS)',
    `ARGS=${quoted(o.options)}`,
    ...(o.first ? [`REDIS_ADDR=tcp://${o.first}`] : []),
    'REDIS_EXPORTER_CONNECTION_TIMEOUT=10s',
    `REDIS_EXPORTER_WEB_LISTEN_ADDRESS=0.0.0.0:${o.port}`,
    `REDIS_EXPORTER_WEB_TELEMETRY_PATH=${o.metricsPath}`,
    'REDIS_EXPORTER_INCL_SYSTEM_METRICS=true',
    ...(o.password ? [`REDIS_PASSWORD=${o.password}`] : []),
    '',
  ].join('\n');
}
