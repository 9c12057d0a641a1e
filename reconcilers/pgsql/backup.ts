/**
 * Backups as Pigsty runs them on every member: pgbackrest.conf, the stanza (on the primary, and on each
 * replica when the repository is local: one repository a node), the dbsu's crontab from `pg_crontab`
 * and the /pg/bin scripts it calls. The scripts run on every member and act only where PostgreSQL is
 * primary, so the same crontab keeps working after a failover.
 */
import type { HostView } from '../../src/config/hosts.js';
import { stateOf, type Facts, type Note, type Observation } from '../../src/engine/model.js';
import { directory, file } from '../../src/engine/resources/file.js';
import type { Ref } from '../../src/engine/resources/kind.js';
import type { Resources } from './exporters.js';
import { staleFiles } from '../../src/engine/resources/stale-files.js';
import { pgbackrestStanza, pgbackrestStanzaId, repositoryMove } from './kinds/pgbackrest-stanza.js';
import { backupRepo, PGBACKREST_CONF, PGBACKREST_CONF_D, REPO_SECRETS_MARKER, REPO_SECRETS_NAME, repoSecretsConf, SECURE_LINES } from './pgbackrest-repo.js';
import { pgbackrestConf } from './templates.js';

/** What a script needs to reach its own member's PostgreSQL. */
export interface ScriptContext {
  cluster: string;
  dbsu: string;
  port: number;
  socketDir: string;
  data: string;
}

export const scriptContext = (h: HostView): ScriptContext => ({
  cluster: h.str('pg_cluster')!,
  dbsu: h.str('pg_dbsu'),
  port: h.int('pg_port'),
  socketDir: h.str('pg_localhost'),
  data: h.str('pg_data'),
});

/** A shell word: single-quoted unless plainly safe. */
const q = (s: string | number): string => (/^[A-Za-z0-9_./:@%+=-]+$/.test(String(s)) ? String(s) : `'${String(s).replace(/'/g, `'\\''`)}'`);

/** Runs a command as the dbsu: directly when already the dbsu, through runuser as root, sudo -n otherwise. */
const AS_DBSU = `as_dbsu() {
  if [[ "$(id -un)" == "$DBSU" ]]; then "$@"
  elif [[ $EUID -eq 0 ]]; then runuser -u "$DBSU" -- "$@"
  else sudo -n -u "$DBSU" -- "$@"
  fi
}`;

/** /pg/bin/pg-role: primary, replica or unknown. */
export function pgRoleScript(c: ScriptContext): string {
  return `#!/bin/bash
# managed by corral (PGSQL): /pg/bin/pg-role of ${c.cluster}
# Prints the role of this member's PostgreSQL: primary, replica or unknown.
# A running PostgreSQL is asked (pg_is_in_recovery). A stopped one is read from its data directory:
# standby.signal or recovery.signal make it a replica, a data directory without them a primary.
set -uo pipefail
DBSU=${q(c.dbsu)}
DATA=${q(c.data)}
${AS_DBSU}
case "$(as_dbsu psql -AXtqw -h ${q(c.socketDir)} -p ${c.port} -d postgres -c 'SELECT pg_is_in_recovery()' 2>/dev/null)" in
  f) echo primary; exit 0 ;;
  t) echo replica; exit 0 ;;
esac
if as_dbsu test -e "$DATA/standby.signal" -o -e "$DATA/recovery.signal" 2>/dev/null; then echo replica
elif as_dbsu test -e "$DATA/PG_VERSION" 2>/dev/null; then echo primary
else echo unknown
fi
`;
}

/** The lines a script that must run on the primary, as the dbsu, starts with. */
const primaryOnly = (name: string): string => `BIN="$(cd "$(dirname "$0")" && pwd)"
if [[ "$(id -un)" != "$DBSU" ]]; then
  if [[ $EUID -eq 0 ]]; then exec runuser -u "$DBSU" -- "$BIN/${name}" "$@"; fi
  echo "${name}: run it as $DBSU (or root)" >&2
  exit 2
fi
role=$("$BIN/pg-role")
if [[ "$role" != primary ]]; then
  echo "${name}: this member is $role, not the primary: nothing to do here"
  exit 1
fi`;

/** /pg/bin/pg-backup [full|diff|incr]: a pgBackRest backup of the cluster's stanza, on the primary only. */
export function pgBackupScript(c: ScriptContext): string {
  return `#!/bin/bash
