/** pg_packages, pg_extensions, extensions, template1 (default privileges, schemas, extensions) and the dbsu, as data: no node. */
import { describe, expect, it } from 'vitest';
import { parsesAsBash as parses } from '../../test/helpers/bash.js';
import { validateInventory } from '../../src/config/validate.js';
import { ASSUMED_FACTS } from '../../src/engine/facts.js';
import type { Desired, Observation } from '../../src/engine/model.js';
import { plan } from '../../src/engine/plan.js';
import { kindOf } from '../../src/engine/resources/index.js';
import type { Resource } from '../../src/engine/resources/kind.js';
import { tmpRepo } from '../../test/helpers/tmp.js';
import { certificatesFor } from '../../test/helpers/pki.js';
import { pgsql, dbsuSudoers, dbsuUid } from './index.js';
import { sqlObjects } from './objects.js';
import { pgPackages, providerOf } from './packages.js';
import { pgExtension, type PgExtensionWant } from './kinds/pg-extension.js';
import { aclEntries, pgTemplate, type PgTemplateWant } from './kinds/pg-template.js';
import { pgDbsu } from './kinds/pg-dbsu.js';

const INVENTORY = (vars = ''): string => `
all:
  children:
    etcd:
      hosts: { 10.0.0.11: { etcd_seq: 1 } }
      vars: { etcd_cluster: etcd }
    pg-test:
      hosts:
        10.0.0.11: { pg_seq: 1, pg_role: primary }
        10.0.0.12: { pg_seq: 2, pg_role: replica }
      vars:
        pg_cluster: pg-test
        pg_version: 15
        pg_users: [ { name: app, password: Secret.User.3 } ]
        pg_extensions: [ pg_cron, 'postgresql-\${pg_version}-hypopg', 'pgvector_$v*' ]
        pg_databases:
          - { name: app, owner: app, baseline: app.sql, extensions: [ pg_trgm, hypopg, { name: no_such_ext, schema: public } ] }
${vars}`;

const load = async (vars = '') => {
  const v = await validateInventory(tmpRepo({ 'pigsty.yml': INVENTORY(vars) }));
  expect(v.problems.filter((p) => p.severity === 'error')).toEqual([]);
  return v;
};
const v = await load();
const primary = v.hosts.find((h) => h.name === '10.0.0.11')!;
const objects = sqlObjects(primary, 'pg-test');
const idOf = (r: Resource): string => kindOf(r.kind).id(r.want);
const find = (list: Resource[], id: string): Resource => list.find((r) => idOf(r) === id)!;
const wantOf = <W>(id: string): W => find(objects, id).want as W;
/** The SQL of a psql script: it travels base64-encoded. */
const sqlOf = (script: string): string => [...script.matchAll(/printf '%s' (\S+)/g)].map((m) => Buffer.from(m[1]!, 'base64').toString()).join('\n');

describe('pg_packages and pg_extensions', () => {
  it('maps Pigsty\'s aliases and ${pg_version} names to Debian packages; what it cannot map is left out and named', () => {
    expect(pgPackages(primary)).toEqual({ packages: ['postgresql-15', 'postgresql-client-15', 'postgresql-15-cron', 'postgresql-15-hypopg'], unmapped: ['pgvector_$v*'] });
  });

  it('installs them with PGSQL\'s packages, after the dbsu, and notes the name it cannot map', async () => {
    const out = pgsql.desired({ cluster: v.clusters.find((c) => c.module === 'pgsql')!, hosts: v.hosts, facts: () => ASSUMED_FACTS, certificates: await certificatesFor(v), together: () => true });
    const list = out.resources.get('10.0.0.12')!;
    const pkg = find(list, 'packages:pgsql');
    expect((pkg.want as { packages: string[] }).packages).toEqual(expect.arrayContaining(['postgresql-15', 'postgresql-15-cron', 'postgresql-15-hypopg', 'patroni']));
    expect(pkg.deps).toContain('pg-dbsu:postgres');
    expect(out.notes.filter((n) => n.message.includes('pgvector_$v*')).map((n) => n.host)).toEqual(['10.0.0.11', '10.0.0.12']);
    expect(out.notes.find((n) => n.message.includes('baseline app.sql'))?.host).toBe('10.0.0.11');
    // The dbsu with Pigsty's uid on Debian (543 for the 26 Debian gives another account), and its sudoers.
    expect(find(list, 'pg-dbsu:postgres').want).toEqual({ name: 'postgres', uid: 543, home: '/var/lib/pgsql' });
    expect((find(list, 'file:/etc/sudoers.d/postgres').want as { content: string }).content).toContain('%postgres ALL=NOPASSWD: /bin/systemctl restart patroni');
  });

  it('knows which package brings an extension: contrib from postgresql-<v>, others from the package named after it', () => {
    const pkgs = pgPackages(primary).packages;
    expect(providerOf('pg_trgm', '15', pkgs)).toBe('postgresql-15');
    expect(providerOf('pg_cron', '15', pkgs)).toBe('postgresql-15-cron');
    expect(providerOf('hypopg', '15', pkgs)).toBe('postgresql-15-hypopg');
    expect(providerOf('no_such_ext', '15', pkgs)).toBeUndefined();
    expect(providerOf('plpython3u', '15', ['postgresql-plpython3-15'])).toBe('postgresql-plpython3-15');
  });
});

