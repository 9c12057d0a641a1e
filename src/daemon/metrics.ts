/**
 * Corral's Prometheus metrics, named after Argo CD's and Flux's: one info gauge per cluster with its
 * state in labels, counters with a `phase`/`result` label, and duration histograms.
 *
 * Every label value comes from a fixed list or from the inventory (cluster names), so the number of
 * series stays bounded: no host, no error text, no commit message, never a secret. A value outside
 * its list is counted as `other` rather than dropped, so a new provider or event shows up as
 * something to look at instead of vanishing. Once a metric name ships, keep it (Flux's users lost
 * alerts when `gotk_reconcile_condition` went away).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { TransportEvents } from '../transport/types.js';
import type { ClusterStatus, DaemonStatus, SyncResult } from './types.js';

export const SYNC_PHASES: readonly SyncResult[] = ['Succeeded', 'Failed', 'NotConverged', 'Error'];

export const GIT_FETCH_RESULTS = ['success', 'unreachable', 'auth', 'not-found', 'timeout', 'corrupt', 'invalid'] as const;
export type GitFetchResult = (typeof GIT_FETCH_RESULTS)[number];

export const WEBHOOK_PROVIDERS = ['github', 'gitlab', 'gitea', 'bitbucket', 'generic', 'other'] as const;
export type WebhookProvider = (typeof WEBHOOK_PROVIDERS)[number];
/** Events across forges, by what they mean; see webhookEvent() for the names each forge uses. */
export const WEBHOOK_EVENTS = ['push', 'tag_push', 'pull_request', 'comment', 'review', 'ping', 'other'] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];
/**
 * accepted: verified and acted on (a nudge, a preview); ignored: verified, nothing to do (another
 * branch, a ping); duplicate: a delivery seen before; rejected: refused (signature, size, JSON,
 * rate limit); error: our fault.
 */
export const WEBHOOK_RESULTS = ['accepted', 'rejected', 'duplicate', 'ignored', 'error'] as const;
export type WebhookResult = (typeof WEBHOOK_RESULTS)[number];

export const NOTIFICATION_PROVIDERS = ['github', 'gitlab', 'gitea', 'slack', 'generic', 'other'] as const;
export type NotificationProvider = (typeof NOTIFICATION_PROVIDERS)[number];
/** success: delivered; failure: this attempt failed and will be retried; dropped: given up on. */
export const NOTIFICATION_RESULTS = ['success', 'failure', 'dropped'] as const;
export type NotificationResult = (typeof NOTIFICATION_RESULTS)[number];

/** A revision in a label: the short sha, so a label never holds more than 12 characters. */
export const shortRevision = (rev: string | undefined): string => (rev ?? '').slice(0, 12);

const EVENT_ALIASES: Record<string, WebhookEvent> = {
  push: 'push',
  'push hook': 'push',
  'repo:refs_changed': 'push',
  'repo:push': 'push',
  tag_push: 'tag_push',
  'tag push hook': 'tag_push',
  create: 'tag_push',
  pull_request: 'pull_request',
  merge_request: 'pull_request',
  'merge request hook': 'pull_request',
  'pr:opened': 'pull_request',
  'pr:modified': 'pull_request',
  'pr:merged': 'pull_request',
  issue_comment: 'comment',
  note: 'comment',
  'note hook': 'comment',
  pull_request_comment: 'comment',
  'pr:comment:added': 'comment',
  pull_request_review: 'review',
  pull_request_review_comment: 'review',
  ping: 'ping',
};

/** A forge's event name (GitHub's `push`, GitLab's `Push Hook`, Bitbucket's `repo:refs_changed`...) as a label value. */
export function webhookEvent(name: string): WebhookEvent {
  return EVENT_ALIASES[name.trim().toLowerCase()] ?? 'other';
}

function oneOf<T extends string>(list: readonly T[], value: string, fallback: T): T {
  return (list as readonly string[]).includes(value) ? (value as T) : fallback;
}

// Buckets: a no-op sync takes well under a second, a PostgreSQL cluster's first sync tens of minutes.
const SYNC_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800];
const FETCH_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
const COMMAND_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 600];

const GAUGES_NAMED_TOTAL = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

export class CorralMetrics {
  /** This daemon's own registry (not prom-client's global one), so two instances never collide. */
  readonly registry = new Registry();
  readonly contentType: string = this.registry.contentType;