# managed by corral (PGSQL): /pg/bin/pg-backup of ${c.cluster}
# pg-backup [full|diff|incr]: a pgBackRest backup of stanza ${c.cluster}. Without a type it is
# incremental (pgBackRest makes it full while the repository has no full backup yet).
# It runs only where PostgreSQL is primary; elsewhere it says so and exits 1, so one crontab line
# can stand on every member and still back up once, from whichever member leads.
set -uo pipefail
DBSU=${q(c.dbsu)}
STANZA=${q(c.cluster)}
TYPE=\${1:-incr}
case "$TYPE" in
  full | diff | incr) ;;
  *) echo "usage: pg-backup [full|diff|incr]" >&2; exit 3 ;;
esac
${primaryOnly('pg-backup')}
echo "pg-backup: $TYPE backup of $STANZA begins at $(date '+%F %T')"
pgbackrest --stanza="$STANZA" --type="$TYPE" backup
rc=$?
if [[ $rc -eq 0 ]]; then echo "pg-backup: $TYPE backup of $STANZA done at $(date '+%F %T')"
else echo "pg-backup: $TYPE backup of $STANZA failed (pgbackrest exit $rc) at $(date '+%F %T')" >&2
fi
exit $rc
`;
}

/** /pg/bin/pg-vacuum [db...]: freeze and analyze the tables older than 100 million transactions, on the primary only. */
export function pgVacuumScript(c: ScriptContext): string {
  return `#!/bin/bash
# managed by corral (PGSQL): /pg/bin/pg-vacuum of ${c.cluster}
# pg-vacuum [database...]: VACUUM FREEZE and ANALYZE the tables whose transaction age is past
# 100 million (PG_VACUUM_AGE), in the databases named or in all of them, against wraparound.
# It runs only where PostgreSQL is primary, one at a time.
set -uo pipefail
DBSU=${q(c.dbsu)}
AGE=\${PG_VACUUM_AGE:-100000000}
${primaryOnly('pg-vacuum')}
exec 9>"$BIN/../tmp/pg-vacuum.lock"
if ! flock -n 9; then echo "pg-vacuum: another one runs" >&2; exit 2; fi
conn=(-h ${q(c.socketDir)} -p ${c.port})
if [[ $# -eq 0 ]]; then
  vacuumdb "\${conn[@]}" --all --freeze --analyze --min-xid-age="$AGE"
else
  rc=0
  for db in "$@"; do vacuumdb "\${conn[@]}" --dbname="$db" --freeze --analyze --min-xid-age="$AGE" || rc=$?; done
  exit $rc
fi
`;
}

/** The scripts Corral writes to /pg/bin, by name. */
export const pgBinScripts = (c: ScriptContext): Record<string, string> => ({
  'pg-role': pgRoleScript(c),
  'pg-backup': pgBackupScript(c),
  'pg-vacuum': pgVacuumScript(c),
});

/** Where a user's crontab lives: Debian's cron reads /var/spool/cron/crontabs (group crontab), cronie /var/spool/cron. */
export function crontabFile(dbsu: string, f: Facts): { path: string; group: string } {
  return f.packageManager === 'dnf' ? { path: `/var/spool/cron/${dbsu}`, group: dbsu } : { path: `/var/spool/cron/crontabs/${dbsu}`, group: 'crontab' };
}

/** The dbsu's crontab: `pg_crontab`, one job a line (no user field), with /pg/bin on the PATH. */
export function pgCrontab(h: HostView): string {
  return [
    `# managed by corral (PGSQL): pg_crontab of ${h.str('pg_cluster')} for ${h.str('pg_dbsu')}`,
    'SHELL=/bin/bash',
    `PATH=${h.str('pg_bin_dir')}:/pg/bin:/usr/local/bin:/usr/bin:/usr/sbin:/bin:/sbin`,
    'MAILTO=""',
    ...h.param('pg_crontab'),
    '',
  ].join('\n');
}

export interface BackupRefs {
  /** The package resource (pgbackrest, cron). */
  pkg: Ref;
  /** /pg/bin. */
  bin: Ref | undefined;
  /** What the stanza waits for: the member running, and on the primary the DCS settled. */
  running: (Ref | undefined)[];
}

/**
 * The backup resources of one member. `primary` is the intended primary (pg_role). With the local
 * method every member gets the stanza in its own repository; with another (a shared repository) only
 * the primary does, as Pigsty. The repository's secure options (keys, cipher pass) are not in
 * pgbackrest.conf but in conf.d/repo1-secrets.conf, 0600, which pgBackRest reads by itself.
 */
