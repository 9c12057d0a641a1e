/** PGSQL's backups on every member: pgbackrest.conf, the stanza, pg_crontab and the /pg/bin scripts, run against fake tools. */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateInventory } from '../../src/config/validate.js';
import { ASSUMED_FACTS } from '../../src/engine/facts.js';
import type { Facts } from '../../src/engine/model.js';
import type { Resource } from '../../src/engine/resources/kind.js';
import { certificatesFor } from '../../test/helpers/pki.js';
import { tmpRepo } from '../../test/helpers/tmp.js';
import { pgBinScripts, type ScriptContext } from './backup.js';
import { pgsql } from './index.js';
import { pgbackrestStanza, type PgbackrestStanzaWant } from './kinds/pgbackrest-stanza.js';
import { pgbackrestProcesses } from './templates.js';

/** Three members; `vars` are more cluster variables, in YAML's flow style. */
const INVENTORY = (vars = '') => `
all:
  children:
    etcd: { hosts: { 10.0.0.11: { etcd_seq: 1 } }, vars: { etcd_cluster: etcd } }
    pg-test:
      hosts:
        10.0.0.11: { pg_seq: 1, pg_role: primary }
        10.0.0.12: { pg_seq: 2, pg_role: replica }
        10.0.0.13: { pg_seq: 3, pg_role: replica }
      vars: { pg_cluster: pg-test, pg_version: 15${vars ? `, ${vars}` : ''} }
`;

async function desiredOf(vars = '', facts: (host: string) => Facts = () => ASSUMED_FACTS) {
  const v = await validateInventory(tmpRepo({ 'pigsty.yml': INVENTORY(vars) }));
  expect(v.problems.filter((p) => p.severity === 'error')).toEqual([]);
  const cluster = v.clusters.find((c) => c.module === 'pgsql')!;
  return pgsql.desired({ cluster, hosts: v.hosts, facts, certificates: await certificatesFor(v), together: () => true });
}

const MEMBERS = ['10.0.0.11', '10.0.0.12', '10.0.0.13'];
const byPath = (list: Resource[] | undefined, path: string) => list?.find((r) => (r.want as { path?: string }).path === path);
const contentOf = (list: Resource[] | undefined, path: string): string => (byPath(list, path)!.want as { content: string }).content;
const stanzaOn = (list: Resource[] | undefined) => list?.find((r) => r.kind === 'pgbackrest-stanza');

