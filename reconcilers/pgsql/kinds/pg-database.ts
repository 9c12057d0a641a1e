/**
 * A PostgreSQL database on the current primary (on a replica it counts as in sync): created with
 * Pigsty's options, altered in place where PostgreSQL can (owner, connection limit, comment,
 * connect privilege, schemas), dropped only for `state: absent` (destructive). What
 * only a new database can change (encoding, collation) is reported, unless `state: recreate`
 * allows dropping it.
 */
import { refTo, type FieldChange, type Kind, type Ref, type Unsupported } from '../../../src/engine/resources/kind.js';
import { applySql, connectTo, ident, literal, probeSql, settingsChange, settingsSql, primaryRows, type PgConn } from './pg-psql.js';

export interface PgObjectRef {
  name: string;
  state: 'create' | 'absent';
}

export interface PgDatabaseWant {
  conn: PgConn;
  name: string;
  state: 'create' | 'absent' | 'recreate';
  owner?: string;
  template?: string;
  strategy?: string;
  encoding?: string;
  /** LC_COLLATE and LC_CTYPE wanted (lc_collate / lc_ctype, else locale). */
  collate?: string;
  ctype?: string;
  tablespace?: string;
  isTemplate?: boolean;
  allowconn?: boolean;
  revokeconn?: boolean;
  connlimit?: number;
  comment: string;
  /** ALTER DATABASE SET; the value DEFAULT resets. */
  parameters: Record<string, string>;
  schemas: PgObjectRef[];
  /** pg_default_privileges, set for the owner when the database is created or changed. */
  defaultPrivileges: string[];
  /** Who keeps CONNECT when revokeconn takes it from PUBLIC (replicator, monitor; admin with grant option). */
  connectRoles: { role: string; grantOption: boolean }[];
  /** The role that may create objects (dbrole_admin), when the inventory defines it. */
  adminRole?: string;
}

export type PgDatabaseHave =
  | { pg: 'replica' }
  | {
      pg: 'primary';
      owner: string;
      encoding: string;
      collate: string;
      ctype: string;
      connlimit: number;
      allowconn: boolean;
      isTemplate: boolean;
      comment: string | null;
      publicConnect: boolean;
      config: string[];
      /** Read only when the database takes connections. */
      schemas?: string[];
    };

type Present = Extract<PgDatabaseHave, { pg: 'primary' }>;

/** The database's row, then, when it takes connections, its schemas from inside it (its extensions are pg-extension's). */
const databaseSql = (name: string): string => `SELECT json_build_object('owner', pg_get_userbyid(datdba), 'encoding', pg_encoding_to_char(encoding),
  'collate', datcollate, 'ctype', datctype, 'connlimit', datconnlimit, 'allowconn', datallowconn, 'isTemplate', datistemplate,
  'comment', shobj_description(oid, 'pg_database'), 'publicConnect', has_database_privilege('public', oid, 'CONNECT'),
  'config', coalesce((SELECT setconfig FROM pg_db_role_setting s WHERE s.setrole = 0 AND s.setdatabase = d.oid), '{}'))
FROM pg_database d WHERE datname = ${literal(name)};
SELECT EXISTS (SELECT FROM pg_database WHERE datname = ${literal(name)} AND datallowconn) AS corral_inside \\gset
\\if :corral_inside
${connectTo(name)}
SELECT json_build_object('schemas', (SELECT json_agg(nspname) FROM pg_namespace));
\\endif`;

/** Fields only a new database can change. */
function immutableChanges(w: PgDatabaseWant, h: Present): FieldChange[] {
  const out: FieldChange[] = [];
  if (w.encoding !== undefined && w.encoding.toUpperCase() !== h.encoding.toUpperCase()) out.push({ field: 'encoding', from: h.encoding, to: w.encoding });
  if (w.collate !== undefined && w.collate !== h.collate) out.push({ field: 'lc_collate', from: h.collate, to: w.collate });
  if (w.ctype !== undefined && w.ctype !== h.ctype) out.push({ field: 'lc_ctype', from: h.ctype, to: w.ctype });
  return out;
}

