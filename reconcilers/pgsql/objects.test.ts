/** The catalog objects as data: inventory in, resources out; probe output in, changes out. No node. */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { validateInventory } from '../../src/config/validate.js';
import { ASSUMED_FACTS } from '../../src/engine/facts.js';
import type { HostView } from '../../src/config/hosts.js';
import type { Observation } from '../../src/engine/model.js';
import { plan } from '../../src/engine/plan.js';
import { renderJson, renderMarkdown, renderText } from '../../src/engine/render.js';
import { kindOf } from '../../src/engine/resources/index.js';
import type { ReloadWant } from '../../src/engine/resources/reload.js';
import { pgRole, type PgRoleWant } from './kinds/pg-role.js';
import { pgDatabase, type PgDatabaseWant } from './kinds/pg-database.js';
import type { PgExtensionWant } from './kinds/pg-extension.js';
import { md5Verifier, scramVerifier, verifies } from './kinds/pg-scram.js';
import { tmpRepo } from '../../test/helpers/tmp.js';
import { pgbouncerDatabases, pgbouncerUserlist, pgbouncerUseropts, roleList, sqlObjects, verifierOf } from './objects.js';

const CANARY = 'Canary.Pass-3d9e';
const INVENTORY = `
all:
  children:
    pg-test:
      hosts:
        10.0.0.11: { pg_seq: 1, pg_role: primary }
        10.0.0.12: { pg_seq: 2, pg_role: replica }
      vars:
        pg_cluster: pg-test
        pg_users:
          - { name: dbuser_app, password: '${CANARY}', pgbouncer: true, pool_mode: session, pool_connlimit: 10, roles: [dbrole_readwrite, { name: dbrole_offline, state: absent }], parameters: { work_mem: 64MB } }
          - { name: dbuser_hash, password: 'md5${'0'.repeat(32)}', comment: given as a hash }
          - { name: dbuser_gone, state: absent }
          - { name: dbuser_monitor, comment: overridden comment }
        pg_databases:
          - { name: app, owner: dbuser_app, revokeconn: true, schemas: [app], extensions: [pg_trgm, { name: vector, schema: app }], parameters: { work_mem: 32MB, search_path: DEFAULT }, pool_size: 20 }
          - { name: hidden, pgbouncer: false, encoding: UTF8, locale: C }
          - { name: old, owner: dbuser_gone, state: absent }
`;

const v = await validateInventory(tmpRepo({ 'pigsty.yml': INVENTORY }));
const host = (name: string): HostView => v.hosts.find((h) => h.name === name)!;
const primary = host('10.0.0.11');
const resources = sqlObjects(primary, 'pg-test');
const want = <W>(id: string): W => resources.find((r) => kindOf(r.kind).id(r.want) === id)!.want as W;

