/**
 * The catalog kinds against a real PostgreSQL 15 (a throwaway instance on this machine), through
 * the engine's own observe, plan and apply over the local connector.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateInventory } from '../../src/config/validate.js';
import { observe } from '../../src/engine/observe.js';
import { plan, type Planned } from '../../src/engine/plan.js';
import { applyPlan } from '../../src/engine/apply.js';
import { renderJson, renderMarkdown, renderText } from '../../src/engine/render.js';
import type { HostDesired } from '../../src/engine/model.js';
import { createTransport, type Target, type Transport } from '../../src/transport/index.js';
import { kindOf } from '../../src/engine/resources/index.js';
import { sqlObjects } from '../../reconcilers/pgsql/objects.js';
import { loginWithPassword, startPostgres, type Postgres } from '../helpers/postgres.js';
import { tmpRepo } from '../helpers/tmp.js';

const HOST = '127.0.0.1';
const FIRST = 'Canary.First-7f3a';
const SECOND = 'Canary.Second-91bc';
const target: Target = { name: HOST, address: HOST, port: 22, user: 'root', connection: 'local' };

function inventory(pg: Postgres, app: { password: string; dbState?: string }): string {
  return `
all:
  children:
    pg-test:
      hosts:
        ${HOST}: { pg_seq: 1, pg_role: primary, ansible_connection: local }
      vars:
        pg_cluster: pg-test
        pg_port: ${pg.port}
        pg_localhost: ${pg.socket}
        pg_data: ${pg.data}
        pgbouncer_enabled: false
        pg_users:
          - { name: dbuser_app, password: '${app.password}', pgbouncer: true, roles: [dbrole_readwrite], connlimit: 20, expire_at: '2030-12-31', comment: app user }
        pg_databases:
          - { name: app, owner: dbuser_app, comment: app db, revokeconn: true, connlimit: 50, parameters: { work_mem: 32MB }, schemas: [app], extensions: [ { name: citext, schema: app } ]${app.dbState ? `, state: ${app.dbState}` : ''} }
`;
}

describe('PGSQL catalog objects on a real PostgreSQL 15', () => {
  let pg: Postgres;
  let transport: Transport;

  beforeAll(async () => {
    pg = await startPostgres();
    transport = createTransport({ hostKeys: { knownHostsFile: '/dev/null', mode: 'strict' } });
  }, 120_000);
  afterAll(async () => {
    await transport?.close();
    await pg?.stop();
  });

  async function desiredFor(server: Postgres, app: { password: string; dbState?: string }): Promise<HostDesired[]> {
    const v = await validateInventory(tmpRepo({ 'pigsty.yml': inventory(server, app) }));
    expect(v.problems.filter((p) => p.severity === 'error')).toEqual([]);
    const h = v.hosts.find((x) => x.name === HOST)!;
    return [{ host: HOST, target, resources: sqlObjects(h, 'pg-test') }];
  }

  async function planFor(app: { password: string; dbState?: string }, server = pg): Promise<Planned> {
    const hosts = await desiredFor(server, app);
    return plan({ hosts, edges: [] }, await observe(transport, hosts), 'test');
  }

  async function applyAll(p: Planned): Promise<void> {
    const results = await applyPlan(transport, p.plan, { targets: new Map([[HOST, target]]), scripts: p.scripts });
    expect(results.filter((r) => r.status !== 'applied')).toEqual([]);
  }

  const rendered = (p: Planned): string => [renderText(p.plan), renderJson(p.plan), renderMarkdown(p.plan)].join('\n');

  it('creates the roles, the database and pg_hba.conf; the password logs in over TCP; a second plan is empty', async () => {
    const first = await planFor({ password: FIRST });
    const ids = first.plan.changes.map((c) => c.resource);
    expect(ids).toEqual(expect.arrayContaining(['pg-role:dbrole_readonly', 'pg-role:dbuser_app', 'pg-database:app', `file:${pg.data}/pg_hba.conf`]));
    expect(first.plan.changes.every((c) => !c.restarts && !c.destructive)).toBe(true);
    expect(rendered(first)).not.toContain(FIRST);
    // The password travels as a SCRAM verifier, never as itself.
    expect([...first.scripts.values()].join('\n')).not.toContain(FIRST);

    await applyAll(first);
    expect(readFileSync(`${pg.data}/pg_hba.conf`, 'utf8')).toContain('managed by corral');
    expect(await loginWithPassword(pg, 'dbuser_app', FIRST, 'app')).toBe('dbuser_app');
    expect(await loginWithPassword(pg, 'dbuser_app', 'wrong', 'app')).toMatch(/password authentication failed/);
    expect(await pg.sql(`SELECT rolconnlimit, rolvaliduntil::date, pg_has_role('dbuser_app', 'dbrole_readonly', 'MEMBER') FROM pg_roles WHERE rolname = 'dbuser_app'`)).toBe('20|2030-12-31|t');
    expect(await pg.sql(`SELECT pg_get_userbyid(datdba), shobj_description(oid, 'pg_database'), datconnlimit, has_database_privilege('public', oid, 'CONNECT') FROM pg_database WHERE datname = 'app'`)).toBe('dbuser_app|app db|50|f');
    expect(await pg.sql(`SELECT extnamespace::regnamespace FROM pg_extension WHERE extname = 'citext'`, 'app')).toBe('app');
    expect(await pg.sql(`SELECT current_setting('work_mem')`, 'app')).toBe('32MB');
    // template1 as Pigsty's template leaves it, so app (created after) has it too: monitor schema, default extensions and privileges.
    for (const db of ['template1', 'postgres', 'app']) expect(await pg.sql(`SELECT extnamespace::regnamespace FROM pg_extension WHERE extname = 'pg_stat_statements'`, db), db).toBe('monitor');
    expect(await pg.sql(`SELECT count(*) FROM pg_default_acl d, aclexplode(d.defaclacl) a WHERE pg_get_userbyid(d.defaclrole) = 'dbuser_dba' AND a.privilege_type = 'SELECT' AND pg_get_userbyid(a.grantee) = 'dbrole_readonly'`, 'app')).toBe('2');

    const again = await planFor({ password: FIRST });
    expect(again.plan.changes).toEqual([]);
  }, 120_000);

  it('a changed password is one redacted change, and the new password logs in', async () => {
    const p = await planFor({ password: SECOND });
    expect(p.plan.changes).toHaveLength(1);
    const [change] = p.plan.changes;
    expect(change).toMatchObject({ resource: 'pg-role:dbuser_app', destructive: false, restarts: false });
    expect(change!.fields).toEqual([{ field: 'password', from: '(redacted)', to: '(redacted)', secret: true }]);
    const text = rendered(p);
    expect(text).not.toContain(SECOND);
    expect(text).not.toContain(FIRST);
    expect(text).toContain('(redacted)');
    expect([...p.scripts.values()].join('\n')).not.toContain(SECOND);

    await applyAll(p);
    expect(await loginWithPassword(pg, 'dbuser_app', SECOND, 'app')).toBe('dbuser_app');
    expect(await loginWithPassword(pg, 'dbuser_app', FIRST, 'app')).toMatch(/password authentication failed/);
    expect((await planFor({ password: SECOND })).plan.changes).toEqual([]);
  }, 120_000);

  it('a role whose verifier has another salt but the same password is left alone', async () => {
    // As if set by hand (psql \password): PostgreSQL picks a random salt.
    await pg.sql(`SET password_encryption = 'scram-sha-256'; ALTER ROLE dbrole_readonly PASSWORD '${SECOND}'`);
    const v = await validateInventory(tmpRepo({ 'pigsty.yml': inventory(pg, { password: SECOND }).replace('pg_users:', `pg_users:\n          - { name: dbrole_readonly, password: '${SECOND}' }`) }));
    const h = v.hosts.find((x) => x.name === HOST)!;
    const hosts: HostDesired[] = [{ host: HOST, target, resources: sqlObjects(h, 'pg-test') }];
    const p = plan({ hosts, edges: [] }, await observe(transport, hosts), 'test');
    expect(p.plan.changes).toEqual([]);
  }, 60_000);

  it('state: absent on the database is a destructive drop', async () => {
    const p = await planFor({ password: SECOND, dbState: 'absent' });
    expect(p.plan.changes).toHaveLength(1);
    expect(p.plan.changes[0]).toMatchObject({ resource: 'pg-database:app', destructive: true, fields: [{ field: 'database', from: 'app', to: null }] });
    await applyAll(p);
    expect(await pg.sql(`SELECT count(*) FROM pg_database WHERE datname = 'app'`)).toBe('0');
    expect((await planFor({ password: SECOND, dbState: 'absent' })).plan.changes).toEqual([]);
  }, 60_000);

  it('on a replica only the node\'s own HBA file is planned and the SQL does nothing; promoted, it gets the roles and the database', async () => {
    const standby = await startPostgres({ standby: true });
    try {
      const hba = `file:${standby.data}/pg_hba.conf`;
      // Its reload record is this machine's, which the primary's apply above may have written already.
      expect((await planFor({ password: FIRST }, standby)).plan.changes.map((c) => c.resource).filter((r) => r !== 'reload:postgres-hba')).toEqual([hba]);
      // The role's change run anyway, as after a failover between plan and apply: the replica is left alone.
      const role = (await desiredFor(standby, { password: FIRST }))[0]!.resources.find((r) => r.kind === 'pg-role' && (r.want as { name: string }).name === 'dbuser_app')!;
      const run = await transport.exec(target, `set -euo pipefail\n${kindOf('pg-role').apply(role.want, null)}`);
      expect(run).toMatchObject({ code: 0, stdout: 'not the primary: nothing to do here\n' });

      await standby.sql('SELECT pg_promote()');
      const promoted = (await planFor({ password: FIRST }, standby)).plan.changes.map((c) => c.resource);
      expect(promoted).toEqual(expect.arrayContaining(['pg-role:dbuser_app', 'pg-database:app', hba]));
    } finally {
      await standby.stop();
    }
  }, 120_000);
});
