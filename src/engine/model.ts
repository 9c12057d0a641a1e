/** The data that flows through the engine: desired state in, observations, a plan, results out. */
import type { Target } from '../transport/types.js';
import { isUnsupported, type FieldChange, type Ref, type Resource } from './resources/kind.js';

/** What the engine knows of a node's OS, read in the same round trip as the resources. */
export interface Facts {
  osId: string;
  osVersion: string;
  codename: string;
  arch: string;
  packageManager: 'apt' | 'dnf' | 'unknown';
  /** MemTotal in MiB, rounded up (Pigsty's node_mem_mb). */
  memMiB: number;
  /** Processors the node lists (Pigsty's node_cpu). */
  cpus: number;
  /** Size in KiB of each mounted filesystem (tmpfs and the like left out), by mount point. */
  filesystems: Record<string, number>;
}

export interface HostDesired {
  host: string;
  target: Target;
  resources: Resource[];
}

/** A resource on one host that must be in place before a resource on another (etcd before Patroni). */
export interface CrossEdge {
  before: { host: string; resource: Ref };
  after: { host: string; resource: Ref };
}

export interface Desired {
  hosts: HostDesired[];
  edges: CrossEdge[];
}

export type Observation =
  | { host: string; ok: true; facts: Facts; states: Record<string, unknown>; durationMs: number }
  | { host: string; ok: false; error: string; errorKind: string };

/**
 * What a plan observed of resource `id` on `host`, as its kind parsed it: undefined when the host was
 * not observed (or the resource not probed there), null when it is absent or the node cannot take it.
 */
export function stateOf<H>(observations: readonly Observation[], host: string, id: Ref<H>): H | null | undefined {
  const o = observations.find((x) => x.host === host);
  if (!o?.ok || !Object.hasOwn(o.states, id)) return undefined;
  const state = o.states[id];
  return state === null || isUnsupported(state) ? null : (state as H);
}

export type Action = 'create' | 'update' | 'restart';

export interface Change {
  /** `host|resource`: unique in a plan. */
  id: string;
  host: string;
  resource: string;
  kind: string;
  module: string;
  cluster: string;
  action: Action;
  fields: FieldChange[];
  reason: string;
  restarts: boolean;
  destructive: boolean;
  /** The CLI flag that allows it besides --prune, when it is destructive. */
  consent?: string;
  /** Changes that must succeed first, on this host or others. */
  after: string[];
}

/** A resource the node cannot take: reported for it alone; the rest goes on. */
export interface Note {
  host: string;
  resource: string;
  message: string;
  /** The inventory asks for what cannot be had here (a PostgreSQL major no repository offers): nothing is applied until it is fixed. */
  blocking?: boolean;
}

export const blockingNotes = (plan: Plan): Note[] => plan.notes.filter((n) => n.blocking);

export interface Plan {
  revision: string;
  /** Of the revision, the desired state and everything observed: a saved plan applies only while it still matches. */
  fingerprint: string;
  changes: Change[];
  notes: Note[];
  unreachable: { host: string; message: string }[];
  hosts: string[];
}

export const changeId = (host: string, resource: string): string => `${host}|${resource}`;
