/** INFRA, as the core knows it: members are the hosts with infra_seq, one cluster `infra`. */
import type { ModuleDescriptor } from '../../src/engine/modules.js';
import { addListener, isObject, type Listener } from '../../src/config/checks/context.js';
import { infraMembers } from './checks.js';

export const INFRA: ModuleDescriptor = {
  module: 'infra',
  membership: { identity: 'infra_seq', cluster: { name: 'infra' } },
  // Pigsty's bootstrap: INFRA first, its nginx serving the repository's folder that NODE's APT sources
  // may fetch from (NODE comes after it, weakly: with no infra cluster its phase is empty). Target files
  // of clusters that do not exist yet are written early: their targets show down until the clusters come up.
  // INFRA's packages install from the APT sources its node already has (NODE has not written its own
  // yet; a bare lab node has the lab's).
  after: [],
  identities: [],
  checks: [infraMembers],
  ports: [
    ['nginx_port', 'nginx_enabled'],
    ['nginx_ssl_port', 'nginx_enabled'],
    ['nginx_exporter_port', 'nginx_exporter_enabled'],
    ['dns_port', 'dns_enabled'],
    ['vmetrics_port', 'vmetrics_enabled'],
    ['vlogs_port', 'vlogs_enabled'],
    ['vtraces_port', 'vtraces_enabled'],
    ['vmalert_port', 'vmalert_enabled'],
    ['blackbox_port', 'blackbox_enabled'],
    ['alertmanager_port', 'alertmanager_enabled'],
    ['grafana_port', 'grafana_enabled'],
  ],
  // The exporters of pg_exporters listen on the infra node, one port each.
  listeners: (h) => {
    const out: Listener[] = [];
    const entries = h.get('pg_exporters');
    if (isObject(entries)) for (const port of Object.keys(entries)) addListener(out, port, `pg_exporters ${port}`, h.origin('pg_exporters', port));
    return out;
  },
  needsAddress: true,
  reconciler: async () => (await import('./index.js')).infra,
};
