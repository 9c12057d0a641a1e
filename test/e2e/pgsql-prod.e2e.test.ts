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
import { corral, lab, nodeIp, onNode, useBareLab } from '../helpers/lab.js';
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
    const leaderNode = async (): Promise<string> => {
      const c = JSON.parse(await onNode('n1', `curl -s http://${nodeIp(1)}:8008/cluster`)) as { members: { name: string; role: string }[] };
      return NODES[Number(c.members.find((m) => m.role === 'leader')!.name.split('-').pop()) - 1]!;
    };
    const before = await leaderNode();
    expect(await holders()).toEqual([before]);
    expect(await vipSql('select pg_is_in_recovery()')).toBe('f');

    // A writer through the VIP, straight to PostgreSQL, across a switchover to another member.
    await vipSql('create table if not exists vip_ticks (ts timestamptz)');
    const loop = `while :; do psql "host=${VIP_IP} port=5432 dbname=app user=dbuser_app connect_timeout=1" -AtXqc "insert into vip_ticks values (clock_timestamp())" >/dev/null 2>&1; sleep 0.05; done`;
    const writer = spawn('bash', ['-c', loop], { env: { ...process.env, PGPASSWORD: 'App.Lab.Pass' }, stdio: 'ignore', detached: true });
    const candidate = `app-meta-${NODES.indexOf(NODES.find((n) => n !== before)!) + 1}`;
    try {
      await new Promise((r) => setTimeout(r, 2000));
      await onNode('n1', `patronictl -c /etc/patroni/patroni.yml switchover --candidate ${candidate} --force`);
      const after = NODES[Number(candidate.split('-').pop()) - 1]!;
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

});

const VIP_IP = '10.213.0.20';
/** app-meta's L2 VIP: Debian 12 without Pigsty's repo, so Patroni's callbacks run it. */
const VIP = `        pg_vip_enabled: true\n        pg_vip_address: ${VIP_IP}/24\n        pg_vip_interface: auto\n`;

const vipSql = (query: string): Promise<string> => sql(VIP_IP, 5432, query);

/** The fixture with more of app-meta's vars. */
function inventoryWith(vars: string): string {
  const text = readFileSync(join(FIXTURE, 'pigsty.yml'), 'utf8').replace('        pg_shared_buffer_ratio: 0.02\n', `        pg_shared_buffer_ratio: 0.02\n${vars}`);
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
