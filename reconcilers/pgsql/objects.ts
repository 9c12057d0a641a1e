/**
 * The catalog objects of a PGSQL member: roles (pg_default_roles + pg_users), template1 and postgres
 * as Pigsty's pg-init-template.sql leaves them (pg_default_privileges, pg_default_schemas,
 * pg_default_extensions), databases (pg_databases) and their extensions, pg_hba.conf, and pgbouncer's user list, user options, database list and HBA.
 * Every member gets them all; the SQL kinds act only where the node is the current primary, the
 * files are per node. Changes reload (pg_reload_conf, pgbouncer reload), never restart.
 */
import type { HostView } from '../../src/config/hosts.js';
import type { ReconcileInput } from '../../src/engine/reconciler.js';
import { resourceList } from '../../src/engine/reconciler.js';
import type { Ref, Resource } from '../../src/engine/resources/kind.js';
import type { PgConn } from './kinds/pg-psql.js';
import { psql } from './kinds/pg-psql.js';
import { pgRole, pgRoleId, type PgRoleWant, type RoleFlag } from './kinds/pg-role.js';
import { pgDatabase, pgDatabaseId, type PgDatabaseWant, type PgObjectRef } from './kinds/pg-database.js';
import { pgExtension, type PgExtensionWant } from './kinds/pg-extension.js';
import { pgTemplate, pgTemplateId } from './kinds/pg-template.js';
import { pgPackages, providerOf } from './packages.js';
import { file } from '../../src/engine/resources/file.js';
import { readHash, reload } from '../../src/engine/resources/reload.js';
import { PGSQL_KINDS } from './kinds/index.js';
import { isMd5, isScram, md5Verifier, stableScramVerifier } from './kinds/pg-scram.js';
import type { PgDatabase, PgUser } from '../../src/types/inventory.gen.js';
import { PGB_HBA_PATH, pgHbaPath, renderHba, type HbaPeers } from './hba.js';

export const PGBOUNCER_DIR = '/etc/pgbouncer';

/** Where psql connects: as pg_dbsu over the pg_localhost socket on pg_port. */
export const pgConn = (h: HostView): PgConn => ({ dbsu: h.param('pg_dbsu'), socket: h.param('pg_localhost'), port: h.param('pg_port') });

/** The infra nodes and the cluster's members, for the `infra` and `cluster` HBA aliases. */
export const hbaPeers = (input: ReconcileInput): HbaPeers => ({
  infra: input.hosts.filter((x) => x.groups.includes('infra')).map((x) => x.name),
  members: input.cluster.members.map((m) => m.name),
});

/** pg_default_roles then pg_users; a later entry of the same name adds to (and overrides) an earlier one. */
export function roleList(h: HostView): PgUser[] {
  const byName = new Map<string, PgUser>();
  for (const u of [...h.param('pg_default_roles'), ...h.param('pg_users')]) byName.set(u.name, { ...byName.get(u.name), ...u });
  // The system users' passwords come from their own parameters, as in Pigsty's pg-init-roles.
  const system: [string | undefined, string | undefined][] = [
    [h.param('pg_replication_username'), h.param('pg_replication_password')],
    [h.param('pg_admin_username'), h.param('pg_admin_password')],
    [h.param('pg_monitor_username'), h.param('pg_monitor_password')],
    [h.param('pg_dbsu'), h.param('pg_dbsu_password')],
  ];
  for (const [name, password] of system) {
    const u = name ? byName.get(name) : undefined;
    if (u && password && u.password === undefined) byName.set(u.name, { ...u, password });
  }
  return [...byName.values()];
}

/** The verifier a role's password becomes: given hashes as they are, a plain password hashed with pg_pwd_enc. */
export function verifierOf(h: HostView, cluster: string, user: PgUser): string | undefined {
  const p = user.password;
  if (p === undefined || p === '') return undefined;
  if (isScram(p) || isMd5(p)) return p;
  return h.param('pg_pwd_enc') === 'md5' ? md5Verifier(p, user.name) : stableScramVerifier(p, cluster, user.name);
}

