/**
 * Module membership comes from identity variables, as in Pigsty, not from group names:
 * `pg_cluster` makes a PGSQL instance, `etcd_seq` an etcd member, `redis_cluster` a redis node,
 * `minio_seq` a MinIO node, `infra_seq` an INFRA node. Every host is a NODE, grouped by `node_cluster`.
 */
import type { HostView } from './hosts.js';

export const MODULES = ['node', 'etcd', 'pgsql', 'redis', 'minio', 'infra'] as const;
export type Module = (typeof MODULES)[number];

export interface Cluster {
  module: Module;
  name: string;
  members: HostView[];
}

/** The cluster of a module a host belongs to, if any. */
export function membership(host: HostView, module: Module): string | undefined {
  switch (module) {
    case 'node':
      return host.str('node_cluster') ?? 'nodes';
    case 'pgsql':
      return host.has('pg_cluster') ? host.str('pg_cluster') : undefined;
    case 'etcd':
      return host.has('etcd_seq') ? host.str('etcd_cluster') : undefined;
    case 'redis':
      return host.has('redis_cluster') ? host.str('redis_cluster') : undefined;
    case 'minio':
      return host.has('minio_seq') ? host.str('minio_cluster') : undefined;
    case 'infra':
      return host.has('infra_seq') ? 'infra' : undefined;
  }
}

export function clustersOf(hosts: readonly HostView[]): Cluster[] {
  const out = new Map<string, Cluster>();
  for (const module of MODULES) {
    for (const host of hosts) {
      const name = membership(host, module);
      if (name === undefined) continue;
      const key = `${module}\u0000${name}`;
      let c = out.get(key);
      if (!c) {
        c = { module, name, members: [] };
        out.set(key, c);
      }
      c.members.push(host);
    }
  }
  return [...out.values()];
}
