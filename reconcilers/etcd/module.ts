/** ETCD, as the core knows it: members are the hosts with etcd_seq, clusters named by etcd_cluster. */
import type { ModuleDescriptor } from '../../src/engine/modules.js';
import { etcdMembers } from './checks.js';

export const ETCD: ModuleDescriptor = {
  module: 'etcd',
  membership: { identity: 'etcd_seq', cluster: { variable: 'etcd_cluster' } },
  after: ['node'],
  identities: ['etcd_cluster'],
  checks: [etcdMembers],
  ports: [
    ['etcd_port', null],
    ['etcd_peer_port', null],
  ],
  needsAddress: true,
  reconciler: async () => (await import('./index.js')).etcd,
};