const settings = (p: Record<string, string | number | boolean | undefined> | undefined): Record<string, string> =>
  Object.fromEntries(Object.entries(p ?? {}).filter(([, v]) => v !== undefined).map(([k, v]) => [k, String(v)]));

function roleWant(h: HostView, cluster: string, u: PgUser): PgRoleWant {
  const flags: Partial<Record<RoleFlag, boolean>> = {};
  for (const f of ['login', 'superuser', 'createdb', 'createrole', 'inherit', 'replication', 'bypassrls'] as const) if (u[f] !== undefined) flags[f] = u[f];
  const memberships = (u.roles ?? []).map((r) => (typeof r === 'string' ? { name: r } : r));
  const verifier = verifierOf(h, cluster, u);
  const plain = u.password !== undefined && verifier !== u.password ? u.password : undefined;
  return {
    conn: pgConn(h),
    name: u.name,
    state: u.state === 'absent' ? 'absent' : 'create',
    flags,
    ...(u.connlimit !== undefined ? { connlimit: u.connlimit } : {}),
    ...(u.expire_at !== undefined ? { expireAt: u.expire_at } : {}),
    ...(u.expire_in !== undefined ? { expireInDays: u.expire_in } : {}),
    comment: u.comment ?? `business user ${u.name}`,
    grant: memberships.filter((m) => !m.state || m.state === 'grant').map((m) => ({ role: m.name, admin: m.admin === true || (u.admin ?? []).includes(m.name) })),
    revoke: memberships.filter((m) => m.state === 'absent' || m.state === 'revoke').map((m) => m.name),
    parameters: settings(u.parameters),
    ...(verifier ? { password: { verifier, ...(plain !== undefined ? { plain } : {}), exact: u.pgbouncer === true && h.param('pgbouncer_enabled') } } : {}),
  };
}

const refs = <T extends { name: string; state?: string }>(list: (string | T)[] | undefined): (Omit<T, 'state'> & PgObjectRef)[] =>
  (list ?? []).map((x) => (typeof x === 'string' ? ({ name: x, state: 'create' } as Omit<T, 'state'> & PgObjectRef) : { ...x, state: x.state === 'absent' ? 'absent' : 'create' }));

function databaseWant(h: HostView, d: PgDatabase, roles: readonly PgUser[]): PgDatabaseWant {
  const has = (name: string | undefined): name is string => name !== undefined && roles.some((r) => r.name === name && r.state !== 'absent');
  const collate = d.lc_collate ?? d.locale;
  const ctype = d.lc_ctype ?? d.locale;
  const optional = { owner: d.owner, template: d.template, strategy: d.strategy, encoding: d.encoding, collate, ctype, tablespace: d.tablespace, isTemplate: d.is_template, allowconn: d.allowconn, revokeconn: d.revokeconn, connlimit: d.connlimit };
  const monitor = h.param('pg_monitor_username');
  const repl = h.param('pg_replication_username');
  const admin = h.param('pg_admin_username');
  return {
    conn: pgConn(h),
    name: d.name,
    state: d.state ?? 'create',
    ...Object.fromEntries(Object.entries(optional).filter(([, v]) => v !== undefined && v !== '')),
    comment: d.comment ?? `business database ${d.name}`,
    parameters: settings(d.parameters),
    schemas: refs(d.schemas),
    defaultPrivileges: h.param('pg_default_privileges'),
    connectRoles: [
      ...[repl, monitor].filter(has).map((role) => ({ role, grantOption: false })),
      ...[admin].filter(has).map((role) => ({ role, grantOption: true })),
    ],
    ...(has('dbrole_admin') ? { adminRole: 'dbrole_admin' } : {}),
  };
}

type ExtensionEntry = string | { name: string; schema?: string; version?: string | number; state?: string };

