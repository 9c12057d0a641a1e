/**
 * PGSQL as Pigsty runs it in production, on three bare lab nodes (test/fixtures/lab-prod, shaped like
 * Pigsty's conf/ha/trio.yml): pg_conf crit.yml gives synchronous replication and shared_buffers from the
 * node's memory; a cluster named before "haproxy" (app-meta) gets a HAProxy configuration `haproxy -c`
 * finds clean, its services on 5433/5434, and the admin page that wants its password; a standby cluster
 * on a 4th node follows it; after a failover the new primary archives and backs up.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { corral, lab, LAB_PKI_DIR, nodeIp, onNode, useBareLab } from '../helpers/lab.js';
import { startS3, type S3Server } from '../helpers/s3.js';
import { until } from '../helpers/until.js';

const FIXTURE = join(import.meta.dirname, '../fixtures/lab-prod');
const NODES = ['n1', 'n2', 'n3'];
const ADMIN = { user: 'admin', password: 'Lab.Admin.Pass' };

/** psql on a node as the dbsu, one value. */
const local = async (node: string, query: string, db = 'postgres'): Promise<string> => (await onNode(node, `runuser -u postgres -- psql -d ${db} -AtXqc "${query}"`)).trim();

/** SQL through a port of a node, from the host, as the cluster's user. */
function sql(ip: string, port: number, query: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn('psql', [`host=${ip} port=${port} dbname=app user=dbuser_app connect_timeout=3`, '-AtXqc', query], { env: { ...process.env, PGPASSWORD: 'App.Lab.Pass' } });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('exit', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`psql ${ip}:${port}: ${err}`))));
  });
}

