/**
 * Effective variables of a host, with Ansible's precedence: role defaults (the schema's defaults)
 * < all.vars < group vars (parents before children, then by group name) < host vars. Each value
 * knows where it was written, so a cross-field problem can point at the line that set it.
 */
import type { GroupDef, HostDef, Inventory, VarsBlock } from './load.js';
import { locate } from './source.js';
import type { Location } from './problems.js';
import { paramDefault, schemas } from './schema.js';
import { fillPlaceholders, placeholderValues } from './placeholders.js';
import type { DefaultedParam, IntegerParam, Vars } from '../types/inventory.gen.js';

/** A parameter as a host reads it: never undefined when its schema has a default (Pigsty's role default fills in). */
export type ParamValue<K extends keyof Vars> = K extends DefaultedParam ? Exclude<Vars[K], undefined> : Vars[K];
/** What str() reads: a string, never undefined, for a defaulted parameter whose values are strings or numbers. */
export type StrValue<K extends string> = K extends DefaultedParam ? (Exclude<Vars[K], undefined> extends string | number ? string : string | undefined) : string | undefined;
/** What int() reads: a number, never undefined, for a defaulted integer parameter. */
export type IntValue<K extends string> = K extends DefaultedParam & IntegerParam ? number : number | undefined;

export class HostView {
  /** Highest precedence first. */
  private readonly layers: VarsBlock[];
  private readonly cache = new Map<string, unknown>();
  private placeholders: Record<string, string | undefined> | undefined;

  constructor(
    readonly name: string,
    readonly def: HostDef,
    readonly groups: readonly string[],
    layers: VarsBlock[],
  ) {
    this.layers = layers;
  }

  /** The block that sets a variable, or undefined when it comes from the role defaults. */
  private source(key: string): VarsBlock | undefined {
    return this.layers.find((l) => Object.hasOwn(l.vars, key));
  }

  /** Every place that sets the variable for this host, highest precedence first. */
  definitions(key: string): { value: unknown; at: Location; block: VarsBlock }[] {
    return this.layers.filter((l) => Object.hasOwn(l.vars, key)).map((block) => ({ value: block.vars[key], at: locate(block.file, [...block.path, key]), block }));
  }

  /** Set anywhere in the inventory for this host (not only defaulted). */
  has(key: string): boolean {
    return this.source(key) !== undefined;
  }

  raw(key: string): unknown {
    const block = this.source(key);
    return block ? block.vars[key] : paramDefault(key);
  }

  /** The effective value, with Pigsty's placeholders filled in. */
  get(key: string): unknown {
    if (this.cache.has(key)) return this.cache.get(key);
    const raw = this.raw(key);
    this.placeholders ??= placeholderValues(this.name, (k) => this.raw(k));
    const value = fillPlaceholders(key, raw, this.placeholders);
    this.cache.set(key, value);
    return value;
  }

  /**
   * A parameter typed from the schema, its default included (never undefined when the schema has
   * one). Sound for inventories that validated: the schema already checked the value, so the
   * engine reads it as the generated type says.
   */
  param<K extends Extract<keyof Vars, string>>(key: K): ParamValue<K> {
    return this.get(key) as ParamValue<K>;
  }

  /** A string or number as a string: never undefined for a defaulted parameter whose schema allows only those. */
  str<K extends string>(key: K): StrValue<K> {
    const v = this.get(key);
    return (typeof v === 'string' || typeof v === 'number' ? String(v) : undefined) as StrValue<K>;
  }

  /** An integer (or a string of one): never undefined for a defaulted integer parameter. */
  int<K extends string>(key: K): IntValue<K> {
    const v = this.get(key);
    const n = typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v) : v;
    return (typeof n === 'number' && Number.isInteger(n) ? n : undefined) as IntValue<K>;
  }

  /** Where a variable was set (its value), or where the host is listed when it is a default. */
  origin(key: string, ...sub: (string | number)[]): Location {
    const block = this.source(key);
    return block ? locate(block.file, [...block.path, key, ...sub]) : this.def.at;
  }

  /**
   * Where to connect: ansible_host (an address or an SSH alias), else the inventory name.
   * The inventory name stays the host's identity, its IP in every config Corral renders, as in Pigsty.
   */
  get address(): string {
    return this.str('ansible_host') ?? this.name;
  }

  /** All effective variables: every schema default, then what the inventory sets. */
  all(): Record<string, unknown> {
    const keys = new Set<string>(schemas().params.keys());
    for (const l of this.layers) for (const k of Object.keys(l.vars)) keys.add(k);
    const out: Record<string, unknown> = {};
    for (const k of [...keys].sort()) {
      const v = this.get(k);
      if (v !== undefined) out[k] = v;
    }
    return out;
  }
}

function depths(groups: Map<string, GroupDef>): Map<string, number> {
  const depth = new Map<string, number>([['all', 0]]);
  const of = (name: string, seen: Set<string>): number => {
    if (depth.has(name)) return depth.get(name)!;
    if (seen.has(name)) return 1; // a cycle, reported by the loader
    seen.add(name);
    const parents = groups.get(name)?.parents ?? ['all'];
    const d = 1 + Math.max(...parents.map((p) => of(p, seen)));
    depth.set(name, d);
    return d;
  };
  for (const name of groups.keys()) of(name, new Set());
  return depth;
}

/** Every host's view, in inventory order. */
export function hostViews(inv: Inventory): HostView[] {
  const depth = depths(inv.groups);
  const order = (a: string, b: string): number => depth.get(a)! - depth.get(b)! || (a === b ? 0 : a < b ? -1 : 1);
  const ancestors = (group: string, into: Set<string>): Set<string> => {
    if (into.has(group)) return into;
    into.add(group);
    for (const p of inv.groups.get(group)?.parents ?? []) ancestors(p, into);
    return into;
  };
  const views: HostView[] = [];
  for (const def of inv.hosts.values()) {
    const all = new Set<string>();
    for (const e of def.entries) ancestors(e.group, all);
    all.add('all');
    const groups = [...all].sort(order);
    // Lowest precedence first, then reversed: group vars by depth and name, then host vars in the same group order.
    const low: VarsBlock[] = [];
    for (const g of groups) low.push(...(inv.groups.get(g)?.vars ?? []));
    const entries = [...def.entries].sort((a, b) => order(a.group, b.group));
    low.push(...entries.map((e) => e.block));
    views.push(new HostView(def.name, def, groups, low.reverse()));
  }
  return views;
}
