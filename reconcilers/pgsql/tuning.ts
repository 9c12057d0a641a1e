/**
 * Pigsty's pg_conf templates (oltp.yml, olap.yml, crit.yml, tiny.yml) as data: PostgreSQL's
 * parameters worked out from the node's memory, CPUs and the size of the filesystem its data is
 * on, as Pigsty's Patroni templates work them out. Pure: nothing here reads the inventory or a node.
 */
import type { DcsValue } from './kinds/patroni-dcs.js';

export const TEMPLATES = ['oltp.yml', 'olap.yml', 'crit.yml', 'tiny.yml'] as const;
export type TemplateName = (typeof TEMPLATES)[number];
export const isTemplate = (name: string): name is TemplateName => (TEMPLATES as readonly string[]).includes(name);

/** Pigsty's guess when the data filesystem cannot be measured: 40 GiB. */
export const GUESSED_FS_BYTES = 40 * 2 ** 30;

export interface NodeSpec {
  /** node_mem_mb */
  memMiB: number;
  /** node_cpu */
  cpus: number;
  /** The size of the filesystem pg_fs_main is on (node_fs_bytes). */
  fsBytes: number;
}

/** The inventory's say in the arithmetic. */
export interface TuningParams {
  /** pg_max_conn: `auto` or a number; below 20 is read as auto, as Pigsty does. */
  maxConn: number | string;
  /** pg_shared_buffer_ratio */
  sharedBufferRatio: number;
  /** pg_libs */
  libs: string;
  /** pg_version's major */
  version: number;
  /** pg_default_service_dest: pgbouncer halves OLTP's automatic max_connections. */
  defaultServiceDest: string;
  /** pg_storage_type: SSD adds the SSD cost settings. */
  storageType: string;
  /** pg_io_method; `auto` is io_uring on Debian/Ubuntu and EL10+, worker elsewhere. */
  ioMethod: string;
  debLike: boolean;
  osMajor: number;
  /** pg_mode: ivory has no file_copy_method. */
  mode: string;
  /** pg_primary_db: pg_cron's database. */
  primaryDb: string;
}

interface Shape {
  autoConn: (defaultServiceDest: string) => number;
  /** max_locks_per_transaction as a multiple of max_connections: without, with citus or timescaledb. */
  locks: [number, number];
  /** maintenance_work_mem as a share of shared_buffers */
  maintenance: number;
  /** work_mem's floor and ceiling in MB */
  workMem: [number, number];
  /** Before Pigsty's +8 on max_worker_processes. */
  workers: (cpu: number) => number;
  parallel: (cpu: number) => number;
  perGather: (cpu: number) => number;
  maintenanceWorkers: (cpu: number) => number;
  ioWorkers: (cpu: number) => number;
  /** temp_file_limit in twentieths of the disk (capped at 200 GB per twentieth). */
  tempFile: number;
  /** This template's own values over the common ones; null leaves a common one out. */
  own: (v: number) => Record<string, DcsValue | null>;
}

const clamp = (n: number, lo: number, hi: number): number => Math.min(Math.max(n, lo), hi);
const since = (v: number, major: number, p: Record<string, DcsValue | null>): Record<string, DcsValue | null> => (v >= major ? p : {});
/** OLTP's costs that keep plans away from parallel workers: OLAP and tiny go without them. */
const noParallelCosts = { parallel_setup_cost: null, parallel_tuple_cost: null, min_parallel_table_scan_size: null, min_parallel_index_scan_size: null };

const oltpCpu = {
  workers: (c: number) => Math.max(c + 8, 16),
  parallel: (c: number) => Math.max(Math.ceil(c * 0.5), 2),
  perGather: (c: number) => clamp(Math.floor(c * 0.2), 2, 8),
  maintenanceWorkers: (c: number) => Math.max(Math.ceil(c * 0.33), 2),
};

