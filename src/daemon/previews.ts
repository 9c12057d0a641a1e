/**
 * Pull request previews: fetch the PR's head from the forge's own ref (refs/pull/N/head,
 * refs/merge-requests/N/head), validate it, and plan it against what the nodes are now. Nothing is
 * applied. The outcome goes out as the PR's one comment and its `corral/plan` status.
 *
 * One preview per PR at a time; pushes during one coalesce into one more, of the newest head.
 * Previews have a git clone of their own, so they never disturb the checkouts of the revision in force.
 */
import type { Logger } from 'pino';
import { validateInventory } from '../config/validate.js';
import type { GitSource } from '../git/source.js';
import { planRun } from '../engine/run.js';
import { sshDefaultsFrom, type SshDefaults } from '../engine/targets.js';
import type { Transport } from '../transport/types.js';
import { planComment, planStatus, type Preview } from '../../webhooks/comment.js';
import type { PullRequest } from '../../webhooks/receivers/types.js';
import type { Notice } from '../../webhooks/notifiers/types.js';
import { writePlanRecord } from './plans.js';
import type { StateStore } from './store.js';

export const PLAN_CONTEXT = 'corral/plan';
const PLANS_KEPT_PER_PR = 3;

export interface PreviewOptions {
  git: GitSource;
  transport: Transport;
  /** The daemon's own SSH settings; they win over the PR's corral.yml, as over main's. */
  ssh: SshDefaults;
  store: StateStore;
  logger: Logger;
  notify(notice: Notice): void;
  /** Where Corral's API is reachable by the people reading the PR, for links. */
  publicUrl?: string;
}

export class Previews {
  private readonly running = new Map<number, Promise<void>>();
  private readonly next = new Map<number, PullRequest>();

  constructor(private readonly o: PreviewOptions) {}

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
      const validated = await validateInventory(await this.o.git.checkout(sha));
      if (!validated.valid) {
        result = { pr: pr.number, sha, outcome: { kind: 'invalid', problems: validated.problems } };
      } else {
        const inv = validated.inventory!;
        const planning = await planRun({ validated, transport: this.o.transport, ssh: { ...sshDefaultsFrom(inv.settings.ssh, inv.root), ...this.o.ssh }, revision: sha });
        const record = writePlanRecord(this.o.store, `pr-${pr.number}`, planning.plan, PLANS_KEPT_PER_PR);
        const planUrl = this.link(`/api/plans/${record.id}?format=markdown`);
        result = { pr: pr.number, sha, outcome: { kind: 'plan', plan: planning.plan, ...(planUrl ? { planUrl } : {}) } };
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
