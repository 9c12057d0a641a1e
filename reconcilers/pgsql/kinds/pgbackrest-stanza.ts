/**
 * A pgBackRest stanza on one member. On the cluster's primary (pg_role: primary) applying it creates
 * the stanza against the running PostgreSQL, checks archiving and takes the first full backup. On a
 * replica with a local repository (each node has its own, as Pigsty lays it out) it creates the stanza
 * offline, from the data directory's pg_control, so archive-push works the moment the replica is
 * promoted; a replica makes no backup (pg-backup runs only where PostgreSQL is primary).
 *
 * The repository the stanza was made on is recorded on the node (its identity, no secret), once the
 * stanza is made: the probe runs before a new pgbackrest.conf is written, so `pgbackrest info` answers
 * for the old repository, and the record is what tells that the stanza is not yet on the new one. A
 * node without a record (a stanza made before Corral recorded it, or by Pigsty) is taken to have it on
 * the repository its pgbackrest.conf names. Moving makes the stanza on the new repository, checks
 * archiving there and, on the primary, takes a full backup there; the old repository is left as it is.
 */
import { sh } from '../../../src/engine/shell.js';
import { refTo, type Kind, type Ref } from '../../../src/engine/resources/kind.js';
import { IDENTITY_LINES, identityOfLines, PGBACKREST_CONF } from '../pgbackrest-repo.js';

export interface PgbackrestStanzaWant {
  stanza: string;
  dbsu: string;
  /** The intended primary: stanza-create online, check, and the first backup. Otherwise stanza-create --no-online only. */
  primary: boolean;
  /** Take the first full backup (pgbackrest_init_backup; the primary only), and one on a new repository. */
  initBackup: boolean;
  /** The identity of the repository the stanza belongs on (repoIdentity). */
  repo: string;
  /** pg_data: a standby.signal there tells that the intended primary runs as a replica (after a failover). */
  data: string;
}

export interface PgbackrestStanzaHave {
  /** The stanza exists in the repository the node's pgbackrest.conf names (pgBackRest's status 0, or 2: "no valid backups"). */
  stanza: boolean;
  backups: number;
  /** The repository the stanza was last made on, as recorded on the node. */
  recorded?: string;
  /** The repository the node's pgbackrest.conf names, as found. */
  conf?: string;
}

interface InfoJson {
  status?: { code?: number; message?: string };
  backup?: unknown[];
}

/** Where a node records the repository its stanza was made on. */
export const stanzaRecordPath = (stanza: string): string => `/var/lib/corral/pgsql/pgbackrest-${stanza}.repo`;

export const pgbackrestStanzaId = (stanza: string): Ref<PgbackrestStanzaHave> => refTo(pgbackrestStanza, stanza);

const asDbsu = (w: PgbackrestStanzaWant, cmd: string): string => sh`runuser -u ${w.dbsu} -- ` + cmd;

/** The repository the stanza is on as far as the node tells, and the one it belongs on, when they differ. */
export function repositoryMove(w: PgbackrestStanzaWant, h: PgbackrestStanzaHave | null): { from: string; to: string } | undefined {
  const made = h?.recorded ?? (h?.stanza ? h.conf : undefined);
  return made !== undefined && made !== w.repo ? { from: made, to: w.repo } : undefined;
}

const wantsBackup = (w: PgbackrestStanzaWant, h: PgbackrestStanzaHave | null): boolean => w.primary && w.initBackup && (!h?.backups || repositoryMove(w, h) !== undefined);

export const pgbackrestStanza: Kind<PgbackrestStanzaWant, PgbackrestStanzaHave, 'pgbackrest-stanza'> = {
  name: 'pgbackrest-stanza',
  id: (w) => pgbackrestStanzaId(w.stanza),
  // Line 1: pgBackRest's answer; then the record and the identity options of pgbackrest.conf (no secure option among them).
  probe: (w) => {
    const record = stanzaRecordPath(w.stanza);
    return [
      asDbsu(w, sh`pgbackrest --stanza=${w.stanza} --output=json info 2>/dev/null | tr -d '\n'; echo`),
      sh`if [ -f ${record} ]; then printf 'recorded=%s\\n' "$(head -n 1 ${record})"; fi`,
      sh`grep -E ${IDENTITY_LINES} ${PGBACKREST_CONF} 2>/dev/null; true`,
    ].join('\n');
  },
  parse: (out) => {
    const [first = '', ...rest] = out.split('\n');
    const recorded = rest.find((l) => l.startsWith('recorded='))?.slice('recorded='.length).trim();
    const conf = identityOfLines(rest.filter((l) => l.startsWith('repo1-')));
    const found = { ...(recorded ? { recorded } : {}), ...(conf ? { conf } : {}) };
    try {
      const info = (JSON.parse(first.trim()) as InfoJson[])[0];
      if (info) return { stanza: info.status?.code === 0 || info.status?.code === 2, backups: info.backup?.length ?? 0, ...found };
    } catch {
      // No answer: pgBackRest not installed yet, or no configuration.
    }
    return Object.keys(found).length ? { stanza: false, backups: 0, ...found } : null;
  },
  diff: (w, h) => {
    const move = repositoryMove(w, h);
    return [
      ...(move ? [{ field: 'repository', from: move.from, to: move.to }] : h?.stanza ? [] : [{ field: 'stanza', from: null, to: w.primary ? w.stanza : `${w.stanza} (offline, local repository)` }]),
      ...(wantsBackup(w, h) ? [{ field: 'full backups', from: move ? 0 : (h?.backups ?? 0), to: 1 }] : []),
    ];
  },
  apply: (w, h) => {
    const record = stanzaRecordPath(w.stanza);
    return [
      ...(w.primary
        ? [
            // Online, the stanza is made where PostgreSQL leads: pgBackRest's own error ("unable to find primary cluster") says not why.
            sh`if [ -e ${w.data}/standby.signal ]; then echo ${`stanza ${w.stanza}: this member, the intended primary (pg_role: primary), runs as a replica (a failover is left as it is): the stanza is made, checked and backed up where PostgreSQL leads; switch over back to it (patronictl switchover), or make the leader pg_role: primary`} >&2; exit 1; fi`,
            asDbsu(w, sh`pgbackrest --stanza=${w.stanza} stanza-create`),
            asDbsu(w, sh`pgbackrest --stanza=${w.stanza} check`),
            ...(wantsBackup(w, h) ? [asDbsu(w, sh`pgbackrest --stanza=${w.stanza} --type=full backup`)] : []),
          ]
        : [asDbsu(w, sh`pgbackrest --stanza=${w.stanza} --no-online stanza-create`)]),
      // Only once the stanza is made (the script stops at a failure): a crash before leaves the move to the next sync.
      sh`mkdir -p "$(dirname ${record})"`,
      sh`printf '%s\\n' ${w.repo} > ${record}.corral-tmp && mv -f ${record}.corral-tmp ${record}`,
    ].join('\n');
  },
};