describe('PGSQL catalog objects from the inventory', () => {
  it('validates', () => expect(v.problems.filter((p) => p.severity === 'error')).toEqual([]));

  it('lists the default roles, then the users; a user of the same name adds to the default one', () => {
    const names = roleList(primary).map((u) => u.name);
    expect(names.slice(0, 8)).toEqual(['dbrole_readonly', 'dbrole_offline', 'dbrole_readwrite', 'dbrole_admin', 'postgres', 'replicator', 'dbuser_dba', 'dbuser_monitor']);
    expect(names.slice(8)).toEqual(['dbuser_app', 'dbuser_hash', 'dbuser_gone']);
    const monitor = want<PgRoleWant>('pg-role:dbuser_monitor');
    expect(monitor.comment).toBe('overridden comment');
    expect(monitor.grant.map((g) => g.role)).toEqual(['pg_monitor', 'dbrole_readonly']);
  });

  it('gives the system users their passwords from pg_*_password, as verifiers', () => {
    const repl = want<PgRoleWant>('pg-role:replicator');
    expect(repl.password?.verifier).toMatch(/^SCRAM-SHA-256\$4096:/);
    expect(verifies(repl.password!.verifier, 'DBUser.Replicator', 'replicator')).toBe(true);
    expect(want<PgRoleWant>('pg-role:postgres').password).toBeUndefined();
  });

  it('keeps a given hash as it is, and hashes a plain password with a stable salt per cluster and role', () => {
    expect(want<PgRoleWant>('pg-role:dbuser_hash').password).toEqual({ verifier: `md5${'0'.repeat(32)}`, exact: false });
    const app = want<PgRoleWant>('pg-role:dbuser_app');
    expect(app.password).toMatchObject({ plain: CANARY, exact: true });
    const u = roleList(primary).find((x) => x.name === 'dbuser_app')!;
    expect(verifierOf(primary, 'pg-test', u)).toBe(app.password!.verifier);
    expect(verifierOf(primary, 'pg-other', u)).not.toBe(app.password!.verifier);
  });

  it('orders a role after the roles it is granted and a database after its owner; drops in the reverse order', () => {
    const deps = (id: string): string[] | undefined => resources.find((r) => kindOf(r.kind).id(r.want) === id)!.deps;
    expect(deps('pg-role:dbrole_admin')).toEqual(['pg-role:dbrole_readwrite']);
    expect(deps('pg-database:app')?.slice(0, 4)).toEqual(['pg-role:dbuser_app', 'pg-role:dbrole_admin', 'pg-template:template1', 'pg-extension:template1/pg_stat_statements']);
    // Going away, the other way round: the database before the role that owns it.
    expect(deps('pg-role:dbuser_gone')).toEqual(['pg-database:old']);
    expect(deps('pg-database:old')).toBeUndefined();
  });

  it('turns user and database fields into the kinds\' wants', () => {
    const app = want<PgRoleWant>('pg-role:dbuser_app');
    expect(app).toMatchObject({ state: 'create', comment: 'business user dbuser_app', revoke: ['dbrole_offline'], parameters: { work_mem: '64MB' } });
    expect(want<PgRoleWant>('pg-role:dbuser_gone').state).toBe('absent');
    expect(want<PgRoleWant>('pg-role:dbrole_readonly').flags).toEqual({ login: false });
    const db = want<PgDatabaseWant>('pg-database:app');
    expect(db).toMatchObject({ owner: 'dbuser_app', revokeconn: true, adminRole: 'dbrole_admin', comment: 'business database app' });
    expect(want<PgExtensionWant>('pg-extension:app/vector')).toMatchObject({ database: 'app', name: 'vector', schema: 'app', state: 'create', controlDir: '/usr/share/postgresql/18/extension' });
    expect(db.connectRoles).toEqual([{ role: 'replicator', grantOption: false }, { role: 'dbuser_monitor', grantOption: false }, { role: 'dbuser_dba', grantOption: true }]);
    expect(want<PgDatabaseWant>('pg-database:hidden')).toMatchObject({ collate: 'C', ctype: 'C', encoding: 'UTF8' });
    expect(want<PgDatabaseWant>('pg-database:old').state).toBe('absent');
  });

  it('writes pgbouncer\'s lists: verifiers (never the password), user options, databases over the socket', () => {
    const userlist = pgbouncerUserlist(primary, 'pg-test');
    expect(userlist).not.toContain(CANARY);
    expect(userlist.split('\n').map((l) => l.split(' ')[0])).toEqual(['"dbuser_dba"', '"dbuser_monitor"', '"dbuser_app"', '']);
    expect(userlist).toContain(`"dbuser_app" "${want<PgRoleWant>('pg-role:dbuser_app').password!.verifier}"`);
    expect(pgbouncerUseropts(primary)).toContain('dbuser_app                  = pool_mode=session max_user_connections=10');
    expect(pgbouncerDatabases(primary)).toBe('app                         = host=/var/run/postgresql port=5432 pool_size=20\n');
    const files = resources.filter((r) => r.kind === 'file').map((r) => (r.want as { path: string }).path);
    expect(files).toEqual(['/pg/data/pg_hba.conf', '/etc/pgbouncer/userlist.txt', '/etc/pgbouncer/useropts.txt', '/etc/pgbouncer/database.txt', '/etc/pgbouncer/pgb_hba.conf']);
    const userlistWant = resources.find((r) => (r.want as { path?: string }).path === '/etc/pgbouncer/userlist.txt')!.want;
    expect(userlistWant).toMatchObject({ secret: true, mode: 0o600, owner: 'postgres' });
    // Its content is never read back from the node: the hash compares.
    expect(kindOf('file').probe(userlistWant)).not.toContain('base64');
    expect(kindOf('file').probe(resources.find((r) => r.kind === 'file')!.want)).toContain('base64');
  });

  it('reloads, never restarts, after a file change: PostgreSQL for pg_hba.conf, pgbouncer once for its four lists', () => {
    const reloads = resources.filter((r) => r.kind === 'reload');
    expect(reloads.map((r) => r.deps)).toEqual([['file:/pg/data/pg_hba.conf'], ['file:/etc/pgbouncer/userlist.txt', 'file:/etc/pgbouncer/useropts.txt', 'file:/etc/pgbouncer/database.txt', 'file:/etc/pgbouncer/pgb_hba.conf']]);
    const [hba, lists] = reloads.map((r) => r.want as ReloadWant);
    const on = (w: ReloadWant, recorded: string | null): string => kindOf('reload').apply(w, recorded === null ? null : { sha256: recorded });
    expect(on(hba!, 'old')).toContain('SELECT pg_reload_conf()');
    expect(on(lists!, 'old')).toContain('systemctl reload pgbouncer');
    for (const w of [hba!, lists!]) {
      // No record yet (a node set up before, or by hand) reloads too; neither ever restarts.
      for (const recorded of ['old', null]) expect(on(w, recorded)).not.toMatch(/restart/);
      expect(kindOf('reload').effects!(w, null)).toEqual({ restarts: false });
    }
  });

  it('reloads files written by an apply that died before their reload, and only then records them', () => {
    const kind = kindOf('reload');
    const w = resources.find((r) => r.kind === 'reload' && r.deps?.includes('file:/etc/pgbouncer/database.txt'))!.want as ReloadWant;
    const lists = ['userlist.txt', 'useropts.txt', 'database.txt', 'pgb_hba.conf'].map((f) => (resources.find((r) => (r.want as { path?: string }).path?.endsWith(`/${f}`))!.want as { content: string }).content);
    const hash = createHash('sha256').update(lists.join('\0')).digest('hex');
    expect(w.sha256).toBe(hash);
    // The files as wanted (nothing else to do), the reload not recorded: the next sync reloads.
    expect(kind.diff(w, kind.parse('', w)).map((c) => c.field)).toEqual(['config']);
    expect(kind.diff(w, kind.parse('0'.repeat(64), w)).map((c) => c.field)).toEqual(['config']);
    expect(kind.diff(w, kind.parse(hash, w))).toEqual([]);
    // The record is written after the reload: a reload that fails leaves it as it was.
    const script = kind.apply(w, { sha256: '0'.repeat(64) });
    expect(script.indexOf('systemctl reload pgbouncer')).toBeLessThan(script.indexOf(`echo ${hash} >`));
    expect(script).toContain('/var/lib/corral/reloaded/pgbouncer-lists');
  });

  it('uses md5 verifiers when pg_pwd_enc is md5', async () => {
    const md5 = await validateInventory(tmpRepo({ 'pigsty.yml': INVENTORY.replace('pg_cluster: pg-test', 'pg_cluster: pg-test\n        pg_pwd_enc: md5') }));
    const h = md5.hosts.find((x) => x.name === '10.0.0.11')!;
    expect(verifierOf(h, 'pg-test', roleList(h).find((u) => u.name === 'dbuser_app')!)).toBe(md5Verifier(CANARY, 'dbuser_app'));
  });
});

