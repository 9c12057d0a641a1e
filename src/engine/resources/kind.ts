/**
 * A resource kind is a small object: how to probe the node (a shell fragment), how to parse what
 * the probe printed, how to compare desired with observed, and the shell that makes them equal.
 * parse, diff and apply are pure; an empty diff means in sync.
 */
export interface FieldChange {
  field: string;
  from: unknown;
  to: unknown;
  /** Shown as "(redacted)" in every rendering. */
  secret?: boolean;
  /** Whole text before and after, for a unified diff (files). */
  text?: { before: string; after: string };
}

/** The node cannot take this resource (a read-only /proc/sys in a container, say): reported, never retried. */
export interface Unsupported {
  unsupported: string;
  /** The inventory asks for what this node cannot have (an extension no package provides): the plan's note blocks applying, as a module's blocking note does. */
  blocking?: boolean;
}

export const isUnsupported = (h: unknown): h is Unsupported => typeof h === 'object' && h !== null && 'unsupported' in h;

export interface Effects {
  /** The change restarts a service. */
  restarts?: boolean;
  /** The change removes something (a file, a member, data). */
  destructive?: boolean;
  /** A CLI flag that allows this destructive change besides --prune (`pitr`: --pitr). */
  consent?: string;
}

declare const refBrand: unique symbol;

/**
 * A resource's id (`file:/etc/chrony/chrony.conf`), typed by the state observing it yields: what
 * the builder returns, deps and cross edges take, and stateOf reads. Only a kind's file makes one
 * (its `id`, or a ref function exported next to it); modules use those, never a written string.
 */
export type Ref<H = unknown> = string & { readonly [refBrand]: H };

/**
 * The id of `kind`'s resource keyed `key` (none: one such resource per host, as `hostname`): for a
 * kind's own file, to define its `id` and the refs it exports for resources not built at hand.
 */
export function refTo<H>(kind: Kind<never, H, string>, key?: string): Ref<H> {
  return (key === undefined ? kind.name : `${kind.name}:${key}`) as Ref<H>;
}

/** `W` is what the inventory wants, `H` what a probe finds, `N` the name plans carry and the registry finds the kind by. */
export interface Kind<W, H, N extends string> {
  /** `file`: unique among the generic kinds and every module's. */
  readonly name: N;
  /** Unique per host: `file:/etc/chrony/chrony.conf`. */
  id(want: W): Ref<H>;
  probe(want: W): string;
  /** The observed state, null when absent. */
  parse(stdout: string, want: W): H | null | Unsupported;
  diff(want: W, have: H | null): FieldChange[];
  apply(want: W, have: H | null): string;
  effects?(want: W, have: H | null): Effects;
}

/** A resource in a host's desired state. */
export interface Resource<W = unknown> {
  kind: string;
  want: W;
  /** Ids of resources on the same host that must be in place first. */
  deps?: string[];
  /** Owning module and cluster, for reports and --limit. */
  module: string;
  cluster: string;
}

/** Lines of `key=value`, as the probes print them. */
export function keyValues(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) out.set(line.slice(0, i).trim(), line.slice(i + 1).trim());
  }
  return out;
}
