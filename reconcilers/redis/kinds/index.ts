/** The REDIS module's resource kinds, by name: registered with the engine from this one place. */
import { redisCluster } from './cluster.js';
import { redisInstance } from './instance.js';
import { redisMembers } from './members.js';
import { redisReplication } from './replication.js';
import { redisRetire } from './retire.js';
import { redisSentinel } from './sentinel.js';

export const REDIS_KINDS = {
  'redis-instance': redisInstance,
  'redis-replication': redisReplication,
  'redis-sentinel': redisSentinel,
  'redis-cluster': redisCluster,
  'redis-retire': redisRetire,
  'redis-members': redisMembers,
} as const;
