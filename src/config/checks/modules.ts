/** Cross-field rules of ETCD, REDIS and MINIO, and the rule that binds every module: one cluster per host. */
import { problem, type Problem } from '../problems.js';
import { clustersOfModule, duplicates, isObject, type Check } from './context.js';

/** Identity variables that pick a host's cluster; a host's groups must agree on each. */
const IDENTITY = ['pg_cluster', 'etcd_cluster', 'redis_cluster', 'minio_cluster'];

export const oneClusterPerModule: Check = (ctx) => {
  const out: Problem[] = [];
  for (const host of ctx.hosts) {
    for (const key of IDENTITY) {
      const defs = host.definitions(key);
      const winner = defs[0];
      for (const other of defs.slice(1)) {
        if (winner && other.value !== winner.value) {
          out.push(problem('module/host-in-two-clusters', other.at, `${host.name} is put in ${key} "${String(other.value)}" here and "${String(winner.value)}" at ${winner.at.file}:${winner.at.line}:${winner.at.col}`, { related: winner.at }));
        }
      }
    }
  }
  return out;
};

export const etcdMembers: Check = (ctx) => {
  const out: Problem[] = [];
  for (const c of clustersOfModule(ctx, 'etcd')) {
    // Pigsty's playbooks address the etcd members by a group named after the cluster.
    const misnamed = new Set<string>();
    for (const m of c.members) {
      if (m.int('etcd_seq') === undefined) out.push(problem('etcd/missing-seq', m.origin('etcd_seq'), `etcd member ${m.name} has no integer etcd_seq`));
      if (!m.groups.includes(c.name)) for (const e of m.def.entries) misnamed.add(e.group);
    }
    for (const group of misnamed) {
      const def = ctx.inventory.groups.get(group)!;
      out.push(problem('etcd/group-name', def.at, `group "${group}" holds members of etcd cluster "${c.name}"; name the group "${c.name}"`));
    }
    for (const [dup, first] of duplicates(c.members, (m) => m.str('etcd_seq'))) {
      out.push(problem('etcd/duplicate-seq', dup.origin('etcd_seq'), `etcd_seq ${dup.str('etcd_seq')} is used by both ${first.name} and ${dup.name}`, { related: first.origin('etcd_seq') }));
    }
    if (c.members.length % 2 === 0) {
      out.push(problem('etcd/even-members', c.members[0]!.origin('etcd_seq'), `etcd cluster ${c.name} has ${c.members.length} members; an odd number (1, 3, 5) gives the same fault tolerance for fewer nodes`));
    }
  }
  return out;
};

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

export const minioMembers: Check = (ctx) => {
  const out: Problem[] = [];
  for (const c of clustersOfModule(ctx, 'minio')) {
    for (const [dup, first] of duplicates(c.members, (m) => m.str('minio_seq'))) {
      out.push(problem('minio/duplicate-seq', dup.origin('minio_seq'), `minio_seq ${dup.str('minio_seq')} is used by both ${first.name} and ${dup.name}`, { related: first.origin('minio_seq') }));
    }
  }
  return out;
};