  private readonly clusterInfo: Gauge<'cluster' | 'module' | 'sync_status' | 'health_status' | 'revision'>;
  private readonly syncTotal: Counter<'cluster' | 'phase'>;
  private readonly syncDuration: Histogram<'cluster'>;
  private readonly driftChanges: Gauge<'cluster'>;
  private readonly gitFetchTotal: Counter<'result'>;
  private readonly gitFetchDuration: Histogram;
  private readonly lastGoodRevision: Gauge<'revision'>;
  private readonly sshConnections: Counter<'result'>;
  private readonly sshCommands: Counter<'result'>;
  private readonly sshCommandDuration: Histogram;
  private readonly webhookRequests: Counter<'provider' | 'event' | 'result'>;
  private readonly notificationDeliveries: Counter<'provider' | 'result'>;
  private readonly outboxDepth: Gauge;
  /** Clusters that have series, so the series of a cluster removed from the inventory go too. */
  private readonly known = new Set<string>();

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    if (opts.defaultMetrics !== false) {
      collectDefaultMetrics({ register: this.registry });
      // Gauges named like counters (promtool lints them); each is the sum of its by-type gauge, which stays.
      for (const name of GAUGES_NAMED_TOTAL) this.registry.removeSingleMetric(name);
    }

    this.clusterInfo = new Gauge({
      name: 'corral_cluster_info',
      help: 'One series per cluster, value 1; its state is in the labels (revision: the short sha last synced or checked).',
      labelNames: ['cluster', 'module', 'sync_status', 'health_status', 'revision'],
      registers,
    });
    this.syncTotal = new Counter({
      name: 'corral_sync_total',
      help: 'Syncs finished, by cluster and phase (Succeeded, Failed, NotConverged, Error).',
      labelNames: ['cluster', 'phase'],
      registers,
    });
    this.syncDuration = new Histogram({
      name: 'corral_sync_duration_seconds',
      help: 'Time a sync took, from observe to the verifying plan.',
      labelNames: ['cluster'],
      buckets: SYNC_BUCKETS,
      registers,
    });
    this.driftChanges = new Gauge({
      name: 'corral_drift_changes',
      help: 'Changes in the last drift check plan of the cluster (0: the nodes match the inventory).',
      labelNames: ['cluster'],
      registers,
    });
    this.gitFetchTotal = new Counter({
      name: 'corral_git_fetch_total',
      help: 'Fetches of the config repository, by result.',
      labelNames: ['result'],
      registers,
    });
    this.gitFetchDuration = new Histogram({
      name: 'corral_git_fetch_duration_seconds',
      help: 'Time a fetch of the config repository took.',
      buckets: FETCH_BUCKETS,
      registers,
    });
    this.lastGoodRevision = new Gauge({
      name: 'corral_last_good_revision_info',
      help: 'The revision in force (the last one that validated), as a label on a series of value 1.',
      labelNames: ['revision'],
      registers,
    });
    this.sshConnections = new Counter({
      name: 'corral_ssh_connections_total',
      help: 'SSH connections opened to nodes, by result (success, failure).',
      labelNames: ['result'],
      registers,
    });
    this.sshCommands = new Counter({
      name: 'corral_ssh_commands_total',
      help: 'Scripts run on nodes, by result (ok: exit 0, failed: non-zero exit, error: the transport failed).',
      labelNames: ['result'],
      registers,
    });
    this.sshCommandDuration = new Histogram({
      name: 'corral_ssh_command_duration_seconds',
      help: 'Time a script took on a node.',
      buckets: COMMAND_BUCKETS,
      registers,
    });
    this.webhookRequests = new Counter({
      name: 'corral_webhook_requests_total',
      help: 'Webhook deliveries received, by provider, event and result.',
      labelNames: ['provider', 'event', 'result'],
      registers,
    });
    this.notificationDeliveries = new Counter({
      name: 'corral_notification_deliveries_total',
      help: 'Notification delivery attempts, by provider and result (success, failure: will retry, dropped: given up).',
      labelNames: ['provider', 'result'],
      registers,
    });
    this.outboxDepth = new Gauge({
      name: 'corral_outbox_depth',
      help: 'Notifications waiting in the outbox.',
      registers,
    });

