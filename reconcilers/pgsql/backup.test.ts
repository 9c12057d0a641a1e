/** PGSQL's backups on every member: pgbackrest.conf, the stanza, pg_crontab and the /pg/bin scripts, run against fake tools. */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateInventory } from '../../src/config/validate.js';
import { ASSUMED_FACTS } from '../../src/engine/facts.js';
import type { Desired, Facts, Observation } from '../../src/engine/model.js';
import { observeScript } from '../../src/engine/observe.js';
import { plan } from '../../src/engine/plan.js';
import { renderJson, renderMarkdown, renderText } from '../../src/engine/render.js';
import { kindOf } from '../../src/engine/resources/index.js';
import type { Resource } from '../../src/engine/resources/kind.js';
import { certificatesFor } from '../../test/helpers/pki.js';
import { tmpRepo } from '../../test/helpers/tmp.js';
import { threeMemberPgTest } from '../../test/helpers/inventories.js';
import { pgBinScripts, type ScriptContext } from './backup.js';
import { pgsql } from './index.js';
import { pgbackrestStanza, stanzaRecordPath, type PgbackrestStanzaHave, type PgbackrestStanzaWant } from './kinds/pgbackrest-stanza.js';
import { identityOfLines } from './pgbackrest-repo.js';
import { pgbackrestProcesses } from './templates.js';

const INVENTORY = threeMemberPgTest;

async function loaded(vars = '', facts: (host: string) => Facts = () => ASSUMED_FACTS) {
  const v = await validateInventory(tmpRepo({ 'pigsty.yml': INVENTORY(vars) }));
  expect(v.problems.filter((p) => p.severity === 'error')).toEqual([]);
  const cluster = v.clusters.find((c) => c.module === 'pgsql')!;
  return { v, cluster, out: pgsql.desired({ cluster, hosts: v.hosts, facts, certificates: await certificatesFor(v), together: () => true }) };
}

