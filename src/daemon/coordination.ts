/**
 * Daemons sharing one fleet through etcd. Each reconcile unit has one owner at a time: a key bound
 * to the owner's lease. A daemon that dies stops renewing its lease, etcd drops its keys, and the
 * daemon the unit hashes to among those alive (rendezvous hashing) takes it on its next tick.
 *
 * A change runs only after two checks: in etcd, just before it, that the owner key is still this
 * daemon's, created at the revision that is its fencing token; and on the node, under a lock, that
 * no newer token has applied there. A daemon cut off from etcd fails the first check at once and
 * stops applying well before its lease ends; a change it started earlier holds the node's lock, so
 * the next owner's first change waits for it instead of running beside it.
 */
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { gunzip, gzip } from 'node:zlib';
import type { Logger } from 'pino';
import type { Fence } from '../engine/apply.js';
import type { Etcd, KeyValue } from './etcd.js';
import type { ClusterStatus, HistoryEntry, PlanRecord, Trigger } from './types.js';

/** What other daemons show of a unit this one does not own. */
export interface SharedUnit {
  owner: string;
  status: ClusterStatus;
  lastPlan?: PlanRecord;
  history: HistoryEntry[];
}

export interface CoordinationEvents {
  /** A unit no daemon owns, which this one should take. */
  takeover(unit: string): void;
  /** A daemon asked this one, the unit's owner, to sync it. */
  requested(unit: string, trigger: Trigger, force: boolean): void;
  /** A daemon was told of a new revision (a webhook): fetch too. */
  nudged(): void;
  /** Other daemons' units, suspensions or the daemons alive changed. */
  changed(): void;
}

export interface Coordination {
  /** This daemon's name among its peers. */
  readonly id: string;
  start(units: () => string[], events: CoordinationEvents): Promise<void>;
  /** This daemon owns the unit now (taken when free and it is the unit's choice), or undefined: another does. */
  claim(unit: string): Promise<{ fence?: Fence } | undefined>;
  /** Hands the unit over after a sync when another daemon alive is its choice. */
  rebalance(unit: string): Promise<void>;
  /** The owner as last seen, when it is another daemon. */
  ownerElsewhere(unit: string): string | undefined;
  view(unit: string): SharedUnit | undefined;
  publish(unit: string, view: SharedUnit): void;
  /** Asks the unit's owner for a sync; its name, or undefined when no daemon owns the unit. */
  request(unit: string, trigger: Trigger, force: boolean): Promise<string | undefined>;
  nudge(): Promise<void>;
  suspended(unit: string): boolean | undefined;
  setSuspended(unit: string, suspended: boolean): Promise<void>;
  /** Whether this daemon sends the notices about revisions (commit statuses): one daemon does. */
  leads(): boolean;
  /** Daemons alive, this one included. */
  peers(): string[];
  stop(): Promise<void>;
}

/** One daemon alone: it owns every unit, and nothing is checked or shared. */
const done = Promise.resolve();
export const soleDaemon: Coordination = {
  id: 'this daemon',
  start: () => done,
  claim: () => Promise.resolve({}),
  rebalance: () => done,
  ownerElsewhere: () => undefined,
  view: () => undefined,
  publish: () => undefined,
  request: () => Promise.resolve(undefined),
  nudge: () => done,
  suspended: () => undefined,
  setSuspended: () => done,
  leads: () => true,
  peers: () => [],
  stop: () => done,
};

const PREFIX = '/corral/';
const key = {
  daemon: (id: string) => `${PREFIX}daemons/${id}`,
  owner: (unit: string) => `${PREFIX}owners/${unit}`,
  view: (unit: string) => `${PREFIX}views/${unit}`,
  request: (unit: string) => `${PREFIX}requests/${unit}`,
  suspended: (unit: string) => `${PREFIX}suspended/${unit}`,
  nudge: `${PREFIX}nudge`,
  leader: `${PREFIX}leader`,
};
const TICK_MS = 1000;
/**
 * A view bigger than this carries its plan gzipped (plans compress about tenfold), and one still
 * bigger is shared without its plan; etcd takes requests up to 1.5 MiB.
 */
const VIEW_MAX = 512 * 1024;
/** What a gzipped plan may unpack to, whoever wrote it. */
const PLAN_MAX = 64 * 1024 * 1024;
/** A view as etcd holds it: the plan, when the view is large, gzipped and base64-encoded. */
type StoredView = SharedUnit & { packedPlan?: string };
const gzipped = promisify(gzip);
const gunzipped = promisify(gunzip);

