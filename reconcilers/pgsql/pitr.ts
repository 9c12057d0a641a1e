/**
 * Point-in-time recovery from git: Pigsty's `pg_pitr` on a cluster plans a restore (see kinds/pg-pitr.ts
 * for the steps). Pure: what the restore runs (pgBackRest's options), what the plan notes, and the
 * resources and cross-host edges of the four steps.
 */
import type { HostView } from '../../src/config/hosts.js';
import type { CrossEdge, Note } from '../../src/engine/model.js';
import { sha256 } from '../../src/engine/resources/file.js';
import type { Ref } from '../../src/engine/resources/kind.js';
import type { PgPitr } from '../../src/types/inventory.gen.js';
import type { PatroniTarget } from './kinds/patroni-api.js';
import { pgPitr, pgPitrId, type PgPitrWant, type PitrStep } from './kinds/pg-pitr.js';

type TargetType = 'default' | 'time' | 'xid' | 'name' | 'lsn' | 'immediate';

/** pg_pitr's target type: as given, else the one of time, name, xid or lsn it sets (Pigsty's rule), else the end of the archive. */
export function pitrType(p: PgPitr): TargetType {
  if (p.type && p.type !== 'default') return p.type;
  for (const t of ['time', 'name', 'xid', 'lsn'] as const) if (p[t] !== undefined) return t;
  return 'default';
}

/** The recovery's id: the same pg_pitr (whatever its key order) is the same recovery, carried out once. */
export function pitrId(p: PgPitr): string {
  const canonical = (v: unknown): unknown =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical((v as Record<string, unknown>)[k])])) : v;
  return sha256(JSON.stringify(canonical(p))).slice(0, 12);
}

/** What the plan says the recovery goes to. */
export function pitrTarget(p: PgPitr): string {
  const t = pitrType(p);
  const to = t === 'default' ? 'the end of the WAL archive' : t === 'immediate' ? 'the end of the backup (immediate)' : `${t} ${String(p[t])}`;
  return `${to}${p.set && p.set !== 'latest' ? `, from backup ${p.set}` : ''}${p.exclusive ? ', exclusive' : ''}`;
}

/** pgBackRest's restore options for pg_pitr on a member whose data is at `data`. Promoted at the target whatever the action (see pitrNotes). */
export function restoreArgs(p: PgPitr, h: HostView): string[] {
  const t = pitrType(p);
  const args = [`--stanza=${h.str('pg_cluster')}`, `--pg1-path=${h.str('pg_data')}`, '--delta'];
  if (t !== 'default') args.push(`--type=${t}`);
  if (t !== 'default' && t !== 'immediate') args.push(`--target=${String(p[t])}`, '--target-action=promote');
  if (t === 'immediate') args.push('--target-action=promote');
  if (p.exclusive && t !== 'default' && t !== 'immediate') args.push('--target-exclusive');
  if (p.set && p.set !== 'latest') args.push(`--set=${p.set}`);
  if (p.timeline !== undefined && String(p.timeline) !== 'latest') args.push(`--target-timeline=${String(p.timeline)}`);
  if (p.archive === false) args.push('--archive-mode=off');
  for (const db of p.db_include ?? []) args.push(`--db-include=${db}`);
  for (const db of p.db_exclude ?? []) args.push(`--db-exclude=${db}`);
  for (const [from, to] of Object.entries(p.link_map ?? {})) args.push(`--link-map=${from}=${to}`);
  if (p.process) args.push(`--process-max=${p.process}`);
  return args;
}

