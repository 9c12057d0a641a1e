/**
 * The OS superuser of PostgreSQL (pg_dbsu), created as Pigsty creates it, before the packages: group
 * `postgres` with gid pg_dbsu_uid, the user with that uid, pg_dbsu_home and bash. Debian's
 * postgresql-common then keeps it (it makes `postgres` with a uid of its own only when absent). A dbsu
 * that exists is left as it is: changing its uid or home under a data directory it owns is not
 * something to do in passing, so a difference is noted, never applied.
 */
import { refTo, type Kind, type Ref, type Unsupported } from '../../../src/engine/resources/kind.js';
import { sh } from '../../../src/engine/shell.js';

export interface PgDbsuWant {
  name: string;
  uid: number;
  home: string;
}

export interface PgDbsuHave {
  uid: number;
  home: string;
}

export const pgDbsuId = (name: string): Ref<PgDbsuHave> => refTo(pgDbsu, name);

export const pgDbsu: Kind<PgDbsuWant, PgDbsuHave, 'pg-dbsu'> = {
  name: 'pg-dbsu',
  id: (w) => pgDbsuId(w.name),
  probe: (w) => sh`getent passwd ${w.name} || true`,
  parse: (out, w): PgDbsuHave | null | Unsupported => {
    const entry = out.split('\n').find((l) => l.startsWith(`${w.name}:`));
    if (!entry) return null;
    const f = entry.split(':');
    const have = { uid: Number(f[2]), home: f[5] ?? '' };
    const differs = [have.uid !== w.uid && `uid ${have.uid} (pg_dbsu_uid: ${w.uid})`, have.home !== w.home && `home ${have.home} (pg_dbsu_home: ${w.home})`].filter(Boolean);
    if (differs.length) return { unsupported: `dbsu ${w.name} exists with ${differs.join(' and ')}: left as it is, since its data directories are owned by that uid; change it by hand if you mean it` };
    return have;
  },
  diff: (w, h) => (h ? [] : [{ field: 'user', from: null, to: `${w.name} (uid ${w.uid}, home ${w.home})` }]),
  apply: (w) =>
    [
      // Pigsty's group is always `postgres`, with the dbsu's uid as gid.
      sh`getent group postgres >/dev/null || groupadd -g ${w.uid} postgres`,
      sh`useradd -m -u ${w.uid} -g postgres -d ${w.home} -s /bin/bash ${w.name}`,
    ].join('\n'),
};