const SHAPES: Record<TemplateName, Shape> = {
  'oltp.yml': {
    autoConn: (dest) => (dest === 'pgbouncer' ? 500 : 1000),
    locks: [1, 2],
    maintenance: 0.25,
    workMem: [64, 1024],
    ...oltpCpu,
    ioWorkers: (c) => clamp(Math.ceil(c * 0.25), 4, 16),
    tempFile: 1,
    own: () => ({}),
  },
  'olap.yml': {
    autoConn: () => 500,
    locks: [2, 4],
    maintenance: 0.5,
    workMem: [64, 8192],
    workers: (c) => Math.max(c + 12, 20),
    parallel: (c) => Math.max(Math.ceil(c * 0.8), 2),
    perGather: (c) => Math.max(Math.floor(c * 0.5), 2),
    maintenanceWorkers: oltpCpu.maintenanceWorkers,
    ioWorkers: (c) => clamp(Math.ceil(c * 0.5), 4, 32),
    tempFile: 4,
    own: (v) => ({
      ...noParallelCosts,
      vacuum_cost_delay: '10ms',
      vacuum_cost_limit: 10000,
      enable_partitionwise_join: 'on',
      enable_partitionwise_aggregate: 'on',
      default_statistics_target: 1000,
      log_lock_failures: null,
      log_min_duration_statement: 1000,
      ...since(v, 18, { track_cost_delay_timing: 'on' }),
      autovacuum_vacuum_threshold: 1000,
      autovacuum_analyze_threshold: 500,
      idle_in_transaction_session_timeout: 0,
    }),
  },
  'crit.yml': {
    autoConn: (dest) => (dest === 'pgbouncer' ? 500 : 1000),
    locks: [1, 2],
    maintenance: 0.25,
    workMem: [64, 1024],
    ...oltpCpu,
    perGather: () => 0,
    ioWorkers: (c) => clamp(Math.ceil(c * 0.25), 4, 8),
    tempFile: 1,
    own: (v) => ({
      ...since(v, 18, { idle_replication_slot_timeout: '3d', track_cost_delay_timing: 'on' }),
      wal_writer_delay: '10ms',
      wal_writer_flush_after: 0,
      ...(v <= 15 ? { vacuum_defer_cleanup_age: 500000 } : {}),
      log_connections: v >= 18 ? 'receipt,authentication,authorization' : 'on',
      log_disconnections: 'on',
      track_activity_query_size: 32768,
      idle_in_transaction_session_timeout: '1min',
      'duckdb.allow_community_extensions': null,
    }),
  },
  'tiny.yml': {
    autoConn: () => 250,
    locks: [1, 2],
    maintenance: 0.25,
    workMem: [16, 256],
    workers: (c) => Math.max(c + 4, 12),
    parallel: (c) => Math.max(Math.floor(c * 0.5), 1),
    perGather: () => 0,
    maintenanceWorkers: (c) => Math.max(Math.floor(c * 0.33), 1),
    ioWorkers: () => 3,
    tempFile: 1,
    own: () => ({
      ...noParallelCosts,
      default_statistics_target: 200,
      log_lock_failures: null,
      log_connections: null,
      autovacuum_max_workers: 2,
      autovacuum_vacuum_scale_factor: null,
      autovacuum_analyze_scale_factor: null,
      'pg_stat_statements.max': 2500,
    }),
  },
};

/** What every template sets alike (OLTP's values); the templates' own values go over these. */
function common(p: TuningParams, ioMethod: string, ioWorkers: number, workers: number): Record<string, DcsValue | null> {
  const v = p.version;
  const has = (lib: string): boolean => p.libs.includes(lib);
  return {
    superuser_reserved_connections: 10,
    track_commit_timestamp: 'on',
    wal_level: 'logical',
    wal_log_hints: 'on',
    ...since(v, 15, { wal_compression: 'lz4' }),
    max_wal_senders: 50,
    max_replication_slots: 50,
    parallel_setup_cost: 2000,
    parallel_tuple_cost: 0.2,
    min_parallel_table_scan_size: '32MB',
    min_parallel_index_scan_size: '2MB',
    ...since(v, 13, { hash_mem_multiplier: 8 }),
    huge_pages: 'try',
    ...since(v, 18, { io_method: ioMethod }),
    ...(v === 18 ? { io_workers: ioWorkers } : {}),
    vacuum_cost_delay: '20ms',
    vacuum_cost_limit: 2000,
    bgwriter_delay: '10ms',
    bgwriter_lru_maxpages: 800,
    bgwriter_lru_multiplier: 5,
    ...since(v, 18, { idle_replication_slot_timeout: '7d' }),
    wal_buffers: '16MB',
    wal_writer_delay: '20ms',
    wal_writer_flush_after: '1MB',
    commit_delay: 20,
    commit_siblings: 10,
    checkpoint_timeout: '15min',
    checkpoint_completion_target: 0.95,
    ...since(v, 17, { sync_replication_slots: 'on' }),
    max_standby_archive_delay: '10min',
    max_standby_streaming_delay: '3min',
    wal_receiver_status_interval: '1s',
    hot_standby_feedback: 'on',
    wal_receiver_timeout: '60s',
    max_logical_replication_workers: 8,
    max_sync_workers_per_subscription: 6,
    ...(p.storageType === 'SSD' ? { random_page_cost: 1.1, effective_io_concurrency: 200, ...since(v, 13, { maintenance_io_concurrency: 100 }) } : {}),
    default_statistics_target: 400,
    log_timezone: 'UTC',
    log_file_mode: '0640',
    log_rotation_age: '1d',
    log_rotation_size: '0',
    log_checkpoints: 'on',
    log_lock_waits: 'on',
    ...since(v, 18, { log_lock_failures: 'on' }),
    log_temp_files: 1024,
    log_replication_commands: 'on',
    log_statement: 'ddl',
    log_min_duration_statement: 100,
    ...since(v, 18, { log_connections: 'authorization', ...(p.mode !== 'ivory' ? { file_copy_method: 'clone' } : {}) }),
    track_io_timing: 'on',
    track_functions: 'all',
    track_activity_query_size: 8192,
    log_autovacuum_min_duration: '1s',
    autovacuum_max_workers: 3,
    autovacuum_naptime: '1min',
    autovacuum_vacuum_threshold: 500,
    autovacuum_analyze_threshold: 250,
    autovacuum_vacuum_scale_factor: 0.08,
    autovacuum_analyze_scale_factor: 0.04,
    autovacuum_vacuum_cost_delay: -1,
    autovacuum_vacuum_cost_limit: -1,
    autovacuum_freeze_max_age: 1000000000,
    deadlock_timeout: '50ms',
    idle_in_transaction_session_timeout: '10min',
    'auto_explain.log_min_duration': '1s',
    'auto_explain.log_analyze': 'on',
    'auto_explain.log_verbose': 'on',
    'auto_explain.log_timing': 'on',
    'auto_explain.log_nested_statements': 'on',
    'pg_stat_statements.max': 10000,
    'pg_stat_statements.track': 'all',
    'pg_stat_statements.track_utility': 'off',
    'pg_stat_statements.track_planning': 'off',
    'pg_wait_sampling.profile_pid': 'false',
    'pg_wait_sampling.profile_queries': 'all',
    'pg_wait_sampling.history_size': 100000,
    ...(has('timescaledb') ? { 'timescaledb.telemetry_level': 'off', 'timescaledb.max_background_workers': workers } : {}),
    ...(has('pg_duckdb') ? { 'duckdb.allow_community_extensions': 'on' } : {}),
    'cron.database_name': p.primaryDb,
  };
}