/** What the role probe prints on a primary, with a stored verifier. */
const roleProbe = (stored: string | null, extra: Record<string, unknown> = {}): string =>
  `pg=primary\n${JSON.stringify({
    flags: { login: true, superuser: false, createdb: false, createrole: false, inherit: true, replication: false, bypassrls: false },
    connlimit: -1, validUntil: null, password: stored, comment: 'business user dbuser_app', config: ['work_mem=64MB'],
    memberOf: [{ role: 'dbrole_readwrite', admin: false }],
    ...extra,
  })}\n`;

describe('pg-role: the password compared by hash', () => {
  const app = want<PgRoleWant>('pg-role:dbuser_app');
  const diff = (out: string, w: PgRoleWant = app) => pgRole.diff(w, pgRole.parse(out, w) as never);

  it('is in sync when the stored verifier is the wanted one', () => expect(diff(roleProbe(app.password!.verifier))).toEqual([]));

  it('is in sync when another salt verifies the same password, unless pgbouncer needs the exact verifier', () => {
    const other = scramVerifier(CANARY, Buffer.from('0123456789abcdef'));
    expect(diff(roleProbe(other), { ...app, password: { ...app.password!, exact: false } })).toEqual([]);
    expect(diff(roleProbe(other))).toEqual([{ field: 'password', from: '(redacted)', to: '(redacted)', secret: true }]);
  });

  it('is one secret change when the password differs, and the state keeps no hash', () => {
    const stored = scramVerifier('another password', Buffer.from('0123456789abcdef'));
    const have = pgRole.parse(roleProbe(stored), app);
    expect(JSON.stringify(have)).not.toContain(stored.split('$')[2]!);
    expect(pgRole.diff(app, have as never)).toEqual([{ field: 'password', from: '(redacted)', to: '(redacted)', secret: true }]);
  });

  it('sets the verifier, quietly, and never the password', () => {
    const script = pgRole.apply(app, null);
    const sql = Buffer.from(/printf '%s' (\S+)/.exec(script)![1]!, 'base64').toString();
    expect(sql).toContain(`ALTER ROLE "dbuser_app" PASSWORD '${app.password!.verifier}'`);
    expect(sql).toContain("SET log_statement TO 'none'");
    expect(script + sql).not.toContain(CANARY);
    expect(script).toContain('psql -h /var/run/postgresql -p 5432 -d postgres -XAtq');
  });

  it('counts a replica as in sync, and plans nothing when the server is down but the role exists elsewhere', () => {
    expect(pgRole.parse('pg=replica\n', app)).toEqual({ pg: 'replica' });
    expect(pgRole.diff(app, { pg: 'replica' })).toEqual([]);
    expect(pgRole.parse('pg=down\n', app)).toBeNull();
    expect((pgRole.parse('pg=failed\n', app) as { unsupported: string }).unsupported).toContain('dbuser_app');
  });

  it('plans attributes, memberships and parameters that differ', () => {
    const out = roleProbe(app.password!.verifier, { connlimit: 5, memberOf: [{ role: 'dbrole_offline', admin: false }], config: [] });
    expect(diff(out, { ...app, connlimit: 20 }).map((f) => f.field)).toEqual(['connlimit', 'roles', 'parameters']);
  });

  it('drops a role with state: absent, as a destructive change', () => {
    const gone = want<PgRoleWant>('pg-role:dbuser_gone');
    const have = pgRole.parse(roleProbe(null), gone);
    expect(pgRole.diff(gone, have as never)).toEqual([{ field: 'role', from: 'dbuser_gone', to: null }]);
    expect(pgRole.effects!(gone, have as never)).toEqual({ destructive: true });
    expect(pgRole.diff(gone, null)).toEqual([]);
  });
});

