/** NODE, as the core knows it: every host is a member, grouped by node_cluster. */
import type { ModuleDescriptor } from '../../src/engine/modules.js';
import { serviceListeners } from '../../src/config/checks/context.js';

export const NODE: ModuleDescriptor = {
  module: 'node',
  membership: { cluster: { variable: 'node_cluster', default: 'nodes' } },
  // After INFRA, whose nginx serves the repository NODE's APT sources may name (Pigsty's bootstrap order);
  // weakly: an inventory with no infra cluster has an empty phase before NODE's.
  after: ['infra'],
  identities: [],
  checks: [],
  ports: [
    ['node_exporter_port', 'node_exporter_enabled'],
    ['haproxy_exporter_port', 'haproxy_enabled'],
    ['vector_port', 'vector_enabled'],
    ['vip_exporter_port', 'vip_enabled'],
  ],
  listeners: (h) => (h.get('haproxy_enabled') !== false ? serviceListeners(h, 'haproxy_services') : []),
  reconciler: async () => (await import('./index.js')).node,
};