describe('extensions of a database and of template1', () => {
  it('wants each extension in its database, after it, with the package expected to bring it', () => {
    expect(wantOf<PgExtensionWant>('pg-extension:app/hypopg')).toMatchObject({ database: 'app', from: 'postgresql-15-hypopg', controlDir: '/usr/share/postgresql/15/extension' });
    expect(wantOf<PgExtensionWant>('pg-extension:app/no_such_ext').from).toBeUndefined();
    expect(find(objects, 'pg-extension:app/hypopg').deps).toEqual(['pg-database:app']);
    // pg_default_extensions in template1 and postgres, after the schema they go in.
    expect(wantOf<PgExtensionWant>('pg-extension:template1/pg_stat_statements')).toMatchObject({ schema: 'monitor', from: 'postgresql-15' });
    expect(find(objects, 'pg-extension:postgres/pg_repack').deps).toEqual(['pg-template:postgres']);
  });

  it('blocks the plan for an extension no package brings, and no script creates it; the database is still planned', () => {
    const hosts: Desired['hosts'] = [{ host: primary.name, target: { name: primary.name, address: primary.name, port: 22, user: 'root', connection: 'ssh' }, resources: objects }];
    const states: Record<string, unknown> = {};
    for (const r of objects) {
      const kind = kindOf(r.kind);
      // A running primary where app does not exist yet; no control file of anything but contrib.
      const control = r.kind === 'pg-extension' && (r.want as PgExtensionWant).from === 'postgresql-15' ? 'yes' : 'no';
      const pkg = r.kind === 'pg-extension' ? ((r.want as PgExtensionWant).from ? 'no' : 'none') : '';
      states[kind.id(r.want)] = r.kind.startsWith('pg-') ? kind.parse(`control=${control}\npackage=${pkg}\npg=primary\n`, r.want) : null;
    }
    const observations: Observation[] = [{ host: primary.name, ok: true, facts: ASSUMED_FACTS, states, durationMs: 1 }];
    const p = plan({ hosts, edges: [] }, observations, 'r1');
    expect(p.plan.notes.filter((n) => n.blocking).map((n) => n.resource)).toEqual(['pg-extension:app/no_such_ext']);
    expect(p.plan.notes.find((n) => n.blocking)!.message).toContain('no_such_ext.control is not on this node');
    // pg_default_extensions' pg_repack (no package brings it here): noted, not blocking, not created.
    expect(p.plan.notes.filter((n) => n.resource.endsWith('/pg_repack')).map((n) => [n.resource, n.blocking])).toEqual([['pg-extension:template1/pg_repack', undefined], ['pg-extension:postgres/pg_repack', undefined]]);
    const ids = p.plan.changes.map((c) => c.resource);
    expect(ids).toEqual(expect.arrayContaining(['pg-database:app', 'pg-extension:app/hypopg', 'pg-extension:app/pg_trgm', 'pg-template:template1']));
    expect(ids).not.toContain('pg-extension:app/no_such_ext');
    const sql = sqlOf([...p.scripts.values()].join('\n'));
    expect(sql).toContain('CREATE EXTENSION IF NOT EXISTS "hypopg" CASCADE;');
    expect(sql).not.toContain('no_such_ext');
    expect(sql).not.toContain('"pg_repack"');
  });

  it('reads the node: a control file there is enough; an installed package without it blocks', () => {
    const hypopg = wantOf<PgExtensionWant>('pg-extension:app/hypopg');
    expect(pgExtension.parse('control=yes\npackage=yes\npg=primary\n{"version":"1.3.1"}\n', hypopg)).toEqual({ pg: 'primary', installed: { version: '1.3.1' } });
    expect(pgExtension.diff(hypopg, { pg: 'primary', installed: { version: '1.3.1' } })).toEqual([]);
    expect(pgExtension.parse('control=no\npackage=yes\npg=primary\nnull\n', hypopg)).toMatchObject({ blocking: true });
    expect(pgExtension.parse('control=no\npackage=no\npg=replica\n', hypopg)).toEqual({ pg: 'replica' });
    const gone = { ...hypopg, state: 'absent' as const };
    expect(pgExtension.parse('control=no\npackage=none\npg=primary\n{"version":"1.3.1"}\n', gone)).toEqual({ pg: 'primary', installed: { version: '1.3.1' } });
    expect(pgExtension.effects!(gone, { pg: 'primary', installed: { version: '1.3.1' } })).toEqual({ destructive: true });
    expect(sqlOf(pgExtension.apply(gone, null))).toContain('DROP EXTENSION IF EXISTS "hypopg";');
  });
});