describe('PGSQL in production shape on three lab nodes', () => {
  useBareLab(3);

  it('one apply converges; crit.yml: synchronous replication, shared_buffers from the node memory', async () => {
    const applied = await corral('apply', FIXTURE, '--yes');
    if (!applied.out.includes('the nodes converged')) console.log(applied.out);
    expect(applied.out).toContain('the nodes converged');
    const again = await corral('plan', FIXTURE, '--detailed-exitcode');
    if (again.code !== 0) console.log(again.out);
    expect(again.code).toBe(0);

    expect(await local('n1', 'select pg_is_in_recovery()')).toBe('f');
    expect(await local('n1', 'show synchronous_standby_names')).not.toBe('');
    const states = (await local('n1', 'select sync_state from pg_stat_replication order by 1')).split('\n');
    expect(states).toHaveLength(2);
    expect(states).toContain('sync');

    // Pigsty: node_mem_mb is MemTotal in MiB rounded up; shared_buffers = ceil(node_mem_mb * pg_shared_buffer_ratio) MB.
    for (const node of NODES) {
      const kb = Number(/^MemTotal:\s+(\d+) kB$/m.exec(await onNode(node, 'cat /proc/meminfo'))![1]);
      expect(await local(node, 'show shared_buffers')).toBe(`${Math.ceil(Math.ceil(kb / 1024) * 0.02)}MB`);
    }
  }, 15 * 60_000);

  it('app-meta: haproxy -c is clean, 5433 and 5434 serve, the admin page wants its password', async () => {
    for (const node of NODES) {
      // As Debian's unit starts it (-Ws, master-worker: EXTRAOPTS names the master socket).
      const check = await onNode(node, '. /etc/default/haproxy; haproxy -Ws -c -f "$CONFIG" $EXTRAOPTS 2>&1');
      expect(check, node).toContain('Configuration file is valid');
      expect(check, node).not.toMatch(/WARNING|ALERT/);
    }
    for (const ip of [1, 2, 3].map(nodeIp)) {
      expect(await sql(ip, 5433, 'select pg_is_in_recovery()')).toBe('f');
      expect(await sql(ip, 5434, 'select pg_is_in_recovery()')).toBe('t');
    }
    // The page is named after the node, which takes its PostgreSQL instance's name (Pigsty's node_id_from_pg).
    const page = `http://${nodeIp(1)}:9101/haproxy/app-meta-1/`;
    const basic = `Basic ${Buffer.from(`${ADMIN.user}:${ADMIN.password}`).toString('base64')}`;
    expect((await fetch(page, { headers: { authorization: basic } })).status).toBe(200);
    expect((await fetch(page)).status).toBe(401);
    expect((await fetch(page, { headers: { authorization: `Basic ${Buffer.from('admin:wrong').toString('base64')}` } })).status).toBe(401);
    // HAProxy's Prometheus endpoint stays open, as in Pigsty: INFRA scrapes it.
    expect((await fetch(`http://${nodeIp(1)}:9101/metrics`)).status).toBe(200);
  }, 5 * 60_000);

  it('a standby cluster on a 4th node follows app-meta: its leader streams from app-meta, a row written upstream appears downstream', async () => {
    await lab('up', '4');
    const applied = await corral('apply', withStandby(), '--yes');
    if (!applied.out.includes('the nodes converged')) console.log(applied.out);
    expect(applied.out).toContain('the nodes converged');
    expect(applied.out).toContain('pg-standby is a standby cluster of');

    const cluster = JSON.parse(await onNode('n4', `curl -s http://${nodeIp(4)}:8008/cluster`)) as { members: { name: string; role: string; state: string }[] };
    // Debian's Patroni 3.0 says `running` where later releases say `streaming`.
    expect(cluster.members.map((m) => `${m.name} ${m.role} ${m.state.replace('streaming', 'running')}`)).toEqual(['pg-standby-1 standby_leader running']);
    expect(await local('n4', 'select pg_is_in_recovery()')).toBe('t');

    await sql(nodeIp(1), 5433, 'create table if not exists upstream_rows (x int); insert into upstream_rows values (42)');
    const seen = await until('the row on pg-standby', async () => ((await local('n4', "select string_agg(x::text, ',') from upstream_rows", 'app').catch(() => '')) === '42' ? true : undefined), 60_000, 500).catch(() => false);
    expect(seen).toBe(true);
  }, 10 * 60_000);

  it('after a failover, the new primary archives and takes a backup (pgBackRest on every member)', async () => {
    const leader = async (): Promise<string | undefined> => {
      const c = JSON.parse(await onNode('n2', `curl -s http://${nodeIp(2)}:8008/cluster`)) as { members: { name: string; role: string; state: string }[] };
      return c.members.find((m) => m.role === 'leader' && m.state === 'running')?.name;
    };
    expect(await leader()).toBe('app-meta-1');
    await onNode('n1', 'systemctl stop patroni');
    const promoted = await until('a new leader', async () => {
      const name = await leader().catch(() => undefined);
      return name && name !== 'app-meta-1' ? name : undefined;
    }, 120_000, 1000);
    const node = NODES[Number(promoted.split('-').pop()) - 1]!;
    try {
      const before = Number(await local(node, 'select archived_count from pg_stat_archiver'));
      await local(node, 'select pg_switch_wal() from (select txid_current()) t');
      await until('a WAL archived by the new primary', async () => (Number(await local(node, 'select archived_count from pg_stat_archiver')) > before ? true : undefined), 60_000, 1000);
      expect(await local(node, 'select failed_count from pg_stat_archiver')).toBe('0');
      // Pigsty's pg-backup, on the new primary: a full backup of the stanza in its own repository.
      await onNode(node, '/pg/bin/pg-backup full');
      const info = JSON.parse(await onNode(node, 'runuser -u postgres -- pgbackrest --stanza=app-meta --output=json info')) as { backup: { type: string }[] }[];
      expect(info[0]!.backup.some((b) => b.type === 'full')).toBe(true);
    } finally {
      await onNode('n1', 'systemctl start patroni');
    }
    await until('app-meta-1 back as a replica', async () => {
      const c = JSON.parse(await onNode('n2', `curl -s http://${nodeIp(2)}:8008/cluster`)) as { members: { name: string; role: string; state: string }[] };
      return c.members.find((m) => m.name === 'app-meta-1' && m.role !== 'leader' && ['running', 'streaming'].includes(m.state)) ? true : undefined;
    }, 120_000, 1000);
  }, 10 * 60_000);

  it("VIP without vip-manager: Patroni's callbacks bind pg_vip_address on the leader only; a client writing through it follows a switchover", async () => {
    const applied = await corral('apply', inventoryWith(VIP), '--yes');
    if (!applied.out.includes('the nodes converged')) console.log(applied.out);
    expect(applied.out).toContain('the nodes converged');
    expect(applied.out).toContain("Patroni's callbacks");
    const holders = async (): Promise<string[]> => {
      const bound = await Promise.all(NODES.map(async (n) => ((await onNode(n, `ip -o -4 addr show to ${VIP_IP}/32`)).trim() ? n : '')));
      return bound.filter(Boolean);
    };
    const before = await leaderNode();
    expect(await holders()).toEqual([before]);
    expect(await vipSql('select pg_is_in_recovery()')).toBe('f');

    // A writer through the VIP, straight to PostgreSQL, across a switchover to another member.
    await vipSql('create table if not exists vip_ticks (ts timestamptz)');
    const loop = `while :; do psql "host=${VIP_IP} port=5432 dbname=app user=dbuser_app connect_timeout=1" -AtXqc "insert into vip_ticks values (clock_timestamp())" >/dev/null 2>&1; sleep 0.05; done`;
    const writer = spawn('bash', ['-c', loop], { env: { ...process.env, PGPASSWORD: 'App.Lab.Pass' }, stdio: 'ignore', detached: true });
    try {
      await new Promise((r) => setTimeout(r, 2000));
      const candidate = await readyCandidate();
      const after = nodeOf(candidate);
      await switchover(candidate);
      await until('the VIP on the new leader only', async () => ((await holders()).join() === after ? true : undefined), 60_000, 500);
      await until('writes through the VIP again', async () => ((await vipSql('select pg_is_in_recovery()').catch(() => '')) === 'f' ? true : undefined), 60_000, 500);
      await new Promise((r) => setTimeout(r, 2000));
    } finally {
      process.kill(-writer.pid!, 'SIGKILL');
    }
    const gap = Number(await vipSql('select coalesce(extract(epoch from max(gap)), 0) from (select ts - lag(ts) over (order by ts) as gap from vip_ticks) g'));
    console.log(`switchover through the VIP: longest write gap ${gap.toFixed(2)} s`);
    expect(gap).toBeGreaterThan(0);
    expect(gap).toBeLessThan(30);
  }, 10 * 60_000);

  it('extensions: one whose package is in the lab repo is created; one whose package is not blocks the plan, and nothing is applied', async () => {
    const refused = await corral('apply', inventoryWith(VIP + EXTENSIONS, DATABASES('[ hypopg, pg_partman ]')), '--yes');
    expect(refused.code).not.toBe(0);
    expect(refused.out).toMatch(/not applied: .*pg_partman/);
    const lead = await leaderNode();
    expect(await local(lead, "select count(*) from pg_database where datname = 'ext_db'")).toBe('0');
    for (const node of NODES) expect(await onNode(node, 'dpkg-query -W -f=\'${Status}\' postgresql-15-hypopg 2>/dev/null; true'), node).not.toContain('installed');

    const applied = await corral('apply', inventoryWith(VIP + EXTENSIONS, DATABASES('[ hypopg ]')), '--yes');
    if (!applied.out.includes('the nodes converged')) console.log(applied.out);
    expect(applied.out).toContain('the nodes converged');
    // An extension's package takes no restart: PostgreSQL keeps running.
    expect(applied.out).not.toContain('service:patroni');
    expect(await local(lead, "select extname from pg_extension where extname = 'hypopg'", 'ext_db')).toBe('hypopg');
  }, 10 * 60_000);

  it('backups on S3 over TLS: the repository change is planned as such, the stanza made there, a full backup, check, WAL archived', async () => {
    // The stanza is made online on pg_role's primary, which must lead (a failover is left as it is).
    await leadWith('n1');
    s3 = await startS3({ address: HOST_IP, name: S3_NAME, pkiDir: LAB_PKI_DIR, accessKey: 'pgbackrest', secretKey: S3_SECRET, buckets: ['pgsql'] });
    const repo = withS3(s3.port);
    const planned = await corral('plan', repo);
    expect(planned.out).toMatch(/repository/);
    expect(planned.out).not.toContain(S3_SECRET);
    expect(planned.out).not.toContain(CIPHER);
    const applied = await corral('apply', repo, '--yes');
    if (!applied.out.includes('the nodes converged')) console.log(applied.out);
    expect(applied.out).toContain('the nodes converged');
    expect(applied.out).not.toContain(S3_SECRET);

    const lead = await leaderNode();
    await onNode(lead, 'runuser -u postgres -- pgbackrest --stanza=app-meta check');
    const info = JSON.parse(await onNode(lead, 'runuser -u postgres -- pgbackrest --stanza=app-meta --output=json info')) as { status: { code: number }; cipher: string; backup: { type: string }[]; archive: { max: string | null }[] }[];
    expect(info[0]!.status.code).toBe(0);
    expect(info[0]!.cipher).toBe('aes-256-cbc');
    expect(info[0]!.backup.some((b) => b.type === 'full')).toBe(true);
    expect(info[0]!.archive[0]!.max).toMatch(/^[0-9A-F]{24}$/);
    // The secrets are in a file pgBackRest reads, never on a command line or in pgbackrest.conf itself.
    expect(await onNode(lead, 'cat /etc/pgbackrest/pgbackrest.conf')).not.toContain(S3_SECRET);
    expect(await onNode(lead, `grep -rl -- ${S3_SECRET} /etc/pgbackrest/conf.d`)).toMatch(/conf\.d/);
    const again = await corral('plan', repo, '--detailed-exitcode');
    if (again.code !== 0) console.log(again.out);
    expect(again.code).toBe(0);
  }, 10 * 60_000);

  it('PITR from git: the plan names the restore; applied with --pitr, the rows before the time are there, the later ones and the drop are not; replicas stream again', async () => {
    // The restore runs on pg_role's primary: app-meta-1 leads again first (the VIP test switched it over).
    await leadWith('n1');
    const repo = withS3(s3!.port);
    await sql(nodeIp(1), 5433, 'create table pitr_rows (x int); insert into pitr_rows values (1), (2)');
    await new Promise((r) => setTimeout(r, 1500));
    const target = await local('n1', "select to_char(now() at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'");
    await new Promise((r) => setTimeout(r, 1500));
    await sql(nodeIp(1), 5433, 'insert into pitr_rows values (3); create table dropped_later (y int); drop table pitr_rows');

    const withPitr = withS3(s3!.port, `        pg_pitr: { time: '${target}' }\n`);
    const planned = await corral('plan', withPitr);
    expect(planned.out).toContain('point-in-time recovery');
    expect(planned.out).toContain(target);
    const refused = await corral('apply', withPitr, '--yes');
    expect(refused.code).not.toBe(0);
    expect(refused.out).toContain('--pitr');
    expect(await local('n1', "select count(*) from pg_class where relname = 'dropped_later'", 'app')).toBe('1');

    const applied = await corral('apply', withPitr, '--yes', '--pitr');
    if (!applied.out.includes('the nodes converged')) console.log(applied.out);
    expect(applied.out).toContain('the nodes converged');
    expect(await sql(nodeIp(1), 5433, 'select string_agg(x::text, \',\' order by x) from pitr_rows')).toBe('1,2');
    expect(await sql(nodeIp(1), 5433, "select count(*) from pg_class where relname = 'dropped_later'")).toBe('0');
    const states = await until('both replicas streaming from the restored primary', async () => {
      const s = await local('n1', "select string_agg(state, ',') from pg_stat_replication").catch(() => '');
      return s === 'streaming,streaming' ? s : undefined;
    }, 120_000, 1000);
    expect(states).toBe('streaming,streaming');
    // Once per distinct pg_pitr: the next sync restores nothing; taking pg_pitr out is a no-op.
    for (const next of [withPitr, repo]) {
      const again = await corral('plan', next, '--detailed-exitcode');
      if (again.code !== 0) console.log(again.out);
      expect(again.code).toBe(0);
    }
    // Archiving goes on, on the new timeline.
    const timeline = await local('n1', 'select timeline_id from pg_control_checkpoint()');
    expect(Number(timeline)).toBeGreaterThan(1);
    await onNode('n1', 'runuser -u postgres -- pgbackrest --stanza=app-meta check');
  }, 15 * 60_000);

  it('after a failover, the new primary backs up to S3', async () => {
    await onNode('n1', 'systemctl stop patroni');
    try {
      const node = await until('a new leader', async () => {
        const n = await leaderNode('n2').catch(() => undefined);
        return n && n !== 'n1' ? n : undefined;
      }, 120_000, 1000);
      await onNode(node, '/pg/bin/pg-backup full');
      const info = JSON.parse(await onNode(node, 'runuser -u postgres -- pgbackrest --stanza=app-meta --output=json info')) as { backup: { type: string }[] }[];
      expect(info[0]!.backup.filter((b) => b.type === 'full').length).toBeGreaterThanOrEqual(2);
    } finally {
      await onNode('n1', 'systemctl start patroni');
      await s3?.close();
    }
  }, 10 * 60_000);
});

