/**
 * PGSQL on three lab nodes, one cluster brought up once, the scenarios in sequence: bare nodes
 * to a healthy Patroni cluster in one apply; a user and a database added and removed; a reload parameter and a restart parameter (rolling,
 * with a writer measuring the write gap); the primary's node stopped (failover, Degraded, role
 * drift left alone); pg_role changed in git (switchover); an apply killed midway; scale out to a
 * 4th node and in again.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { validateInventory } from '../../src/config/validate.js';
import { planRun } from '../../src/engine/run.js';
import { openAuthority } from '../../src/pki/authority.js';
import { createTransport } from '../../src/transport/index.js';
import { pgHealthFromObservations, type PgHealth } from '../../reconcilers/pgsql/health.js';
import { applyKilledAt, corral, lab, useBareLab, LAB_DIR, LAB_KEY, LAB_KNOWN_HOSTS, LAB_PKI_DIR, nodeIp, onNode } from '../helpers/lab.js';

const FIXTURE = join(import.meta.dirname, '../fixtures/lab-pg');
const run = promisify(execFile);
const NODES = ['n1', 'n2', 'n3'];
const USER = 'dbuser_test';
const PASSWORD = 'Test.Lab.Pass';


/** The fixture with its text edited: a commit to the inventory. */
function inventory(edit: (text: string) => string): string {
  const dir = mkdtempSync(join(tmpdir(), 'corral-pg-'));
  writeFileSync(join(dir, 'pigsty.yml'), edit(readFileSync(join(FIXTURE, 'pigsty.yml'), 'utf8')));
  return dir;
}

/** SQL through a port of a node (HAProxy 5433/5434, pgbouncer 6432), as the pg_users user, from the host. */
function sql(ip: string, port: number, query: string): Promise<string> {
  return psqlWith(`host=${ip} port=${port} dbname=test user=${USER} connect_timeout=3`, query);
}

function psqlWith(conninfo: string, query: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn('psql', [conninfo, '-AtXq', '-c', query], { env: { ...process.env, PGPASSWORD: PASSWORD } });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('exit', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`psql ${conninfo}: ${err}`))));
  });
}

async function health(dir: string): Promise<PgHealth> {
  const validated = await validateInventory(dir);
  const transport = createTransport({ hostKeys: { knownHostsFile: LAB_KNOWN_HOSTS, mode: 'strict' }, connectTimeoutMs: 5000 });
  try {
    const planning = await planRun({ validated, transport, ssh: { privateKeyFile: LAB_KEY }, revision: 'e2e', pki: await openAuthority(LAB_PKI_DIR, { create: true }) });
    const cluster = validated.clusters.find((c) => c.module === 'pgsql' && c.name === 'pg-test')!;
    return pgHealthFromObservations(planning.observations, cluster.members);
  } finally {
    await transport.close();
  }
}

/** Members as patronictl lists them on a node: name -> role/state. */
async function members(node: string): Promise<Record<string, { role: string; state: string }>> {
  const out = await onNode(node, 'patronictl -c /etc/patroni/patroni.yml list -f json');
  const list = JSON.parse(out) as { Member: string; Role: string; State: string }[];
  return Object.fromEntries(list.map((m) => [m.Member, { role: m.Role, state: m.State }]));
}

/**
 * What a plan still wants of the cluster itself (Patroni, HAProxy, pgbouncer, pgBackRest, files):
 * the catalog kinds (roles, databases, HBA and pgbouncer lists) are left to scenario 1's full convergence check.
 */
const CATALOG = /^pg-(role|database):|^file:(\/pg\/data\/pg_hba\.conf|\/etc\/pgbouncer\/(userlist\.txt|useropts\.txt|database\.txt|pgb_hba\.conf))$|^reload:(postgres-hba|pgbouncer-lists)$/;
async function clusterChanges(dir: string): Promise<string[]> {
  const plan = JSON.parse((await corral('plan', dir, '--format', 'json')).out) as { changes: { host: string; resource: string }[] };
  return plan.changes.filter((c) => !CATALOG.test(c.resource)).map((c) => `${c.host} ${c.resource}`);
}