describe('pgBackRest on every member', async () => {
  const out = await desiredOf();

  it("writes pgbackrest.conf on every member with Pigsty's archive queue, zstd, the local repository and its retention", () => {
    for (const host of MEMBERS) {
      const conf = byPath(out.resources.get(host), '/etc/pgbackrest/pgbackrest.conf')!;
      expect(conf.want).toMatchObject({ mode: 0o640, owner: 'postgres', group: 'postgres' });
      const text = (conf.want as { content: string }).content;
      expect(text).toContain('[pg-test]\npg1-path=/pg/data\npg1-port=5432\n');
      for (const line of ['archive-async=y', 'archive-push-queue-max=4GiB', 'spool-path=/pg/spool', 'compress-type=zst', 'log-path=/pg/log/pgbackrest', 'repo1-path=/pg/backup', 'repo1-retention-full-type=count', 'repo1-retention-full=2']) {
        expect(text.split('\n'), `${host}: ${line}`).toContain(line);
      }
    }
  });

  it("sets process-max per command from the node's CPUs, as Pigsty: a quarter (2 to 4), a restore all of them (at most 8)", async () => {
    expect(pgbackrestProcesses(1)).toEqual({ backup: 2, restore: 1, archive: 2 });
    expect(pgbackrestProcesses(4)).toEqual({ backup: 2, restore: 4, archive: 2 });
    expect(pgbackrestProcesses(12)).toEqual({ backup: 3, restore: 8, archive: 3 });
    expect(pgbackrestProcesses(64)).toEqual({ backup: 4, restore: 8, archive: 4 });
    const big = await desiredOf('', (host) => ({ ...ASSUMED_FACTS, cpus: host === '10.0.0.12' ? 32 : 4 }));
    expect(contentOf(big.resources.get('10.0.0.12'), '/etc/pgbackrest/pgbackrest.conf')).toContain('[global:backup]\nprocess-max=4\n\n[global:restore]\nprocess-max=8\n\n[global:archive-get]\nprocess-max=4\n\n[global:archive-push]\nprocess-max=4\n');
    expect(contentOf(big.resources.get('10.0.0.11'), '/etc/pgbackrest/pgbackrest.conf')).toContain('[global:backup]\nprocess-max=2\n\n[global:restore]\nprocess-max=4\n');
  });

  it('creates the stanza on every member with a local repository: online with a first backup on the primary, offline on replicas', () => {
    const [p, r2, r3] = MEMBERS.map((m) => stanzaOn(out.resources.get(m)));
    expect(p?.want).toEqual({ stanza: 'pg-test', dbsu: 'postgres', primary: true, initBackup: true });
    for (const [seq, r] of [[2, r2], [3, r3]] as const) {
      expect(r?.want).toEqual({ stanza: 'pg-test', dbsu: 'postgres', primary: false, initBackup: false });
      // From pg_control of a running replica, after its configuration.
      expect(r?.deps).toEqual(expect.arrayContaining([`patroni-member:pg-test-${seq}`, 'file:/etc/pgbackrest/pgbackrest.conf']));
    }
    const primaryScript = pgbackrestStanza.apply(p!.want as PgbackrestStanzaWant, null);
    expect(primaryScript).toContain('pgbackrest --stanza=pg-test stanza-create\n');
    expect(primaryScript).toContain('pgbackrest --stanza=pg-test check');
    expect(primaryScript).toContain('pgbackrest --stanza=pg-test --type=full backup');
    const replicaScript = pgbackrestStanza.apply(r2!.want as PgbackrestStanzaWant, null);
    expect(replicaScript).toBe('runuser -u postgres -- pgbackrest --stanza=pg-test --no-online stanza-create');
    // A replica's existing stanza without backups is what it wants.
    expect(pgbackrestStanza.diff(r2!.want as PgbackrestStanzaWant, { stanza: true, backups: 0 })).toEqual([]);
    expect(pgbackrestStanza.diff(p!.want as PgbackrestStanzaWant, { stanza: true, backups: 0 })).toEqual([{ field: 'full backups', from: 0, to: 1 }]);
  });

  it('with a shared repository (not local) only the primary creates the stanza; every member still has the conf', async () => {
    const minio = await desiredOf('pgbackrest_method: minio');
    expect(stanzaOn(minio.resources.get('10.0.0.11'))?.want).toMatchObject({ primary: true });
    for (const host of ['10.0.0.12', '10.0.0.13']) {
      expect(stanzaOn(minio.resources.get(host))).toBeUndefined();
      expect(contentOf(minio.resources.get(host), '/etc/pgbackrest/pgbackrest.conf')).toContain('repo1-type=s3');
    }
  });

  it('a local repository outside /pg/backup is made for the dbsu before the stanza; pgbackrest_enabled: false leaves pgBackRest out', async () => {
    const elsewhere = await desiredOf("pgbackrest_repo: { local: { path: '/backup/${pg_cluster}', retention_full_type: count, retention_full: 3 } }");
    const n2 = elsewhere.resources.get('10.0.0.12');
    expect(byPath(n2, '/backup/pg-test')?.want).toEqual({ path: '/backup/pg-test', mode: 0o750, owner: 'postgres', group: 'postgres' });
    expect(stanzaOn(n2)?.deps).toContain('directory:/backup/pg-test');
    expect(contentOf(n2, '/etc/pgbackrest/pgbackrest.conf')).toContain('repo1-path=/backup/pg-test\nrepo1-retention-full-type=count\nrepo1-retention-full=3\n');
    const off = await desiredOf('pgbackrest_enabled: false');
    for (const host of MEMBERS) {
      expect(stanzaOn(off.resources.get(host))).toBeUndefined();
      expect(byPath(off.resources.get(host), '/etc/pgbackrest/pgbackrest.conf')).toBeUndefined();
    }
  });
});

