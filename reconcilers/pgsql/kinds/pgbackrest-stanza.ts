/**
 * A pgBackRest stanza on one member. On the cluster's primary (pg_role: primary) applying it creates
 * the stanza against the running PostgreSQL, checks archiving and takes the first full backup. On a
 * replica with a local repository (each node has its own, as Pigsty lays it out) it creates the stanza
 * offline, from the data directory's pg_control, so archive-push works the moment the replica is
 * promoted; a replica makes no backup (pg-backup runs only where PostgreSQL is primary).
 */
import { sh } from '../../../src/engine/shell.js';
import { refTo, type Kind } from '../../../src/engine/resources/kind.js';

export interface PgbackrestStanzaWant {
  stanza: string;
  dbsu: string;
  /** The intended primary: stanza-create online, check, and the first backup. Otherwise stanza-create --no-online only. */
  primary: boolean;
  /** Take the first full backup (pgbackrest_init_backup; the primary only). */
  initBackup: boolean;
}

export interface PgbackrestStanzaHave {
  /** The stanza exists (pgBackRest's status 0, or 2: "no valid backups"). */
  stanza: boolean;
  backups: number;
}

interface InfoJson {
  status?: { code?: number; message?: string };
  backup?: unknown[];
}

const asDbsu = (w: PgbackrestStanzaWant, cmd: string): string => sh`runuser -u ${w.dbsu} -- ` + cmd;

const wantsBackup = (w: PgbackrestStanzaWant, h: PgbackrestStanzaHave | null): boolean => w.primary && w.initBackup && !h?.backups;

export const pgbackrestStanza: Kind<PgbackrestStanzaWant, PgbackrestStanzaHave, 'pgbackrest-stanza'> = {
  name: 'pgbackrest-stanza',
  id: (w) => refTo(pgbackrestStanza, w.stanza),
  probe: (w) => asDbsu(w, sh`pgbackrest --stanza=${w.stanza} --output=json info 2>/dev/null | tr -d '\n'; true`),
  parse: (out) => {
    try {
      const info = (JSON.parse(out.trim()) as InfoJson[])[0];
      if (!info) return null;
      return { stanza: info.status?.code === 0 || info.status?.code === 2, backups: info.backup?.length ?? 0 };
    } catch {
      return null;
    }
  },
  diff: (w, h) => [
    ...(h?.stanza ? [] : [{ field: 'stanza', from: null, to: w.primary ? w.stanza : `${w.stanza} (offline, local repository)` }]),
    ...(wantsBackup(w, h) ? [{ field: 'full backups', from: h?.backups ?? 0, to: 1 }] : []),
  ],
  apply: (w, h) =>
    (w.primary
      ? [
          asDbsu(w, sh`pgbackrest --stanza=${w.stanza} stanza-create`),
          asDbsu(w, sh`pgbackrest --stanza=${w.stanza} check`),
          ...(wantsBackup(w, h) ? [asDbsu(w, sh`pgbackrest --stanza=${w.stanza} --type=full backup`)] : []),
        ]
      : [asDbsu(w, sh`pgbackrest --stanza=${w.stanza} --no-online stanza-create`)]
    ).join('\n'),
};