/** The view's text for etcd, within VIEW_MAX (compressed off the event loop, in libuv's pool); its plan is stringified once. */
async function storedView(view: SharedUnit): Promise<string> {
  const { lastPlan, ...withoutPlan } = view;
  const rest = JSON.stringify(withoutPlan);
  if (!lastPlan) return rest;
  const plan = JSON.stringify(lastPlan);
  // `rest` is an object with at least owner and status: the plan goes in as its last member.
  const withMember = (member: string): string => `${rest.slice(0, -1)},${member}}`;
  const whole = withMember(`"lastPlan":${plan}`);
  if (whole.length <= VIEW_MAX) return whole;
  const packed = withMember(`"packedPlan":${JSON.stringify((await gzipped(plan)).toString('base64'))}`);
  return packed.length <= VIEW_MAX ? packed : rest;
}

/** A view read from etcd, its plan unpacked; a plan that does not unpack is left out. */
async function sharedView(text: string): Promise<SharedUnit> {
  const { packedPlan, ...view } = JSON.parse(text) as StoredView;
  if (packedPlan === undefined) return view;
  try {
    const plan = await gunzipped(Buffer.from(packedPlan, 'base64'), { maxOutputLength: PLAN_MAX });
    return { ...view, lastPlan: JSON.parse(plan.toString('utf8')) as PlanRecord };
  } catch {
    return view;
  }
}
/** A check closer than this to the lease's end fails: the lease may be gone by the time the change runs. */
const LEASE_MARGIN_MS = 2000;

const after = (k: KeyValue, prefix: string): string => k.key.slice(prefix.length);

/** Where on each node a unit's lock, newest token and the log of what ran live. */
export const NODE_FENCE_DIR = '/var/lib/corral/fence';
export const NODE_APPLY_LOG = '/var/lib/corral/apply.log';

const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * A change's script behind the node-side fence: it waits for the unit's lock (a change of an
 * earlier owner may still run), refuses when a newer token has applied here, records its token, and
 * logs its start and end to the node's apply log (kept under 1 MiB, one old file kept).
 */
export function guardScript(unit: string, owner: string, token: string, change: string, script: string, at = { dir: NODE_FENCE_DIR, log: NODE_APPLY_LOG }): string {
  const base = `${at.dir}/${unit.replace(/[^A-Za-z0-9._-]/g, '_')}`;
  const log = at.log;
  return [
    `mkdir -p ${at.dir}`,
    `exec 9>>${base}.lock`,
    `flock -w 1200 9`,
    `held=$(cat ${base}.token 2>/dev/null || echo 0)`,
    `if [ "$held" -gt ${token} ]; then echo "fenced: a newer owner (token $held) applied ${quote(unit)} here; this one (token ${token}) no longer owns it" >&2; exit 75; fi`,
    `echo ${token} > ${base}.token`,
    `[ "$(stat -c %s ${log} 2>/dev/null || echo 0)" -lt 1048576 ] || mv -f ${log} ${log}.1`,
    `corral_note() { printf '%s %s unit=%s owner=%s token=%s change=%s%s\\n' "$(date +%s.%N)" "$1" ${quote(unit)} ${quote(owner)} ${token} ${quote(change)} "$2" >> ${log}; }`,
    `corral_note start ''`,
    `trap 'corral_note end " rc=$?"' EXIT`,
    // A signal (the session dropped, a stop) still ends with a logged end before the lock is let go.
    `trap 'exit 129' HUP; trap 'exit 141' PIPE; trap 'exit 143' TERM`,
    // The lock stays with this shell alone: a service the script starts must not hold it.
    `(\n${script}\n) 9>&-`,
  ].join('\n');
}

export interface EtcdCoordinationOptions {
  etcd: Etcd;
  id: string;
  ttlSeconds: number;
  logger: Logger;
}

export class EtcdCoordination implements Coordination {
  readonly id: string;
  private lease?: string;
  /** Until when the lease surely lives: the last renewal's send time plus the TTL etcd answered. */
  private validUntil = 0;
  private alive: string[] = [];
  private owners = new Map<string, string>();
  /** Units this daemon owns, with their fencing tokens. */
  private readonly owned = new Map<string, string>();
  private readonly views = new Map<string, { revision: string; view: SharedUnit }>();
  private suspensions = new Map<string, boolean>();
  private nudgeRevision?: string;
  private leader = false;
  private timer?: NodeJS.Timeout;
  private ticking = false;
  private readonly publishing = new Map<string, Promise<void>>();
  private failing = false;

