/**
 * The sync loop. Flux's Reconcile shape: each reconcile unit (a cluster of one module) is synced by
 * named steps, one operation at a time per unit, and a `finally` that always records status,
 * history and metrics. Triggers that arrive during a sync coalesce into one follow-up.
 *
 * Guarantees: an invalid revision changes nothing (the last good one stays in force and the status
 * points at the first error); one failing cluster never blocks the others; etcd units sync before
 * the PGSQL units that use them; a kill -9 at any moment leaves a state directory that the next
 * start reads as it was before or after the write in progress.
 */
import { randomUUID } from 'node:crypto';
import { displayRevision } from '../util/content-revision.js';
import type { Logger } from 'pino';
import type { Validated } from '../config/validate.js';
import { admitRevision, type SecretOptions } from '../config/decrypt.js';
import { position } from '../config/problems.js';
import { concealValues } from '../config/secrets.js';
import { describeFleet, fleetCounts, type Module } from '../config/clusters.js';
import type { Settings } from '../config/settings.js';
import type { Transport } from '../transport/types.js';
import { applyRun, planRun, type Planning, type RunContext } from '../engine/run.js';
import type { CertificateIssuer } from '../pki/authority.js';
import type { Controller } from '../engine/reconciler.js';
import { phases, reconcilerOf, unmanagedReason } from '../engine/modules.js';
import { sshDefaultsFrom, type SshDefaults } from '../engine/targets.js';
import { blockingNotes, type Facts, type Plan } from '../engine/model.js';
import { GIT_FETCH_RESULTS, type CorralMetrics, type GitFetchResult } from './metrics.js';
import { policyFor, pollSeconds } from './policy.js';
import { StateStore } from './store.js';
import { planRecord, savePlanRecord } from './plans.js';
import { PROBLEMS_SHOWN, type ClusterStatus, type DaemonApi, type DaemonStatus, type GitState, type HistoryEntry, type PlanRecord, type Trigger } from './types.js';
import { applyProgress } from './progress.js';
import { soleDaemon, type Coordination } from './coordination.js';

/** Where revisions come from: a git branch, or a folder watched on disk. */
export interface RevisionSource {
  describe: string;
  /** The newest revision: its id, who made it and its subject, and a folder with its files. */
  latest(): Promise<Revision>;
  /** A revision seen before (the last good one, after a restart), when the source can give it again. */
  at?(revision: string): Promise<Revision>;
}

export interface Revision {
  revision: string;
  author: string;
  subject: string;
  dir: string;
}

export interface DaemonOptions {
  source: RevisionSource;
  stateDir: string;
  transport: Transport;
  metrics: CorralMetrics;
  logger: Logger;
  ssh: SshDefaults;
  /** Corral's CA (outside the repository): certificates for the members, issued before each plan. */
  pki: CertificateIssuer;
  version: string;
  /** Told what happens to revisions and syncs: the forge reporter listens here. */
  events?: DaemonEvents;
  /** Watch mode: plan everything, apply only what the API asks for. */
  neverAutoApply?: boolean;
  /** The age identity that decrypts the repository's SOPS values, and whether plaintext secrets are refused: the daemon's flags. */
  secrets?: SecretOptions;
  /** Where the daemon itself runs: an infra node on the same machine scrapes its /metrics. */
  controller?: Controller;
  /** Daemons sharing the fleet through etcd; alone by default. */
  coordination?: Coordination;
  random?: () => number;
}

export interface DaemonEvents {
  /** A fetched revision failed validation; `at` is `file:line:col message` of its first error. */
  invalid?(revision: Revision, at: string): void;
  /** Units' states changed while the revision in force was being synced (after each unit's sync). */
  progress?(revision: string, units: ClusterStatus[]): void;
  /** A unit's sync of the revision in force starts (its plan, then its apply). */
  syncing?(cluster: string, revision: string, trigger: Trigger): void;
  /** A unit's sync that applied something finished. */
  synced?(entry: HistoryEntry): void;
}

const HISTORY_KEPT = 50;
const PLANS_KEPT = 10;

interface Unit {
  status: ClusterStatus;
  running?: Promise<void>;
  pending?: { trigger: Trigger; force: boolean };
  lastPlan?: PlanRecord;
  driftTimer?: NodeJS.Timeout;
}

