/**
 * Pull request previews: fetch the PR's head from the forge's own ref (refs/pull/N/head,
 * refs/merge-requests/N/head), validate it, and plan it against what the nodes are now. Nothing is
 * applied. The outcome goes out as the PR's one comment and its `corral/plan` status.
 *
 * One preview per PR at a time; pushes during one coalesce into one more, of the newest head.
 * Previews have a git clone of their own, so they never disturb the checkouts of the revision in force.
 *
 * A PR decides which hosts are planned, never how Corral reaches them: each host is reached as the
 * revision in force reaches it, or with the daemon's defaults, and a PR that would have Corral run
 * its scripts on the daemon's own machine (`ansible_connection: local`) is refused unless allowed.
 */
import type { Logger } from 'pino';
import type { Validated } from '../src/config/validate.js';
import { admitRevision, type SecretOptions } from '../src/config/decrypt.js';
import type { GitSource } from '../src/git/source.js';
import { planRun } from '../src/engine/run.js';
import type { CertificateIssuer } from '../src/pki/authority.js';
import { defaultTarget, sshDefaultsFrom, targetOf, type SshDefaults } from '../src/engine/targets.js';
import type { Target, Transport } from '../src/transport/types.js';
import { planComment, planStatus, type Preview } from './comment.js';
import type { PullRequest } from './receivers/types.js';
import type { Notice } from './notifiers/types.js';
import { writePlanRecord } from '../src/daemon/plans.js';
import type { StateStore } from '../src/daemon/store.js';

export const PLAN_CONTEXT = 'corral/plan';
const PLANS_KEPT_PER_PR = 3;

export interface PreviewOptions {
  git: GitSource;
  transport: Transport;
  /** The daemon's own SSH settings (its flags); they win over the corral.yml of the revision in force. */
  ssh: SshDefaults;
  /** Never writes: a PR's new members get placeholder certificates, issued only when merged and applied. */
  pki: CertificateIssuer;
  store: StateStore;
  logger: Logger;
  notify(notice: Notice): void;
  /** Where Corral's API is reachable by the people reading the PR, for links. */
  publicUrl?: string;
}

/** Where a preview's connection settings come from. */
export interface PreviewConnections {
  /** The daemon's validated revision in force: a host it knows is reached as it reaches it. */
  inForce(): Validated | undefined;
  /** Whether a PR may have Corral run its scripts on the daemon's own machine (`ansible_connection: local`). */
  allowLocal: boolean;
  /** The daemon's: a PR's SOPS values decrypt as the branch's do, and its MAC and key paths keep a value from moving under a key that is shown. */
  secrets?: SecretOptions;
}

export type PreviewTargets = { targets: Map<string, Target> } | { refusedLocal: string[] };

/**
 * How a preview reaches the PR's hosts (`asked`: the targets the PR's inventory names): each as the
 * revision in force reaches it (`inForce`), a host it does not know over SSH at its inventory name
 * with the daemon's defaults; nothing of the PR's own connection settings. A host the PR would reach
 * locally while the revision in force does not is refused, unless local previews are allowed.
 */
export function previewTargets(asked: ReadonlyMap<string, Target>, inForce: ReadonlyMap<string, Target>, defaults: SshDefaults, allowLocal: boolean): PreviewTargets {
  const targets = new Map<string, Target>();
  const newlyLocal: string[] = [];
  for (const [name, wanted] of asked) {
    const known = inForce.get(name) ?? defaultTarget(name, defaults);
    const local = wanted.connection === 'local' && known.connection !== 'local';
    if (local) newlyLocal.push(name);
    targets.set(name, local ? { ...known, connection: 'local' } : known);
  }
  return newlyLocal.length && !allowLocal ? { refusedLocal: newlyLocal } : { targets };
}

export class Previews {
  private readonly running = new Map<number, Promise<void>>();
  private readonly next = new Map<number, PullRequest>();
  /** Until the daemon is wired in: every host with the daemon's flags alone, and no local host. */
  private connections: PreviewConnections = { inForce: () => undefined, allowLocal: false };

  constructor(private readonly o: PreviewOptions) {}