const HOST_IP = '10.213.0.1';
const S3_NAME = 's3.lab';
const S3_SECRET = 'S3.Lab.Secret.Canary';
const CIPHER = 'Lab.Cipher.Canary';
let s3: S3Server | undefined;

/** A member as Patroni's /cluster lists it. */
interface Member {
  name: string;
  role: string;
  state: string;
  lag?: number | string;
}

/** The cluster as the Patroni on `from` lists it. */
const members = async (from = 'n1'): Promise<Member[]> => (JSON.parse(await onNode(from, `curl -s http://${nodeIp(NODES.indexOf(from) + 1)}:8008/cluster`)) as { members: Member[] }).members;
const nodeOf = (member: string): string => NODES[Number(member.split('-').pop()) - 1]!;

/**
 * A member Patroni takes as switchover candidate, once every replica runs with no lag: under synchronous
 * replication (crit.yml) only the synchronous standby; `prefer` when it qualifies.
 */
async function readyCandidate(prefer?: string): Promise<string> {
  const sync = (JSON.parse(await onNode('n1', `curl -s http://${nodeIp(1)}:8008/config`)) as { synchronous_mode?: boolean }).synchronous_mode === true;
  return until('a switchover candidate', async () => {
    const replicas = (await members()).filter((m) => m.role !== 'leader');
    if (!replicas.length || replicas.some((m) => m.state !== 'running' || m.lag !== 0)) return undefined;
    const eligible = replicas.filter((m) => !sync || m.role === 'sync_standby');
    return (eligible.find((m) => m.name === prefer) ?? eligible[0])?.name;
  }, 120_000, 500);
}