describe('pg_crontab', () => {
  it("is the dbsu's crontab on every member, as Pigsty writes it on Debian, with cron installed", async () => {
    const out = await desiredOf("pg_crontab: [ '00 01 * * 1 /pg/bin/pg-backup full', '00 01 * * 2,3,4,5,6,7 /pg/bin/pg-backup' ]");
    for (const host of MEMBERS) {
      const list = out.resources.get(host);
      const tab = byPath(list, '/var/spool/cron/crontabs/postgres')!;
      expect(tab.want).toMatchObject({ mode: 0o600, owner: 'postgres', group: 'crontab' });
      expect((tab.want as { content: string }).content).toBe(
        [
          '# managed by corral (PGSQL): pg_crontab of pg-test for postgres',
          'SHELL=/bin/bash',
          'PATH=/usr/pgsql/bin:/pg/bin:/usr/local/bin:/usr/bin:/usr/sbin:/bin:/sbin',
          'MAILTO=""',
          '00 01 * * 1 /pg/bin/pg-backup full',
          '00 01 * * 2,3,4,5,6,7 /pg/bin/pg-backup',
          '',
        ].join('\n'),
      );
      // Debian's spool directory comes with the cron package.
      expect(tab.deps).toContain('packages:pgsql');
      expect((list!.find((r) => r.kind === 'packages')!.want as { packages: string[] }).packages).toContain('cron');
    }
  });

  it("is left alone when empty (Pigsty's default), and cron is not installed for it", async () => {
    const out = await desiredOf();
    for (const host of MEMBERS) {
      const list = out.resources.get(host);
      expect(list!.some((r) => String((r.want as { path?: string }).path).startsWith('/var/spool/cron'))).toBe(false);
      expect((list!.find((r) => r.kind === 'packages')!.want as { packages: string[] }).packages).not.toContain('cron');
    }
  });
});