const dbProbe = (row: Record<string, unknown> = {}, inside = { schemas: ['public', 'app'] }): string =>
  `pg=primary\n${JSON.stringify({ owner: 'dbuser_app', encoding: 'UTF8', collate: 'C', ctype: 'C', connlimit: -1, allowconn: true, isTemplate: false, comment: 'business database app', publicConnect: false, config: ['work_mem=32MB'], ...row })}\n${JSON.stringify(inside)}\n`;

describe('pg-database', () => {
  const app = want<PgDatabaseWant>('pg-database:app');
  const diff = (out: string, w: PgDatabaseWant = app) => pgDatabase.diff(w, pgDatabase.parse(out, w) as never);

  it('is in sync when the catalog matches', () => expect(diff(dbProbe())).toEqual([]));

  it('alters owner, comment, connect privilege and missing schemas in place', () => {
    const out = dbProbe({ owner: 'postgres', comment: null, publicConnect: true, config: ['search_path=app'] }, { schemas: ['public'] });
    expect(diff(out)).toEqual([
      { field: 'owner', from: 'postgres', to: 'dbuser_app' },
      { field: 'comment', from: null, to: 'business database app' },
      { field: 'revokeconn', from: false, to: true },
      { field: 'parameters', from: ['search_path=app'], to: ['work_mem=32MB'] },
      { field: 'schemas', from: null, to: ['app'] },
    ]);
    expect(pgDatabase.effects!(app, pgDatabase.parse(out, app) as never)).toEqual({ destructive: false });
  });

  it('drops a database with state: absent, as a destructive change', () => {
    const old = want<PgDatabaseWant>('pg-database:old');
    const have = pgDatabase.parse(dbProbe(), old);
    expect(pgDatabase.diff(old, have as never)).toEqual([{ field: 'database', from: 'old', to: null }]);
    expect(pgDatabase.effects!(old, have as never)).toEqual({ destructive: true });
    expect(pgDatabase.apply(old, have as never)).not.toContain('CREATE');
  });

  it('reports what only a new database can change, and recreates it (destructive) only for state: recreate', () => {
    const hidden = want<PgDatabaseWant>('pg-database:hidden');
    const out = dbProbe({ collate: 'en_US.UTF-8' });
    expect((pgDatabase.parse(out, hidden) as { unsupported: string }).unsupported).toContain('lc_collate is en_US.UTF-8, wanted C');
    const recreate = { ...hidden, state: 'recreate' as const };
    const have = pgDatabase.parse(out, recreate);
    expect(pgDatabase.diff(recreate, have as never).map((f) => f.field)).toEqual(['database', 'lc_collate']);
    expect(pgDatabase.effects!(recreate, have as never)).toEqual({ destructive: true });
  });
});