async function switchover(candidate: string): Promise<void> {
  await onNode('n1', `patronictl -c /etc/patroni/patroni.yml switchover --candidate ${candidate} --force`);
  await until(`${candidate} leading`, async () => ((await leaderNode()) === nodeOf(candidate) ? true : undefined), 120_000, 500);
}

/** Switches over until the member on `node` leads: under synchronous replication through the synchronous standby, so up to three. */
async function leadWith(node: string): Promise<void> {
  for (let i = 0; i < 3 && (await leaderNode()) !== node; i++) await switchover(await readyCandidate(`app-meta-${NODES.indexOf(node) + 1}`));
  expect(await leaderNode()).toBe(node);
}

/** The node the cluster's leader runs on, as the Patroni on `from` sees it. */
async function leaderNode(from = 'n1'): Promise<string> {
  return nodeOf((await members(from)).find((m) => m.role === 'leader' && m.state === 'running')!.name);
}

/** hypopg's package from the lab repo, for the extension test. */
const EXTENSIONS = '        pg_extensions: [ hypopg ]\n';
/** app-meta's databases plus ext_db with `extensions`. */
const DATABASES = (extensions: string): [string, string] => ['          - { name: app, owner: dbuser_app }\n', `          - { name: app, owner: dbuser_app }\n          - { name: ext_db, extensions: ${extensions} }\n`];