/** Why pg_pitr cannot be carried out as given (blocking), and what Corral does instead of a field it does not take (not blocking). */
export function pitrNotes(primary: HostView, standby: boolean): Note[] {
  const p = primary.param('pg_pitr');
  if (!p) return [];
  const cluster = primary.str('pg_cluster')!;
  const at = { host: primary.name, resource: pgPitrId('restore', `${cluster}-${primary.str('pg_seq')}`) };
  const block = (why: string): Note => ({ ...at, message: `pg_pitr of ${cluster}: ${why}; nothing is restored`, blocking: true });
  const out: Note[] = [];
  if (primary.param('pg_safeguard')) out.push(block('refused while pg_safeguard is on (set pg_safeguard: false in the same commit to allow the restore)'));
  if (standby) out.push(block('a standby cluster replays its upstream; recover the upstream instead'));
  if (!primary.param('pgbackrest_enabled')) out.push(block('pgbackrest_enabled is off, so there is no backup to restore'));
  if (p.cluster && p.cluster !== cluster) out.push(block(`restoring another cluster's stanza (cluster: ${p.cluster}) is not supported: Corral restores ${cluster} from its own backups`));
  if (p.repo && Object.keys(p.repo).length) out.push(block('a repository of its own (repo) is not supported: Corral restores from pgbackrest_repo[pgbackrest_method]'));
  if (p.action === 'shutdown') out.push(block('action: shutdown would leave the cluster down; use promote (or pause, which Corral also ends by promoting)'));
  const t = pitrType(p);
  if (t !== 'default' && t !== 'immediate' && p[t] === undefined) out.push(block(`type: ${t} needs ${t}: <target>`));
  if (p.action === 'pause') out.push({ ...at, message: `pg_pitr of ${cluster}: action: pause is carried out as promote: recovery stops at the target and the restored primary is promoted at once (a sync has no one to check it first; write the check into your change review)` });
  return out;
}

/** A member as the steps need it. */
export interface PitrMember {
  h: HostView;
  name: string;
  target: PatroniTarget;
}

export interface PitrSteps {
  /** Per host, its steps in order (each after the one before it on that host). */
  steps: Map<string, PgPitrWant[]>;
  edges: CrossEdge[];
  /** Per host, the step its Patroni service waits for: nothing starts Patroni behind the recovery's back. */
  gate: Map<string, Ref>;
}

/**
 * The steps of pg_pitr over the members: the primary's backups checked, every replica held, then the primary restored, then every
 * replica cloned again, then the record. `dcsPatch` is the cluster's DCS settings, written again on the
 * restored cluster (its DCS was cleared).
 */
export function pitrSteps(primary: PitrMember, replicas: readonly PitrMember[], dcsPatch: Record<string, unknown>): PitrSteps | undefined {
  const p = primary.h.param('pg_pitr');
  if (!p) return undefined;
  const cluster = primary.h.str('pg_cluster')!;
  const common = { cluster, id: pitrId(p), target: pitrTarget(p), apis: [primary, ...replicas].map((m) => m.target.api) };
  const want = (m: PitrMember, step: PitrStep, extra: Partial<PgPitrWant> = {}): PgPitrWant => ({
    ...m.target,
    ...common,
    step,
    member: m.name,
    dbsu: m.h.str('pg_dbsu'),
    data: m.h.str('pg_data'),
    port: m.h.int('pg_port'),
    socketDir: m.h.str('pg_localhost'),
    binDir: m.h.str('pg_bin_dir'),
    logDir: m.h.str('pg_log_dir'),
    timeoutSeconds: 900,
    ...extra,
  });
  const time = pitrType(p) === 'time' ? { targetTime: String(p.time) } : {};
  const args = { restoreArgs: restoreArgs(p, primary.h), ...time };
  const restore = want(primary, 'restore', { ...args, backupFirst: p.backup === true, dcsPatch });
  const out: PitrSteps = { steps: new Map([[primary.h.name, [want(primary, 'check', args), restore, want(primary, 'done')]]]), edges: [], gate: new Map([[primary.h.name, pgPitr.id(restore)]]) };
  const at = (m: PitrMember, step: PitrStep) => ({ host: m.h.name, resource: pgPitrId(step, m.name) });
  for (const r of replicas) {
    out.steps.set(r.h.name, [want(r, 'hold'), want(r, 'reclone')]);
    out.gate.set(r.h.name, pgPitrId('reclone', r.name));
    out.edges.push({ before: at(primary, 'check'), after: at(r, 'hold') }, { before: at(r, 'hold'), after: at(primary, 'restore') }, { before: at(primary, 'restore'), after: at(r, 'reclone') }, { before: at(r, 'reclone'), after: at(primary, 'done') });
  }
  return out;
}