    // Series that exist from the start, so rate() and absent() alerts work before the first event.
    for (const result of GIT_FETCH_RESULTS) this.gitFetchTotal.inc({ result }, 0);
    for (const result of ['success', 'failure']) this.sshConnections.inc({ result }, 0);
    for (const result of ['ok', 'failed', 'error']) this.sshCommands.inc({ result }, 0);
    this.outboxDepth.set(0);
  }

  /** The whole daemon state at once: clusters and the revision in force. The /metrics route calls it at each scrape. */
  setStatus(status: DaemonStatus): void {
    this.setClusters(status.clusters);
    this.setLastGoodRevision(status.git.lastGoodRevision);
  }

  /** Resets corral_cluster_info and corral_drift_changes to these clusters; a cluster no longer listed loses all its series. */
  setClusters(statuses: ClusterStatus[]): void {
    this.clusterInfo.reset();
    const now = new Set(statuses.map((s) => s.name));
    for (const gone of [...this.known].filter((c) => !now.has(c))) this.forget(gone);
    for (const s of statuses) {
      this.clusterInfo.set({ cluster: s.name, module: s.module, sync_status: s.sync, health_status: s.health, revision: shortRevision(s.revision) }, 1);
      this.driftChanges.set({ cluster: s.name }, s.driftChanges);
      this.track(s.name);
    }
  }

  /** A sync finished (whatever its result). */
  recordSync(cluster: string, result: SyncResult, durationMs: number): void {
    this.track(cluster);
    this.syncTotal.inc({ cluster, phase: oneOf(SYNC_PHASES, result, 'Error') });
    this.syncDuration.observe({ cluster }, durationMs / 1000);
  }

  /** A drift check finished with this many changes (setClusters sets it too, from ClusterStatus.driftChanges). */
  setDrift(cluster: string, changes: number): void {
    this.track(cluster);
    this.driftChanges.set({ cluster }, changes);
  }

  /** A fetch of the config repository finished. */
  gitFetch(result: GitFetchResult, durationMs: number): void {
    this.gitFetchTotal.inc({ result: oneOf(GIT_FETCH_RESULTS, result, 'invalid') });
    this.gitFetchDuration.observe(durationMs / 1000);
  }

  /** The revision in force; undefined clears the series (no revision has validated yet). */
  setLastGoodRevision(revision: string | undefined): void {
    this.lastGoodRevision.reset();
    if (revision) this.lastGoodRevision.set({ revision: shortRevision(revision) }, 1);
  }

  /** Pass to createTransport({ events }). The host is not a label: a fleet's host count is unbounded. */
  transportEvents(): TransportEvents {
    return {
      onConnect: (_host, ok) => {
        this.sshConnections.inc({ result: ok ? 'success' : 'failure' });
      },
      onExec: (_host, result, durationMs) => {
        this.sshCommands.inc({ result: oneOf(['ok', 'failed', 'error'], result, 'error') });
        this.sshCommandDuration.observe(durationMs / 1000);
      },
    };
  }

  /** event: the forge's own name (`push`, `Push Hook`...), mapped to a fixed list by webhookEvent(). */
  webhookRequest(provider: WebhookProvider, event: string, result: WebhookResult): void {
    this.webhookRequests.inc({
      provider: oneOf(WEBHOOK_PROVIDERS, provider, 'other'),
      event: webhookEvent(event),
      result: oneOf(WEBHOOK_RESULTS, result, 'error'),
    });
  }

  notificationDelivery(provider: NotificationProvider, result: NotificationResult): void {
    this.notificationDeliveries.inc({ provider: oneOf(NOTIFICATION_PROVIDERS, provider, 'other'), result: oneOf(NOTIFICATION_RESULTS, result, 'failure') });
  }

  setOutboxDepth(n: number): void {
    this.outboxDepth.set(n);
  }

  /** The Prometheus text exposition of every metric, with `contentType`. */
  metricsText(): Promise<string> {
    return this.registry.metrics();
  }

  /** A cluster's sync counters start at 0 for every phase, so an alert on `increase(...{phase="Failed"})` sees a series. */
  private track(cluster: string): void {
    if (this.known.has(cluster)) return;
    this.known.add(cluster);
    for (const phase of SYNC_PHASES) this.syncTotal.inc({ cluster, phase }, 0);
  }

  private forget(cluster: string): void {
    this.known.delete(cluster);
    this.driftChanges.remove({ cluster });
    this.syncDuration.remove({ cluster });
    for (const phase of SYNC_PHASES) this.syncTotal.remove({ cluster, phase });
  }
}