const wanted = <T extends PgObjectRef>(list: T[]): T[] => list.filter((x) => x.state !== 'absent');
const unwanted = <T extends PgObjectRef>(list: T[]): T[] => list.filter((x) => x.state === 'absent');

function objectChanges(field: string, want: PgObjectRef[], have: string[] | undefined): FieldChange[] {
  const missing = wanted(want).filter((x) => !have?.includes(x.name)).map((x) => x.name);
  const extra = unwanted(want).filter((x) => have?.includes(x.name)).map((x) => x.name);
  return missing.length || extra.length ? [{ field, from: extra.length ? extra : null, to: missing.length ? missing : null }] : [];
}

function createSql(w: PgDatabaseWant): string {
  const opts = [
    w.owner && `OWNER ${ident(w.owner)}`,
    w.template && `TEMPLATE ${ident(w.template)}`,
    w.strategy && `STRATEGY ${w.strategy.toUpperCase() === 'FILE_COPY' ? 'FILE_COPY' : 'WAL_LOG'}`,
    w.encoding && `ENCODING ${literal(w.encoding)}`,
    w.collate && `LC_COLLATE ${literal(w.collate)}`,
    w.ctype && `LC_CTYPE ${literal(w.ctype)}`,
    w.tablespace && `TABLESPACE ${ident(w.tablespace)}`,
  ].filter(Boolean);
  return `CREATE DATABASE ${ident(w.name)}${opts.length ? ' ' + opts.join(' ') : ''}`;
}

/** Everything after CREATE: idempotent, so the same script serves a new database and an altered one. */
function alterSql(w: PgDatabaseWant): string[] {
  const db = ident(w.name);
  const revoke = w.revokeconn === true;
  return [
    ...(w.owner ? [`ALTER DATABASE ${db} OWNER TO ${ident(w.owner)};`, `GRANT ALL PRIVILEGES ON DATABASE ${db} TO ${ident(w.owner)};`] : []),
    ...(w.allowconn !== undefined ? [`ALTER DATABASE ${db} ALLOW_CONNECTIONS ${w.allowconn};`] : []),
    ...(w.isTemplate !== undefined ? [`ALTER DATABASE ${db} IS_TEMPLATE ${w.isTemplate};`] : []),
    ...(w.connlimit !== undefined ? [`ALTER DATABASE ${db} CONNECTION LIMIT ${Math.trunc(w.connlimit)};`] : []),
    `COMMENT ON DATABASE ${db} IS ${literal(w.comment)};`,
    ...settingsSql('DATABASE', w.name, w.parameters),
    ...(revoke
      ? [`REVOKE CONNECT ON DATABASE ${db} FROM PUBLIC;`, ...[...w.connectRoles, ...(w.owner ? [{ role: w.owner, grantOption: true }] : [])].map((c) => `GRANT CONNECT ON DATABASE ${db} TO ${ident(c.role)}${c.grantOption ? ' WITH GRANT OPTION' : ''};`)]
      : w.revokeconn === false
        ? [`GRANT CONNECT ON DATABASE ${db} TO PUBLIC;`]
        : []),
    ...(w.adminRole ? [`REVOKE CREATE ON DATABASE ${db} FROM PUBLIC;`, `GRANT CREATE ON DATABASE ${db} TO ${ident(w.adminRole)};`] : []),
  ];
}

/** Run inside the database: public schema rights, default privileges, schemas. */
function insideDbSql(w: PgDatabaseWant): string[] {
  return [
    ...(w.adminRole ? [`REVOKE CREATE ON SCHEMA public FROM PUBLIC;`, `GRANT CREATE ON SCHEMA public TO ${ident(w.adminRole)};`] : []),
    ...(w.owner ? w.defaultPrivileges.map((p) => `ALTER DEFAULT PRIVILEGES FOR ROLE ${ident(w.owner!)} ${p};`) : []),
    ...wanted(w.schemas).map((s) => `CREATE SCHEMA IF NOT EXISTS ${ident(s.name)};`),
    ...unwanted(w.schemas).map((s) => `DROP SCHEMA IF EXISTS ${ident(s.name)};`),
  ];
}

