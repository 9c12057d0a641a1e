/**
 * A point-in-time recovery of a running cluster, from `pg_pitr`, in five steps on its members:
 * `check` on the primary refuses a recovery no backup can serve and, while the primary leads, has its
 * last WAL archived, before anything stops; `hold` stops Patroni on each replica (no failover while
 * the primary is down); `restore` on the
 * primary stops it, restores with pgBackRest, replays to the target and promotes outside Patroni,
 * clears the cluster's DCS (its history is of the abandoned timeline), starts Patroni, which takes the
 * restored data over as leader, and records the recovery; `reclone` wipes each replica and lets
 * Patroni clone it from the restored primary; `done` records the whole recovery carried out.
 *
 * The record (`corral_pitr` in Patroni's DCS settings: the recovery's id and `restored` or `done`) is
 * what makes it run once per distinct pg_pitr: a sync whose pg_pitr id is recorded done plans nothing.
 * Each member also keeps a marker of the step it began (/var/lib/corral/pgsql/pitr), so a recovery
 * cut off while no member leads (Patroni stopped, the DCS cleared) is resumed rather than forgotten.
 */
import { posix } from 'node:path';
import { sh } from '../../../src/engine/shell.js';
import { keyValues, refTo, type FieldChange, type Kind } from '../../../src/engine/resources/kind.js';
import { patroniCtl, type PatroniTarget } from './patroni-api.js';
import { leadsRunning } from './patroni-member.js';

export type PitrStep = 'check' | 'hold' | 'restore' | 'reclone' | 'done';

export interface PgPitrWant extends PatroniTarget {
  step: PitrStep;
  cluster: string;
  /** This member's name. */
  member: string;
  /** The recovery's id: a hash of pg_pitr, so each distinct value runs once. */
  id: string;
  /** What the plan shows: `time 2026-12-07 10:00:00+00`. */
  target: string;
  /** Every member's REST base URL: the record is read from whichever answers. */
  apis: string[];
  dbsu: string;
  data: string;
  port: number;
  socketDir: string;
  binDir: string;
  /** pg_log_dir: where the replay outside Patroni logs. */
  logDir: string;
  /** This member's own files inside its data directory (pg_hba.conf): a restore or clone brings the backup's or the primary's, these are put back. */
  keep: string[];
  /** restore: pgBackRest's restore options (the stanza, the target, --delta...). */
  restoreArgs?: string[];
  /** restore: a target time that some backup must end before (checked before anything stops). */
  targetTime?: string;
  /** restore: copy the data directory to `<pg_data>-backup` first (pg_pitr.backup). */
  backupFirst?: boolean;
  /** restore: the DCS settings written again once Patroni leads the restored data. */
  dcsPatch?: Record<string, unknown>;
  timeoutSeconds: number;
}

export interface PgPitrHave {
  /** The recovery recorded in the DCS, null when none is (or no member answers). */
  recorded: { id: string; phase: string } | null;
  /** Some member leads and runs. */
  leader: boolean;
  /** This member's marker: `<id> <step>` of the step it began or finished last. */
  marker: string;
}

export const PITR_RECORD = 'corral_pitr';
const MARKER = '/var/lib/corral/pgsql/pitr';
const KEPT = '/var/lib/corral/pgsql/pitr-kept';

interface ConfigJson {
  [PITR_RECORD]?: { id?: unknown; phase?: unknown };
}

/** The first answer of `path` among the members' REST APIs, as `<label>=<json>`. */
const firstAnswer = (w: PgPitrWant, label: string, path: string): string =>
  `for u in ${w.apis.map((a) => sh`${a}${path}`).join(' ')}; do v=$(curl -sf ${w.caFile ? sh`--cacert ${w.caFile} ` : ''}-m 3 "$u" | tr -d '\\n') && [ -n "$v" ] && { printf '${label}=%s\\n' "$v"; break; }; done`;

/** Whether this step still has work to do for the recovery `w.id`, given the record, the leader and this member's marker. */
export function pending(w: PgPitrWant, h: PgPitrHave | null): boolean {
  const rec = h?.recorded;
  if (rec?.id === w.id && rec.phase === 'done') return false;
  const begun = h?.marker.startsWith(`${w.id} `) ?? false;
  if (rec?.id === w.id) {
    // Restored: the primary's part is over; replicas not yet cloned again, and the final record, remain.
    if (w.step === 'reclone') return h?.marker !== `${w.id} recloned`;
    return w.step === 'done';
  }
  // Not begun anywhere and no cluster running: there is nothing to recover (a new cluster bootstraps first).
  return Boolean(h?.leader) || begun;
}

