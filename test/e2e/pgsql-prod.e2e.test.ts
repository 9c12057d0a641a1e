/**
 * PGSQL as Pigsty runs it in production, on three bare lab nodes (test/fixtures/lab-prod, shaped like
 * Pigsty's conf/ha/trio.yml): pg_conf crit.yml gives synchronous replication and shared_buffers from the
 * node's memory; a cluster named before "haproxy" (app-meta) gets a HAProxy configuration `haproxy -c`
 * finds clean, its services on 5433/5434, and the admin page that wants its password.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { corral, nodeIp, onNode, useBareLab } from '../helpers/lab.js';

const FIXTURE = join(import.meta.dirname, '../fixtures/lab-prod');
const NODES = ['n1', 'n2', 'n3'];
const ADMIN = { user: 'admin', password: 'Lab.Admin.Pass' };

/** psql on a node as the dbsu, one value. */
const local = async (node: string, query: string): Promise<string> => (await onNode(node, `runuser -u postgres -- psql -AtXqc "${query}"`)).trim();

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
});
