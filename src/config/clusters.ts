/**
 * Module membership comes from identity variables, as in Pigsty, not from group names: each module
 * says which (`pg_cluster` makes a PGSQL instance, `etcd_seq` an etcd member, ...; every host is a
 * NODE, grouped by `node_cluster`). The modules are the ones handed to the core (src/engine/modules.ts).
 */
import type { HostView } from './hosts.js';
import { descriptor, modules, type Membership } from '../engine/modules.js';

/** A module's name, as its descriptor gives it: `pgsql`. */
export type Module = string;

export interface Cluster {
  module: Module;
  name: string;
  members: HostView[];
}

/** The cluster a host belongs to under a module's membership rule, if any. */
export function clusterUnder(rule: Membership, host: HostView): string | undefined {
  if (rule.identity && !host.has(rule.identity)) return undefined;
  return 'name' in rule.cluster ? rule.cluster.name : (host.str(rule.cluster.variable) ?? rule.cluster.default);
}

/** The cluster of a module a host belongs to, if any. */
export function membership(host: HostView, module: Module): string | undefined {
  const rule = descriptor(module)?.membership;
  return rule && clusterUnder(rule, host);
}

export function clustersOf(hosts: readonly HostView[]): Cluster[] {
  const out = new Map<string, Cluster>();
  for (const { module, membership: rule } of modules().descriptors) {
    for (const host of hosts) {
      const name = clusterUnder(rule, host);
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