/** The extensions of one database, each created only where its control file is (pg-extension). */
function extensionWants(h: HostView, database: string, list: readonly ExtensionEntry[] | undefined, installs: readonly string[], required: boolean): PgExtensionWant[] {
  const version = h.str('pg_version');
  return refs<Exclude<ExtensionEntry, string>>([...(list ?? [])]).map((e) => {
    const from = providerOf(e.name, version, installs);
    return {
      conn: pgConn(h),
      database,
      name: e.name,
      ...(e.schema ? { schema: e.schema } : {}),
      ...(e.version !== undefined ? { version: String(e.version) } : {}),
      state: e.state,
      controlDir: `/usr/share/postgresql/${version}/extension`,
      ...(from ? { from } : {}),
      required,
    };
  });
}

/** The roles Pigsty's template sets default privileges for: pg_dbsu, pg_admin_username and dbrole_admin (those the inventory keeps). */
function privilegedRoles(h: HostView, roles: readonly PgUser[]): string[] {
  const kept = (name: string): boolean => roles.some((r) => r.name === name && r.state !== 'absent');
  return [...new Set([h.param('pg_dbsu'), h.param('pg_admin_username'), 'dbrole_admin'])].filter((r, i) => i === 0 || kept(r));
}

/** pgbouncer's user list: `"name" "verifier"`, the same verifier the server holds (SCRAM pass-through needs it). */
export function pgbouncerUserlist(h: HostView, cluster: string): string {
  const lines = roleList(h)
    .filter((u) => u.pgbouncer === true && u.state !== 'absent')
    .flatMap((u) => {
      const v = verifierOf(h, cluster, u);
      return v ? [`"${u.name.replace(/"/g, '""')}" "${v}"`] : [];
    });
  return lines.join('\n') + '\n';
}

/** [users] options of pgbouncer users: pool_mode and max_user_connections. */
export function pgbouncerUseropts(h: HostView): string {
  const lines = roleList(h)
    .filter((u) => u.pgbouncer === true && u.state !== 'absent' && (u.pool_mode || u.pool_connlimit !== undefined))
    .map((u) => [`${u.name.padEnd(27)} =`, u.pool_mode && `pool_mode=${u.pool_mode}`, u.pool_connlimit !== undefined && `max_user_connections=${u.pool_connlimit}`].filter(Boolean).join(' '));
  return lines.join('\n') + '\n';
}

