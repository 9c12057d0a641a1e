/**
 * What the daemon knows and what its HTTP face may ask of it. The sync loop implements DaemonApi;
 * the fastify routes and the metrics read only these shapes.
 */
import type { Module } from '../config/clusters.js';
import type { Plan } from '../engine/model.js';
import type { MemberHealth } from '../engine/reconciler.js';

/** Argo CD's sync states, plus Invalid (the revision failed validation), Suspended, and Unmanaged (a module Corral does not build yet). */
export type SyncStatus = 'Synced' | 'OutOfSync' | 'Invalid' | 'Syncing' | 'Failed' | 'Suspended' | 'Unmanaged' | 'Unknown';
/** Down: the module's service is not serving (no Patroni leader, no etcd quorum); Unreachable: no node answers SSH. */
export type HealthStatus = 'Healthy' | 'Degraded' | 'Down' | 'Unreachable' | 'Unmanaged' | 'Unknown';

export interface ClusterPolicy {
  sync: 'manual' | 'auto';
  prune: boolean;
  selfHeal: boolean;
  suspend: boolean;
  /** Drift check interval, seconds. */
  driftIntervalSeconds: number;
}

export interface ClusterStatus {
  /** Reconcile unit name, unique in the daemon: `pg-test`, `etcd`, `nodes`... */
  name: string;
  module: Module;
  sync: SyncStatus;
  health: HealthStatus;
  /** Revision the cluster was last synced to (or checked against). */
  revision?: string;
  /** Why the status is what it is; for Invalid, `file:line:col message` of the first error. */
  message?: string;
  lastPlanId?: string;
  lastSyncAt?: string;
  /** When the observation behind sync, health and drift began: the last plan's (a sync or drift check), or the check after an apply's last change. */
  checkedAt?: string;
  /** What the module says of its health (a replica lagging, role drift), when it says anything. */
  healthMessage?: string;
  /** Changes in the last drift check's plan. */
  driftChanges: number;
  /** Each member's role and state as the module's service lists it (PGSQL: Patroni), from the last plan's observations. */
  members?: MemberHealth[];
  policy: ClusterPolicy;
  hosts: string[];
  /** The daemon that syncs the unit, when daemons share the fleet. */
  owner?: string;
  /** While a sync runs: its phase, and per host the changes applied of those planned (`corral sync --wait` shows it). */
  progress?: SyncProgress;
}

export interface HostProgress {
  host: string;
  planned: number;
  applied: number;
  failed: number;
  /** Not tried, because a change it depends on failed. */
  skipped: number;
  /** The change being applied now (its resource), if any. */
  current?: string;
}

export interface SyncProgress {
  phase: 'planning' | 'applying' | 'verifying';
  hosts: HostProgress[];
}

export type SyncResult = 'Succeeded' | 'Failed' | 'NotConverged' | 'Error';
/** takeover: the unit's owner died or handed it over, and this daemon took it. */
export type Trigger = 'poll' | 'webhook' | 'api' | 'drift' | 'startup' | 'watch' | 'takeover';

export interface HistoryEntry {
  id: string;
  cluster: string;
  revision: string;
  author: string;
  /** First line of the commit message. */
  subject: string;
  startedAt: string;
  finishedAt: string;
  result: SyncResult;
  trigger: Trigger;
  changes: { planned: number; applied: number; failed: number; skipped: number };
  message?: string;
}

export interface PlanRecord {
  id: string;
  cluster: string;
  revision: string;
  createdAt: string;
  /** Secrets already redacted (renderJson's shape). */
  plan: Plan;
  markdown: string;
  text: string;
}

export interface GitState {
  /** The revision last fetched, and the last one that validated (the one in force). */
  fetchedRevision?: string;
  lastGoodRevision?: string;
  lastFetchAt?: string;
  lastFetchOk: boolean;
  lastError?: string;
  /** Where the first validation error of the fetched revision is, when it is invalid. */
  invalidAt?: string;
  /** Every error and warning of the fetched revision (`file:line:col severity: message`), at most PROBLEMS_SHOWN. */
  problems?: string[];
}

export const PROBLEMS_SHOWN = 100;

export interface DaemonStatus {
  ready: boolean;
  version: string;
  source: string;
  git: GitState;
  clusters: ClusterStatus[];
  /** The daemons alive, when daemons share the fleet through etcd. */
  daemons?: string[];
}

export interface DaemonApi {
  status(): DaemonStatus;
  cluster(name: string): { status: ClusterStatus; lastPlan?: PlanRecord; history: HistoryEntry[] } | undefined;
  plan(id: string): PlanRecord | undefined;
  /** Ask for a sync now (manual sync, or a nudge); coalesced with one already running. */
  sync(name: string, trigger: Trigger): { accepted: boolean; message: string };
  suspend(name: string): boolean;
  resume(name: string): boolean;
  /** A webhook or the API says the source changed: fetch now instead of at the next poll. */
  nudge(trigger: Trigger): void;
  /** Calls `listener` when the status may have changed (a sync's phase or progress, a fetch); returns the unsubscribe. */
  onChange(listener: () => void): () => void;
}
