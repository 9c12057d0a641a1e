/**
 * What Pigsty's pg-init-template.sql sets in template1 (so in every database created after) and in
 * postgres: pg_default_privileges for pg_dbsu, pg_admin_username and dbrole_admin, the schemas of
 * pg_default_schemas, and no CREATE on schema public for PUBLIC. Read back from pg_default_acl
 * (aclexplode) and pg_namespace; a privilege line Corral cannot read (not `GRANT <privileges> ON
 * <objects> TO <role>`) is applied with the others but not compared.
 */
import { refTo, type FieldChange, type Kind, type Ref, type Unsupported } from '../../../src/engine/resources/kind.js';
import { applySql, connectTo, ident, literal, probeSql, primaryRows, type PgConn } from './pg-psql.js';
import type { PgObjectRef } from './pg-database.js';

export interface PgSchemaRef extends PgObjectRef {
  owner?: string;
}

export interface PgTemplateWant {
  conn: PgConn;
  database: string;
  /** ALTER DEFAULT PRIVILEGES FOR ROLE <role> <statement>, for each role and each statement. */
  privileges: { roles: string[]; statements: string[] };
  schemas: PgSchemaRef[];
}

export type PgTemplateHave = { pg: 'replica' } | { pg: 'primary'; schemas: string[]; acl: string[]; publicCreate: boolean };

/** pg_default_acl's object types. */
const OBJTYPE: Record<string, string> = { TABLES: 'r', SEQUENCES: 'S', FUNCTIONS: 'f', ROUTINES: 'f', TYPES: 'T', SCHEMAS: 'n' };
const PRIVILEGES = new Set(['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER', 'USAGE', 'EXECUTE', 'CREATE']);

/** `<owner> <objtype> <grantee> <PRIVILEGE>` entries a statement grants, as aclexplode reads them back; undefined when it is not a plain GRANT. */
export function aclEntries(owner: string, statement: string): string[] | undefined {
  const m = /^\s*GRANT\s+(.+?)\s+ON\s+(\w+)\s+TO\s+"?([^"\s]+)"?\s*;?\s*$/i.exec(statement);
  const type = m && OBJTYPE[m[2]!.toUpperCase()];
  if (!m || !type) return undefined;
  const privileges = m[1]!.split(',').map((p) => p.trim().toUpperCase());
  if (!privileges.every((p) => PRIVILEGES.has(p))) return undefined;
  const grantee = m[3]!.toUpperCase() === 'PUBLIC' ? 'PUBLIC' : m[3]!;
  return privileges.map((p) => `${owner} ${type} ${grantee} ${p}`);
}

const wantedAcl = (w: PgTemplateWant): string[] => w.privileges.roles.flatMap((role) => w.privileges.statements.flatMap((s) => aclEntries(role, s) ?? []));

const templateSql = (db: string): string => `SELECT EXISTS (SELECT FROM pg_database WHERE datname = ${literal(db)} AND datallowconn) AS corral_inside \\gset
\\if :corral_inside
${connectTo(db)}
SELECT json_build_object('schemas', (SELECT json_agg(nspname) FROM pg_namespace),
  'acl', (SELECT coalesce(json_agg(pg_get_userbyid(d.defaclrole) || ' ' || d.defaclobjtype::text || ' ' || CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END || ' ' || a.privilege_type), '[]')
          FROM pg_default_acl d, aclexplode(d.defaclacl) a WHERE d.defaclnamespace = 0),
  'publicCreate', has_schema_privilege('public', 'public', 'CREATE'));
\\endif`;

export const pgTemplateId = (database: string): Ref<PgTemplateHave> => refTo(pgTemplate, database);

export const pgTemplate: Kind<PgTemplateWant, PgTemplateHave, 'pg-template'> = {
  name: 'pg-template',
  id: (w) => pgTemplateId(w.database),
  probe: (w) => probeSql(w.conn, templateSql(w.database)),
  parse: (out, w): PgTemplateHave | null | Unsupported => {
    const p = primaryRows(out, `database ${w.database}`);
    if (!p || !('rows' in p)) return p;
    if (!p.rows[0]) return null;
    const row = JSON.parse(p.rows[0]) as { schemas: string[] | null; acl: string[]; publicCreate: boolean };
    return { pg: 'primary', schemas: row.schemas ?? [], acl: row.acl, publicCreate: row.publicCreate };
  },
  diff: (w, h) => {
    if (h?.pg === 'replica') return [];
    const out: FieldChange[] = [];
    const missingAcl = wantedAcl(w).filter((e) => !h?.acl.includes(e));
    if (missingAcl.length) out.push({ field: 'default privileges', from: null, to: missingAcl });
    const missing = w.schemas.filter((s) => s.state !== 'absent' && !h?.schemas.includes(s.name)).map((s) => s.name);
    const extra = w.schemas.filter((s) => s.state === 'absent' && h?.schemas.includes(s.name)).map((s) => s.name);
    if (missing.length || extra.length) out.push({ field: 'schemas', from: extra.length ? extra : null, to: missing.length ? missing : null });
    if (!h || h.publicCreate) out.push({ field: 'public schema CREATE for PUBLIC', from: h ? true : null, to: false });
    return out;
  },
  apply: (w) =>
    applySql(
      w.conn,
      [
        connectTo(w.database),
        ...w.privileges.roles.flatMap((role) => w.privileges.statements.map((s) => `ALTER DEFAULT PRIVILEGES FOR ROLE ${ident(role)} ${s.trim().replace(/;$/, '')};`)),
        ...w.schemas.map((s) => (s.state === 'absent' ? `DROP SCHEMA IF EXISTS ${ident(s.name)};` : `CREATE SCHEMA IF NOT EXISTS ${ident(s.name)}${s.owner ? ` AUTHORIZATION ${ident(s.owner)}` : ''};`)),
        'REVOKE CREATE ON SCHEMA public FROM PUBLIC;',
      ].join('\n'),
    ),
  effects: (w, h) => ({ destructive: h?.pg === 'primary' && w.schemas.some((s) => s.state === 'absent' && h.schemas.includes(s.name)) }),
};