/** Runs a script of /pg/bin laid out in a scratch directory, with fake psql, pgbackrest and vacuumdb first on PATH. */
function scratch() {
  const root = mkdtempSync(join(tmpdir(), 'corral-pgbin-'));
  const [bin, fake, data, tmp] = ['bin', 'fake', 'data', 'tmp'].map((d) => join(root, d));
  for (const d of [bin, fake, data, tmp]) mkdirSync(d!);
  const log = join(root, 'calls.log');
  writeFileSync(log, '');
  const ctx: ScriptContext = { cluster: 'pg-test', dbsu: userInfo().username, port: 5432, socketDir: '/var/run/postgresql', data: data! };
  for (const [name, content] of Object.entries(pgBinScripts(ctx))) writeFileSync(join(bin!, name), content, { mode: 0o755 });
  // psql answers pg_is_in_recovery() with $FAKE_RECOVERY (t or f); without it PostgreSQL is down.
  const fakes: Record<string, string> = {
    psql: `#!/bin/bash\necho "psql $*" >> ${log}\n[[ -n "\${FAKE_RECOVERY:-}" ]] || { echo 'connection refused' >&2; exit 2; }\necho "$FAKE_RECOVERY"\n`,
    pgbackrest: `#!/bin/bash\necho "pgbackrest $*" >> ${log}\nexit \${FAKE_RC:-0}\n`,
    vacuumdb: `#!/bin/bash\necho "vacuumdb $*" >> ${log}\n`,
  };
  for (const [name, content] of Object.entries(fakes)) {
    writeFileSync(join(fake!, name), content);
    chmodSync(join(fake!, name), 0o755);
  }
  const run = (script: string, args: string[] = [], env: Record<string, string> = {}) => {
    const r = spawnSync(join(bin!, script), args, { encoding: 'utf8', env: { PATH: `${fake}:/usr/bin:/bin:/usr/sbin:/sbin`, ...env } });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  const calls = (tool: string): string[] =>
    readFileSync(log, 'utf8')
      .split('\n')
      .filter((l) => l.startsWith(`${tool} `));
  return { run, calls, data: data!, tmp: tmp! };
}

describe('/pg/bin scripts', () => {
  const parses = (script: string): boolean => spawnSync('bash', ['-n'], { input: script }).status === 0;

  it('are written on every member, root-owned for the dbsu, 0755, and parse as bash', async () => {
    expect(parses('if then fi')).toBe(false);
    const out = await desiredOf();
    for (const host of MEMBERS) {
      for (const name of ['pg-role', 'pg-backup', 'pg-vacuum']) {
        const r = byPath(out.resources.get(host), `/pg/bin/${name}`)!;
        expect(r.want, `${host} ${name}`).toMatchObject({ mode: 0o755, owner: 'root', group: 'postgres' });
        expect(r.deps).toContain('directory:/pg/bin');
        expect(parses((r.want as { content: string }).content), `${host} ${name}`).toBe(true);
      }
    }
    expect(contentOf(out.resources.get('10.0.0.12'), '/pg/bin/pg-backup')).toContain("STANZA=pg-test\n");
  });

  it('pg-role asks the running PostgreSQL, else reads the data directory', () => {
    const s = scratch();
    expect(s.run('pg-role', [], { FAKE_RECOVERY: 'f' }).stdout).toBe('primary\n');
    expect(s.calls('psql')[0]).toBe("psql -AXtqw -h /var/run/postgresql -p 5432 -d postgres -c SELECT pg_is_in_recovery()");
    expect(s.run('pg-role', [], { FAKE_RECOVERY: 't' }).stdout).toBe('replica\n');
    expect(s.run('pg-role').stdout).toBe('unknown\n');
    writeFileSync(join(s.data, 'PG_VERSION'), '15\n');
    expect(s.run('pg-role').stdout).toBe('primary\n');
    writeFileSync(join(s.data, 'standby.signal'), '');
    expect(s.run('pg-role').stdout).toBe('replica\n');
  });

  it('pg-backup backs up on the primary only: the given type, incr by default, pgbackrest\'s failure passed on', () => {
    const s = scratch();
    const full = s.run('pg-backup', ['full'], { FAKE_RECOVERY: 'f' });
    expect(full.status).toBe(0);
    expect(s.calls('pgbackrest')).toEqual(['pgbackrest --stanza=pg-test --type=full backup']);
    expect(s.run('pg-backup', [], { FAKE_RECOVERY: 'f' }).status).toBe(0);
    expect(s.calls('pgbackrest')[1]).toBe('pgbackrest --stanza=pg-test --type=incr backup');
    expect(s.run('pg-backup', ['diff'], { FAKE_RECOVERY: 'f', FAKE_RC: '28' }).status).toBe(28);

    const replica = s.run('pg-backup', ['full'], { FAKE_RECOVERY: 't' });
    expect(replica.status).toBe(1);
    expect(replica.stdout).toContain('this member is replica, not the primary');
    expect(s.run('pg-backup', ['full']).status).toBe(1); // PostgreSQL down, nothing in the data directory: unknown
    expect(s.calls('pgbackrest')).toHaveLength(3);

    const bad = s.run('pg-backup', ['weekly'], { FAKE_RECOVERY: 'f' });
    expect(bad.status).toBe(3);
    expect(s.calls('pgbackrest')).toHaveLength(3);
  });

  it('pg-vacuum freezes old tables on the primary only, the databases named or all', () => {
    const s = scratch();
    expect(s.run('pg-vacuum', [], { FAKE_RECOVERY: 't' }).status).toBe(1);
    expect(s.calls('vacuumdb')).toEqual([]);
    expect(s.run('pg-vacuum', [], { FAKE_RECOVERY: 'f' }).status).toBe(0);
    expect(s.run('pg-vacuum', ['app', 'meta'], { FAKE_RECOVERY: 'f', PG_VACUUM_AGE: '5' }).status).toBe(0);
    expect(s.calls('vacuumdb')).toEqual([
      'vacuumdb -h /var/run/postgresql -p 5432 --all --freeze --analyze --min-xid-age=100000000',
      'vacuumdb -h /var/run/postgresql -p 5432 --dbname=app --freeze --analyze --min-xid-age=5',
      'vacuumdb -h /var/run/postgresql -p 5432 --dbname=meta --freeze --analyze --min-xid-age=5',
    ]);
    expect(existsSync(join(s.tmp, 'pg-vacuum.lock'))).toBe(true);
  });
});