/** The VIP and extension settings, plus app-meta's backups in the test's S3 (TLS, encrypted), reached by name through /etc/hosts. */
function withS3(port: number, more = ''): string {
  const vars = `${VIP}${EXTENSIONS}${more}        pgbackrest_method: s3lab
        pgbackrest_repo:
          s3lab: { type: s3, s3_endpoint: ${S3_NAME}, s3_region: us-east-1, s3_bucket: pgsql, s3_key: pgbackrest, s3_key_secret: ${S3_SECRET}, s3_uri_style: path, path: /pgbackrest, storage_port: ${port}, storage_ca_file: /pg/cert/ca.crt, bundle: y, cipher_type: aes-256-cbc, cipher_pass: ${CIPHER}, retention_full_type: count, retention_full: 3 }
        node_write_etc_hosts: true
        node_etc_hosts: [ '${HOST_IP} ${S3_NAME}' ]
`;
  return inventoryWith(vars, DATABASES('[ hypopg ]'));
}

const VIP_IP = '10.213.0.20';
/** app-meta's L2 VIP: Debian 12 without Pigsty's repo, so Patroni's callbacks run it. */
const VIP = `        pg_vip_enabled: true\n        pg_vip_address: ${VIP_IP}/24\n        pg_vip_interface: auto\n`;