describe('no password in any rendering of a plan', () => {
  it('shows a new user\'s password and a changed one as redacted, in text, JSON and Markdown', () => {
    const hosts = v.hosts.map((h) => ({ host: h.name, target: { name: h.name, address: h.name, port: 22, user: 'root', connection: 'ssh' as const }, resources: sqlObjects(h, 'pg-test') }));
    const states = (h: (typeof hosts)[number]): Record<string, unknown> => {
      const out: Record<string, unknown> = {};
      for (const r of h.resources) {
        const kind = kindOf(r.kind);
        out[kind.id(r.want)] = r.kind === 'pg-role' ? kind.parse(roleProbe(scramVerifier('old', Buffer.from('salt'))), r.want) : null;
      }
      return out;
    };
    const observations: Observation[] = hosts.map((h) => ({ host: h.host, ok: true, facts: ASSUMED_FACTS, states: states(h), durationMs: 1 }));
    const p = plan({ hosts, edges: [] }, observations, 'r1');
    expect(p.plan.changes.some((c) => c.fields.some((f) => f.field === 'password' && f.secret))).toBe(true);
    const text = [renderText(p.plan), renderJson(p.plan), renderMarkdown(p.plan), JSON.stringify(observations)].join('\n');
    for (const secret of [CANARY, 'DBUser.Replicator', 'DBUser.Monitor', 'DBUser.DBA']) expect(text).not.toContain(secret);
    expect([...p.scripts.values()].join('\n')).not.toContain(CANARY);
  });
});

describe('a bare node', () => {
  it('no server to ask yet (no dbsu, no psql): the probe says down, so roles are planned to be created, not marked not applicable', async () => {
    const { execFileSync } = await import('node:child_process');
    const { probeSql } = await import('./kinds/pg-psql.js');
    const out = execFileSync('bash', ['-c', probeSql({ dbsu: 'corral-no-such-user', socket: '/nonexistent', port: 5432 }, 'SELECT 1;')], { encoding: 'utf8' });
    // And pg=down parses as an absent role (the test above): created once the server runs.
    expect(out.trim()).toBe('pg=down');
  });
});
