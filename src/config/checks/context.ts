import type { Inventory, VarsBlock } from '../load.js';
import type { HostView } from '../hosts.js';
import type { Cluster, Module } from '../clusters.js';
import type { Location, Problem } from '../problems.js';

export interface CheckContext {
  inventory: Inventory;
  hosts: readonly HostView[];
  clusters: readonly Cluster[];
}

/** One cross-field rule: reads the whole inventory, returns every problem it finds. */
export type Check = (ctx: CheckContext) => Problem[];

/** Every mapping of variables as written: group vars, then the vars of each host under each group listing it. */
export function varsBlocks(inventory: Inventory): VarsBlock[] {
  const blocks: VarsBlock[] = [];
  for (const g of inventory.groups.values()) blocks.push(...g.vars);
  for (const h of inventory.hosts.values()) blocks.push(...h.entries.map((e) => e.block));
  return blocks;
}

export const clustersOfModule = (ctx: CheckContext, module: Module): Cluster[] => ctx.clusters.filter((c) => c.module === module);

export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export const listOf = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** The same integer-valued identity twice in one cluster: the second and later ones are reported. */
export function duplicates<T>(items: readonly T[], keyOf: (item: T) => string | undefined): [T, T][] {
  const first = new Map<string, T>();
  const out: [T, T][] = [];
  for (const item of items) {
    const key = keyOf(item);
    if (key === undefined) continue;
    const seen = first.get(key);
    if (seen === undefined) first.set(key, item);
    else out.push([item, seen]);
  }
  return out;
}

/** A port a host listens on, and which parameter or service takes it. */
export interface Listener {
  port: number;
  what: string;
  at: Location;
}

/** Adds a listener for a port parameter's value, when it is a whole number (or a string of digits). */
export function addListener(out: Listener[], port: unknown, what: string, at: Location): void {
  const n = typeof port === 'string' && /^\d+$/.test(port) ? Number(port) : port;
  if (typeof n === 'number' && Number.isInteger(n)) out.push({ port: n, what, at });
}

/** Listeners for the services of a list parameter (`pg_services`, `haproxy_services`): each entry's `port`. */
export function serviceListeners(h: HostView, key: string): Listener[] {
  const out: Listener[] = [];
  listOf(h.get(key)).forEach((s, i) => {
    if (isObject(s)) addListener(out, s.port, `${key}[${i}] (${String(s.name)})`, h.origin(key, i, 'port'));
  });
  return out;
}
