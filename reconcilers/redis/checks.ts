/** Cross-field rules of the REDIS module. */
import { problem, type Problem } from '../../src/config/problems.js';
import { clustersOfModule, isObject, type Check } from '../../src/config/checks/context.js';

export const redisMembers: Check = (ctx) => {
  const out: Problem[] = [];
  const defined = new Set<string>();
  const clusters = clustersOfModule(ctx, 'redis');
  for (const c of clusters) {
    for (const m of c.members) {
      const instances = m.get('redis_instances');
      if (m.get('redis_node') === undefined || !isObject(instances)) {
        out.push(problem('redis/missing-identity', m.origin('redis_cluster'), `redis node ${m.name} of cluster ${c.name} needs redis_node and redis_instances`));
        continue;
      }
      for (const port of Object.keys(instances)) defined.add(`${m.name} ${port}`);
    }
  }
  for (const c of clusters) {
    for (const m of c.members) {
      const instances = m.get('redis_instances');
      if (!isObject(instances)) continue;
      for (const [port, spec] of Object.entries(instances)) {
        if (!isObject(spec) || typeof spec.replica_of !== 'string') continue;
        const target = spec.replica_of.trim().split(/\s+/).join(' ');
        if (target === `${m.name} ${port}`) {
          out.push(problem('redis/bad-replica-of', m.origin('redis_instances', port, 'replica_of'), `redis ${m.name}:${port} is set to replicate from itself`));
        } else if (!defined.has(target)) {
          out.push(problem('redis/bad-replica-of', m.origin('redis_instances', port, 'replica_of'), `redis ${m.name}:${port} replicates from "${spec.replica_of}", which is not a redis instance of this inventory`));
        }
      }
    }
  }
  return out;
};
