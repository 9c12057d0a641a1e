/** The REDIS module's resource kinds: registered with the engine from this one place (the reconciler's `kinds`, index.ts), and the only module kinds its builder takes. */
import { redisCluster } from './cluster.js';
import { redisInstance } from './instance.js';
import { redisMembers } from './members.js';
import { redisReplication } from './replication.js';
import { redisRetire } from './retire.js';
import { redisSentinel } from './sentinel.js';

export const REDIS_KINDS = [redisInstance, redisReplication, redisSentinel, redisCluster, redisRetire, redisMembers] as const;
