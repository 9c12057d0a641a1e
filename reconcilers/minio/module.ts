/** MINIO, as the core knows it: members are the hosts with minio_seq. No reconciler yet: its clusters are Unmanaged. */
import type { ModuleDescriptor } from '../../src/engine/modules.js';
import { minioMembers } from './checks.js';

export const MINIO: ModuleDescriptor = {
  module: 'minio',
  membership: { identity: 'minio_seq', cluster: { variable: 'minio_cluster' } },
  after: ['etcd'],
  identities: ['minio_cluster'],
  kinds: [],
  checks: [minioMembers],
  ports: [
    ['minio_port', null],
    ['minio_admin_port', null],
  ],
  needsAddress: true,
  unmanaged: 'Corral has no MINIO module yet: nothing is installed or checked on these nodes',
};
