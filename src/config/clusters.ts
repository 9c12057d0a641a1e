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

/** What an inventory holds, counted one way for `corral validate`, `corral inventory` and the daemon. */
export interface FleetCounts {
  hosts: number;
  /** Every cluster of every module, NODE's `node_cluster`s included: the daemon's reconcile units. */
  clusters: number;
  /** Clusters per module, modules sorted by name. */
  byModule: Record<Module, number>;
}

export function fleetCounts(v: { hosts: readonly unknown[]; clusters: readonly Cluster[] }): FleetCounts {
  const byModule: Record<Module, number> = {};
  // Module names are lower-case ASCII: compared by code unit, as localeCompare's first call loads ICU's collation (~5 ms of `corral validate`).
  for (const c of [...v.clusters].sort((a, b) => (a.module < b.module ? -1 : a.module > b.module ? 1 : 0))) byModule[c.module] = (byModule[c.module] ?? 0) + 1;
  return { hosts: v.hosts.length, clusters: v.clusters.length, byModule };
}

/** `3 hosts, 4 clusters (etcd 1, node 1, pgsql 1, redis 1)`. */
export function describeFleet(c: FleetCounts): string {
  const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
  const modules = Object.entries(c.byModule).map(([m, n]) => `${m} ${n}`);
  return `${plural(c.hosts, 'host')}, ${plural(c.clusters, 'cluster')}${modules.length ? ` (${modules.join(', ')})` : ''}`;
}