const leaderOf = async (node: string): Promise<string | undefined> => Object.entries(await members(node)).find(([, m]) => m.role === 'Leader' && m.state === 'running')?.[0];

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined | false>): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v;
    } catch {
      // not yet
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** A client writing through HAProxy's primary service in a loop; the longest gap between rows is the write gap. */
const writers = new Set<ChildProcess>();
// A writer is detached (its own process group): one left by a failed test would outlive the run.
afterAll(() => {
  for (const w of writers) {
    try {
      process.kill(-w.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

function writer(ip: string): { stop: () => Promise<number> } {
  const loop = `while :; do psql "host=${ip} port=5433 dbname=test user=${USER} connect_timeout=1" -AtXqc "insert into ticks values (clock_timestamp())" >/dev/null 2>&1; sleep 0.05; done`;
  const child: ChildProcess = spawn('bash', ['-c', loop], { env: { ...process.env, PGPASSWORD: PASSWORD }, stdio: 'ignore', detached: true });
  writers.add(child);
  return {
    stop: async () => {
      process.kill(-child.pid!, 'SIGTERM');
      writers.delete(child);
      const gap = await sql(ip, 5433, 'select coalesce(extract(epoch from max(gap)), 0) from (select ts - lag(ts) over (order by ts) as gap from ticks) g');
      await sql(ip, 5433, 'truncate ticks');
      return Number(gap);
    },
  };
}

/** The inventory as the restart scenario leaves it (and the scenarios after it build on). */
const tuned = (t: string): string => t.replace('work_mem: 8MB', 'work_mem: 16MB\n          max_connections: 200');

describe('PGSQL on three lab nodes', () => {
  useBareLab();

  it('takes bare nodes to a healthy cluster in one apply', async () => {
    const started = Date.now();
    const first = await corral('apply', FIXTURE, '--yes');
    console.log(`bare nodes to a cluster, one apply: ${((Date.now() - started) / 1000).toFixed(0)} s, ${first.out.includes('the nodes converged') ? 'converged' : 'NOT converged'}`);
    // One apply must converge (asserted last); a second one here only lets the scenarios after this one start from a converged cluster.
    if (!first.out.includes('the nodes converged')) await corral('apply', FIXTURE, '--yes');

    const m = await members('n2');
    expect(m['pg-test-1']).toEqual({ role: 'Leader', state: 'running' });
    expect(Object.values(m).filter((x) => x.role === 'Replica' && x.state === 'running')).toHaveLength(2);
    const streaming = await onNode('n1', `runuser -u postgres -- psql -AtXqc "select count(*) from pg_stat_replication where state = 'streaming'"`);
    expect(streaming.trim()).toBe('2');

    // Writes through 5433 and reads through 5434 on every member; a pgbouncer login with a pg_users password.
    await sql(nodeIp(1), 5433, 'create table if not exists ticks (ts timestamptz)');
    for (const [i] of NODES.entries()) {
      await sql(nodeIp(i + 1), 5433, `insert into ticks values (now())`);
      expect(await sql(nodeIp(i + 1), 5433, 'select pg_is_in_recovery()')).toBe('f');
      expect(await sql(nodeIp(i + 1), 5434, 'select pg_is_in_recovery()')).toBe('t');
      expect(await sql(nodeIp(i + 1), 6432, 'select current_user')).toBe(USER);
    }
    await until('the rows on a replica', 10_000, async () => (await sql(nodeIp(2), 5434, 'select count(*) from ticks')) === '3');
    await sql(nodeIp(1), 5433, 'truncate ticks');

    // pgBackRest: the stanza, a full backup, and WAL archiving that works.
    const info = JSON.parse(await onNode('n1', 'runuser -u postgres -- pgbackrest --stanza=pg-test --output=json info')) as { status: { code: number }; backup: { type: string }[] }[];
    expect(info[0]!.status.code).toBe(0);
    expect(info[0]!.backup.map((b) => b.type)).toContain('full');
    await onNode('n1', 'runuser -u postgres -- pgbackrest --stanza=pg-test check');

    // TLS: a client that checks the server's certificate against Corral's CA and its name connects, over SSL.
    const verifyFull = `host=${nodeIp(1)} port=5432 dbname=test user=${USER} sslmode=verify-full sslrootcert=${join(LAB_PKI_DIR, 'ca/ca.crt')} connect_timeout=3`;
    expect(await psqlWith(verifyFull, 'select ssl from pg_stat_ssl where pid = pg_backend_pid()')).toBe('t');
    // etcd: Patroni's user reads and writes its own prefix only; nothing without credentials.
    const etcdctl = (login: string, args: string): Promise<string> =>
      onNode('n1', `ETCDCTL_API=3 etcdctl --endpoints=https://127.0.0.1:2379 --cacert=/pg/cert/ca.crt --cert=/pg/cert/server.crt --key=/pg/cert/server.key --command-timeout=3s ${login} ${args} 2>&1 || true`);
    expect(await etcdctl('--user=pg-test:pg-test', 'get --prefix --keys-only /pg/pg-test/leader')).toContain('/pg/pg-test/leader');
    expect(await etcdctl('--user=pg-test:pg-test', 'get /pg/other/leader')).toContain('permission denied');
    expect(await etcdctl('', 'get --prefix /pg/')).toContain('user name is empty');

    expect(await health(FIXTURE)).toEqual({ status: 'Healthy', leader: 'pg-test-1', intendedPrimary: 'pg-test-1', roleDrift: false, problems: [] });
    const again = await corral('plan', FIXTURE, '--detailed-exitcode');
    if (again.code !== 0) console.log(again.out);
    expect(again.code).toBe(0);
    expect(first.out).toContain('the nodes converged');
    expect(first.code).toBe(0);
    // The plan and apply output of a whole bring-up names no password: pg_users', replication, admin, monitor, Patroni's.
    for (const secret of [PASSWORD, 'DBUser.Replicator', 'DBUser.DBA', 'DBUser.Monitor', 'Patroni.API']) expect(first.out).not.toContain(secret);
  }, 20 * 60_000);

  it('a new user and database in a commit: applied in place, no restart; removed only with state: absent (and --prune for the database)', async () => {
    const startTime = (node: string) => onNode(node, `runuser -u postgres -- psql -AtXqc "select pg_postmaster_start_time()"`);
    const before = await Promise.all(NODES.map(startTime));
    const user = (state: string) => `\n          - { name: dbuser_new, password: New.Lab.Pass, pgbouncer: true, roles: [ dbrole_readwrite ]${state} }`;
    const database = (state: string) => `\n          - { name: newdb, owner: dbuser_new${state} }`;
    const withNew = (state = '', more = (t: string) => t) => inventory((t) => more(t.replace('comment: e2e writer }', `comment: e2e writer }${user(state)}`).replace('owner: dbuser_test }', `owner: dbuser_test }${database(state)}`)));
    const login = (ip: string, port: number) =>
      new Promise<string>((resolve, reject) => {
        const p = spawn('psql', [`host=${ip} port=${port} dbname=newdb user=dbuser_new connect_timeout=3`, '-AtXqc', 'select current_user'], { env: { ...process.env, PGPASSWORD: 'New.Lab.Pass' } });
        let out = '';
        p.stdout.on('data', (d: Buffer) => (out += d.toString()));
        p.on('exit', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`login ${ip}:${port} failed`))));
      });

    // With a service of its own in pg_services, which the removal below drops again.
    const added = withNew('', (t) => t.replace('pg_cluster: pg-test', "pg_cluster: pg-test\n        pg_services: [ { name: extra, port: 5435, dest: postgres, check: /replica, selector: '[]' } ]"));
    const planned = JSON.parse((await corral('plan', added, '--format', 'json')).out) as { changes: { resource: string; restarts: boolean; destructive: boolean }[] };
    expect(planned.changes.filter((c) => c.restarts || c.destructive)).toEqual([]);
    expect(planned.changes.map((c) => c.resource)).toEqual(expect.arrayContaining(['pg-role:dbuser_new', 'pg-database:newdb']));
    // The plan names the user, never its password.
    expect(JSON.stringify(planned)).not.toContain('New.Lab.Pass');
    const applied = await corral('apply', added, '--yes');
    expect(applied.out).toContain('the nodes converged');
    expect(applied.out).not.toContain('New.Lab.Pass');
    expect(await login(nodeIp(2), 5433)).toBe('dbuser_new');
    expect(await login(nodeIp(3), 6432)).toBe('dbuser_new');
    expect(await Promise.all(NODES.map(startTime))).toEqual(before);
    expect(await sql(nodeIp(1), 5435, 'select pg_is_in_recovery()')).toBe('t');

    // state: absent drops them; the database drop is destructive, so it waits for --prune.
    const removed = withNew(', state: absent');
    const refused = await corral('apply', removed, '--yes');
    expect(refused.out).toContain('pass --prune to allow it');
    expect(await login(nodeIp(1), 5433)).toBe('dbuser_new');
    const dropped = await corral('apply', removed, '--yes', '--prune');
    expect(dropped.out).toContain('the nodes converged');
    await expect(login(nodeIp(1), 5433)).rejects.toThrow();
    expect((await onNode('n1', `runuser -u postgres -- psql -AtXqc "select count(*) from pg_roles where rolname = 'dbuser_new'"`)).trim()).toBe('0');
    // The service left the inventory: its listener is gone from every member.
    for (const n of NODES) expect(await onNode(n, 'ls /etc/haproxy /etc/haproxy/conf.d; ss -Hltn sport = :5435')).not.toMatch(/pg-test-extra|:5435/);
    // Leaving them out of the inventory afterwards changes nothing more.
    expect((await corral('plan', FIXTURE, '--detailed-exitcode')).code).toBe(0);
    expect(await Promise.all(NODES.map(startTime))).toEqual(before);
  }, 10 * 60_000);

  it('applies a reload parameter without a restart, and a restart parameter with a rolling restart', async () => {
    const startTime = (node: string) => onNode(node, `runuser -u postgres -- psql -AtXqc "select pg_postmaster_start_time()"`);
    const before = await Promise.all(NODES.map(startTime));

    const reload = inventory((t) => t.replace('work_mem: 8MB', 'work_mem: 16MB'));
    const planned = JSON.parse((await corral('plan', reload, '--format', 'json')).out) as { changes: { kind: string; resource: string }[] };
    // The DCS change (and patroni.yml's bootstrap section, with a Patroni reload); no restart.
    const resources = planned.changes.map((c) => c.resource);
    expect(resources).toContain('patroni-dcs:pg-test');
    expect(resources.filter((r) => /^(patroni-restart|service:|reload:(haproxy|pgbouncer))/.test(r))).toEqual([]);
    expect((await corral('apply', reload, '--yes')).out).not.toContain('✗');
    for (const n of NODES) await until(`work_mem on ${n}`, 30_000, async () => (await onNode(n, `runuser -u postgres -- psql -AtXqc "show work_mem"`)).trim() === '16MB');
    expect(await Promise.all(NODES.map(startTime))).toEqual(before);

    const restart = inventory((t) => t.replace('work_mem: 8MB', 'work_mem: 16MB\n          max_connections: 300'));
    const plan = JSON.parse((await corral('plan', restart, '--format', 'json')).out) as { changes: { resource: string; restarts: boolean }[] };
    expect(plan.changes.filter((c) => c.restarts).map((c) => c.resource).sort()).toEqual(['patroni-restart:pg-test-1', 'patroni-restart:pg-test-2', 'patroni-restart:pg-test-3']);
    const w = writer(nodeIp(2));
    const applied = await corral('apply', restart, '--yes');
    const gap = await w.stop();
    console.log(`rolling restart: longest write gap through HAProxy ${gap.toFixed(2)} s`);
    const left = await clusterChanges(restart);
    if (left.length) console.log(applied.out);
    expect(applied.out).not.toContain('✗');
    expect(left).toEqual([]);
    // Replicas first, the primary last.
    const order = ['pg-test-2', 'pg-test-3', 'pg-test-1'].map((n) => applied.out.indexOf(`✓ patroni-restart:${n}`));
    expect(order).toEqual([...order].sort((a, b) => a - b));
    for (const n of NODES) expect((await onNode(n, `runuser -u postgres -- psql -AtXqc "show max_connections"`)).trim()).toBe('300');
    expect(await leaderOf('n1')).toBe('pg-test-1');
    expect(gap).toBeGreaterThan(0);
    expect(gap).toBeLessThan(30);
  }, 10 * 60_000);

  it('the primary node stopped: Patroni fails over, Corral reports Degraded and role drift and does not switch back', async () => {
    const dir = inventory((t) => t.replace('work_mem: 8MB', 'work_mem: 16MB\n          max_connections: 300'));
    const started = Date.now();
    await lab('stop-node', 'n1');
    const leader = await until('a new leader', 120_000, () => leaderOf('n2'));
    console.log(`failover: new leader ${leader} after ${((Date.now() - started) / 1000).toFixed(1)} s`);
    expect(leader).not.toBe('pg-test-1');
    await until('writes through HAProxy again', 60_000, async () => (await sql(nodeIp(2), 5433, 'select pg_is_in_recovery()')) === 'f');
    console.log(`failover RTO seen by a client through HAProxy: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    const degraded = await health(dir);
    expect(degraded).toMatchObject({ status: 'Degraded', leader, intendedPrimary: 'pg-test-1', roleDrift: true });

    await lab('start-node', 'n1');
    await until('pg-test-1 back as a replica', 180_000, async () => (await members('n2'))['pg-test-1']?.state === 'running');
    const back = await until('Healthy again', 60_000, async () => {
      const h = await health(dir);
      return h.status === 'Healthy' && h;
    });
    expect(back).toMatchObject({ leader, roleDrift: true });
    const plan = JSON.parse((await corral('plan', dir, '--format', 'json')).out) as { changes: { resource: string }[] };
    expect(plan.changes.map((c) => c.resource)).not.toContain('patroni-leader:pg-test');
    const again = await corral('apply', dir, '--yes');
    expect(again.out).not.toContain('✗');
    expect(again.out).not.toContain('patroni-leader:pg-test');
    expect(await leaderOf('n2')).toBe(leader);
  }, 10 * 60_000);

  it('pg_role changed in git: Corral switches over through Patroni', async () => {
    const current = (await leaderOf('n2'))!;
    const target = ['pg-test-2', 'pg-test-3'].find((n) => n !== current)!;
    const seq = target.slice(-1);
    const dir = inventory((t) =>
      t
        .replace('work_mem: 8MB', 'work_mem: 16MB\n          max_connections: 300')
        .replace('{ pg_seq: 1, pg_role: primary }', '{ pg_seq: 1, pg_role: replica }')
        .replace(`{ pg_seq: ${seq}, pg_role: replica }`, `{ pg_seq: ${seq}, pg_role: primary }`),
    );
    const r = await corral('apply', dir, '--yes');
    if (r.out.includes('✗')) console.log(r.out);
    expect(r.out).toContain(`leader (switchover): ${current} → ${target}`);
    expect(r.out).not.toContain('✗');
    expect(await clusterChanges(dir)).toEqual([]);
    expect(await leaderOf('n1')).toBe(target);
    expect(await health(dir)).toMatchObject({ status: 'Healthy', leader: target, intendedPrimary: target, roleDrift: false });
  }, 10 * 60_000);

  it('an apply killed midway: the next apply converges and no row is lost', async () => {
    // Back to the fixture's primary, with a restart parameter: a switchover and a rolling restart to interrupt.
    const dir = inventory((t) => t.replace('work_mem: 8MB', 'work_mem: 16MB\n          max_connections: 200'));
    await sql(nodeIp(1), 5433, 'insert into ticks select now() from generate_series(1, 1000)');
    await applyKilledAt(dir, '✓ patroni-');
    const r = await corral('apply', dir, '--yes');
    expect(r.out).not.toContain('✗');
    expect(await clusterChanges(dir)).toEqual([]);
    expect(await leaderOf('n1')).toBe('pg-test-1');
    expect(await sql(nodeIp(3), 5433, 'select count(*) from ticks')).toBe('1000');
  }, 10 * 60_000);
  it('scales out to a 4th node and in again: only with --prune, and never while pg_safeguard is on', async () => {
    await lab('up', '4');
    const four = inventory((t) => tuned(t).replace('{ pg_seq: 3, pg_role: replica }', '{ pg_seq: 3, pg_role: replica }\n        10.213.0.14: { pg_seq: 4, pg_role: replica }'));
    const out = await corral('apply', four, '--yes');
    if (!out.out.includes('the nodes converged')) console.log(out.out);
    expect(out.out).toContain('the nodes converged');
    expect((await members('n1'))['pg-test-4']).toEqual({ role: 'Replica', state: 'running' });
    expect((await onNode('n1', `runuser -u postgres -- psql -AtXqc "select count(*) from pg_stat_replication where state = 'streaming'"`)).trim()).toBe('3');
    // HAProxy on every member learned the new replica; reads through n4's own 5434 work.
    for (const n of ['n1', 'n2', 'n3', 'n4']) expect(await onNode(n, 'cat /etc/haproxy/conf.d/pg-test-replica.cfg')).toContain('10.213.0.14:');
    expect(await sql(nodeIp(4), 5434, 'select pg_is_in_recovery()')).toBe('t');
    expect(await sql(nodeIp(4), 5433, 'select count(*) from ticks')).toBe('1000');

    // Scale in with pg_safeguard on: blocked, said in the plan, nothing stopped.
    const guarded = inventory((t) => tuned(t).replace('pg_cluster: pg-test', 'pg_cluster: pg-test\n        pg_safeguard: true'));
    const blocked = await corral('plan', guarded);
    expect(blocked.out).toContain('pg-test-4 (10.213.0.14) runs in pg-test but the inventory no longer names it: pg_safeguard is on for pg-test, so it is not removed');
    expect(blocked.out).not.toContain('patroni-retire:pg-test-4');
    await corral('apply', guarded, '--yes');
    expect((await onNode('n4', 'systemctl is-active patroni')).trim()).toBe('active');

    // Without pg_safeguard: a destructive change, refused without --prune, made with it.
    const three = inventory(tuned);
    const planned = JSON.parse((await corral('plan', three, '--format', 'json')).out) as { changes: { host: string; resource: string; destructive: boolean }[] };
    expect(planned.changes.filter((c) => c.destructive).map((c) => `${c.host} ${c.resource}`)).toEqual(['10.213.0.14 patroni-retire:pg-test-4']);
    const refused = await corral('apply', three, '--yes');
    expect(refused.out).toContain('not applied: the plan removes patroni-retire:pg-test-4 on 10.213.0.14; pass --prune to allow it');
    expect((await onNode('n4', 'systemctl is-active patroni')).trim()).toBe('active');
    const pruned = await corral('apply', three, '--yes', '--prune');
    if (!pruned.out.includes('the nodes converged')) console.log(pruned.out);
    expect(pruned.out).toContain('the nodes converged');
    expect((await onNode('n4', 'systemctl is-active patroni || true')).trim()).toBe('inactive');
    // Its data is kept; Patroni forgets it once its lease ends; HAProxy no longer routes to it.
    expect((await onNode('n4', 'test -f /pg/data/PG_VERSION && echo kept')).trim()).toBe('kept');
    await until('pg-test-4 gone from the DCS', 120_000, async () => !('pg-test-4' in (await members('n1'))));
    for (const n of ['n1', 'n2', 'n3']) expect(await onNode(n, 'cat /etc/haproxy/conf.d/pg-test-replica.cfg')).not.toContain('10.213.0.14:');
    expect(await health(three)).toMatchObject({ status: 'Healthy', leader: 'pg-test-1', roleDrift: false });
    expect((await corral('plan', three, '--detailed-exitcode')).code).toBe(0);
  }, 15 * 60_000);

  it('a cluster an older Corral built on plain-http etcd: one apply moves etcd to TLS and auth with the cluster paused; the leader, its timeline and every row stay', async () => {
    const three = inventory(tuned);
    await lab('up', '3');
    // What Corral built before etcd had TLS: etcd over http without auth, Patroni reaching it over http without a login.
    await run('bash', [join(import.meta.dirname, '../lab/plain-etcd.sh'), 'n1', 'n2', 'n3'], { timeout: 5 * 60_000 });
    const asDbsu = async (query: string): Promise<string> => (await onNode('n1', `cd /tmp && runuser -u postgres -- psql -h /var/run/postgresql -AtXqc ${JSON.stringify(query)}`)).trim();
    await asDbsu('create table kept (id int, at timestamptz default clock_timestamp()); insert into kept (id) select generate_series(1, 1000)');
    const leader = await leaderOf('n1');
    const timeline = await asDbsu('select timeline_id from pg_control_checkpoint()');
    expect(await onNode('n1', 'grep -A2 "^etcd3:" /etc/patroni/patroni.yml')).toContain('protocol: http\n');

    const planned = await corral('plan', three);
    expect(planned.out).toMatch(/patroni-pause:pg-test {2}differs: maintenance mode/);
    expect(planned.out).toMatch(/etcd-tls-move:etcd-1 {2}differs: transport \[restarts\]/);
    // A writer on the primary's own socket for the whole apply (bounded, and stopped right after it): PostgreSQL never stops.
    const loop = `while [ ! -e /tmp/stop-writer ]; do runuser -u postgres -- psql -h /var/run/postgresql -AtXqc "insert into kept (id) values (0)" >/dev/null 2>&1; sleep 0.1; done`;
    await onNode('n1', 'rm -f /tmp/stop-writer');
    const writing = run('ssh', ['-F', join(LAB_DIR, 'ssh_config'), '-o', 'BatchMode=yes', 'n1', `cd /tmp && timeout 240 bash -c '${loop}' || true`], { timeout: 300_000 });
    const applied = await corral('apply', three, '--yes');
    await onNode('n1', 'touch /tmp/stop-writer');
    await writing;
    if (!applied.out.includes('the nodes converged')) console.log(applied.out);
    expect(applied.out).toContain('the nodes converged');
    const gap = Number(await asDbsu('select coalesce(extract(epoch from max(gap)), 0) from (select at - lag(at) over (order by at) as gap from kept where id = 0) g'));
    console.log(`plain-http etcd to TLS: longest pause between writes on the primary ${gap.toFixed(2)} s`);
    expect(gap).toBeLessThan(5);

    expect(await leaderOf('n1')).toBe(leader);
    expect(await asDbsu('select timeline_id from pg_control_checkpoint()')).toBe(timeline);
    expect(await asDbsu('select count(*) from kept where id > 0')).toBe('1000');
    expect(await onNode('n1', 'patronictl -c /etc/patroni/patroni.yml list 2>&1')).not.toContain('Maintenance mode');
    // etcd: https with auth, nothing over plain http; Patroni logs in as its cluster's user.
    expect(await onNode('n2', 'grep listen-client-urls /etc/etcd/etcd.conf')).toContain('"https://10.213.0.12:2379,https://127.0.0.1:2379"');
    expect(await onNode('n1', 'curl -s -m 3 http://10.213.0.11:2379/version || echo refused')).not.toContain('etcdserver');
    expect(await onNode('n1', 'ETCDCTL_API=3 etcdctl --endpoints=https://127.0.0.1:2379 --cacert=/etc/etcd/ca.crt --cert=/etc/etcd/server.crt --key=/etc/etcd/server.key get /pg --prefix --keys-only 2>&1 || true')).toContain('user name is empty');
    expect(await onNode('n3', 'grep -A8 "^etcd3:" /etc/patroni/patroni.yml')).toMatch(/protocol: https[\s\S]*username: pg-test/);
    expect(await health(three)).toMatchObject({ status: 'Healthy', leader, roleDrift: false });
    expect((await corral('plan', three, '--detailed-exitcode')).code).toBe(0);
  }, 10 * 60_000);
});
