/** MINIO, as the core knows it: members are the hosts with minio_seq, clusters named by minio_cluster. */
import type { ModuleDescriptor } from '../../src/engine/modules.js';
import { minioMembers } from './checks.js';

export const MINIO: ModuleDescriptor = {
  module: 'minio',
  membership: { identity: 'minio_seq', cluster: { variable: 'minio_cluster' } },
  after: ['node'],
  identities: ['minio_cluster'],
  checks: [minioMembers],
  ports: [
    ['minio_port', null],
    ['minio_admin_port', null],
  ],
  needsAddress: true,
  reconciler: async () => (await import('./index.js')).minio,
};
