/**
 * A hand-made DaemonApi for the HTTP tests: plain data the tests change, and a record of every
 * call that asks the daemon to do something. Plans are rendered by the engine's own renderers.
 */
import { renderMarkdown, renderText } from '../../../src/engine/render.js';
import type { Change, Plan } from '../../../src/engine/model.js';
import type { ClusterStatus, DaemonApi, DaemonStatus, GitState, HistoryEntry, PlanRecord, Trigger } from '../../../src/daemon/types.js';

export const REV_A = '3f1c2a9b8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a';
export const REV_B = 'a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9';

export function change(over: Partial<Change> & Pick<Change, 'host' | 'resource'>): Change {
  return {
    id: `${over.host}|${over.resource}`,
    kind: over.resource.split(':')[0] ?? 'file',
    module: 'pgsql',
    cluster: 'pg-test',
    action: 'update',
    fields: [],
    reason: 'differs from the inventory',
    restarts: false,
    destructive: false,
    after: [],
    ...over,
  };
}

/** A plan record as the daemon keeps it: renderings made from the (already redacted) plan. */
export function planRecord(id: string, cluster: string, plan: Plan, createdAt: string): PlanRecord {
  return { id, cluster, revision: plan.revision, createdAt, plan, text: renderText(plan), markdown: renderMarkdown(plan) };
}

export function pgTestPlan(): Plan {
  return {
    revision: REV_B,
    fingerprint: 'f'.repeat(64),
    hosts: ['10.213.0.11', '10.213.0.12'],
    unreachable: [],
    notes: [],
    changes: [
      change({
        host: '10.213.0.11',
        resource: 'file:/etc/pgbouncer/pgbouncer.ini',
        fields: [{ field: 'content', from: 'sha 1', to: 'sha 2', text: { before: 'pool_mode = session\nmax_client_conn = 100\n', after: 'pool_mode = transaction\nmax_client_conn = 100\n' } }],
        restarts: true,
      }),
      change({
        host: '10.213.0.11',
        resource: 'pg_user:dbuser_meta',
        action: 'update',
        // As the daemon stores it: renderJson's shape, the secret already redacted.
        fields: [{ field: 'password', from: '(redacted)', to: '(redacted)', secret: true }],
      }),
      change({ host: '10.213.0.12', resource: 'sysctl:vm.swappiness', fields: [{ field: 'value', from: '60', to: '1' }] }),
    ],
  };
}

export function etcdPlan(): Plan {
  return { revision: REV_A, fingerprint: 'e'.repeat(64), hosts: ['10.213.0.10'], unreachable: [], notes: [], changes: [] };
}

const policy = { sync: 'auto' as const, prune: false, selfHeal: true, suspend: false, driftIntervalSeconds: 300 };

export function clusterStatus(over: Partial<ClusterStatus> & Pick<ClusterStatus, 'name'>): ClusterStatus {
  return { module: 'pgsql', sync: 'Synced', health: 'Healthy', driftChanges: 0, policy: { ...policy }, hosts: [], ...over };
}

export interface Calls {
  sync: { name: string; trigger: Trigger }[];
  suspend: string[];
  resume: string[];
  nudge: Trigger[];
}

export class FakeApi implements DaemonApi {
  ready = true;
  version = '0.1.0-test';
  source = 'https://git.example.test/ops/fleet.git';
  git: GitState = { fetchedRevision: REV_B, lastGoodRevision: REV_B, lastFetchAt: '2026-11-25T19:30:00.000Z', lastFetchOk: true };
  clusters: ClusterStatus[];
  plans = new Map<string, PlanRecord>();
  history = new Map<string, HistoryEntry[]>();
  /** Clusters whose next sync is refused (one already running, say). */
  busy = new Set<string>();
  calls: Calls = { sync: [], suspend: [], resume: [], nudge: [] };

  constructor() {
    const pg = planRecord('plan-pg-test-2', 'pg-test', pgTestPlan(), '2026-11-25T19:31:00.000Z');
    const etcd = planRecord('plan-etcd-1', 'etcd', etcdPlan(), '2026-11-25T19:20:00.000Z');
    this.plans.set(pg.id, pg);
    this.plans.set(etcd.id, etcd);
    this.clusters = [
      clusterStatus({ name: 'etcd', module: 'etcd', revision: REV_A, lastPlanId: etcd.id, lastSyncAt: '2026-11-25T19:20:30.000Z', hosts: ['10.213.0.10'] }),
      clusterStatus({
        name: 'pg-test',
        sync: 'OutOfSync',
        health: 'Degraded',
        revision: REV_A,
        lastPlanId: pg.id,
        lastSyncAt: '2026-11-25T19:20:40.000Z',
        driftChanges: 3,
        message: '3 changes to apply (manual sync)',
        policy: { ...policy, sync: 'manual' },
        hosts: ['10.213.0.11', '10.213.0.12'],
      }),
      clusterStatus({ name: 'redis-test', module: 'redis', sync: 'Failed', health: 'Unreachable', revision: REV_A, message: '10.213.0.13: connect timed out after 10 s', hosts: ['10.213.0.13'] }),
    ];
    this.history.set('pg-test', [
      {
        id: 'h-1',
        cluster: 'pg-test',
        revision: REV_A,
        author: 'Ada <ada@example.test>',
        subject: 'pg-test: raise max_connections',
        startedAt: '2026-11-25T19:20:00.000Z',
        finishedAt: '2026-11-25T19:20:40.000Z',
        result: 'Succeeded',
        trigger: 'webhook',
        changes: { planned: 2, applied: 2, failed: 0, skipped: 0 },
      },
    ]);
  }

  status(): DaemonStatus {
    return { ready: this.ready, version: this.version, source: this.source, git: { ...this.git }, clusters: this.clusters.map((c) => ({ ...c, policy: { ...c.policy } })) };
  }

  cluster(name: string): { status: ClusterStatus; lastPlan?: PlanRecord; history: HistoryEntry[] } | undefined {
    const status = this.clusters.find((c) => c.name === name);
    if (!status) return undefined;
    const lastPlan = status.lastPlanId ? this.plans.get(status.lastPlanId) : undefined;
    return { status: { ...status }, ...(lastPlan ? { lastPlan } : {}), history: this.history.get(name) ?? [] };
  }

  plan(id: string): PlanRecord | undefined {
    return this.plans.get(id);
  }

  sync(name: string, trigger: Trigger): { accepted: boolean; message: string } {
    this.calls.sync.push({ name, trigger });
    if (this.busy.has(name)) return { accepted: false, message: `a sync of ${name} is already running` };
    return { accepted: true, message: `sync of ${name} queued` };
  }

  suspend(name: string): boolean {
    this.calls.suspend.push(name);
    const c = this.clusters.find((x) => x.name === name);
    if (!c) return false;
    c.policy.suspend = true;
    c.sync = 'Suspended';
    return true;
  }

  resume(name: string): boolean {
    this.calls.resume.push(name);
    const c = this.clusters.find((x) => x.name === name);
    if (!c) return false;
    c.policy.suspend = false;
    c.sync = 'Unknown';
    return true;
  }

  nudge(trigger: Trigger): void {
    this.calls.nudge.push(trigger);
  }

  private readonly listeners = new Set<() => void>();

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** What the daemon does when its status changes. */
  changed(): void {
    for (const listener of this.listeners) listener();
  }

  get listening(): number {
    return this.listeners.size;
  }
}