const STEP_FIELD: Record<PitrStep, string> = {
  check: 'backups checked for the recovery',
  hold: 'Patroni stopped for the recovery',
  restore: 'point-in-time recovery',
  reclone: 'cloned again from the restored primary',
  done: 'recovery recorded',
};

const asDbsu = (w: PgPitrWant, cmd: string): string => sh`runuser -u ${w.dbsu} -- ` + cmd;
const mark = (w: PgPitrWant, what: string): string => sh`mkdir -p /var/lib/corral/pgsql && printf '%s\n' ${`${w.id} ${what}`} > ${MARKER}`;

/** Saves the member's own files once per recovery: a step run again after its data was replaced must not save the replacement. */
const saveKept = (w: PgPitrWant): string =>
  sh`if [ ! -e ${KEPT}/${w.id} ]; then ` +
  [sh`rm -rf ${KEPT}`, sh`mkdir -p ${KEPT}/.new`, ...w.keep.map((f) => sh`{ [ ! -f ${f} ] || cp -p ${f} ${KEPT}/.new/; }`), sh`mv ${KEPT}/.new ${KEPT}/${w.id}`].join(' && ') +
  '; fi';
const putKept = (w: PgPitrWant): string[] => w.keep.map((f) => sh`if [ -f ${KEPT}/${w.id}/${posix.basename(f)} ]; then cp -p ${KEPT}/${w.id}/${posix.basename(f)} ${f}; fi`);

/** Stops Patroni and, should it have been killed and left PostgreSQL behind, PostgreSQL. */
const stopAll = (w: PgPitrWant): string[] => [
  'systemctl stop patroni',
  `if ${asDbsu(w, sh`${w.binDir}/pg_ctl -D ${w.data} status`)} >/dev/null 2>&1; then ${asDbsu(w, sh`${w.binDir}/pg_ctl -D ${w.data} -m fast -w stop`)}; fi`,
];

/** Refuses, before anything stops, a recovery no backup can serve. */
const stanza = (w: PgPitrWant): string => w.restoreArgs?.find((a) => a.startsWith('--stanza='))?.slice('--stanza='.length) ?? w.cluster;

function backupCheck(w: PgPitrWant): string {
  const before = w.targetTime ? sh`$(date -d ${w.targetTime} +%s)` : '0';
  return `info=$(${asDbsu(w, sh`pgbackrest --stanza=${stanza(w)} --output=json info`)})
python3 -c 'import json,sys
backups = json.loads(sys.argv[1])[0].get("backup", [])
before = int(sys.argv[2])
ends = [b["timestamp"]["stop"] for b in backups]
if not ends: sys.exit("pg_pitr: stanza ${stanza(w)} has no backup to restore from: nothing was stopped")
if before and min(ends) > before: sys.exit("pg_pitr: the target time is before the first backup of ${stanza(w)} ended: nothing was stopped")' "$info" ${before}`;
}

const RECOVERY_SETTINGS = ['restore_command', 'recovery_target', 'recovery_target_time', 'recovery_target_name', 'recovery_target_xid', 'recovery_target_lsn', 'recovery_target_inclusive', 'recovery_target_action', 'recovery_target_timeline'];

/** psql on this member as the dbsu; one -c each: psql runs them one by one, outside a transaction block (which ALTER SYSTEM refuses). */
const psqlOn = (w: PgPitrWant, ...sql: string[]): string => asDbsu(w, sh`${w.binDir}/psql -AXtqw -h ${w.socketDir} -p ${w.port} -d postgres ` + sql.map((q) => sh`-c ${q}`).join(' '));

