/**
 * A PostgreSQL role, read from and written to the catalog of the current primary (on a replica
 * it counts as in sync). Attributes the inventory leaves out are left as they are, as Pigsty's
 * ALTER USER does. The password is compared by hash: the probe reads pg_authid.rolpassword and
 * parse keeps only the verdict, so no hash or password reaches a plan, a state file or a log.
 */
import { REDACTED } from '../../../src/config/secrets.js';
import { refTo, type FieldChange, type Kind, type Ref } from '../../../src/engine/resources/kind.js';
import { applySql, ident, literal, probeSql, settingsChange, settingsSql, primaryRows, type PgConn } from './pg-psql.js';
import { verifies } from './pg-scram.js';

export const ROLE_FLAGS = ['login', 'superuser', 'createdb', 'createrole', 'inherit', 'replication', 'bypassrls'] as const;
export type RoleFlag = (typeof ROLE_FLAGS)[number];

/** SQL keyword of each flag: LOGIN / NOLOGIN... */
const FLAG_SQL: Record<RoleFlag, string> = { login: 'LOGIN', superuser: 'SUPERUSER', createdb: 'CREATEDB', createrole: 'CREATEROLE', inherit: 'INHERIT', replication: 'REPLICATION', bypassrls: 'BYPASSRLS' };

export interface PgRoleWant {
  conn: PgConn;
  name: string;
  state: 'create' | 'absent';
  /** Only the flags the inventory sets. */
  flags: Partial<Record<RoleFlag, boolean>>;
  connlimit?: number;
  /** VALID UNTIL, as written in the inventory (a date or a timestamp). */
  expireAt?: string;
  /** Days from creation: set when the role is created (a later run has no "now" to compare with). */
  expireInDays?: number;
  comment: string;
  /** Memberships to hold (WITH ADMIN OPTION when admin) and to revoke; others are left alone. */
  grant: { role: string; admin: boolean }[];
  revoke: string[];
  /** ALTER ROLE SET; the value DEFAULT resets. */
  parameters: Record<string, string>;
  password?: {
    /** What Corral sets: a SCRAM or md5 verifier, never the plain password. */
    verifier: string;
    /** The plain password when the inventory gives one, to check a verifier set by someone else. */
    plain?: string;
    /** pgbouncer passes SCRAM through only when its userlist verifier is the server's, byte for byte. */
    exact: boolean;
  };
}

/** The password as observed: the stored verifier itself is dropped in parse. */
export type PasswordVerdict = 'same' | 'same-password-other-salt' | 'differs' | 'unmanaged';

export type PgRoleHave =
  | { pg: 'replica' }
  | {
      pg: 'primary';
      flags: Record<RoleFlag, boolean>;
      connlimit: number;
      validUntil: string | null;
      comment: string | null;
      memberOf: { role: string; admin: boolean }[];
      config: string[];
      password: PasswordVerdict;
    };

type Present = Extract<PgRoleHave, { pg: 'primary' }>;

const roleSql = (name: string): string => `SELECT json_build_object(
  'flags', json_build_object('login', rolcanlogin, 'superuser', rolsuper, 'createdb', rolcreatedb, 'createrole', rolcreaterole,
                             'inherit', rolinherit, 'replication', rolreplication, 'bypassrls', rolbypassrls),
  'connlimit', rolconnlimit, 'validUntil', to_char(rolvaliduntil, 'YYYY-MM-DD HH24:MI:SS'), 'password', rolpassword,
  'comment', shobj_description(a.oid, 'pg_authid'), 'config', coalesce((SELECT setconfig FROM pg_db_role_setting WHERE setrole = a.oid AND setdatabase = 0), '{}'),
  'memberOf', (SELECT coalesce(json_agg(json_build_object('role', r.rolname, 'admin', m.admin_option) ORDER BY r.rolname), '[]')
               FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid WHERE m.member = a.oid))
FROM pg_authid a WHERE rolname = ${literal(name)};`;

function passwordVerdict(w: PgRoleWant, stored: string | null): PasswordVerdict {
  if (!w.password) return 'unmanaged';
  if (stored === null) return 'differs';
  if (stored === w.password.verifier) return 'same';
  return w.password.plain !== undefined && verifies(stored, w.password.plain, w.name) ? 'same-password-other-salt' : 'differs';
}

const passwordChanges = (w: PgRoleWant, h: Present | null): boolean =>
  Boolean(w.password) && (!h || h.password === 'differs' || (h.password === 'same-password-other-salt' && w.password!.exact));

/** VALID UNTIL as the probe prints it, cut to what the inventory wrote (a date compares by day). */
const sameExpiry = (want: string, have: string | null): boolean => have !== null && have.startsWith(want.replace('T', ' ').slice(0, 19));

/** Role `name`, for what must wait for it (its members, the databases it owns). */
export const pgRoleId = (name: string): Ref<PgRoleHave> => refTo(pgRole, name);

