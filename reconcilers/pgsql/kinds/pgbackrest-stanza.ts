/**
 * A pgBackRest stanza with at least one full backup, made on the cluster's primary. Applying it
 * waits for the node to lead, creates the stanza, checks archiving and takes the first backup.
 */
import { sh } from '../../../src/engine/shell.js';
import { refTo, type Kind } from '../../../src/engine/resources/kind.js';

export interface PgbackrestStanzaWant {
  stanza: string;
  dbsu: string;
  /** Take the first full backup (pgbackrest_init_backup). */
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
    ...(h?.stanza ? [] : [{ field: 'stanza', from: null, to: w.stanza }]),
    ...(w.initBackup && !h?.backups ? [{ field: 'full backups', from: h?.backups ?? 0, to: 1 }] : []),
  ],
  apply: (w, h) =>
    [
      asDbsu(w, sh`pgbackrest --stanza=${w.stanza} stanza-create`),
      asDbsu(w, sh`pgbackrest --stanza=${w.stanza} check`),
      ...(w.initBackup && !h?.backups ? [asDbsu(w, sh`pgbackrest --stanza=${w.stanza} --type=full backup`)] : []),
    ].join('\n'),
};