function restoreScript(w: PgPitrWant): string {
  const psql = (...sql: string[]): string => psqlOn(w, ...sql);
  const record = (phase: string): Record<string, unknown> => ({ [PITR_RECORD]: { id: w.id, phase } });
  return [
    mark(w, 'restore'),
    ...stopAll(w),
    saveKept(w),
    ...(w.backupFirst ? [sh`if [ ! -e ${w.data}-backup/${w.id} ]; then rm -rf ${w.data}-backup && cp -a ${w.data} ${w.data}-backup && touch ${w.data}-backup/${w.id}; fi`] : []),
    asDbsu(w, sh`pgbackrest ${w.restoreArgs ?? []} restore`),
    ...putKept(w),
    // Replayed outside Patroni: promoted at the target, then stopped for Patroni to take over.
    asDbsu(w, sh`${w.binDir}/pg_ctl -D ${w.data} -w -t 3600 -l ${w.logDir + '/pitr.log'} start`) + ' >/dev/null',
    `end=$((SECONDS + ${w.timeoutSeconds}))
until [ "$(${psql('SELECT pg_is_in_recovery()')} 2>/dev/null)" = f ]; do
  if ! ${asDbsu(w, sh`${w.binDir}/pg_ctl -D ${w.data} status`)} >/dev/null 2>&1; then echo "pg_pitr: PostgreSQL stopped before it reached the target (see ${w.logDir})" >&2; exit 1; fi
  if [ $SECONDS -ge $end ]; then echo "pg_pitr: recovery did not reach the target in ${w.timeoutSeconds}s" >&2; exit 1; fi
  sleep 1
done`,
    // pgBackRest's recovery settings in postgresql.auto.conf would steer this data's next recovery (as a replica).
    psql(...RECOVERY_SETTINGS.map((s) => `ALTER SYSTEM RESET ${s}`)),
    asDbsu(w, sh`${w.binDir}/pg_ctl -D ${w.data} -m fast -w stop`),
    // The DCS holds the abandoned timeline's leader position; Patroni would not lead data behind it.
    sh`printf '%s\nYes I am aware\n' ${w.cluster} | patronictl -c ${w.config} remove ${w.cluster} >/dev/null`,
    'systemctl start patroni',
    patroniCtl(w.config, 'wait-leader', w.timeoutSeconds),
    patroniCtl(w.config, 'patch-config', JSON.stringify({ ...(w.dcsPatch ?? {}), ...record('restored') })),
    mark(w, 'restored'),
  ].join('\n');
}

function applyStep(w: PgPitrWant): string {
  switch (w.step) {
    case 'check':
      return [
        backupCheck(w),
        // While this member still leads: its last WAL archived (pgBackRest's check switches and waits), so a target up to now is in reach.
        `if [ "$(${psqlOn(w, 'SELECT pg_is_in_recovery()')} 2>/dev/null)" = f ]; then timeout 120 ${asDbsu(w, sh`pgbackrest --stanza=${stanza(w)} check`)} || true; fi`,
      ].join('\n');
    case 'hold':
      return [mark(w, 'hold'), ...stopAll(w)].join('\n');
    case 'restore':
      return restoreScript(w);
    case 'reclone':
      return [
        mark(w, 'reclone'),
        ...stopAll(w),
        saveKept(w),
        sh`rm -rf ${w.data} && install -d -m 0700 -o ${w.dbsu} -g ${w.dbsu} ${w.data}`,
        'systemctl start patroni',
        patroniCtl(w.config, 'wait-running', w.timeoutSeconds),
        ...putKept(w),
        asDbsu(w, sh`${w.binDir}/pg_ctl -D ${w.data} reload`) + ' >/dev/null',
        mark(w, 'recloned'),
      ].join('\n');
    case 'done':
      return [patroniCtl(w.config, 'patch-config', JSON.stringify({ [PITR_RECORD]: { id: w.id, phase: 'done' } })), mark(w, 'done')].join('\n');
  }
}

export const pgPitrId = (step: PitrStep, member: string) => refTo(pgPitr, `${step}:${member}`);

export const pgPitr: Kind<PgPitrWant, PgPitrHave, 'pg-pitr'> = {
  name: 'pg-pitr',
  id: (w) => pgPitrId(w.step, w.member),
  probe: (w) => [firstAnswer(w, 'config', '/config'), firstAnswer(w, 'cluster', '/cluster'), sh`printf 'marker=%s\n' "$(cat ${MARKER} 2>/dev/null)"`].join('; ') + '; true',
  parse: (out) => {
    const kv = keyValues(out);
    const json = <T>(label: string): T | undefined => {
      try {
        return JSON.parse(kv.get(label) ?? '') as T;
      } catch {
        return undefined;
      }
    };
    const rec = json<ConfigJson>('config')?.[PITR_RECORD];
    const members = json<{ members?: { role?: string; state?: string }[] }>('cluster')?.members ?? [];
    return {
      recorded: typeof rec?.id === 'string' ? { id: rec.id, phase: String(rec.phase) } : null,
      leader: members.some(leadsRunning),
      marker: kv.get('marker') ?? '',
    };
  },
  diff: (w, h): FieldChange[] => (pending(w, h) ? [{ field: STEP_FIELD[w.step], from: h?.recorded ? `${h.recorded.id} ${h.recorded.phase}` : null, to: `${w.id}: ${w.target}` }] : []),
  apply: (w) => applyStep(w),
  // The restore replaces the primary's data, a reclone a replica's: both need prune.
  effects: (w) => ({ destructive: w.step === 'restore' || w.step === 'reclone', consent: 'pitr', restarts: w.step !== 'done' }),
};
