/**
 * The durable outbox. Every notification is written to the state directory before anyone is told
 * it will be sent, delivered by one lane per notifier in order, retried with exponential backoff
 * and jitter, and removed once delivered; so a restart delivers what was pending, once.
 *
 * Dedupe: a notification has a slot (a commit's status of one context, a PR's comment, an event).
 * A newer one for the same slot replaces a pending older one (only the latest status of a commit
 * matters), and one identical to what the slot last delivered is not sent again.
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import type { Logger } from 'pino';
import type { CorralMetrics } from '../src/daemon/metrics.js';
import type { StateStore } from '../src/daemon/store.js';
import { DeliveryError } from './notifiers/http.js';
import type { Notice, Notifier } from './notifiers/types.js';

interface Item {
  id: string;
  lane: string;
  slot: string;
  hash: string;
  notice: Notice;
  attempts: number;
  /** Epoch ms of the next attempt. */
  nextAt: number;
  createdAt: number;
  lastError?: string;
}

export interface OutboxOptions {
  store: StateStore;
  notifiers: readonly Notifier[];
  metrics: CorralMetrics;
  logger: Logger;
  /** Attempts before an item is dropped; default 12 (about an hour with the default delays). */
  maxAttempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
}

const DIR = 'outbox';
const DELIVERED = 'notify/delivered.json';
const DELIVERED_KEPT = 2000;

function slotOf(n: Notice): string {
  if (n.kind === 'status') return `status:${n.sha}:${n.context}`;
  if (n.kind === 'comment') return `comment:${n.pr}`;
  return `event:${hashOf(n)}`;
}

const hashOf = (n: Notice): string => createHash('sha256').update(JSON.stringify(n)).digest('hex');

export class Outbox {
  private readonly items = new Map<string, Item>();
  private readonly delivered: Map<string, string>;
  private readonly busy = new Set<string>();
  private readonly inFlight = new Set<Promise<void>>();
  private timer?: NodeJS.Timeout;
  private started = false;
  private stopped = false;
  private readonly maxAttempts: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;

  constructor(private readonly opts: OutboxOptions) {
    this.maxAttempts = opts.maxAttempts ?? 12;
    this.baseDelayMs = opts.baseDelayMs ?? 2000;
    this.maxDelayMs = opts.maxDelayMs ?? 10 * 60_000;
    mkdirSync(opts.store.path(DIR), { recursive: true });
    for (const f of readdirSync(opts.store.path(DIR))) {
      if (f.includes('.tmp-')) rmSync(opts.store.path(DIR, f), { force: true });
      else if (f.endsWith('.json')) {
        const item = opts.store.read<Item | undefined>(`${DIR}/${f}`, undefined);
        if (item && this.lane(item.lane)) this.items.set(item.id, item);
      }
    }
    this.delivered = new Map(Object.entries(opts.store.read<Record<string, string>>(DELIVERED, {})));
    this.gauge();
  }

  get depth(): number {
    return this.items.size;
  }

  /** Start delivering (what a previous run left, first). */
  start(): void {
    this.started = true;
    this.pump();
  }

  /** Stop taking new attempts and wait for those in flight; pending items stay on disk. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await Promise.allSettled([...this.inFlight]);
  }

  /** Queue a notice for every notifier that takes it; returns how many were queued (after dedupe). */
  enqueue(notice: Notice): number {
    let queued = 0;
    const hash = hashOf(notice);
    for (const n of this.opts.notifiers.filter((x) => x.accepts(notice))) {
      const slot = `${n.name}|${slotOf(notice)}`;
      const pending = [...this.items.values()].find((i) => i.slot === slot);
      if (pending?.hash === hash || (!pending && this.delivered.get(slot) === hash)) continue;
      const item: Item = { id: randomUUID(), lane: n.name, slot, hash, notice, attempts: 0, nextAt: Date.now(), createdAt: Date.now() };
      this.opts.store.write(`${DIR}/${item.id}.json`, item);
      this.items.set(item.id, item);
      // Only after the new one is safely on disk: a crash in between leaves both, and the newer wins.
      if (pending && !this.busy.has(pending.id)) this.forget(pending);
      queued++;
    }
    this.gauge();
    if (queued) this.pump();
    return queued;
  }

