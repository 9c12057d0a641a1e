/** Pigsty's pg_conf arithmetic, against numbers worked out by hand from its templates' formulas. */
import { describe, expect, it } from 'vitest';
import { tune, type NodeSpec, type TuningParams } from './tuning.js';

const GiB = 2 ** 30;
const params: TuningParams = {
  maxConn: 'auto',
  sharedBufferRatio: 0.25,
  libs: 'pg_stat_statements, auto_explain',
  version: 15,
  defaultServiceDest: 'pgbouncer',
  storageType: 'SSD',
  ioMethod: 'worker',
  debLike: true,
  osMajor: 12,
  mode: 'pgsql',
  primaryDb: 'postgres',
};
const small: NodeSpec = { memMiB: 4096, cpus: 2, fsBytes: 100 * GiB };
const medium: NodeSpec = { memMiB: 32768, cpus: 8, fsBytes: 1024 * GiB };
const large: NodeSpec = { memMiB: 262144, cpus: 64, fsBytes: 10240 * GiB };

// shared_buffers = ceil(mem * 0.25); effective_cache_size = mem - shared_buffers;
// work_mem = floor(shared_buffers / max_connections) within the template's bounds;
// the disk's twentieth t = ceil(fs / 20 GiB) within 1..100: min_wal t, max_wal 4t, slot 6t (GB).
describe('oltp.yml', () => {
  it('2 CPUs, 4 GiB, 100 GiB disk', () => {
    expect(tune('oltp.yml', small, params)).toMatchObject({
      max_connections: 500, // auto, pgbouncer in front
      max_locks_per_transaction: 500,
      max_prepared_transactions: 0,
      shared_buffers: '1024MB', // 4096 * 0.25
      maintenance_work_mem: '256MB', // 1024 * 0.25
      effective_cache_size: '3072MB',
      work_mem: '64MB', // floor(1024/500) = 2, floor 64
      max_worker_processes: 24, // max(2+8, 16) + 8
      max_parallel_workers: 2, // max(ceil(1), 2)
      max_parallel_workers_per_gather: 2, // floor(0.4) = 0 -> 2..8
      max_parallel_maintenance_workers: 2, // max(ceil(0.66), 2)
      min_wal_size: '5GB', // t = 5
      max_wal_size: '20GB',
      max_slot_wal_keep_size: '30GB',
      temp_file_limit: '5GB',
      parallel_setup_cost: 2000,
      idle_in_transaction_session_timeout: '10min',
    });
  });

  it('8 CPUs, 32 GiB, 1 TiB disk', () => {
    expect(tune('oltp.yml', medium, params)).toMatchObject({
      shared_buffers: '8192MB',
      maintenance_work_mem: '2048MB',
      effective_cache_size: '24576MB',
      work_mem: '64MB', // floor(8192/500) = 16
      max_worker_processes: 24, // max(16, 16) + 8
      max_parallel_workers: 4,
      max_parallel_workers_per_gather: 2, // floor(1.6) = 1 -> 2
      max_parallel_maintenance_workers: 3, // ceil(2.64)
      min_wal_size: '52GB', // t = ceil(1024/20) = 52
      max_wal_size: '208GB',
      max_slot_wal_keep_size: '312GB',
      temp_file_limit: '52GB',
    });
  });

  it('64 CPUs, 256 GiB, 10 TiB disk: the caps', () => {
    expect(tune('oltp.yml', large, params)).toMatchObject({
      shared_buffers: '65536MB',
      maintenance_work_mem: '16384MB',
      effective_cache_size: '196608MB',
      work_mem: '131MB', // floor(65536/500)
      max_worker_processes: 80, // 64 + 8 + 8
      max_parallel_workers: 32,
      max_parallel_workers_per_gather: 8, // floor(12.8) = 12, at most 8
      max_parallel_maintenance_workers: 22, // ceil(21.12)
      min_wal_size: '100GB', // t = ceil(512) capped at 100
      max_wal_size: '400GB',
      max_slot_wal_keep_size: '600GB',
      temp_file_limit: '100GB',
    });
  });

  it('pg_max_conn, the service destination, the ratio and citus change the sums; below 20 is auto', () => {
    expect(tune('oltp.yml', medium, { ...params, defaultServiceDest: 'postgres' })).toMatchObject({ max_connections: 1000, max_locks_per_transaction: 1000 });
    expect(tune('oltp.yml', medium, { ...params, maxConn: 100 })).toMatchObject({ max_connections: 100, work_mem: '81MB' }); // floor(8192/100)
    expect(tune('oltp.yml', medium, { ...params, maxConn: '10' })).toMatchObject({ max_connections: 500 });
    expect(tune('oltp.yml', medium, { ...params, sharedBufferRatio: 0.1 })).toMatchObject({ shared_buffers: '3277MB', effective_cache_size: '29491MB' }); // ceil(3276.8)
    expect(tune('oltp.yml', medium, { ...params, libs: 'citus, pg_stat_statements' })).toMatchObject({ max_prepared_transactions: 500, max_locks_per_transaction: 1000 });
  });

  it('parameters of later PostgreSQL majors only where they exist', () => {
    const v15 = tune('oltp.yml', medium, params);
    expect(v15).toMatchObject({ wal_compression: 'lz4' });
    expect(v15).not.toHaveProperty('sync_replication_slots');
    expect(v15).not.toHaveProperty('io_method');
    expect(tune('oltp.yml', medium, { ...params, version: 18 })).toMatchObject({ sync_replication_slots: 'on', io_method: 'worker', io_workers: 4, idle_replication_slot_timeout: '7d', log_connections: 'authorization' });
    expect(tune('oltp.yml', medium, { ...params, version: 18, ioMethod: 'auto' })).toMatchObject({ io_method: 'io_uring' });
    expect(tune('oltp.yml', medium, { ...params, version: 13 })).not.toHaveProperty('wal_compression');
  });
});

