/**
 * The shape every module folder under reconcilers/ exports. A reconciler is pure: from the
 * inventory's view of a cluster and the facts of its nodes to desired resources and ordering.
 * It never opens a connection or reads the clock.
 */
import type { Cluster, Module } from '../config/clusters.js';
import type { HostView } from '../config/hosts.js';
import type { CrossEdge, Facts, Note, Observation } from './model.js';
import { kindOf, type Resource } from './resources/index.js';
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
}

/** A cluster with what one plan observed of its members. */
export interface ObservedInput {
  cluster: Cluster;
  hosts: readonly HostView[];
  observations: readonly Observation[];
}

/** A resource's observed state on a host: undefined when the host was not observed. */
export type StateOf = <T>(host: string, id: string) => T | null | undefined;

/** Reads resources' observed states out of one plan's observations, for a module's health. */
export function stateReader(observations: readonly Observation[]): StateOf {
  return <T>(host: string, id: string): T | null | undefined => {
    const o = observations.find((x) => x.host === host);
    return o?.ok ? (o.states[id] as T | null) : undefined;
  };
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
  /** Certificates the cluster's members need (TLS): issued by the edge before `desired` runs. */
  certificates?(input: CertificateInput): CertificateRequest[];
  desired(input: ReconcileInput): ModuleDesired;
  /** Modules whose service has a health of its own (Patroni, etcd); others are healthy when their nodes answer. */
  health?(input: ObservedInput): ModuleHealth;
  /** Modules whose clusters list their own members (Patroni): those the inventory dropped, read from one plan's observations. */
  departed?(input: ObservedInput): { departures: Departure[]; notes: Note[] };
}

/** Builds a module's resources: `add('file', {...}, [deps])` returns the new resource's id for later deps. */
export function resourceList(module: Module, cluster: string): { list: Resource[]; add(kind: string, want: unknown, deps?: (string | undefined)[]): string } {
  const list: Resource[] = [];
  return {
    list,
    add(kind, want, deps = []) {
      const k = kindOf(kind);
      const d = deps.filter((x): x is string => x !== undefined);
      list.push({ kind, want, module, cluster, ...(d.length ? { deps: d } : {}) });
      return k.id(want);
    },
  };
}