  private lane(name: string): Notifier | undefined {
    return this.opts.notifiers.find((n) => n.name === name);
  }

  private forget(item: Item): void {
    this.items.delete(item.id);
    this.opts.store.remove(`${DIR}/${item.id}.json`);
  }

  private gauge(): void {
    this.opts.metrics.setOutboxDepth(this.items.size);
  }

  /** Each idle lane takes its oldest due item; a timer wakes for the next one due. */
  private pump(): void {
    if (!this.started || this.stopped) return;
    clearTimeout(this.timer);
    const now = Date.now();
    const byLane = new Map<string, Item[]>();
    for (const i of this.items.values()) {
      const lane = byLane.get(i.lane);
      if (lane) lane.push(i);
      else byLane.set(i.lane, [i]);
    }
    let wake = Infinity;
    for (const [lane, list] of byLane) {
      if ([...this.busy].some((id) => this.items.get(id)?.lane === lane)) continue;
      // Per slot only the newest counts (an older one may be left by a crash during a replace).
      const newest = new Map<string, Item>();
      for (const i of list.sort((a, b) => a.createdAt - b.createdAt)) {
        const older = newest.get(i.slot);
        if (older) this.forget(older);
        newest.set(i.slot, i);
      }
      const queue = [...newest.values()];
      const head = queue[0]!;
      if (head.nextAt <= now) this.attempt(head);
      else wake = Math.min(wake, head.nextAt);
    }
    if (wake !== Infinity) {
      this.timer = setTimeout(() => this.pump(), wake - now);
      this.timer.unref?.();
    }
  }

  private attempt(item: Item): void {
    const notifier = this.lane(item.lane)!;
    this.busy.add(item.id);
    const run = (async () => {
      try {
        await notifier.deliver(item.notice);
        this.opts.metrics.notificationDelivery(notifier.provider, 'success');
        this.delivered.delete(item.slot);
        this.delivered.set(item.slot, item.hash);
        while (this.delivered.size > DELIVERED_KEPT) this.delivered.delete(this.delivered.keys().next().value!);
        this.opts.store.write(DELIVERED, Object.fromEntries(this.delivered));
        this.forget(item);
      } catch (e) {
        this.failed(item, notifier, e);
      }
    })().finally(() => {
      this.busy.delete(item.id);
      this.inFlight.delete(run);
      this.gauge();
      this.pump();
    });
    this.inFlight.add(run);
  }

  private failed(item: Item, notifier: Notifier, e: unknown): void {
    const err = e instanceof DeliveryError ? e : new DeliveryError(`${notifier.name}: ${(e as Error).message}`, true);
    item.attempts++;
    item.lastError = err.message;
    const log = this.opts.logger.child({ notifier: notifier.name, notice: item.notice.kind, attempts: item.attempts });
    if (!err.retryable || item.attempts >= this.maxAttempts) {
      this.opts.metrics.notificationDelivery(notifier.provider, 'dropped');
      log.error({ err: err.message }, `notification dropped: ${err.retryable ? 'too many failed attempts' : 'the receiver refused it'}`);
      this.forget(item);
      return;
    }
    this.opts.metrics.notificationDelivery(notifier.provider, 'failure');
    const backoff = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (item.attempts - 1)) * (0.8 + 0.4 * Math.random());
    item.nextAt = Date.now() + Math.max(backoff, err.retryAfterMs ?? 0);
    log.warn({ err: err.message, retryInSeconds: Math.round((item.nextAt - Date.now()) / 1000) }, 'notification failed; will retry');
    if (this.items.has(item.id)) this.opts.store.write(`${DIR}/${item.id}.json`, item);
  }
}