describe('olap.yml', () => {
  it('8 CPUs, 32 GiB: half of shared_buffers for maintenance, more workers, twice the locks', () => {
    const p = tune('olap.yml', medium, params);
    expect(p).toMatchObject({
      max_connections: 500,
      max_locks_per_transaction: 1000, // 2 * 500
      shared_buffers: '8192MB',
      maintenance_work_mem: '4096MB', // 8192 * 0.5
      work_mem: '64MB',
      max_worker_processes: 28, // max(8+12, 20) + 8
      max_parallel_workers: 7, // ceil(6.4)
      max_parallel_workers_per_gather: 4, // floor(4)
      max_parallel_maintenance_workers: 3,
      temp_file_limit: '208GB', // 4t
      max_slot_wal_keep_size: '312GB',
      vacuum_cost_limit: 10000,
      default_statistics_target: 1000,
      log_min_duration_statement: 1000,
      idle_in_transaction_session_timeout: 0,
    });
    expect(p).not.toHaveProperty('parallel_setup_cost');
  });

  it('64 CPUs, 256 GiB', () => {
    expect(tune('olap.yml', large, params)).toMatchObject({
      maintenance_work_mem: '32768MB',
      work_mem: '131MB',
      max_worker_processes: 84, // 64 + 12 + 8
      max_parallel_workers: 52, // ceil(51.2)
      max_parallel_workers_per_gather: 32,
      temp_file_limit: '400GB', // 4 * 100
    });
  });
});

describe('crit.yml', () => {
  it("OLTP's memory, no parallel query, WAL written at once, sessions audited", () => {
    const p = tune('crit.yml', medium, params);
    expect(p).toMatchObject({
      shared_buffers: '8192MB',
      work_mem: '64MB',
      max_worker_processes: 24,
      max_parallel_workers_per_gather: 0,
      max_slot_wal_keep_size: '312GB',
      wal_writer_delay: '10ms',
      wal_writer_flush_after: 0,
      vacuum_defer_cleanup_age: 500000, // PostgreSQL 15 and older
      log_connections: 'on',
      log_disconnections: 'on',
      track_activity_query_size: 32768,
      idle_in_transaction_session_timeout: '1min',
    });
    expect(tune('crit.yml', small, { ...params, version: 17 })).not.toHaveProperty('vacuum_defer_cleanup_age');
  });
});

describe('tiny.yml', () => {
  it('2 CPUs, 4 GiB: 250 connections, small work_mem, few workers', () => {
    const p = tune('tiny.yml', small, params);
    expect(p).toMatchObject({
      max_connections: 250,
      shared_buffers: '1024MB',
      maintenance_work_mem: '256MB',
      work_mem: '16MB', // floor(1024/250) = 4, floor 16
      max_worker_processes: 20, // max(2+4, 12) + 8
      max_parallel_workers: 1, // floor(1)
      max_parallel_workers_per_gather: 0,
      max_parallel_maintenance_workers: 1, // floor(0.66) = 0 -> 1
      max_slot_wal_keep_size: '30GB',
      autovacuum_max_workers: 2,
      'pg_stat_statements.max': 2500,
    });
    expect(p).not.toHaveProperty('autovacuum_vacuum_scale_factor');
  });

  it('8 CPUs, 32 GiB', () => {
    expect(tune('tiny.yml', medium, params)).toMatchObject({ work_mem: '32MB', max_worker_processes: 20, max_parallel_workers: 4, max_parallel_maintenance_workers: 2 });
  });
});

describe('the disk', () => {
  it('a disk under 20 GiB still keeps 1 GB of WAL and 6 GB for slots', () => {
    expect(tune('oltp.yml', { ...small, fsBytes: 8 * GiB }, params)).toMatchObject({ min_wal_size: '1GB', max_wal_size: '4GB', max_slot_wal_keep_size: '6GB' });
  });
});