/** Database `name`, for the roles that must wait for it (an owner dropped after its database). */
export const pgDatabaseId = (name: string): Ref<PgDatabaseHave> => refTo(pgDatabase, name);

export const pgDatabase: Kind<PgDatabaseWant, PgDatabaseHave, 'pg-database'> = {
  name: 'pg-database',
  id: (w) => pgDatabaseId(w.name),
  probe: (w) => probeSql(w.conn, databaseSql(w.name)),
  parse: (out, w): PgDatabaseHave | null | Unsupported => {
    const p = primaryRows(out, `database ${w.name}`);
    if (!p || !('rows' in p)) return p;
    if (!p.rows[0]) return null;
    const [row, inside] = p.rows;
    const have: Present = { pg: 'primary', ...(JSON.parse(row) as Omit<Present, 'pg'>) };
    if (inside) {
      const i = JSON.parse(inside) as { schemas: string[] | null };
      have.schemas = i.schemas ?? [];
    }
    const fixed = immutableChanges(w, have);
    if (fixed.length && w.state === 'create') {
      return { unsupported: `database ${w.name}: ${fixed.map((f) => `${f.field} is ${String(f.from)}, wanted ${String(f.to)}`).join('; ')}; only a new database can change that (state: recreate drops and creates it)` };
    }
    return have;
  },
  diff: (w, h) => {
    if (h?.pg === 'replica') return [];
    if (w.state === 'absent') return h ? [{ field: 'database', from: w.name, to: null }] : [];
    if (!h) return [{ field: 'database', from: null, to: w.name }, ...objectChanges('schemas', w.schemas, undefined)];
    const fixed = immutableChanges(w, h);
    if (fixed.length) return [{ field: 'database', from: w.name, to: `${w.name} (dropped and created again)` }, ...fixed];
    const out: FieldChange[] = [];
    if (w.owner !== undefined && w.owner !== h.owner) out.push({ field: 'owner', from: h.owner, to: w.owner });
    if (w.connlimit !== undefined && w.connlimit !== h.connlimit) out.push({ field: 'connlimit', from: h.connlimit, to: w.connlimit });
    if (w.allowconn !== undefined && w.allowconn !== h.allowconn) out.push({ field: 'allowconn', from: h.allowconn, to: w.allowconn });
    if (w.isTemplate !== undefined && w.isTemplate !== h.isTemplate) out.push({ field: 'is_template', from: h.isTemplate, to: w.isTemplate });
    if (w.comment !== h.comment) out.push({ field: 'comment', from: h.comment, to: w.comment });
    if (w.revokeconn !== undefined && w.revokeconn === h.publicConnect) out.push({ field: 'revokeconn', from: !h.publicConnect, to: w.revokeconn });
    out.push(...settingsChange(w.parameters, h.config));
    if (h.schemas) out.push(...objectChanges('schemas', w.schemas, h.schemas));
    return out;
  },
  apply: (w, h) => {
    const db = ident(w.name);
    if (w.state === 'absent') return applySql(w.conn, `DROP DATABASE IF EXISTS ${db} WITH (FORCE);`);
    const present = h?.pg === 'primary' ? h : null;
    const recreate = present !== null && immutableChanges(w, present).length > 0;
    const create = `SELECT ${literal(createSql(w))} WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = ${literal(w.name)}) \\gexec`;
    const inside = w.allowconn === false ? [] : [connectTo(w.name), ...insideDbSql(w)];
    return applySql(w.conn, [...(recreate ? [`DROP DATABASE IF EXISTS ${db} WITH (FORCE);`] : []), create, ...alterSql(w), ...inside].join('\n'));
  },
  effects: (w, h) => {
    if (h?.pg !== 'primary') return {};
    const drops = objectChanges('schemas', w.schemas, h.schemas).some((c) => c.from !== null);
    return { destructive: w.state === 'absent' || immutableChanges(w, h).length > 0 || drops };
  },
};