describe('template1 and postgres as Pigsty\'s template leaves them', () => {
  const t1 = wantOf<PgTemplateWant>('pg-template:template1');
  const acl = ['postgres', 'dbuser_dba', 'dbrole_admin'].flatMap((r) => t1.privileges.statements.flatMap((s) => aclEntries(r, s)!));

  it('sets pg_default_privileges for the dbsu, the admin user and dbrole_admin, and makes pg_default_schemas', () => {
    expect(t1.privileges.roles).toEqual(['postgres', 'dbuser_dba', 'dbrole_admin']);
    expect(t1.schemas).toEqual([{ name: 'monitor', state: 'create' }]);
    const sql = sqlOf(pgTemplate.apply(t1, null));
    expect(sql).toContain(`\\connect 'template1'`);
    expect(sql).toContain('ALTER DEFAULT PRIVILEGES FOR ROLE "dbuser_dba" GRANT SELECT     ON TABLES     TO  dbrole_readonly;');
    expect(sql).toContain('CREATE SCHEMA IF NOT EXISTS "monitor";');
    expect(sql).toContain('REVOKE CREATE ON SCHEMA public FROM PUBLIC;');
    expect(find(objects, 'pg-template:postgres').deps).toEqual(expect.arrayContaining(['pg-role:dbrole_admin', 'pg-role:dbuser_dba']));
  });

  it('reads privileges back as aclexplode gives them', () => {
    expect(aclEntries('postgres', 'GRANT INSERT, UPDATE ON TABLES TO dbrole_readwrite')).toEqual(['postgres r dbrole_readwrite INSERT', 'postgres r dbrole_readwrite UPDATE']);
    expect(aclEntries('postgres', 'REVOKE ALL ON TABLES FROM PUBLIC')).toBeUndefined();
    const probe = (a: string[], publicCreate = false): string => `pg=primary\n${JSON.stringify({ schemas: ['public', 'monitor'], acl: a, publicCreate })}\n`;
    expect(pgTemplate.diff(t1, pgTemplate.parse(probe(acl), t1) as never)).toEqual([]);
    expect(pgTemplate.diff(t1, pgTemplate.parse(probe(acl.slice(1), true), t1) as never).map((f) => f.field)).toEqual(['default privileges', 'public schema CREATE for PUBLIC']);
  });
});

describe('the dbsu', () => {
  const want = { name: 'postgres', uid: 543, home: '/var/lib/pgsql' };

  it('is created with pg_dbsu_uid (543 on Debian for Pigsty\'s 26), group postgres, pg_dbsu_home', async () => {
    expect(dbsuUid(primary, ASSUMED_FACTS)).toBe(543);
    expect(dbsuUid(primary, { ...ASSUMED_FACTS, packageManager: 'dnf' })).toBe(26);
    const other = (await load('        pg_dbsu_uid: 600\n')).hosts[0]!;
    expect(dbsuUid(other, ASSUMED_FACTS)).toBe(600);
    expect(pgDbsu.parse('', want)).toBeNull();
    expect(pgDbsu.apply(want, null)).toContain("useradd -m -u 543 -g postgres -d /var/lib/pgsql -s /bin/bash postgres");
  });

  it('that exists with another uid is noted, not changed', () => {
    const have = pgDbsu.parse('postgres:x:105:111:PostgreSQL administrator:/var/lib/postgresql:/bin/bash\n', want);
    expect(have).toEqual({ unsupported: expect.stringContaining('uid 105 (pg_dbsu_uid: 543)') as string });
    expect(pgDbsu.parse('postgres:x:543:543::/var/lib/pgsql:/bin/bash\n', want)).toEqual({ uid: 543, home: '/var/lib/pgsql' });
    expect(pgDbsu.diff(want, { uid: 543, home: '/var/lib/pgsql' })).toEqual([]);
  });

  it('gets Pigsty\'s sudo rule for pg_dbsu_sudo', () => {
    expect(dbsuSudoers('postgres', 'nopass')).toContain('postgres ALL=(ALL) NOPASSWD: ALL');
    expect(dbsuSudoers('postgres', 'none')).not.toContain('ALL');
    expect(dbsuSudoers('postgres', 'limit')).toContain('%postgres ALL=NOPASSWD: /bin/systemctl reload haproxy');
  });
});

describe('scripts', () => {
  it('parse as bash: probes and applies of the new kinds', () => {
    const mine = objects.filter((r) => ['pg-extension', 'pg-template'].includes(r.kind));
    const dbsu = { kind: 'pg-dbsu', want: { name: 'postgres', uid: 543, home: '/var/lib/pgsql' }, module: 'pgsql' as const, cluster: 'pg-test' };
    const broken = [...mine, dbsu].flatMap((r) => [kindOf(r.kind).probe(r.want), kindOf(r.kind).apply(r.want, null)]).filter((s) => !parses(s));
    expect(mine.length).toBeGreaterThan(10);
    expect(broken).toEqual([]);
  });
});