export function backupResources(r: Resources, h: HostView, f: Facts, primary: boolean, refs: BackupRefs, opts: { stanza: boolean } = { stanza: true }): void {
  const c = scriptContext(h);
  const owned = { owner: c.dbsu, group: c.dbsu };
  for (const [name, content] of Object.entries(pgBinScripts(c))) r.add(file, { path: `/pg/bin/${name}`, content, mode: 0o755, owner: 'root', group: c.dbsu }, [refs.bin]);

  const jobs = h.param('pg_crontab');
  if (jobs.length) {
    const tab = crontabFile(c.dbsu, f);
    r.add(file, { path: tab.path, content: pgCrontab(h), mode: 0o600, owner: c.dbsu, group: tab.group }, [refs.pkg]);
  }

  if (!h.param('pgbackrest_enabled')) return;
  const repo = backupRepo(h);
  if (!repo) return; // pgsql/pgbackrest-repo: the inventory does not validate
  const local = repo.method === 'local';
  const deps: (Ref | undefined)[] = [];
  // /pg/backup is one of /pg's directories; a local repository elsewhere is made for the dbsu.
  if (local && repo.path && repo.path !== '/pg/backup') deps.push(r.add(directory, { path: repo.path, mode: 0o750, ...owned }, [refs.pkg]));
  // The secure options in a file of their own (a redacted diff), before the conf that names the repository; removed when there are none.
  const secrets = repo.secrets.length ? r.add(file, { path: `${PGBACKREST_CONF_D}/${REPO_SECRETS_NAME}`, content: repoSecretsConf(c.cluster, repo), mode: 0o600, ...owned, secret: true }) : undefined;
  // A node's conf of before (Pigsty's, or Corral's own) may still hold them: its diff does not show them.
  const conf = r.add(file, { path: PGBACKREST_CONF, content: pgbackrestConf(h, f.cpus, repo.lines), mode: 0o640, ...owned, conceal: SECURE_LINES }, [secrets]);
  const stale = r.add(staleFiles, { dir: PGBACKREST_CONF_D, set: `${c.cluster} repository secrets`, marker: REPO_SECRETS_MARKER, keep: secrets ? [REPO_SECRETS_NAME] : [], glob: '*.conf' }, [conf]);
  deps.push(secrets, conf, stale);
  if (opts.stanza && (primary || local)) {
    r.add(pgbackrestStanza, { stanza: c.cluster, dbsu: c.dbsu, primary, initBackup: primary && h.param('pgbackrest_init_backup'), repo: repo.identity, data: h.str('pg_data') }, [...refs.running, ...deps]);
  }
}

/** How to get rid of a stanza's backups and WAL archive in a repository Corral moved away from. */
function expireByHand(stanza: string, old: string): string {
  const [type, ...rest] = old.split(' ');
  const where = rest.join(' ');
  if (type === 'posix' || type === 'cifs') return `on the node, rm -rf ${where}/archive/${stanza} ${where}/backup/${stanza} once no restore needs them`;
  return `delete archive/${stanza}/ and backup/${stanza}/ under ${where} with the storage's own tools once no restore needs them, or run \`pgbackrest --stanza=${stanza} --repo1-retention-full=1 expire\` with a pgbackrest.conf that names the old repository to keep only its newest full backup`;
}

/**
 * Notes for the members whose stanza moves to another repository (from one plan's observations):
 * what becomes of the old one. Members without a stanza (replicas with a shared repository) have none.
 */
export function repositoryNotes(members: readonly HostView[], observations: readonly Observation[]): Note[] {
  const out: Note[] = [];
  for (const h of members) {
    const repo = h.param('pgbackrest_enabled') ? backupRepo(h) : undefined;
    const stanza = h.str('pg_cluster');
    if (!repo || !stanza) continue;
    const have = stateOf(observations, h.name, pgbackrestStanzaId(stanza));
    const move = have ? repositoryMove({ stanza, dbsu: h.str('pg_dbsu'), primary: false, initBackup: false, repo: repo.identity, data: h.str('pg_data') }, have) : undefined;
    if (!move) continue;
    const made =
      h.str('pg_role') !== 'primary'
        ? 'the stanza is made there offline (this member archives there once promoted)'
        : h.param('pgbackrest_init_backup')
          ? 'the stanza is made there, archiving checked and a full backup taken'
          : 'the stanza is made there and archiving checked; no full backup is taken (pgbackrest_init_backup: false), so the next pg-backup makes the first one there'
    const message =
      `pgBackRest repository of ${stanza} moves from ${move.from} to ${move.to}: ${made}. ` +
      `Corral leaves the backups and WAL archive in ${move.from} as they are and never reads or removes them; to expire them by hand, ${expireByHand(stanza, move.from)}`;
    out.push({ host: h.name, resource: pgbackrestStanzaId(stanza), message });
  }
  return out;
}
