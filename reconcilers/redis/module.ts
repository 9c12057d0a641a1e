/** REDIS, as the core knows it: members are the hosts with redis_cluster; each instance is a port of redis_instances. */
import type { ModuleDescriptor } from '../../src/engine/modules.js';
import { addListener, isObject, type Listener } from '../../src/config/checks/context.js';
import { redisMembers } from './checks.js';

export const REDIS: ModuleDescriptor = {
  module: 'redis',
  membership: { identity: 'redis_cluster', cluster: { variable: 'redis_cluster' } },
  after: ['node'],
  identities: ['redis_cluster'],
  checks: [redisMembers],
  ports: [['redis_exporter_port', 'redis_exporter_enabled']],
  listeners: (h) => {
    const out: Listener[] = [];
    const instances = h.get('redis_instances');
    if (isObject(instances)) for (const port of Object.keys(instances)) addListener(out, port, `redis instance ${port}`, h.origin('redis_instances', port));
    return out;
  },
  needsAddress: true,
  reconciler: async () => (await import('./index.js')).redis,
};