async function desiredOf(vars = '', facts: (host: string) => Facts = () => ASSUMED_FACTS) {
  return (await loaded(vars, facts)).out;
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
    expect(p?.want).toEqual({ stanza: 'pg-test', dbsu: 'postgres', primary: true, initBackup: true, repo: 'posix /pg/backup', data: '/pg/data' });
    for (const [seq, r] of [[2, r2], [3, r3]] as const) {
      expect(r?.want).toEqual({ stanza: 'pg-test', dbsu: 'postgres', primary: false, initBackup: false, repo: 'posix /pg/backup', data: '/pg/data' });
      // From pg_control of a running replica, after its configuration.
      expect(r?.deps).toEqual(expect.arrayContaining([`patroni-member:pg-test-${seq}`, 'file:/etc/pgbackrest/pgbackrest.conf']));
    }
    const primaryScript = pgbackrestStanza.apply(p!.want as PgbackrestStanzaWant, null);
    expect(primaryScript).toContain('pgbackrest --stanza=pg-test stanza-create\n');
    expect(primaryScript).toContain('pgbackrest --stanza=pg-test check');
    expect(primaryScript).toContain('pgbackrest --stanza=pg-test --type=full backup');
    const replicaScript = pgbackrestStanza.apply(r2!.want as PgbackrestStanzaWant, null);
    expect(replicaScript.split('\n')[0]).toBe('runuser -u postgres -- pgbackrest --stanza=pg-test --no-online stanza-create');
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

const CONF = '/etc/pgbackrest/pgbackrest.conf';
const SECRETS_FILE = '/etc/pgbackrest/conf.d/repo1-secrets.conf';
const MINIO_SECRETS = ['Key.Id.7', 'S3User.Backup', 'Cipher.Pass.7'];
const linesOf = (text: string) => text.split('\n');

describe('pgBackRest repositories', () => {
  it("writes Pigsty's minio repository as its template does, every key but the secure ones in pgbackrest.conf", async () => {
    const out = await desiredOf('pgbackrest_method: minio');
    for (const host of MEMBERS) {
      const list = out.resources.get(host);
      const conf = linesOf(contentOf(list, CONF));
      for (const line of [
        'repo1-type=s3',
        'repo1-s3-endpoint=sss.pigsty',
        'repo1-s3-region=us-east-1',
        'repo1-s3-bucket=pgsql',
        'repo1-s3-uri-style=path',
        'repo1-path=/pgbackrest',
        'repo1-storage-port=9000',
        'repo1-storage-ca-file=/etc/pki/ca.crt',
        'repo1-block=y',
        'repo1-bundle=y',
        'repo1-bundle-limit=20MiB',
        'repo1-bundle-size=128MiB',
        'repo1-cipher-type=aes-256-cbc',
        'repo1-retention-full-type=time',
        'repo1-retention-full=14',
        'expire-auto=y',
      ]) {
        expect(conf, `${host}: ${line}`).toContain(line);
      }
      expect(conf.filter((l) => /^repo1-(s3-key|s3-key-secret|cipher-pass)=/.test(l))).toEqual([]);
      const secrets = byPath(list, SECRETS_FILE)!;
      expect(secrets.want).toEqual({
        path: SECRETS_FILE,
        content: '# managed by corral (PGSQL): pgBackRest repository secrets of pg-test\n[global]\nrepo1-s3-key=pgbackrest\nrepo1-s3-key-secret=S3User.Backup\nrepo1-cipher-pass=pgBackRest\n',
        mode: 0o600,
        owner: 'postgres',
        group: 'postgres',
        secret: true,
      });
      // The secrets first, then the conf that names the repository, then stale secret files.
      expect(byPath(list, CONF)!.deps).toContain(`file:${SECRETS_FILE}`);
      const stale = list!.find((r) => r.kind === 'stale-files' && (r.want as { dir: string }).dir === '/etc/pgbackrest/conf.d')!;
      expect(stale.want).toMatchObject({ keep: ['repo1-secrets.conf'], glob: '*.conf', marker: '# managed by corral (PGSQL): pgBackRest repository secrets' });
    }
    expect(stanzaOn(out.resources.get('10.0.0.11'))?.want).toMatchObject({ repo: 's3 pgsql@sss.pigsty/pgbackrest' });
  });

  it('takes user-defined s3, azure and gcs repositories: secure options apart, booleans as y/n, ${pg_cluster} filled in everywhere', async () => {
    const s3 = await desiredOf(
      "pgbackrest_method: aws, pgbackrest_repo: { aws: { type: s3, s3_endpoint: s3.eu-west-1.amazonaws.com, s3_region: eu-west-1, s3_bucket: corp-pg, s3_key: AKIAEXAMPLE, s3_key_secret: Aws.Secret.1, s3_token: Tok.En.1, s3_uri_style: host, path: '/${pg_cluster}/${pg_cluster}', block: true, bundle: false, retention_full: 4 } }",
    );
    const list = s3.resources.get('10.0.0.11');
    const conf = linesOf(contentOf(list, CONF));
    for (const line of ['repo1-type=s3', 'repo1-s3-uri-style=host', 'repo1-path=/pg-test/pg-test', 'repo1-block=y', 'repo1-bundle=n', 'repo1-retention-full=4']) expect(conf).toContain(line);
    expect(contentOf(list, CONF)).not.toMatch(/AKIAEXAMPLE|Aws\.Secret\.1|Tok\.En\.1/);
    expect(contentOf(list, SECRETS_FILE)).toContain('[global]\nrepo1-s3-key=AKIAEXAMPLE\nrepo1-s3-key-secret=Aws.Secret.1\nrepo1-s3-token=Tok.En.1\n');
    expect(stanzaOn(list)?.want).toMatchObject({ repo: 's3 corp-pg@s3.eu-west-1.amazonaws.com/pg-test/pg-test' });
    // A shared repository: the stanza on the primary only.
    expect(stanzaOn(s3.resources.get('10.0.0.12'))).toBeUndefined();

    const azure = await desiredOf("pgbackrest_method: blob, pgbackrest_repo: { blob: { type: azure, azure_account: corpacct, azure_key: QXp1cmUK, azure_container: pg, path: /backup } }");
    const a = azure.resources.get('10.0.0.11');
    expect(linesOf(contentOf(a, CONF))).toEqual(expect.arrayContaining(['repo1-type=azure', 'repo1-azure-container=pg', 'repo1-path=/backup']));
    expect(contentOf(a, CONF)).not.toMatch(/corpacct|QXp1cmUK/);
    expect(contentOf(a, SECRETS_FILE)).toContain('repo1-azure-account=corpacct\nrepo1-azure-key=QXp1cmUK\n');
    expect(stanzaOn(a)?.want).toMatchObject({ repo: 'azure pg/backup' });

    const gcs = await desiredOf("pgbackrest_method: gcs, pgbackrest_repo: { gcs: { type: gcs, gcs_bucket: corp-pg, gcs_key: /etc/pgbackrest/gcs.json, path: /pgbackrest } }");
    const g = gcs.resources.get('10.0.0.11');
    expect(linesOf(contentOf(g, CONF))).toEqual(expect.arrayContaining(['repo1-type=gcs', 'repo1-gcs-bucket=corp-pg']));
    expect(contentOf(g, SECRETS_FILE)).toContain('repo1-gcs-key=/etc/pgbackrest/gcs.json\n');
    expect(stanzaOn(g)?.want).toMatchObject({ repo: 'gcs corp-pg/pgbackrest' });
  });

  it('a repository without secure options has no secrets file, and a stale one is removed', async () => {
    const out = await desiredOf();
    for (const host of MEMBERS) {
      const list = out.resources.get(host);
      expect(byPath(list, SECRETS_FILE)).toBeUndefined();
      const stale = list!.find((r) => r.kind === 'stale-files' && (r.want as { dir: string }).dir === '/etc/pgbackrest/conf.d')!;
      expect(stale.want).toMatchObject({ keep: [] });
      expect(stale.deps).toContain(`file:${CONF}`);
      const fields = kindOf('stale-files').diff(stale.want, { files: ['repo1-secrets.conf'] });
      expect(fields).toEqual([{ field: 'stale files', from: ['repo1-secrets.conf'], to: [] }]);
      expect(kindOf('stale-files').apply(stale.want, { files: ['repo1-secrets.conf'] })).toBe("cd /etc/pgbackrest/conf.d && rm -f -- repo1-secrets.conf");
    }
  });

  it('never shows a secret of the repository in a plan (text, JSON, Markdown), a probe, or a script but the secrets file\'s write', async () => {
    // Pigsty's minio repository, with secrets no other text of a plan has (its defaults, pgbackrest and pgBackRest, are words of the plan).
    const vars =
      'pgbackrest_method: minio, pgbackrest_repo: { minio: { type: s3, s3_endpoint: sss.pigsty, s3_region: us-east-1, s3_bucket: pgsql, s3_key: Key.Id.7, s3_key_secret: S3User.Backup, s3_uri_style: path, path: /pgbackrest, storage_port: 9000, cipher_type: aes-256-cbc, cipher_pass: Cipher.Pass.7, retention_full_type: time, retention_full: 14 } }';
    const { out, cluster, v } = await loaded(vars);
    const d: Desired = { hosts: [...out.resources].map(([host, resources]) => ({ host, target: { host } as never, resources })), edges: out.edges };
    // A node with Pigsty's conf (secrets in it) moving: a stanza made on the local repository.
    const moving: PgbackrestStanzaHave = { stanza: true, backups: 2, conf: 'posix /pg/backup' };
    const pigstyConf = { type: 'regular file', owner: 'postgres', group: 'postgres', mode: 0o640, sha256: 'f00', content: '[global]\nrepo1-path=/pg/backup\nrepo1-s3-key=Key.Id.7\nrepo1-s3-key-secret = S3User.Backup\nrepo1-cipher-pass=Cipher.Pass.7\n' };
    const states = { 'pgbackrest-stanza:pg-test': moving, [`file:${CONF}`]: pigstyConf };
    const observations = d.hosts.map((h): Observation => ({ host: h.host, ok: true, facts: ASSUMED_FACTS, states: h.host === '10.0.0.11' ? states : {}, durationMs: 1 }));
    const p = plan(d, observations, 'r1');
    p.plan.notes.push(...pgsql.departed!({ cluster, hosts: v.hosts, observations }).notes);
    const shown = [renderText(p.plan), renderJson(p.plan), renderMarkdown(p.plan)];
    for (const text of shown) for (const secret of MINIO_SECRETS) expect(text).not.toContain(secret);
    expect(shown[0]).toContain('posix /pg/backup');
    expect(shown[0]).toContain('s3 pgsql@sss.pigsty/pgbackrest');
    // The node's conf of before, which held them, shows which lines go, not their values.
    expect(shown[0]).toContain('-repo1-s3-key-secret =(redacted)');
    for (const [id, script] of p.scripts) {
      const carries = id.endsWith(`|file:${SECRETS_FILE}`);
      for (const secret of MINIO_SECRETS) {
        expect(script, id).not.toContain(secret);
        if (!carries) expect(script, id).not.toContain(Buffer.from(secret).toString('base64').slice(0, 8));
      }
    }
    expect([...p.scripts.keys()].filter((id) => id.endsWith(`|file:${SECRETS_FILE}`))).toHaveLength(3);
    for (const h of d.hosts) for (const secret of MINIO_SECRETS) expect(observeScript(h.resources, 'n0nce')).not.toContain(secret);
    // The stanza's probe reads the identity options of pgbackrest.conf only, never a secure one.
    const probe = pgbackrestStanza.probe(stanzaOn(out.resources.get('10.0.0.11'))!.want as PgbackrestStanzaWant);
    expect(probe).toContain("grep -E '^repo1-(type|path|s3-bucket|s3-endpoint|azure-container|gcs-bucket|gcs-endpoint|sftp-host)=' /etc/pgbackrest/pgbackrest.conf");
  });
});

describe('changing the repository of a running cluster', () => {
  const S3 = 's3 pgsql@sss.pigsty/pgbackrest';
  const primary: PgbackrestStanzaWant = { stanza: 'pg-test', dbsu: 'postgres', primary: true, initBackup: true, repo: S3, data: '/pg/data' };
  const replica: PgbackrestStanzaWant = { stanza: 'pg-test', dbsu: 'postgres', primary: false, initBackup: false, repo: 'posix /backup/pg-test', data: '/pg/data' };
  const parse = (out: string) => pgbackrestStanza.parse(out, primary) as PgbackrestStanzaHave | null;

  it('reads the stanza, the recorded repository and the one pgbackrest.conf names from one probe', () => {
    const info = '[{"name":"pg-test","status":{"code":0,"message":"ok"},"backup":[{},{}]}]';
    expect(parse(`${info}\nrecorded=posix /pg/backup\nrepo1-path=/pg/backup\n`)).toEqual({ stanza: true, backups: 2, recorded: 'posix /pg/backup', conf: 'posix /pg/backup' });
    expect(parse(`${info}\nrepo1-type=s3\nrepo1-s3-bucket=pgsql\nrepo1-s3-endpoint=sss.pigsty\nrepo1-path=/pgbackrest/\n`)).toEqual({ stanza: true, backups: 2, conf: S3 });
    expect(parse('\n')).toBeNull();
    expect(parse('\nrepo1-path=/pg/backup\n')).toEqual({ stanza: false, backups: 0, conf: 'posix /pg/backup' });
    expect(identityOfLines(['repo1-type=azure', 'repo1-azure-container=pg'])).toBe('azure pg/var/lib/pgbackrest');
  });

  it('plans a stanza made on the old repository as a move: the stanza, a check and a full backup on the new one, the record last', () => {
    const have: PgbackrestStanzaHave = { stanza: true, backups: 2, recorded: 'posix /pg/backup', conf: 'posix /pg/backup' };
    expect(pgbackrestStanza.diff(primary, have)).toEqual([
      { field: 'repository', from: 'posix /pg/backup', to: S3 },
      { field: 'full backups', from: 0, to: 1 },
    ]);
    const script = pgbackrestStanza.apply(primary, have).split('\n');
    expect(script).toEqual([
      `if [ -e /pg/data/standby.signal ]; then echo 'stanza pg-test: this member, the intended primary (pg_role: primary), runs as a replica (a failover is left as it is): the stanza is made, checked and backed up where PostgreSQL leads; switch over back to it (patronictl switchover), or make the leader pg_role: primary' >&2; exit 1; fi`,
      'runuser -u postgres -- pgbackrest --stanza=pg-test stanza-create',
      'runuser -u postgres -- pgbackrest --stanza=pg-test check',
      'runuser -u postgres -- pgbackrest --stanza=pg-test --type=full backup',
      'mkdir -p "$(dirname /var/lib/corral/pgsql/pgbackrest-pg-test.repo)"',
      `printf '%s\\n' '${S3}' > /var/lib/corral/pgsql/pgbackrest-pg-test.repo.corral-tmp && mv -f /var/lib/corral/pgsql/pgbackrest-pg-test.repo.corral-tmp /var/lib/corral/pgsql/pgbackrest-pg-test.repo`,
    ]);
    expect(stanzaRecordPath('pg-test')).toBe('/var/lib/corral/pgsql/pgbackrest-pg-test.repo');
    // pgbackrest_init_backup: false: the stanza and the check, no backup.
    expect(pgbackrestStanza.diff({ ...primary, initBackup: false }, have)).toEqual([{ field: 'repository', from: 'posix /pg/backup', to: S3 }]);
    expect(pgbackrestStanza.apply({ ...primary, initBackup: false }, have)).not.toContain('backup\n');
  });

  it('without a record (a stanza made before Corral recorded it, or by Pigsty) takes the repository pgbackrest.conf names', () => {
    expect(pgbackrestStanza.diff(primary, { stanza: true, backups: 1, conf: S3 })).toEqual([]);
    expect(pgbackrestStanza.diff(primary, { stanza: true, backups: 1, conf: 'posix /pg/backup' })).toEqual([
      { field: 'repository', from: 'posix /pg/backup', to: S3 },
      { field: 'full backups', from: 0, to: 1 },
    ]);
    // No stanza where the conf points: a plain creation, not a move.
    expect(pgbackrestStanza.diff(primary, { stanza: false, backups: 0, conf: 'posix /pg/backup' })).toEqual([
      { field: 'stanza', from: null, to: 'pg-test' },
      { field: 'full backups', from: 0, to: 1 },
    ]);
  });

  it('a move interrupted after the new conf was written (the record still the old one) is made again; one recorded is done', () => {
    // The conf names the new repository, which has the stanza (made before the crash), but the record was never written.
    const interrupted: PgbackrestStanzaHave = { stanza: true, backups: 0, recorded: 'posix /pg/backup', conf: S3 };
    expect(pgbackrestStanza.diff(primary, interrupted).map((f) => f.field)).toEqual(['repository', 'full backups']);
    expect(pgbackrestStanza.diff(primary, { ...interrupted, stanza: false }).map((f) => f.field)).toEqual(['repository', 'full backups']);
    expect(pgbackrestStanza.diff(primary, { stanza: true, backups: 1, recorded: S3, conf: S3 })).toEqual([]);
  });

  it('a local repository moving elsewhere moves on every member: offline on replicas, no backup there', async () => {
    const moved = await desiredOf("pgbackrest_repo: { local: { path: '/backup/${pg_cluster}', retention_full_type: count, retention_full: 3 } }");
    expect(stanzaOn(moved.resources.get('10.0.0.12'))?.want).toEqual(replica);
    const have: PgbackrestStanzaHave = { stanza: true, backups: 0, recorded: 'posix /pg/backup' };
    expect(pgbackrestStanza.diff(replica, have)).toEqual([{ field: 'repository', from: 'posix /pg/backup', to: 'posix /backup/pg-test' }]);
    const script = pgbackrestStanza.apply(replica, have);
    expect(script).toContain('pgbackrest --stanza=pg-test --no-online stanza-create\n');
    expect(script).not.toContain(' backup\n');
    expect(script.trimEnd().endsWith('/var/lib/corral/pgsql/pgbackrest-pg-test.repo')).toBe(true);
  });

  it('notes what becomes of the old repository, once per member that moves, and nothing when none does', async () => {
    const { cluster, v } = await loaded('pgbackrest_method: minio');
    const obs = (states: Record<string, Record<string, unknown>>): Observation[] => MEMBERS.map((host) => ({ host, ok: true, facts: ASSUMED_FACTS, states: states[host] ?? {}, durationMs: 1 }));
    const moving = obs({ '10.0.0.11': { 'pgbackrest-stanza:pg-test': { stanza: true, backups: 2, recorded: 'posix /pg/backup' } } });
    const notes = pgsql.departed!({ cluster, hosts: v.hosts, observations: moving }).notes;
    expect(notes).toHaveLength(1);
    expect(notes[0]).toMatchObject({ host: '10.0.0.11', resource: 'pgbackrest-stanza:pg-test' });
    expect(notes[0]!.message).toContain(`moves from posix /pg/backup to ${S3}: the stanza is made there, archiving checked and a full backup taken`);
    expect(notes[0]!.message).toContain('Corral leaves the backups and WAL archive in posix /pg/backup as they are and never reads or removes them');
    expect(notes[0]!.message).toContain('rm -rf /pg/backup/archive/pg-test /pg/backup/backup/pg-test');
    const settled = obs({ '10.0.0.11': { 'pgbackrest-stanza:pg-test': { stanza: true, backups: 2, recorded: S3 } } });
    expect(pgsql.departed!({ cluster, hosts: v.hosts, observations: settled }).notes).toEqual([]);
    // From s3 back to the local repository: the old one is in a bucket.
    const back = await loaded();
    const fromS3 = obs({ '10.0.0.12': { 'pgbackrest-stanza:pg-test': { stanza: true, backups: 0, recorded: S3 } } });
    const [note] = pgsql.departed!({ cluster: back.cluster, hosts: back.v.hosts, observations: fromS3 }).notes;
    expect(note!.message).toContain('the stanza is made there offline');
    expect(note!.message).toContain('delete archive/pg-test/ and backup/pg-test/ under pgsql@sss.pigsty/pgbackrest');
  });

  it('probe and apply parse as bash', () => {
    const parses = (script: string): boolean => spawnSync('bash', ['-n'], { input: script }).status === 0;
    const have: PgbackrestStanzaHave = { stanza: true, backups: 2, recorded: 'posix /pg/backup' };
    for (const w of [primary, replica]) for (const script of [pgbackrestStanza.probe(w), pgbackrestStanza.apply(w, null), pgbackrestStanza.apply(w, have)]) expect(parses(script), script).toBe(true);
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

  it("runs full and incremental backups from pg-backup, expired by the repository's own retention keys", async () => {
    const out = await desiredOf("pgbackrest_method: minio, pg_crontab: [ '00 01 * * 1 /pg/bin/pg-backup full', '00 01 * * 2,3,4,5,6,7 /pg/bin/pg-backup' ]");
    const list = out.resources.get('10.0.0.12');
    const tab = linesOf(contentOf(list, '/var/spool/cron/crontabs/postgres'));
    expect(tab).toEqual(expect.arrayContaining(['00 01 * * 1 /pg/bin/pg-backup full', '00 01 * * 2,3,4,5,6,7 /pg/bin/pg-backup']));
    // Every member's PATH finds pg-backup; it backs up where PostgreSQL is primary, to the repository of pgbackrest.conf.
    expect(tab.find((l) => l.startsWith('PATH='))).toContain(':/pg/bin:');
    const conf = linesOf(contentOf(list, CONF));
    expect(conf).toEqual(expect.arrayContaining(['expire-auto=y', 'repo1-retention-full-type=time', 'repo1-retention-full=14']));
    // pg-backup names no retention: pgBackRest expires after each backup by the repository's keys.
    const script = contentOf(list, '/pg/bin/pg-backup');
    expect(script).not.toContain('retention');
    expect(script).toContain('TYPE=${1:-incr}');
    const s = scratch();
    expect(s.run('pg-backup', ['full'], { FAKE_RECOVERY: 'f' }).status).toBe(0);
    expect(s.run('pg-backup', [], { FAKE_RECOVERY: 'f' }).status).toBe(0);
    expect(s.calls('pgbackrest')).toEqual(['pgbackrest --stanza=pg-test --type=full backup', 'pgbackrest --stanza=pg-test --type=incr backup']);
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
