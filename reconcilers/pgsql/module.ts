/** PGSQL, as the core knows it: members are the hosts with pg_cluster; it syncs once etcd (its DCS) and MinIO (its backups) have. */
import type { ModuleDescriptor } from '../../src/engine/modules.js';
import { serviceListeners } from '../../src/config/checks/context.js';
import { pgCitus, pgDatabaseOwner, pgHba, pgIdentity, pgPrimary, pgUpstream, pgVip } from './checks.js';
import { pgsql } from './index.js';
import { PGSQL_KINDS } from './kinds/index.js';

export const PGSQL: ModuleDescriptor = {
  module: 'pgsql',
  membership: { identity: 'pg_cluster', cluster: { variable: 'pg_cluster' } },
  after: ['etcd', 'minio'],
  identities: ['pg_cluster'],
  kinds: PGSQL_KINDS,
  checks: [pgIdentity, pgPrimary, pgCitus, pgUpstream, pgDatabaseOwner, pgVip, pgHba],
  ports: [
    ['pg_port', null],
    ['pgbouncer_port', 'pgbouncer_enabled'],
    ['patroni_port', 'patroni_enabled'],
    ['pg_exporter_port', 'pg_exporter_enabled'],
    ['pgbouncer_exporter_port', 'pgbouncer_exporter_enabled'],
    ['pgbackrest_exporter_port', 'pgbackrest_exporter_enabled'],
  ],
  listeners: (h) => [...serviceListeners(h, 'pg_default_services'), ...serviceListeners(h, 'pg_services')],
  needsAddress: true,
  reconciler: pgsql,
};
