/**
 * The modules Corral knows, as their folders under reconcilers/ describe them. The core never
 * imports a module: the entry point (bin/corral.js, the validation child process, the test setup) hands the
 * list over once with `useModules`, and config, engine and daemon read it from here. A descriptor
 * holds what validation needs; each module's reconciler (its resource kinds, templates and scripts)
 * is loaded by `loadReconcilers`, which planning awaits first: `corral validate` never loads them.
 */
import type { Check, Listener } from '../config/checks/context.js';
import type { HostView } from '../config/hosts.js';
import type { AnyKind } from './resources/index.js';
import type { Reconciler } from './reconciler.js';

/** How a host becomes a member of a module's cluster: Pigsty's identity variables, not group names. */
export interface Membership {
  /** The variable whose presence makes a member (`etcd_seq`); none: every host is a member (NODE). */
  identity?: string;
  /** The variable that names the cluster, with a default when it is unset, or a fixed name (INFRA's `infra`). */
  cluster: { variable: string; default?: string } | { name: string };
}

export interface ModuleDescriptor {
  /** Pigsty's module name, lower case: `etcd`. */
  module: string;
  membership: Membership;
  /** Modules whose clusters sync before this one's (the daemon's phases are derived from these, and a host's order of modules in one plan). */
  after: readonly string[];
  /** Variables that name a host's cluster of this module: a host's groups must agree on each. */
  identities: readonly string[];
  /** Cross-field rules of the module's variables. */
  checks: readonly Check[];
  /** Ports a member listens on: [port parameter, the switch that enables it (none: always on)]. */
  ports?: readonly (readonly [string, string | null])[];
  /** Ports that come from lists (services, instances), for the port-clash check. */
  listeners?(h: HostView): Listener[];
  /** Members must be named by an IPv4 address (their configs carry it). */
  needsAddress?: boolean;
  /**
   * Loads what builds the module's clusters (`() => import('./index.js')`), with its kinds; without
   * one its clusters are Unmanaged, for `unmanaged`'s reason.
   */
  reconciler?: () => Promise<Reconciler>;
  unmanaged?: string;
}

export interface ModuleSet {
  descriptors: readonly ModuleDescriptor[];
  /** Where the list is exported from (a module URL), for the validation child process to load it again. */
  source: string;
}

/** The modules' reconcilers once loaded, and every module's kinds by name. */
interface Loaded {
  reconcilers: ReadonlyMap<string, Reconciler>;
  kinds: ReadonlyMap<string, AnyKind>;
}

let installed: ModuleSet | undefined;
let loading: Promise<Loaded> | undefined;
let loaded: Loaded | undefined;

/** Hands the module list to the core; called once by each entry point, before anything else runs. */
export function useModules(descriptors: readonly ModuleDescriptor[], source: string): void {
  const names = new Set<string>();
  for (const d of descriptors) {
    if (names.has(d.module)) throw new Error(`module ${d.module} is described twice`);
    names.add(d.module);
  }
  for (const d of descriptors) for (const a of d.after) if (!names.has(a)) throw new Error(`module ${d.module} comes after ${a}, which is not a module`);
  installed = { descriptors, source };
  loading = undefined;
  loaded = undefined;
  phasesCache = undefined;
}

async function load(descriptors: readonly ModuleDescriptor[]): Promise<Loaded> {
  const reconcilers = new Map<string, Reconciler>();
  const kinds = new Map<string, AnyKind>();
  for (const [d, r] of await Promise.all(descriptors.map(async (d) => [d, await d.reconciler?.()] as const))) {
    if (!r) continue;
    if (r.module !== d.module) throw new Error(`module ${d.module} loads the reconciler of ${r.module}`);
    reconcilers.set(d.module, r);
    for (const kind of r.kinds) {
      if (kinds.has(kind.name)) throw new Error(`resource kind ${kind.name} is defined by two modules`);
      kinds.set(kind.name, kind);
    }
  }
  return { reconcilers, kinds };
}

/** Loads the modules' reconcilers and kinds, once per module list: whatever plans awaits it first (planRun does). */
export async function loadReconcilers(): Promise<void> {
  if (loaded) return;
  const set = modules();
  loading ??= load(set.descriptors);
  const result = await loading;
  if (installed === set) loaded = result;
}

function reconcilersLoaded(): Loaded {
  if (!loaded) throw new Error('the modules\' reconcilers are not loaded: await loadReconcilers() first');
  return loaded;
}

/** The module's reconciler; undefined for a module whose clusters are Unmanaged. */
export const reconcilerOf = (module: string): Reconciler | undefined => reconcilersLoaded().reconcilers.get(module);

/** Every module's resource kinds, by name. */
export const moduleKinds = (): ReadonlyMap<string, AnyKind> => reconcilersLoaded().kinds;

export function modules(): ModuleSet {
  if (!installed) throw new Error('no modules: the entry point must call useModules first');
  return installed;
}

export const descriptor = (module: string): ModuleDescriptor | undefined => modules().descriptors.find((d) => d.module === module);

let phasesCache: string[][] | undefined;

/** The modules in layers: each after every module it names in `after`; a layer's modules sync in parallel. */
export function phases(): string[][] {
  if (phasesCache) return phasesCache;
  const left = new Map(modules().descriptors.map((d) => [d.module, d.after]));
  const done = new Set<string>();
  const out: string[][] = [];
  while (left.size) {
    const layer = [...left].filter(([, after]) => after.every((a) => done.has(a))).map(([m]) => m);
    if (!layer.length) throw new Error(`modules wait for each other: ${[...left.keys()].join(', ')}`);
    for (const m of layer) {
      left.delete(m);
      done.add(m);
    }
    out.push(layer);
  }
  return (phasesCache = out);
}

/** Why a module's clusters are Unmanaged (it has no reconciler), or undefined when Corral builds them. */
export function unmanagedReason(module: string): string | undefined {
  const d = descriptor(module);
  if (d?.reconciler) return undefined;
  return d?.unmanaged ?? `Corral has no ${module.toUpperCase()} module: nothing is installed or checked`;
}