  constructor(private readonly opts: EtcdCoordinationOptions) {
    this.id = opts.id;
  }

  /** Registers with etcd; when etcd does not answer yet, each tick tries again, and nothing is applied meanwhile. */
  async start(units: () => string[], events: CoordinationEvents): Promise<void> {
    await this.tick(units, events);
    this.timer = setInterval(() => void this.tick(units, events), TICK_MS);
    this.timer.unref?.();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await Promise.allSettled(this.publishing.values());
    // Revoking hands every unit over now, not a TTL later.
    if (this.lease) await this.opts.etcd.revoke(this.lease).catch(() => undefined);
    this.owned.clear();
  }

  async claim(unit: string): Promise<{ fence: Fence } | undefined> {
    const { etcd } = this.opts;
    if (!this.lease) return undefined;
    const k = key.owner(unit);
    const free = !this.owners.has(unit) && !this.owned.has(unit);
    if (free && !this.prefers(unit)) return undefined;
    const r = await etcd.txn([{ key: k, target: 'CREATE', createRevision: '0' }], [{ put: { key: k, value: this.id, lease: this.lease } }], [{ range: { key: k } }]);
    const held = r.read[0];
    const token = r.succeeded ? r.revision : held?.value === this.id && held.lease === this.lease ? held.createRevision : undefined;
    if (!token) {
      this.owned.delete(unit);
      if (held) this.owners.set(unit, held.value);
      return undefined;
    }
    if (r.succeeded) this.opts.logger.info({ unit, token }, `${unit} is this daemon's now`);
    this.owned.set(unit, token);
    this.owners.set(unit, this.id);
    return { fence: this.fence(unit, token) };
  }

  async rebalance(unit: string): Promise<void> {
    if (!this.owned.has(unit) || this.prefers(unit)) return;
    const k = key.owner(unit);
    await this.opts.etcd.txn([{ key: k, target: 'VALUE', value: this.id }], [{ delete: { key: k } }]).catch(() => undefined);
    this.owned.delete(unit);
    this.owners.delete(unit);
    this.opts.logger.info({ unit }, `${unit} is handed over: another daemon is its choice`);
  }

  ownerElsewhere(unit: string): string | undefined {
    const owner = this.owners.get(unit);
    return owner === this.id || this.owned.has(unit) ? undefined : owner;
  }

  view(unit: string): SharedUnit | undefined {
    return this.views.get(unit)?.view;
  }

  publish(unit: string, view: SharedUnit): void {
    // In order per unit: a later view never lands before an earlier one.
    const previous = this.publishing.get(unit) ?? Promise.resolve();
    const next = previous
      .then(async () => this.opts.etcd.put(key.view(unit), await storedView(view)))
      .catch((e: Error) => this.opts.logger.warn({ unit, err: e.message }, 'the unit could not be shared through etcd'));
    this.publishing.set(unit, next);
    void next.finally(() => this.publishing.get(unit) === next && this.publishing.delete(unit));
  }

  async request(unit: string, trigger: Trigger, force: boolean): Promise<string | undefined> {
    const owner = this.owners.get(unit);
    if (!owner) return undefined;
    await this.opts.etcd.put(key.request(unit), JSON.stringify({ trigger, force }));
    return owner;
  }

  async nudge(): Promise<void> {
    await this.opts.etcd.put(key.nudge, this.id);
  }

  suspended(unit: string): boolean | undefined {
    return this.suspensions.get(unit);
  }

  async setSuspended(unit: string, suspended: boolean): Promise<void> {
    await this.opts.etcd.put(key.suspended(unit), String(suspended));
    this.suspensions.set(unit, suspended);
  }

  leads(): boolean {
    return this.leader;
  }

  peers(): string[] {
    return [...this.alive];
  }

  private fence(unit: string, token: string): Fence {
    const k = key.owner(unit);
    return {
      token,
      check: async () => {
        if (Date.now() > this.validUntil - LEASE_MARGIN_MS) throw new Error(`this daemon's lease in etcd is not renewed (etcd unreachable?): ${unit} may be another daemon's by now`);
        const r = await this.opts.etcd.txn([
          { key: k, target: 'VALUE', value: this.id },
          { key: k, target: 'CREATE', createRevision: token },
        ], []);
        if (!r.succeeded) {
          this.owned.delete(unit);
          throw new Error(`${unit} is owned by another daemon now`);
        }
      },
      guard: (script, change) => guardScript(unit, this.id, token, change, script),
    };
  }