const vipSql = (query: string): Promise<string> => sql(VIP_IP, 5432, query);

/** The fixture with more of app-meta's vars, and one more replacement in its text. */
function inventoryWith(vars: string, [from, to]: [string, string] = ['', '']): string {
  const text = readFileSync(join(FIXTURE, 'pigsty.yml'), 'utf8').replace('        pg_shared_buffer_ratio: 0.02\n', `        pg_shared_buffer_ratio: 0.02\n${vars}`).replace(from, to);
  const dir = mkdtempSync(join(tmpdir(), 'corral-prod-'));
  writeFileSync(join(dir, 'pigsty.yml'), text);
  return dir;
}

/** The fixture plus pg-standby, a one-member standby cluster on n4 whose upstream is app-meta's primary. */
function withStandby(): string {
  const text = readFileSync(join(FIXTURE, 'pigsty.yml'), 'utf8').replace(
    '  vars:\n    admin_ip:',
    `    pg-standby:
      hosts:
        ${nodeIp(4)}: { pg_seq: 1, pg_role: primary, pg_upstream: ${nodeIp(1)} }
      vars:
        pg_cluster: pg-standby
        pg_shared_buffer_ratio: 0.02
  vars:
    admin_ip:`,
  );
  const dir = mkdtempSync(join(tmpdir(), 'corral-prod-'));
  writeFileSync(join(dir, 'pigsty.yml'), text);
  return dir;
}
