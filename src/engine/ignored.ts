/**
 * Nothing skipped silently: each parameter's schema says, with `x-corral`, what Corral makes of it:
 * `"honoured"` (it does what Pigsty does), `"no-effect"` (nothing on a node depends on it),
 * `{ "partly": why }` (honoured for some values; the module notes the others, as only it can tell),
 * or `{ "ignored": instead }` (not honoured: `instead` says what Corral does). An ignored parameter
 * is named in the plan, once per cluster on its first member in the run, when a member's inventory
 * sets it to a value other than `as` (the value Corral's behaviour amounts to; without it, Pigsty's
 * default). Left at Pigsty's default, it says nothing: a switch whose default asks for what Corral
 * does not build is `partly`, and its module says so.
 */
import { isDeepStrictEqual } from 'node:util';
import type { Cluster } from '../config/clusters.js';
import { paramDefault, schemas } from '../config/schema.js';
import { descriptor, modules, type ModuleSet } from './modules.js';
import type { Note } from './model.js';

export type Honour = 'honoured' | 'no-effect' | { partly: string } | { ignored: string; as?: unknown };

/** What the schema says Corral makes of a parameter (undefined: not a parameter of the schema). */
export function honourOf(name: string): Honour | undefined {
  return schemas().params.get(name)?.schema['x-corral'] as Honour | undefined;
}

interface Ignored {
  name: string;
  instead: string;
  /** The value at which Corral's behaviour is Pigsty's. */
  as: unknown;
}

let cache: { modules: ModuleSet; byModule: Map<string, Ignored[]> } | undefined;

/**
 * The ignored parameters by the module whose clusters note them: the parameter's `x-module`, or
 * NODE (every host is one) for the connection variables and modules Corral has no clusters of.
 */
function ignoredByModule(): Map<string, Ignored[]> {
  if (cache?.modules === modules()) return cache.byModule;
  const byModule = new Map<string, Ignored[]>();
  for (const [name, { schema }] of schemas().params) {
    const honour = schema['x-corral'] as Honour;
    if (typeof honour !== 'object' || !('ignored' in honour)) continue;
    const own = typeof schema['x-module'] === 'string' ? schema['x-module'].toLowerCase() : 'node';
    const module = descriptor(own) ? own : 'node';
    const list = byModule.get(module) ?? [];
    list.push({ name, instead: honour.ignored, as: 'as' in honour ? honour.as : paramDefault(name) });
    byModule.set(module, list);
  }
  cache = { modules: modules(), byModule };
  return byModule;
}

const list = (items: readonly string[]): string => (items.length > 1 ? `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}` : (items[0] ?? ''));

/**
 * One note a cluster for the ignored parameters of its module that its members set otherwise than
 * `as`, on its first member: `<param>: <what Corral does instead>`, parameters that share what Corral
 * does instead named together. `cluster.members` are the members in the run.
 */
export function ignoredNotes(cluster: Cluster): Note[] {
  const anchor = cluster.members[0];
  if (!anchor) return [];
  const set = (ignoredByModule().get(cluster.module) ?? []).filter((p) => cluster.members.some((h) => h.has(p.name) && !isDeepStrictEqual(h.raw(p.name), p.as)));
  const names = new Map<string, string[]>();
  for (const p of set) names.set(p.instead, [...(names.get(p.instead) ?? []), p.name]);
  return [...names].map(([instead, params]) => ({ host: anchor.name, resource: `${cluster.module}:${cluster.name}`, message: `${list(params)}: ${instead}` }));
}
