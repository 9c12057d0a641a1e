/** INFRA, as the core knows it: members are the hosts with infra_seq, one cluster `infra`. No reconciler yet: Unmanaged. */
import type { ModuleDescriptor } from '../../src/engine/modules.js';

export const INFRA: ModuleDescriptor = {
  module: 'infra',
  membership: { identity: 'infra_seq', cluster: { name: 'infra' } },
  after: ['pgsql', 'redis'],
  identities: [],
  kinds: [],
  checks: [],
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
  unmanaged: 'Corral has no INFRA module yet: nothing is installed or checked on these nodes',
};