  /** The unit's choice among the daemons alive: the highest hash of (unit, daemon). */
  private prefers(unit: string): boolean {
    let best: string | undefined;
    let bestHash = '';
    for (const id of this.alive.length ? this.alive : [this.id]) {
      const h = createHash('sha256').update(`${unit}\0${id}`).digest('hex');
      if (h > bestHash) [best, bestHash] = [id, h];
    }
    return best === this.id;
  }

  private async register(): Promise<void> {
    const sent = Date.now();
    this.lease = await this.opts.etcd.grant(this.opts.ttlSeconds);
    this.validUntil = sent + this.opts.ttlSeconds * 1000;
    this.owned.clear();
    await this.opts.etcd.put(key.daemon(this.id), JSON.stringify({ startedAt: new Date().toISOString() }), this.lease);
  }

  private async tick(units: () => string[], events: CoordinationEvents): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      await this.renew();
      await this.read(units, events);
      if (this.failing) this.opts.logger.info('etcd answers again');
      this.failing = false;
    } catch (e) {
      if (!this.failing) this.opts.logger.warn({ err: (e as Error).message }, 'etcd does not answer: nothing is applied until it does, and units whose lease runs out go to other daemons');
      this.failing = true;
    } finally {
      this.ticking = false;
    }
  }

  private async renew(): Promise<void> {
    const sent = Date.now();
    const ttl = this.lease ? await this.opts.etcd.keepAlive(this.lease) : 0;
    if (ttl > 0) {
      this.validUntil = sent + ttl * 1000;
      return;
    }
    if (this.owned.size) this.opts.logger.warn({ units: [...this.owned.keys()] }, 'the lease ran out: every unit of this daemon may be another daemon\'s now');
    await this.register();
  }

  private async read(units: () => string[], events: CoordinationEvents): Promise<void> {
    const { etcd } = this.opts;
    const [all, viewKeys] = await Promise.all([etcd.range(PREFIX, false, `${PREFIX}views/`), etcd.range(`${PREFIX}views/`, true)]);
    const under = (p: string): KeyValue[] => all.filter((k) => k.key.startsWith(p));
    let changed = false;

    const alive = under(`${PREFIX}daemons/`).map((k) => after(k, `${PREFIX}daemons/`)).sort();
    if (alive.join() !== this.alive.join()) [this.alive, changed] = [alive, true];

    const owners = new Map(under(`${PREFIX}owners/`).map((k) => [after(k, `${PREFIX}owners/`), k.value]));
    for (const unit of this.owned.keys()) if (owners.get(unit) !== this.id) this.owned.delete(unit);
    if ([...owners].join() !== [...this.owners].join()) changed = true;
    this.owners = owners;

    const suspensions = new Map(under(`${PREFIX}suspended/`).map((k) => [after(k, `${PREFIX}suspended/`), k.value === 'true']));
    if ([...suspensions].join() !== [...this.suspensions].join()) [this.suspensions, changed] = [suspensions, true];

    for (const r of under(`${PREFIX}requests/`)) {
      const unit = after(r, `${PREFIX}requests/`);
      if (!this.owned.has(unit)) continue;
      await etcd.txn([{ key: r.key, target: 'VALUE', value: r.value }], [{ delete: { key: r.key } }]);
      const asked = JSON.parse(r.value) as { trigger: Trigger; force: boolean };
      events.requested(unit, asked.trigger, asked.force);
    }

    const nudge = all.find((k) => k.key === key.nudge);
    if (nudge && this.nudgeRevision !== undefined && nudge.modRevision !== this.nudgeRevision && nudge.value !== this.id) events.nudged();
    this.nudgeRevision = nudge?.modRevision ?? '0';

    const leader = all.find((k) => k.key === key.leader);
    if (!leader) {
      const r = await etcd.txn([{ key: key.leader, target: 'CREATE', createRevision: '0' }], [{ put: { key: key.leader, value: this.id, lease: this.lease! } }]);
      this.leader = r.succeeded;
    } else this.leader = leader.value === this.id && leader.lease === this.lease;

    for (const v of viewKeys) {
      const unit = after(v, `${PREFIX}views/`);
      if (this.views.get(unit)?.revision === v.modRevision) continue;
      const kv = await etcd.get(v.key);
      if (!kv) continue;
      this.views.set(unit, { revision: kv.modRevision, view: await sharedView(kv.value) });
      changed = true;
    }

    for (const unit of units()) if (!owners.has(unit) && this.prefers(unit)) events.takeover(unit);
    if (changed) events.changed();
  }
}
