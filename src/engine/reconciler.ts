/**
 * The shape every module folder under reconcilers/ exports. A reconciler is pure: from the
 * inventory's view of a cluster and the facts of its nodes to desired resources and ordering.
 * It never opens a connection or reads the clock.
 */
import type { Cluster, Module } from '../config/clusters.js';
import type { HostView } from '../config/hosts.js';
import type { CrossEdge, Facts, Note, Observation } from './model.js';
import { isGeneric, isRegistered, type AnyKind, type GenericKindName, type Kind, type Ref, type Resource } from './resources/index.js';
import type { CertificateRequest, IssuedCertificate } from '../pki/authority.js';

/** The certificates a run issued (from Corral's CA, outside the repository) for the modules' requests. */
export interface Certificates {
  /** PEM of the CA, installed on nodes as ca.crt. */
  ca: string;
  /** The certificate issued for a request's id; a module asks only for ids it requested. */
  get(id: string): IssuedCertificate;
}

export interface ReconcileInput {
  cluster: Cluster;
  /** Every host of the inventory, for modules that look across clusters (etcd endpoints, say). */
  hosts: readonly HostView[];
  facts: (host: string) => Facts;
  certificates: Certificates;
  /** Whether a cluster of another module is in this run too (a daemon's unit or a --limit leaves others out): a change that needs both waits for a run with both. */
  together: (module: string, cluster: string) => boolean;
  /** The daemon running this plan (none for the CLI): an infra node on its machine scrapes its /metrics. */
  controller?: Controller;
}

/** Where the daemon runs, from its own flags and network interfaces, never from the repository. */
export interface Controller {
  /** The addresses of the machine it runs on. */
  addresses: readonly string[];
  /** Where a scraper on that machine reaches its /metrics: `127.0.0.1:9443`. */
  metrics: string;
}

/** What a module needs to know to say which certificates its members need: no facts, so certificates are issued once, before compiling. */
export type CertificateInput = Pick<ReconcileInput, 'cluster' | 'hosts'>;

export interface ModuleDesired {
  /** Resources per host name. */
  resources: Map<string, Resource[]>;
  edges: CrossEdge[];
  /** Parameters the module cannot honour here, said once per host: shown with the plan. */
  notes: Note[];
}

/** A cluster's health as its module reads it from one plan's observations (no extra round trip). */
export interface ModuleHealth {
  status: 'Healthy' | 'Degraded' | 'Down';
  /** What is wrong, one line each; also what is worth knowing while Healthy (a primary that is not pg_role's). */
  problems: string[];
  /** Each member as the service lists it (Patroni's role and state), for the status page. */
  members?: MemberHealth[];
}

export interface MemberHealth {
  name: string;
  role: string;
  state: string;
  /** Replication: `lags`, `no lag`, or unknown (absent). */
  lag?: string;
}

/** A cluster with what one plan observed of its members. */
export interface ObservedInput {
  cluster: Cluster;
  hosts: readonly HostView[];
  observations: readonly Observation[];
}

/** A member the cluster still runs but the inventory no longer names, and what retires it on its node. */
export interface Departure {
  /** The address the cluster knows the member by. */
  address: string;
  /** A host of the inventory whose connection settings (user, port, key) reach it too. */
  reachedAs: HostView;
  resources: Resource[];
}

export interface Reconciler {
  module: Module;
  /** The module's own resource kinds (each named by its `name`): plans find them here, and its builder takes only these and the generic ones. */
  kinds: readonly AnyKind[];
  /** Certificates the cluster's members need (TLS): issued by the edge before `desired` runs. */
  certificates?(input: CertificateInput): CertificateRequest[];
  desired(input: ReconcileInput): ModuleDesired;
  /** Modules whose service has a health of its own (Patroni, etcd); others are healthy when their nodes answer. */
  health?(input: ObservedInput): ModuleHealth;
  /**
   * Modules whose clusters list their own members (Patroni): those the inventory dropped, read from one plan's observations.
   * `edges` order the departures' resources with the others (a remaining member's step that must wait for a retirement).
   */
  departed?(input: ObservedInput): { departures: Departure[]; notes: Note[]; edges?: CrossEdge[] };
}

/** A module's resources as they are built: `add` takes a kind of the module or a generic one, and a want of that kind. */
export interface ResourceList<N extends string> {
  readonly list: Resource[];
  /** Adds a resource of `kind`; returns its id for later deps (undefined deps are left out). */
  add<W, H>(kind: Kind<W, H, N>, want: NoInfer<W>, deps?: readonly (Ref | undefined)[]): Ref<H>;
}

/**
 * Builds resources of `module`'s cluster: `r.add(file, { path, ... }, [dep])`. `kinds` are the
 * module's own (the list its reconciler registers): a kind outside them and the generic ones does not compile.
 */
export function resourceList<N extends string = never>(module: Module, cluster: string, kinds: readonly Kind<never, unknown, N>[] = []): ResourceList<N | GenericKindName> {
  const list: Resource[] = [];
  const own = new Set<AnyKind>(kinds);
  return {
    list,
    add<W, H>(kind: Kind<W, H, N | GenericKindName>, want: W, deps: readonly (Ref | undefined)[] = []): Ref<H> {
      if (!isRegistered(kind) || !(isGeneric(kind) || own.has(kind))) throw new Error(`resource kind ${kind.name} is not registered for module ${module}: list it in the module's kinds`);
      const d = deps.filter((x): x is Ref => x !== undefined);
      list.push({ kind: kind.name, want, module, cluster, ...(d.length ? { deps: d } : {}) });
      return kind.id(want);
    },
  };
}