/** Sizes in GB of the WAL and temp files: twentieths of the data disk, each at least 1 GB, at most 100. */
function diskShares(fsBytes: number, tempFile: number): Record<string, string> {
  const twentieth = clamp(Math.ceil(fsBytes / (20 * 2 ** 30)), 1, 100);
  const gb = (n: number, cap: number): string => `${Math.min(twentieth * n, cap)}GB`;
  return {
    min_wal_size: gb(1, 200),
    max_wal_size: gb(4, 2000),
    // A slot no one reads from may hold back this much WAL, no more: it is invalidated before the disk fills.
    max_slot_wal_keep_size: gb(6, 3000),
    temp_file_limit: gb(tempFile, tempFile * 200),
  };
}

/** The PostgreSQL parameters of `template` on `node`. */
export function tune(template: TemplateName, node: NodeSpec, p: TuningParams): Record<string, DcsValue> {
  const s = SHAPES[template];
  const asked = Number(p.maxConn);
  const maxConn = Number.isInteger(asked) && asked >= 20 ? asked : s.autoConn(p.defaultServiceDest);
  const extended = p.libs.includes('citus') || p.libs.includes('timescaledb');
  const shared = Math.ceil(node.memMiB * p.sharedBufferRatio);
  const workers = s.workers(node.cpus);
  const ioMethod = p.ioMethod !== 'auto' ? p.ioMethod : p.debLike || p.osMajor >= 10 ? 'io_uring' : 'worker';
  const merged: Record<string, DcsValue | null> = {
    max_connections: maxConn,
    max_locks_per_transaction: maxConn * s.locks[extended ? 1 : 0],
    max_prepared_transactions: p.libs.includes('citus') ? maxConn : 0,
    max_worker_processes: workers + 8,
    shared_buffers: `${shared}MB`,
    maintenance_work_mem: `${Math.ceil(shared * s.maintenance)}MB`,
    work_mem: `${clamp(Math.floor(shared / maxConn), ...s.workMem)}MB`,
    effective_cache_size: `${node.memMiB - shared}MB`,
    max_parallel_workers: s.parallel(node.cpus),
    max_parallel_maintenance_workers: s.maintenanceWorkers(node.cpus),
    max_parallel_workers_per_gather: s.perGather(node.cpus),
    ...diskShares(node.fsBytes, s.tempFile),
    ...common(p, ioMethod, s.ioWorkers(node.cpus), workers),
    ...s.own(p.version),
  };
  return Object.fromEntries(Object.entries(merged).filter((e): e is [string, DcsValue] => e[1] !== null));
}