interface Current {
  revision: string;
  author: string;
  subject: string;
  validated: Validated;
}

interface Persisted {
  lastGoodRevision?: string;
  suspended: Record<string, boolean>;
}

const short = displayRevision;
const fetchResult = (kind: string | undefined): GitFetchResult => (GIT_FETCH_RESULTS as readonly string[]).includes(kind ?? '') ? (kind as GitFetchResult) : 'unreachable';

export class Daemon implements DaemonApi {
  private readonly units = new Map<string, Unit>();
  private readonly store: StateStore;
  private readonly git: GitState = { lastFetchOk: false };
  private current?: Current;
  private ready = false;
  private pollTimer?: NodeJS.Timeout;
  private fetching?: Promise<void>;
  private fetchAgain = false;
  private stopped = false;
  /** The state last logged per subject (`fetch`, `unit NAME`), so a repeated one is not logged again. */
  private readonly logged = new Map<string, string>();
  private readonly changeListeners = new Set<() => void>();
  private readonly coord: Coordination;
  /** state.json as it is meant to be; `stateUnwritten` when the last write of it failed (a full disk). */
  private readonly persisted: Persisted;
  private stateUnwritten = false;
  /** History entries a failed write did not get into `history/<cluster>.json` yet, newest first. */
  private readonly unwrittenHistory = new Map<string, HistoryEntry[]>();
  /** Each host's facts as last observed: a sync compiles for them at once, so a node is observed once, not twice. */
  private readonly facts = new Map<string, Facts>();

  constructor(private readonly opts: DaemonOptions) {
    this.coord = opts.coordination ?? soleDaemon;
    this.store = new StateStore(opts.stateDir);
    this.persisted = this.store.read<Persisted>('state.json', { suspended: {} });
    this.persisted.suspended ??= {};
    if (this.persisted.lastGoodRevision) this.git.lastGoodRevision = this.persisted.lastGoodRevision;
  }

  // ---- DaemonApi -----------------------------------------------------------------------------

  status(): DaemonStatus {
    const peers = this.coord.peers();
    return { ready: this.ready, version: this.opts.version, source: this.opts.source.describe, git: { ...this.git }, clusters: [...this.units.values()].map((u) => this.shown(u)), ...(peers.length ? { daemons: peers } : {}) };
  }

  cluster(name: string): ReturnType<DaemonApi['cluster']> {
    const u = this.units.get(name);
    if (!u) return undefined;
    const lastPlan = this.elsewhere(name) ? this.coord.view(name)?.lastPlan : u.lastPlan;
    return { status: this.shown(u), ...(lastPlan ? { lastPlan } : {}), history: this.history(name) };
  }

  plan(id: string): PlanRecord | undefined {
    if (!/^[\w-]+$/.test(id)) return undefined;
    // A unit's last plan is served from memory too: its file may not have been written (a full disk),
    // or another daemon made it.
    const lastPlans = [...this.units.entries()].flatMap(([n, u]) => [u.lastPlan, this.coord.view(n)?.lastPlan]);
    return this.store.read<PlanRecord | undefined>(`plans/${id}.json`, undefined) ?? lastPlans.find((p) => p?.id === id);
  }

  /** This daemon's syncs of the unit, and those other daemons shared while they owned it. */
  history(name: string): HistoryEntry[] {
    const local = [...(this.unwrittenHistory.get(name) ?? []), ...this.store.read<HistoryEntry[]>(`history/${name}.json`, [])].slice(0, HISTORY_KEPT);
    const shared = this.coord.view(name)?.history ?? [];
    if (!shared.length) return local;
    const byId = new Map([...shared, ...local].map((e) => [e.id, e]));
    return [...byId.values()].sort((a, b) => b.startedAt.localeCompare(a.startedAt)).slice(0, HISTORY_KEPT);
  }

  sync(name: string, trigger: Trigger): { accepted: boolean; message: string } {
    const u = this.units.get(name);
    if (!u) return { accepted: false, message: `no cluster ${name}` };
    if (u.status.policy.suspend) return { accepted: false, message: `${name} is suspended; resume it first` };
    if (u.status.sync === 'Unmanaged') return { accepted: false, message: `${name} is Unmanaged: ${u.status.message ?? ''}` };
    const owner = this.elsewhere(name);
    if (owner) {
      void this.coord.request(name, trigger, true).catch((e: Error) => this.opts.logger.warn({ cluster: name, err: e.message }, 'the sync could not be passed to its owner'));
      return { accepted: true, message: `passed to ${owner}, the daemon that owns ${name}` };
    }
    void this.schedule(name, trigger, true);
    return { accepted: true, message: u.running ? 'a sync is running; one more follows it' : 'sync started' };
  }