  /** Set by `corral serve` once the daemon exists (the daemon is built after the forge integration). */
  connectWith(connections: PreviewConnections): void {
    this.connections = connections;
  }

  request(pr: PullRequest): void {
    if (this.running.has(pr.number)) {
      this.next.set(pr.number, pr);
      return;
    }
    const run = (async () => {
      let current: PullRequest | undefined = pr;
      while (current) {
        this.next.delete(current.number);
        await this.preview(current);
        current = this.next.get(pr.number);
      }
    })().finally(() => this.running.delete(pr.number));
    this.running.set(pr.number, run);
  }

  /** Resolves when no preview is running. */
  async idle(): Promise<void> {
    while (this.running.size) await Promise.allSettled([...this.running.values()]);
  }

  private link(path: string): string | undefined {
    return this.o.publicUrl ? `${this.o.publicUrl.replace(/\/+$/, '')}${path}` : undefined;
  }

  /** The PR's hosts, reached as the revision in force and the daemon's flags say (previewTargets). */
  private targetsFor(pr: Validated): PreviewTargets & { defaults: SshDefaults } {
    const inForce = this.connections.inForce();
    const root = inForce?.inventory?.root ?? '.';
    const defaults = inForce?.inventory ? { ...sshDefaultsFrom(inForce.inventory.settings.ssh, root), ...this.o.ssh } : this.o.ssh;
    const known = new Map((inForce?.hosts ?? []).map((h) => [h.name, targetOf(h, defaults, root)]));
    const asked = new Map(pr.hosts.map((h) => [h.name, targetOf(h, this.o.ssh, pr.inventory!.root)]));
    return { ...previewTargets(asked, known, defaults, this.connections.allowLocal), defaults };
  }

  private async preview(pr: PullRequest): Promise<void> {
    const log = this.o.logger.child({ pr: pr.number, sha: pr.headSha.slice(0, 12) });
    const target = this.link('/');
    this.o.notify({ kind: 'status', sha: pr.headSha, context: PLAN_CONTEXT, state: 'pending', description: 'planning against the nodes as they are now', ...(target ? { targetUrl: target } : {}) });
    let sha = pr.headSha;
    let result: Preview;
    try {
      const head = await this.o.git.fetchRef(pr.ref);
      // The forge may have moved on since it sent the event: preview what the ref holds now.
      sha = head.sha;
      // A PR is the least trusted input of all: validated in a child process with a time and heap limit.
      const validated = await admitRevision(await this.o.git.checkout(sha), this.connections.secrets);
      if (!validated.valid) {
        result = { pr: pr.number, sha, outcome: { kind: 'invalid', problems: validated.problems } };
      } else {
        const reach = this.targetsFor(validated);
        if ('refusedLocal' in reach) {
          const hosts = reach.refusedLocal.join(', ');
          log.warn({ hosts }, 'preview refused: ansible_connection local');
          result = { pr: pr.number, sha, outcome: { kind: 'error', message: `refused: ansible_connection: local on ${hosts} would run Corral's scripts on the daemon's own machine; previews allow it only with corral serve --allow-local-previews` } };
        } else {
          const planning = await planRun({ validated, transport: this.o.transport, ssh: { ...reach.defaults, fixedTargets: reach.targets }, revision: sha, pki: this.o.pki });
          const record = writePlanRecord(this.o.store, `pr-${pr.number}`, planning.plan, PLANS_KEPT_PER_PR);
          const planUrl = this.link(`/api/plans/${record.id}?format=markdown`);
          result = { pr: pr.number, sha, outcome: { kind: 'plan', plan: planning.plan, ...(planUrl ? { planUrl } : {}) } };
        }
      }
    } catch (e) {
      log.warn({ err: (e as Error).message }, 'preview failed');
      result = { pr: pr.number, sha, outcome: { kind: 'error', message: (e as Error).message } };
    }
    const status = planStatus(result);
    log.info({ state: status.state, description: status.description }, 'preview done');
    this.o.notify({ kind: 'comment', pr: pr.number, body: planComment(result) });
    this.o.notify({ kind: 'status', sha, context: PLAN_CONTEXT, ...status, ...(target ? { targetUrl: target } : {}) });
  }
}