/** [databases] of pgbouncer: every database with pgbouncer != false, over the unix socket. */
export function pgbouncerDatabases(h: HostView): string {
  const conn = pgConn(h);
  const lines = h.param('pg_databases')
    .filter((d) => d.pgbouncer !== false && d.state !== 'absent')
    .map((d) => {
      const opts: [string, string | number | undefined][] = [
        ['host', conn.socket],
        ['port', conn.port],
        ['auth_user', d.pool_auth_user],
        ['pool_mode', d.pool_mode],
        ['pool_size', d.pool_size],
        ['min_pool_size', d.pool_size_min],
        ['reserve_pool', d.pool_reserve ?? d.pool_size_reserve],
        ['max_db_connections', d.pool_connlimit ?? d.pool_max_db_conn],
      ];
      return `${d.name.padEnd(27)} = ${opts.filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${v}`).join(' ')}`;
    });
  return lines.join('\n') + '\n';
}

/**
 * The resources of one member host of a PGSQL cluster. Without `catalog` (a standby cluster, read-only:
 * its roles and databases replicate from upstream) only the files: pg_hba.conf and pgbouncer's.
 */
export function sqlObjects(h: HostView, cluster: string, peers: HbaPeers = { infra: [], members: [] }, { catalog = true } = {}): Resource[] {
  const r = resourceList('pgsql', cluster, PGSQL_KINDS);
  const conn = pgConn(h);
  const dbsu = conn.dbsu;
  const roles = roleList(h);
  const names = new Set(roles.map((u) => u.name));
  const roleId = (name: string | undefined): Ref | undefined => (name && names.has(name) ? pgRoleId(name) : undefined);
  const databases = catalog ? h.param('pg_databases') : [];
  for (const u of catalog ? roles : []) {
    const deps = (u.roles ?? []).map((m) => roleId(typeof m === 'string' ? m : m.name)).filter((d) => d !== pgRoleId(u.name));
    // A role that goes is dropped after the databases it owns that go too (PostgreSQL refuses the other order).
    if (u.state === 'absent') deps.push(...databases.filter((d) => d.state === 'absent' && d.owner === u.name).map((d) => pgDatabaseId(d.name)));
    r.add(pgRole, roleWant(h, cluster, u), deps);
  }
  // template1 (so every database created after it) and postgres, as Pigsty's pg-init-template.sql leaves them.
  const defaultSchemas = (h.param('pg_default_schemas') as (string | { name: string; owner?: string; state?: string })[]).map((s) =>
    typeof s === 'string' ? { name: s, state: 'create' as const } : { name: s.name, state: s.state === 'absent' ? ('absent' as const) : ('create' as const), ...(s.owner ? { owner: s.owner } : {}) },
  );
  const allRoles = roles.filter((u) => u.state !== 'absent').map((u) => pgRoleId(u.name));
  const privileges = { roles: privilegedRoles(h, roles), statements: h.param('pg_default_privileges') };
  for (const db of ['template1', 'postgres']) r.add(pgTemplate, { conn, database: db, privileges, schemas: defaultSchemas }, allRoles);

  // pg_default_extensions in template1 and postgres (a database's own of the same name wins there), before the databases made from template1.
  const installs = [`postgresql-${h.str('pg_version')}`, ...pgPackages(h).packages];
  const own = (db: string, name: string): boolean => databases.some((d) => d.name === db && d.state !== 'absent' && (d.extensions ?? []).some((e) => (typeof e === 'string' ? e : e.name) === name));
  const template1: Ref[] = [];
  for (const db of ['template1', 'postgres']) {
    for (const want of extensionWants(h, db, h.param('pg_default_extensions'), installs, false).filter((e) => !own(db, e.name))) {
      const id = r.add(pgExtension, want, [pgTemplateId(db)]);
      if (db === 'template1') template1.push(id);
    }
  }
  for (const d of databases) r.add(pgDatabase, databaseWant(h, d, roles), d.state === 'absent' ? [] : [roleId(d.owner), roleId('dbrole_admin'), pgTemplateId('template1'), ...template1]);
  for (const d of databases.filter((x) => x.state !== 'absent' && x.allowconn !== false)) {
    for (const want of extensionWants(h, d.name, d.extensions, installs, true)) r.add(pgExtension, want, [pgDatabaseId(d.name)]);
  }

  // pg_hba.conf and pgbouncer's lists are re-read on reload, never on a restart; each set under a reload record of its own.
  const pgReload = `if echo 'SELECT 1' | ${psql(conn)} >/dev/null 2>&1; then echo 'SELECT pg_reload_conf()' | ${psql(conn)} >/dev/null; fi`;
  const hba = { path: pgHbaPath(h), content: renderHba(h, 'postgres', peers), mode: 0o600, owner: dbsu };
  r.add(reload, { name: 'patroni', record: 'postgres-hba', sha256: readHash([hba.content]), action: 'reload', command: pgReload, firstTime: 'reload' }, [r.add(file, hba)]);

  if (h.param('pgbouncer_enabled')) {
    const lists = [
      { path: `${PGBOUNCER_DIR}/userlist.txt`, content: pgbouncerUserlist(h, cluster), secret: true },
      { path: `${PGBOUNCER_DIR}/useropts.txt`, content: pgbouncerUseropts(h) },
      { path: `${PGBOUNCER_DIR}/database.txt`, content: pgbouncerDatabases(h) },
      { path: PGB_HBA_PATH, content: renderHba(h, 'pgbouncer', peers) },
    ];
    const written = lists.map((l) => r.add(file, { ...l, mode: 0o600, owner: dbsu }));
    r.add(reload, { name: 'pgbouncer', record: 'pgbouncer-lists', sha256: readHash(lists.map((l) => l.content)), action: 'reload', firstTime: 'reload' }, written);
  }
  return r.list;
}