export const pgRole: Kind<PgRoleWant, PgRoleHave, 'pg-role'> = {
  name: 'pg-role',
  id: (w) => pgRoleId(w.name),
  probe: (w) => probeSql(w.conn, roleSql(w.name)),
  parse: (out, w) => {
    const p = primaryRows(out, `role ${w.name}`);
    if (!p || !('rows' in p)) return p;
    if (!p.rows[0]) return null;
    const row = JSON.parse(p.rows[0]) as Omit<Present, 'pg' | 'password'> & { password: string | null };
    return { pg: 'primary', flags: row.flags, connlimit: row.connlimit, validUntil: row.validUntil, comment: row.comment, memberOf: row.memberOf, config: row.config, password: passwordVerdict(w, row.password) };
  },
  diff: (w, h) => {
    if (h?.pg === 'replica') return [];
    if (w.state === 'absent') return h ? [{ field: 'role', from: w.name, to: null }] : [];
    const out: FieldChange[] = h ? [] : [{ field: 'role', from: null, to: w.name }];
    for (const f of ROLE_FLAGS) {
      const want = w.flags[f];
      if (want !== undefined && h?.flags[f] !== want) out.push({ field: f, from: h?.flags[f] ?? null, to: want });
    }
    if (w.connlimit !== undefined && h?.connlimit !== w.connlimit) out.push({ field: 'connlimit', from: h?.connlimit ?? null, to: w.connlimit });
    if (w.expireAt !== undefined && !sameExpiry(w.expireAt, h?.validUntil ?? null)) out.push({ field: 'expire_at', from: h?.validUntil ?? null, to: w.expireAt });
    if (h?.comment !== w.comment) out.push({ field: 'comment', from: h?.comment ?? null, to: w.comment });
    const member = new Map((h?.memberOf ?? []).map((m) => [m.role, m.admin]));
    const missing = w.grant.filter((g) => !member.has(g.role) || (g.admin && !member.get(g.role)));
    const extra = w.revoke.filter((r) => member.has(r));
    if (missing.length || extra.length) {
      const after = [...new Set([...member.keys(), ...missing.map((g) => g.role)])].filter((r) => !extra.includes(r)).sort();
      out.push({ field: 'roles', from: h ? [...member.keys()] : null, to: after });
    }
    out.push(...settingsChange(w.parameters, h?.config ?? null));
    if (passwordChanges(w, h)) out.push({ field: 'password', from: h ? REDACTED : null, to: REDACTED, secret: true });
    return out;
  },
  apply: (w, h) => {
    if (w.state === 'absent') return applySql(w.conn, `DROP ROLE IF EXISTS ${ident(w.name)};`);
    const present = h?.pg === 'primary' ? h : null;
    const create = `CREATE ROLE ${ident(w.name)} ${w.flags.login === false ? 'NOLOGIN' : 'LOGIN'}`;
    const expireIn = w.expireInDays !== undefined ? `; EXECUTE format('ALTER ROLE %I VALID UNTIL %L', ${literal(w.name)}, (current_date + ${Math.trunc(w.expireInDays)})::text)` : '';
    const flags = ROLE_FLAGS.filter((f) => w.flags[f] !== undefined).map((f) => (w.flags[f] ? FLAG_SQL[f] : `NO${FLAG_SQL[f]}`));
    const sql = [
      `DO $corral$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = ${literal(w.name)}) THEN EXECUTE ${literal(create)}${expireIn}; END IF; END $corral$;`,
      ...(flags.length ? [`ALTER ROLE ${ident(w.name)} ${flags.join(' ')};`] : []),
      ...(w.connlimit !== undefined ? [`ALTER ROLE ${ident(w.name)} CONNECTION LIMIT ${Math.trunc(w.connlimit)};`] : []),
      ...(w.expireAt !== undefined ? [`ALTER ROLE ${ident(w.name)} VALID UNTIL ${literal(w.expireAt)};`] : []),
      // The verifier, never the plain password; kept out of the server log, and out of psql's error text should it fail.
      ...(passwordChanges(w, present)
        ? ['\\set VERBOSITY terse', `SET log_statement TO 'none';`, `SET log_min_error_statement TO 'panic';`, `ALTER ROLE ${ident(w.name)} PASSWORD ${literal(w.password!.verifier)};`, 'RESET log_statement;', 'RESET log_min_error_statement;']
        : []),
      ...settingsSql('ROLE', w.name, w.parameters),
      `COMMENT ON ROLE ${ident(w.name)} IS ${literal(w.comment)};`,
      ...w.grant.map((g) => `GRANT ${ident(g.role)} TO ${ident(w.name)}${g.admin ? ' WITH ADMIN OPTION' : ''};`),
      ...w.revoke.map((r) => `REVOKE ${ident(r)} FROM ${ident(w.name)};`),
    ];
    return applySql(w.conn, sql.join('\n'));
  },
  effects: (w, h) => ({ destructive: w.state === 'absent' && h?.pg === 'primary' }),
};