  suspend(name: string): boolean {
    return this.setSuspended(name, true);
  }

  resume(name: string): boolean {
    const ok = this.setSuspended(name, false);
    if (ok) void this.schedule(name, 'api', false);
    return ok;
  }

  nudge(trigger: Trigger): void {
    void this.fetchAndSync(trigger);
    // A webhook reaches one daemon; the others fetch too.
    void this.coord.nudge().catch(() => undefined);
  }

  /** corral.yml of the revision in force (never of a pull request). */
  settings(): Settings | undefined {
    return this.current?.validated.inventory?.settings;
  }

  /** The validated revision in force: previews reach hosts as it does. */
  inForce(): Validated | undefined {
    return this.current?.validated;
  }

  // ---- lifecycle -----------------------------------------------------------------------------

  async start(): Promise<void> {
    await this.coord.start(() => [...this.units.keys()], {
      // A suspended or unmanaged cluster is never claimed: it stays free, and is not tried again every tick.
      takeover: (name) => {
        const u = this.units.get(name);
        if (u && !u.status.policy.suspend && u.status.sync !== 'Unmanaged') void this.schedule(name, 'takeover', false);
      },
      requested: (name, trigger, force) => void this.schedule(name, trigger, force),
      nudged: () => void this.fetchAndSync('webhook'),
      changed: () => this.sharedChanged(),
    });
    await this.fetchAndSync('startup');
    this.schedulePoll();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.pollTimer);
    for (const u of this.units.values()) clearTimeout(u.driftTimer);
    await Promise.allSettled([this.fetching, ...[...this.units.values()].map((u) => u.running)]);
    await this.coord.stop();
  }

  private schedulePoll(): void {
    if (this.stopped) return;
    const base = pollSeconds(this.current?.validated.inventory?.settings) * 1000;
    // ±10% jitter, so a fleet of daemons does not poll one git server in step.
    const delay = base * (0.9 + 0.2 * (this.opts.random ?? Math.random)());
    this.pollTimer = setTimeout(() => {
      void this.fetchAndSync('poll').finally(() => this.schedulePoll());
    }, delay);
    this.pollTimer.unref?.();
  }

  // ---- fetch and validate --------------------------------------------------------------------

  /** One fetch at a time; a nudge during a fetch makes one more fetch after it. */
  fetchAndSync(trigger: Trigger): Promise<void> {
    if (this.fetching) {
      this.fetchAgain = true;
      return this.fetching;
    }
    this.fetching = (async () => {
      do {
        this.fetchAgain = false;
        await this.fetchOnce(trigger);
      } while (this.fetchAgain && !this.stopped);
    })().finally(() => {
      this.fetching = undefined;
      this.changed();
    });
    return this.fetching;
  }

  private async fetchOnce(trigger: Trigger): Promise<void> {
    const log = this.opts.logger;
    this.writeUnwritten();
    const started = performance.now();
    let latest: Revision;
    try {
      latest = await this.opts.source.latest();
      this.git.lastFetchOk = true;
      delete this.git.lastError;
      const wasFailing = this.logged.get('fetch')?.startsWith('failed|') ?? false;
      this.once('fetch', 'ok', () => wasFailing && log.info('fetch succeeded again; the newest revision is read'));
      this.opts.metrics.gitFetch('success', performance.now() - started);
    } catch (e) {
      const kind = fetchResult((e as { kind?: string }).kind);
      this.git.lastFetchOk = false;
      this.git.lastError = (e as Error).message;
      this.opts.metrics.gitFetch(kind, performance.now() - started);
      // Logged when it starts failing or fails another way, not at every poll.
      this.once('fetch', `failed|${kind}|${(e as Error).message}`, () => log.warn({ err: (e as Error).message, kind }, 'fetch failed; the last good revision stays in force'));
      this.git.lastFetchAt = new Date().toISOString();
      // Started while the server is down: the last good revision (from the clone) is put in force and synced.
      if (await this.restoreLastGood(trigger)) await this.syncAll(trigger);
      return;
    }
    this.git.lastFetchAt = new Date().toISOString();
    this.ready = true;
    if (latest.revision === this.git.fetchedRevision && this.current) {
      if (trigger !== 'poll') log.debug({ revision: short(latest.revision) }, 'no new revision');
      return;
    }
    this.git.fetchedRevision = latest.revision;
    // The verdict on the previous revision is not this one's: while this one is validated, there is none.
    delete this.git.invalidAt;
    delete this.git.problems;
    // Validated in a child process, then decrypted: a revision that does not decrypt is refused like an invalid one.
    const validated = await admitRevision(latest.dir, this.opts.secrets);
    this.git.problems = validated.problems.slice(0, PROBLEMS_SHOWN).map((p) => `${position(p)} ${p.severity}: ${p.message}`);
    if (!validated.valid) {
      const first = validated.problems.find((p) => p.severity === 'error')!;
      this.git.invalidAt = `${position(first)} ${first.message}`;
      log.error({ revision: short(latest.revision), at: this.git.invalidAt, errors: validated.problems.filter((p) => p.severity === 'error').length }, 'revision is invalid; nothing applied');
      if (this.coord.leads()) this.opts.events?.invalid?.(latest, this.git.invalidAt);
      // After a restart the last good revision is loaded again, so the fleet stays managed by it.
      await this.restoreLastGood(trigger);
      for (const u of this.units.values()) this.setStatus(u, { sync: 'Invalid', message: `revision ${short(latest.revision)} is invalid: ${this.git.invalidAt}` });
      return;
    }
    this.adopt(latest, validated, trigger);
    await this.syncAll(trigger);
  }

  /**
   * After a restart, before any revision is in force: the last good one (state.json) is read again
   * from the source, validated and adopted. Whether it was.
   */
  private async restoreLastGood(trigger: Trigger): Promise<boolean> {
    if (this.current || !this.git.lastGoodRevision || !this.opts.source.at) return false;
    const good = await this.opts.source.at(this.git.lastGoodRevision).catch(() => undefined);
    const validated = good && (await admitRevision(good.dir, this.opts.secrets));
    if (!good || !validated?.valid || this.current) return false;
    this.adopt(good, validated, trigger);
    return true;
  }

  /** A valid revision becomes the one in force. */
  private adopt(rev: Revision, validated: Validated, trigger: Trigger): void {
    this.current = { revision: rev.revision, author: rev.author, subject: rev.subject, validated };
    this.git.lastGoodRevision = rev.revision;
    this.opts.metrics.setLastGoodRevision(rev.revision);
    this.persist();
    this.refreshUnits(validated);
    // The count corral validate and corral inventory give for the same files.
    this.opts.logger.info({ revision: short(rev.revision), subject: rev.subject, trigger, fleet: describeFleet(fleetCounts(validated)) }, 'revision in force');
    this.reportProgress();
  }

  /** Reconcile units of a revision: add new ones, drop those gone, apply the policies it sets. */
  private refreshUnits(v: Validated): void {
    const persisted = this.persisted;
    const seen = new Set<string>();
    for (const c of v.clusters) {
      const name = this.unitName(c.module, c.name, v);
      seen.add(name);
      const policy = policyFor(v.inventory!.settings, c.name);
      const suspended = this.coord.suspended(name) ?? persisted.suspended[name];
      if (suspended !== undefined) policy.suspend = suspended;
      if (this.opts.neverAutoApply) policy.sync = 'manual';
      const hosts = c.members.map((m) => m.name);
      const u = this.units.get(name);
      if (u) {
        u.status = { ...u.status, policy, hosts, module: c.module };
      } else {
        const plans = this.store.list('plans').map((f) => this.store.read<PlanRecord | undefined>(`plans/${f}`, undefined)).filter((p): p is PlanRecord => p?.cluster === name);
        const lastPlan = plans.sort((a, b) => a.createdAt.localeCompare(b.createdAt)).at(-1);
        this.units.set(name, { status: { name, module: c.module, sync: 'Unknown', health: 'Unknown', driftChanges: 0, policy, hosts }, ...(lastPlan ? { lastPlan } : {}) });
      }
      // A module without a reconciler is never shown Synced or Healthy: nothing of it is built or checked.
      const unmanaged = unmanagedReason(c.module);
      if (unmanaged) this.units.get(name)!.status = { ...this.units.get(name)!.status, sync: 'Unmanaged', health: 'Unmanaged', message: unmanaged };
      else this.scheduleDrift(name);
    }
    for (const [name, u] of this.units) {
      if (!seen.has(name)) {
        clearTimeout(u.driftTimer);
        this.units.delete(name);
      }
    }
    const members = new Set(v.clusters.flatMap((c) => c.members.map((m) => m.name)));
    for (const host of this.facts.keys()) if (!members.has(host)) this.facts.delete(host);
    this.exportClusters();
  }

  /** A unit is named after its cluster; a name two modules share gets the module appended. */
  private unitName(module: Module, name: string, v: Validated): string {
    const shared = v.clusters.filter((c) => c.name === name).length > 1;
    return shared && module === 'node' ? `${name}.node` : name;
  }

  private async syncAll(trigger: Trigger): Promise<void> {
    // Each phase after the one before (from the modules' `after`); a phase's units in parallel.
    for (const phase of phases()) {
      const names = [...this.units.values()].filter((u) => phase.includes(u.status.module)).map((u) => u.status.name);
      await Promise.all(names.map((n) => this.schedule(n, trigger, false)));
    }
  }

  private scheduleDrift(name: string): void {
    const u = this.units.get(name);
    if (!u || this.stopped) return;
    clearTimeout(u.driftTimer);
    u.driftTimer = setTimeout(() => {
      void this.schedule(name, 'drift', false).finally(() => this.scheduleDrift(name));
    }, u.status.policy.driftIntervalSeconds * 1000);
    u.driftTimer.unref?.();
  }

  // ---- one unit ------------------------------------------------------------------------------

  /** One operation at a time per unit: a trigger during a sync becomes one follow-up sync. */
  private schedule(name: string, trigger: Trigger, force: boolean): Promise<void> {
    const u = this.units.get(name);
    if (!u) return Promise.resolve();
    if (u.running) {
      u.pending = { trigger, force: force || (u.pending?.force ?? false) };
      return u.running;
    }
    u.running = (async () => {
      let next: Unit['pending'] = { trigger, force };
      while (next && !this.stopped) {
        u.pending = undefined;
        await this.syncUnit(u, next.trigger, next.force);
        this.reportProgress();
        next = u.pending;
      }
    })().finally(() => (u.running = undefined));
    return u.running;
  }

  private async syncUnit(u: Unit, trigger: Trigger, force: boolean): Promise<void> {
    const current = this.current;
    if (!current) return;
    const { status } = u;
    if (status.sync === 'Unmanaged') return;
    if (status.policy.suspend) {
      this.setStatus(u, { sync: 'Suspended', message: 'suspended: nothing is planned or applied' });
      return;
    }
    const log = this.opts.logger.child({ cluster: status.name, revision: short(current.revision), trigger });
    let claim: Awaited<ReturnType<Coordination['claim']>>;
    try {
      claim = await this.coord.claim(status.name);
    } catch (e) {
      this.setStatus(u, { sync: 'Failed', message: `not synced: whether this daemon owns ${status.name} is unknown: ${(e as Error).message}` });
      return;
    }
    // Another daemon owns the unit: what it shares is shown.
    if (!claim) return this.changed();
    const started = new Date();
    const entry: HistoryEntry = {
      id: randomUUID(),
      cluster: status.name,
      revision: current.revision,
      author: current.author,
      subject: current.subject,
      startedAt: started.toISOString(),
      finishedAt: '',
      result: 'Succeeded',
      trigger,
      changes: { planned: 0, applied: 0, failed: 0, skipped: 0 },
    };
    let applied = false;
    // The daemon's own flags win over the repository's corral.yml; host key policy is never the repository's to set.
    const ssh = { ...sshDefaultsFrom(current.validated.inventory!.settings.ssh, current.validated.inventory!.root), ...this.opts.ssh };
    const ctx: RunContext = {
      validated: current.validated,
      transport: this.opts.transport,
      ssh,
      revision: current.revision,
      pki: this.opts.pki,
      cluster: { module: status.module, name: this.clusterNameOf(status) },
      ...(this.opts.controller ? { controller: this.opts.controller } : {}),
      ...(claim.fence ? { fence: claim.fence } : {}),
    };
    try {
      this.setStatus(u, { sync: 'Syncing', progress: { phase: 'planning', hosts: [] } });
      this.opts.events?.syncing?.(status.name, current.revision, trigger);
      // When the observation the status rests on began: the plan's, then the check after the last change.
      let observedFrom = new Date();
      const planning = await planRun(ctx, this.facts);
      for (const o of planning.observations) if (o.ok) this.facts.set(o.host, o.facts);
      const plan = planning.plan;
      u.lastPlan = this.savePlan(status.name, plan);
      entry.changes.planned = plan.changes.length;
      status.lastPlanId = u.lastPlan.id;
      status.driftChanges = plan.changes.length;
      status.checkedAt = observedFrom.toISOString();
      status.revision = current.revision;
      const health = this.healthOf(status, planning);
      const blocking = blockingNotes(plan);
      if (blocking.length) {
        this.setStatus(u, { sync: 'Failed', health, message: `not applied: ${blocking.map((n) => `${n.host}: ${n.message}`).join('; ')}` });
        return;
      }
      if (!plan.changes.length) {
        this.setStatus(u, { sync: plan.unreachable.length ? 'Failed' : 'Synced', health, message: plan.unreachable.length ? this.unreachableText(plan) : `in sync with ${short(current.revision)}` });
        return;
      }
      const why = this.holdReason(u, plan, trigger, force);
      if (why) {
        this.setStatus(u, { sync: 'OutOfSync', health, message: why });
        return;
      }
      applied = true;
      const { progress, onEvent } = applyProgress(plan);
      status.progress = progress;
      const outcome = await applyRun(ctx, planning, (e) => {
        onEvent(e);
        if (e.type === 'done') {
          observedFrom = new Date();
          log.debug({ host: e.result.host, resource: e.result.resource, status: e.result.status, ms: e.result.durationMs }, 'change done');
        }
        this.changed();
      });
      for (const r of outcome.results) entry.changes[r.status === 'applied' ? 'applied' : r.status === 'failed' ? 'failed' : 'skipped']++;
      u.lastPlan = this.savePlan(status.name, outcome.verify.plan);
      entry.result = outcome.converged ? 'Succeeded' : entry.changes.failed || plan.unreachable.length ? 'Failed' : 'NotConverged';
      status.driftChanges = outcome.verify.plan.changes.length;
      status.checkedAt = observedFrom.toISOString();
      this.setStatus(u, {
        sync: outcome.converged ? 'Synced' : 'Failed',
        health: this.healthOf(status, outcome.verify),
        message: outcome.converged ? `synced to ${short(current.revision)}` : this.failureText(outcome.results, outcome.verify.plan),
      });
    } catch (e) {
      // An error may quote a value it was given; a decrypted one never reaches the status, history or log.
      const message = concealValues((e as Error).message, current.validated.inventory?.decrypted ?? []);
      entry.result = 'Error';
      entry.message = message;
      this.setStatus(u, { sync: 'Failed', message });
      log.error({ err: message }, 'sync failed');
    } finally {
      delete status.progress;
      // A unit's state is logged when it changes: a drift check every minute that finds the same is quiet.
      this.once(`unit ${status.name}`, `${status.sync}|${status.health}|${status.message ?? ''}`, () =>
        log[status.sync === 'Failed' ? 'warn' : 'info']({ sync: status.sync, health: status.health, changes: status.driftChanges, ...(status.message ? { message: status.message } : {}) }, `${status.name} is ${status.sync}`),
      );
      if (applied || entry.result === 'Error') {
        entry.finishedAt = new Date().toISOString();
        if (entry.message === undefined && status.message) entry.message = status.message;
        this.appendHistory(entry);
        this.opts.events?.synced?.(entry);
        status.lastSyncAt = entry.finishedAt;
        const ms = Date.parse(entry.finishedAt) - started.getTime();
        this.opts.metrics.recordSync(status.name, entry.result, ms);
        log.info({ result: entry.result, changes: entry.changes, seconds: ms / 1000 }, 'sync finished');
      }
      this.exportClusters();
      this.opts.metrics.setDrift(status.name, status.driftChanges);
      this.coord.publish(status.name, { owner: this.coord.id, status: { ...status }, ...(u.lastPlan ? { lastPlan: u.lastPlan } : {}), history: this.history(status.name) });
      await this.coord.rebalance(status.name);
    }
  }

  /** Why a non-empty plan is not applied now; undefined means apply it. */
  private holdReason(u: Unit, plan: Plan, trigger: Trigger, force: boolean): string | undefined {
    const p = u.status.policy;
    const removals = plan.changes.filter((c) => c.destructive);
    if (removals.length && !p.prune) return `the plan removes ${removals.map((c) => `${c.resource} on ${c.host}`).join(', ')}; set prune: true for ${u.status.name} to allow it`;
    if (force) return undefined;
    if (trigger === 'drift') return p.selfHeal && p.sync === 'auto' ? undefined : `${plan.changes.length} changes drifted from ${short(plan.revision)}; selfHeal is off`;
    return p.sync === 'auto' ? undefined : `${plan.changes.length} changes wait for a manual sync (POST /api/clusters/${u.status.name}/sync or corral sync ${u.status.name})`;
  }

  private clusterNameOf(status: ClusterStatus): string {
    return status.module === 'node' && status.name.endsWith('.node') ? status.name.slice(0, -'.node'.length) : status.name;
  }

  /** The module's own reading when it has one (Patroni, etcd), else whether the nodes answered. */
  private healthOf(status: ClusterStatus, planning: Planning): ClusterStatus['health'] {
    const { plan } = planning;
    const validated = this.current!.validated;
    const cluster = validated.clusters.find((c) => c.module === status.module && c.name === this.clusterNameOf(status));
    const reconciler = reconcilerOf(status.module);
    if (plan.unreachable.length === plan.hosts.length && plan.hosts.length) {
      delete status.healthMessage;
      return 'Unreachable';
    }
    if (reconciler?.health && cluster) {
      const h = reconciler.health({ cluster, hosts: validated.hosts, observations: planning.observations });
      if (h.problems.length) status.healthMessage = h.problems.join('; ').slice(0, 500);
      else delete status.healthMessage;
      if (h.members) status.members = h.members;
      else delete status.members;
      return h.status;
    }
    delete status.healthMessage;
    return plan.unreachable.length ? 'Degraded' : 'Healthy';
  }

  private unreachableText(plan: Plan): string {
    return plan.unreachable.map((x) => `${x.host}: ${x.message}`).join('; ');
  }

  private failureText(results: { status: string; resource: string; host: string; error?: string }[], verify: Plan): string {
    const failed = results.find((r) => r.status === 'failed');
    if (failed) return `${failed.resource} on ${failed.host} failed: ${failed.error ?? ''}`.slice(0, 500);
    if (verify.unreachable.length) return this.unreachableText(verify);
    return `not converged: ${verify.changes.length} changes remain after applying`;
  }

  /** Runs `log` when the state under `key` is not the one logged last: a repeated state is logged once. */
  private once(key: string, state: string, log: () => void): void {
    if (this.logged.get(key) === state) return;
    this.logged.set(key, state);
    log();
  }

  private setStatus(u: Unit, patch: Partial<ClusterStatus>): void {
    Object.assign(u.status, patch);
    this.exportClusters();
    this.changed();
  }

  onChange(listener: () => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  private changed(): void {
    for (const listener of this.changeListeners) listener();
  }

  private setSuspended(name: string, suspended: boolean): boolean {
    const u = this.units.get(name);
    if (!u || u.status.sync === 'Unmanaged') return false;
    void this.coord.setSuspended(name, suspended).catch((e: Error) => this.opts.logger.warn({ cluster: name, err: e.message }, 'the suspension could not be shared with the other daemons'));
    this.persisted.suspended[name] = suspended;
    this.persist();
    u.status.policy.suspend = suspended;
    this.setStatus(u, suspended ? { sync: 'Suspended', message: 'suspended through the API' } : { sync: 'Unknown', message: 'resumed' });
    return true;
  }

  // ---- daemons sharing the fleet -------------------------------------------------------------

  /** The daemon that owns the unit, when it is another one. */
  private elsewhere(name: string): string | undefined {
    return this.units.get(name)?.running ? undefined : this.coord.ownerElsewhere(name);
  }

  /** A unit as this daemon shows it: its own status, or what the owning daemon shared. */
  private shown(u: Unit): ClusterStatus {
    const owner = this.elsewhere(u.status.name);
    const view = owner ? this.coord.view(u.status.name) : undefined;
    if (!owner) return { ...u.status, ...(this.coord.peers().length ? { owner: this.coord.id } : {}) };
    return view?.owner === owner ? { ...view.status, policy: u.status.policy, owner } : { ...u.status, sync: 'Unknown', message: `owned by ${owner}, which has not shared it yet`, owner };
  }

  /** Metrics are the owner's: a unit is counted by one daemon of many. */
  private exportClusters(): void {
    this.opts.metrics.setClusters([...this.units.values()].filter((u) => !this.elsewhere(u.status.name)).map((x) => x.status));
  }

  /** The commit status of the revision in force, from every unit wherever it syncs; sent by one daemon. */
  private reportProgress(): void {
    if (this.current && this.coord.leads()) this.opts.events?.progress?.(this.current.revision, [...this.units.values()].map((u) => this.shown(u)));
  }

  /** Other daemons' units, the suspensions or the daemons alive changed. */
  private sharedChanged(): void {
    for (const [name, u] of this.units) {
      // A daemon that joined may be an idle cluster's choice now: it is handed over (rebalance checks).
      if (!u.running) void this.coord.rebalance(name);
      const suspended = this.coord.suspended(name);
      if (suspended !== undefined && suspended !== u.status.policy.suspend && u.status.sync !== 'Unmanaged') {
        u.status.policy.suspend = suspended;
        this.setStatus(u, suspended ? { sync: 'Suspended', message: 'suspended through another daemon' } : { sync: 'Unknown', message: 'resumed' });
        if (!suspended) void this.schedule(name, 'api', false);
      }
    }
    this.exportClusters();
    this.reportProgress();
    this.changed();
  }

  // ---- state ---------------------------------------------------------------------------------

  /** Writes state.json; when that fails (a full disk), it is written again at the next fetch. */
  private persist(): void {
    if (this.git.lastGoodRevision) this.persisted.lastGoodRevision = this.git.lastGoodRevision;
    this.stateUnwritten = !this.write('state.json', this.persisted);
  }

  /** What a failed write left in memory only: written again (at each fetch) until it lands. */
  private writeUnwritten(): void {
    if (this.stateUnwritten) this.persist();
    for (const [cluster, entries] of this.unwrittenHistory) {
      if (this.write(`history/${cluster}.json`, this.history(cluster))) this.unwrittenHistory.delete(cluster);
      else this.unwrittenHistory.set(cluster, entries.slice(0, HISTORY_KEPT));
    }
  }

  /**
   * One write to the state dir. A failure (ENOSPC on a full disk, EACCES, EROFS) never stops the
   * daemon: the caller keeps what it wrote in memory, and the failure is logged once, with what to
   * do, until a write succeeds again. The file on disk stays as it was (writes are atomic).
   */
  private write(name: string, value: unknown, write = (): void => this.store.write(name, value)): boolean {
    try {
      write();
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      const why = err.code === 'ENOSPC' ? `the disk of ${this.opts.stateDir} is full (ENOSPC): free space there` : `${err.message}: check ${this.opts.stateDir}`;
      this.once('state write', `failed|${err.code ?? err.message}`, () => this.opts.logger.warn({ file: name, code: err.code, err: err.message }, `cannot write ${name} in the state dir: ${why}; the daemon goes on and writes it again at the next poll`));
      return false;
    }
    const wasFailing = this.logged.get('state write')?.startsWith('failed|') ?? false;
    this.once('state write', 'ok', () => wasFailing && this.opts.logger.info({ file: name }, 'the state dir is written again'));
    return true;
  }

  /** The plan's record, served from memory when its file cannot be written. */
  private savePlan(cluster: string, plan: Plan): PlanRecord {
    const record = planRecord(cluster, plan);
    this.write(`plans/${record.id}.json`, record, () => savePlanRecord(this.store, record, PLANS_KEPT));
    return record;
  }

  private appendHistory(entry: HistoryEntry): void {
    const unwritten = [entry, ...(this.unwrittenHistory.get(entry.cluster) ?? [])];
    this.unwrittenHistory.set(entry.cluster, unwritten);
    if (this.write(`history/${entry.cluster}.json`, this.history(entry.cluster))) this.unwrittenHistory.delete(entry.cluster);
    else this.unwrittenHistory.set(entry.cluster, unwritten.slice(0, HISTORY_KEPT));
  }
}
