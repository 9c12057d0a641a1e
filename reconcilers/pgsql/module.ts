/** PGSQL, as the core knows it: members are the hosts with pg_cluster; it syncs once etcd (its DCS) and MinIO (its backups) have. */
import type { ModuleDescriptor } from '../../src/engine/modules.js';
import { addListener, serviceListeners, type Listener } from '../../src/config/checks/context.js';
import type { HostView } from '../../src/config/hosts.js';
import { pgCitus, pgDatabaseOwner, pgDelay, pgHba, pgIdentity, pgPgbackrest, pgPrimary, pgStandby, pgUpstream, pgVip } from './checks.js';

/** The pgbouncer exporter runs only beside a pgbouncer (`ports` takes one switch per port). */
function pgbouncerExporterListener(h: HostView): Listener[] {
  const out: Listener[] = [];
  if (h.get('pgbouncer_enabled') !== false && h.get('pgbouncer_exporter_enabled') !== false) addListener(out, h.get('pgbouncer_exporter_port'), 'pgbouncer_exporter_port', h.origin('pgbouncer_exporter_port'));
  return out;
}

export const PGSQL: ModuleDescriptor = {
  module: 'pgsql',
  membership: { identity: 'pg_cluster', cluster: { variable: 'pg_cluster' } },
  after: ['etcd', 'minio'],
  identities: ['pg_cluster'],
  checks: [pgIdentity, pgPrimary, pgCitus, pgUpstream, pgStandby, pgDelay, pgDatabaseOwner, pgVip, pgHba, pgPgbackrest],
  ports: [
    ['pg_port', null],
    ['pgbouncer_port', 'pgbouncer_enabled'],
    ['patroni_port', 'patroni_enabled'],
    ['pg_exporter_port', 'pg_exporter_enabled'],
    ['pgbackrest_exporter_port', 'pgbackrest_exporter_enabled'],
  ],
  listeners: (h) => [...serviceListeners(h, 'pg_default_services'), ...serviceListeners(h, 'pg_services'), ...pgbouncerExporterListener(h)],
  needsAddress: true,
  reconciler: async () => (await import('./index.js')).pgsql,
};
