/** PGSQL's desired state and its Patroni kinds as data: no node, no SSH. */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { validateInventory } from '../../src/config/validate.js';
import { ASSUMED_FACTS } from '../../src/engine/facts.js';
import type { Desired, Facts, Observation } from '../../src/engine/model.js';
import { plan } from '../../src/engine/plan.js';
import { renderJson, renderText } from '../../src/engine/render.js';
import type { Resource } from '../../src/engine/resources/kind.js';
import { patroniCtl } from './kinds/patroni-api.js';
import { patroniLeader, type PatroniLeaderWant } from './kinds/patroni-leader.js';
import { patroniRestart, type PatroniRestartWant } from './kinds/patroni-restart.js';
import { patroniDcs, type PatroniDcsWant } from './kinds/patroni-dcs.js';
import { patroniMember, type PatroniMemberWant } from './kinds/patroni-member.js';
import { patroniRetire } from './kinds/patroni-retire.js';
import { tmpRepo } from '../../test/helpers/tmp.js';
import { pgsql } from './index.js';
import { pgHealth } from './health.js';
import { dcsSection, selectMembers } from './templates.js';
import { DCS_CLIENT_RECORD, dcsSectionHash, patroniDcsRestart, patroniPause, type PatroniDcsRestartWant, type PatroniPauseWant } from './kinds/patroni-dcs-client.js';
import { certificatesFor } from '../../test/helpers/pki.js';

const INVENTORY = (version = 15) => `
all:
  children:
    etcd:
      hosts:
        10.0.0.11: { etcd_seq: 1 }
        10.0.0.12: { etcd_seq: 2 }
        10.0.0.13: { etcd_seq: 3 }
      vars: { etcd_cluster: etcd }
    pg-test:
      hosts:
        10.0.0.11: { pg_seq: 1, pg_role: primary }
        10.0.0.12: { pg_seq: 2, pg_role: replica }
        10.0.0.13: { pg_seq: 3, pg_role: replica, pg_offline_query: true }
      vars:
        pg_cluster: pg-test
        pg_version: ${version}
        pg_replication_password: Secret.Repl.1
        patroni_password: Secret.Api.2
        pg_users: [ { name: app, password: Secret.User.3, pgbouncer: true } ]
        pg_databases: [ { name: app, owner: app } ]
        pg_parameters: { work_mem: 8MB }
        pg_rto: fast
`;

async function desiredOf(text: string, facts: (host: string) => Facts = () => ASSUMED_FACTS, together: (module: string, cluster: string) => boolean = () => true) {
  const v = await validateInventory(tmpRepo({ 'pigsty.yml': text }));
  expect(v.problems.filter((p) => p.severity === 'error')).toEqual([]);
  const cluster = v.clusters.find((c) => c.module === 'pgsql')!;
  return pgsql.desired({ cluster, hosts: v.hosts, facts, certificates: await certificatesFor(v), together });
}
const desired = (version = 15, together: (module: string, cluster: string) => boolean = () => true) => desiredOf(INVENTORY(version), () => ASSUMED_FACTS, together);
const fileOn = (list: Resource[] | undefined, path: string): string => (list!.find((r) => (r.want as { path?: string }).path === path)!.want as { content: string }).content;

describe('PGSQL desired state', async () => {
  const out = await desired();
  const n1 = out.resources.get('10.0.0.11');
  const n2 = out.resources.get('10.0.0.12');

  it("writes patroni.yml with Pigsty's identity, etcd3 hosts and watchdog off, as a secret file", () => {
    const file = n2!.find((r) => (r.want as { path?: string }).path === '/pg/conf/pg-test-2.yml')!.want as { content: string; secret: boolean };
    expect(file.secret).toBe(true);
    expect(parse(file.content)).toMatchObject({
      scope: 'pg-test',
      namespace: '/pg/',
      name: 'pg-test-2',
      watchdog: { mode: 'off' },
      etcd3: { hosts: '10.0.0.11:2379,10.0.0.12:2379,10.0.0.13:2379' },
      restapi: { listen: '10.0.0.12:8008' },
      postgresql: { data_dir: '/pg/data' },
      bootstrap: { dcs: { postgresql: { parameters: { work_mem: '8MB' } } } },
    });
    // YAML 1.1 readers (PyYAML) would take a bare off for false.
    expect(file.content).toContain('mode: "off"');
  });

  it('talks to etcd over https as the cluster user, and turns PostgreSQL ssl on with the member certificate', () => {
    const yml = parse(fileOn(n2, '/pg/conf/pg-test-2.yml')) as Record<string, Record<string, unknown>>;
    expect(yml.etcd3).toEqual({ hosts: '10.0.0.11:2379,10.0.0.12:2379,10.0.0.13:2379', protocol: 'https', cacert: '/pg/cert/ca.crt', cert: '/pg/cert/server.crt', key: '/pg/cert/server.key', username: 'pg-test', password: 'pg-test' });
    expect(yml.bootstrap).toMatchObject({ dcs: { postgresql: { parameters: { ssl: 'on', ssl_cert_file: '/pg/cert/server.crt', ssl_key_file: '/pg/cert/server.key', ssl_ca_file: '/pg/cert/ca.crt' } } } });
    // Patroni's REST API stays plain http unless patroni_ssl_enabled.
    expect(yml.restapi).not.toHaveProperty('certfile');
    expect(yml.ctl).toEqual({ insecure: true });
    const key = n2!.find((r) => (r.want as { path?: string }).path === '/pg/cert/server.key')!;
    expect(key.want).toMatchObject({ mode: 0o600, owner: 'postgres', secret: true });
    expect(key.deps).toEqual(['directory:/pg/cert']);
    expect(fileOn(n2, '/pg/cert/server.crt')).toMatch(/^-----BEGIN CERTIFICATE-----/);
    expect(fileOn(n2, '/etc/pgbouncer/pgbouncer.ini')).toContain('client_tls_sslmode        = disable\n');
    expect(fileOn(n2, '/etc/pgbouncer/pgbouncer.ini')).not.toContain('client_tls_key_file');
  });

  it('asks for a certificate per member as Pigsty issues it: <cls>-<seq>, the cluster name, the address', async () => {
    const v = await validateInventory(tmpRepo({ 'pigsty.yml': INVENTORY(15) }));
    const requests = pgsql.certificates!({ cluster: v.clusters.find((c) => c.module === 'pgsql')!, hosts: v.hosts });
    expect(requests[1]).toEqual({ id: 'pgsql/pg-test-2', commonName: 'pg-test-2', organizationalUnit: 'postgres', dns: ['localhost', 'pg-test', 'pg-test-2'], ips: ['127.0.0.1', '10.0.0.12'], validityDays: 7300 });
  });

  it('with patroni_ssl_enabled and pgbouncer_sslmode: the REST API and pgbouncer serve TLS, and Corral reaches them with the CA', async () => {
    const text = INVENTORY(15).replace('pg_rto: fast', 'pg_rto: fast\n        patroni_ssl_enabled: true\n        pgbouncer_sslmode: require\n        pg_etcd_password: Etcd.Pg.4');
    const v = await validateInventory(tmpRepo({ 'pigsty.yml': text }));
    const o = pgsql.desired({ cluster: v.clusters.find((c) => c.module === 'pgsql')!, hosts: v.hosts, facts: () => ASSUMED_FACTS, certificates: await certificatesFor(v), together: () => true });
    const list = o.resources.get('10.0.0.12');
    const yml = parse(fileOn(list, '/pg/conf/pg-test-2.yml')) as Record<string, Record<string, unknown>>;
    expect(yml.restapi).toMatchObject({ certfile: '/pg/cert/server.crt', keyfile: '/pg/cert/server.key', cafile: '/pg/cert/ca.crt' });
    expect(yml.ctl).toMatchObject({ insecure: false, cacert: '/pg/cert/ca.crt' });
    expect(yml.etcd3).toMatchObject({ username: 'pg-test', password: 'Etcd.Pg.4' });
    expect(list!.find((r) => r.kind === 'patroni-member')!.want).toMatchObject({ api: 'https://10.0.0.12:8008', caFile: '/pg/cert/ca.crt' });
    expect(patroniMember.probe(list!.find((r) => r.kind === 'patroni-member')!.want as never)).toContain('curl -s --cacert /pg/cert/ca.crt -m 3 https://10.0.0.12:8008/patroni');
    expect(fileOn(list, '/etc/pgbouncer/pgbouncer.ini')).toContain('client_tls_sslmode        = require\nclient_tls_key_file       = /pg/cert/server.key\nclient_tls_cert_file      = /pg/cert/server.crt\nclient_tls_ca_file        = /pg/cert/ca.crt\n');
  });

  it('lays out /pg as Pigsty does and keeps Debian from starting its own cluster', () => {
    expect(n1!.find((r) => r.kind === 'symlink' && (r.want as { path: string }).path === '/pg')!.want).toEqual({ path: '/pg', target: '/data/postgres/pg-test-15' });
    expect(fileOn(n1, '/etc/postgresql-common/createcluster.conf')).toContain('create_main_cluster = false');
    expect(n1!.find((r) => r.kind === 'service' && (r.want as { name: string }).name === 'postgresql')!.want).toMatchObject({ enabled: false, running: false });
  });

  it('starts replicas after the primary runs, and etcd before any Patroni; a new package does not restart Patroni', () => {
    expect(out.edges).toContainEqual({ before: { host: '10.0.0.11', resource: 'patroni-member:pg-test-1' }, after: { host: '10.0.0.12', resource: 'service:patroni' } });
    expect(out.edges).toContainEqual({ before: { host: '10.0.0.13', resource: 'service:etcd' }, after: { host: '10.0.0.11', resource: 'service:patroni' } });
    expect(out.edges.filter((e) => e.after.host === '10.0.0.11' && e.after.resource === 'service:patroni').map((e) => e.before.resource)).toEqual(['packages:pgsql', 'service:etcd', 'service:etcd', 'service:etcd', 'etcd-auth:etcd']);
    // An edge orders without restarting: installing an extension's package must not stop PostgreSQL.
    expect(n1!.find((r) => r.kind === 'service' && (r.want as { name: string }).name === 'patroni')!.deps ?? []).toEqual([]);
    // Patroni logs in to etcd once its cluster's user exists, made on the etcd cluster's observing member.
    expect(out.edges).toContainEqual({ before: { host: '10.0.0.11', resource: 'etcd-auth:etcd' }, after: { host: '10.0.0.12', resource: 'service:patroni' } });
  });

  it('orders a rolling restart: DCS change, then replicas one by one, the primary last', () => {
    expect(out.edges).toContainEqual({ before: { host: '10.0.0.11', resource: 'patroni-dcs:pg-test' }, after: { host: '10.0.0.12', resource: 'patroni-restart:pg-test-2' } });
    expect(out.edges).toContainEqual({ before: { host: '10.0.0.12', resource: 'patroni-restart:pg-test-2' }, after: { host: '10.0.0.13', resource: 'patroni-restart:pg-test-3' } });
    expect(out.edges).toContainEqual({ before: { host: '10.0.0.13', resource: 'patroni-restart:pg-test-3' }, after: { host: '10.0.0.11', resource: 'patroni-restart:pg-test-1' } });
    // Only the intended primary holds the cluster-wide resources.
    expect(n2!.some((r) => r.kind === 'patroni-dcs' || r.kind === 'patroni-leader')).toBe(false);
  });

  it("renders Pigsty's services with selector, backup and dest semantics on every member", () => {
    const replica = fileOn(n2, '/etc/haproxy/conf.d/pg-test-replica.cfg');
    expect(replica).toContain('bind *:5434');
    expect(replica).toContain('http-check send meth OPTIONS uri /read-only');
    expect(replica).toContain('server pg-test-1 10.0.0.11:6432 check port 8008 weight 100 backup');
    expect(replica).toContain('server pg-test-2 10.0.0.12:6432 check port 8008 weight 100\n');
    const offline = fileOn(n1, '/etc/haproxy/conf.d/pg-test-offline.cfg');
    expect(offline).toContain('server pg-test-3 10.0.0.13:5432 check port 8008 weight 100\n');
    expect(offline).toContain('server pg-test-2 10.0.0.12:5432 check port 8008 weight 100 backup');
    expect(offline).not.toContain('pg-test-1 ');
    expect(fileOn(n1, '/etc/haproxy/conf.d/pg-test-primary.cfg')).toMatch(/bind \*:5433[\s\S]*uri \/primary/);
    // pg_rto fast's 0.5s, in a form HAProxy 2.6 reads.
    expect(fileOn(n1, '/etc/haproxy/conf.d/pg-test-primary.cfg')).toContain('default-server inter 1s fastinter 500ms downinter 1s rise 3 fall 3');
    expect(fileOn(n1, '/etc/haproxy/conf.d/pg-test-default.cfg')).toContain('server pg-test-3 10.0.0.13:5432');
  });

  it("removes the listener of a service the inventory dropped (Corral's marked files only), before HAProxy reloads", () => {
    const stale = n1!.find((r) => r.kind === 'stale-files')!;
    expect(stale.want).toEqual({ dir: '/etc/haproxy/conf.d', set: 'pg-test services', marker: '# managed by corral (PGSQL): service pg-test-', keep: ['pg-test-primary.cfg', 'pg-test-replica.cfg', 'pg-test-default.cfg', 'pg-test-offline.cfg'] });
    expect(fileOn(n1, '/etc/haproxy/conf.d/pg-test-replica.cfg').split('\n')[0]).toBe('# managed by corral (PGSQL): service pg-test-replica');
    const reloaded = n1!.find((r) => r.kind === 'reload' && (r.want as { name: string }).name === 'haproxy')!;
    expect(reloaded.deps).toContain('stale-files:/etc/haproxy/conf.d (pg-test services)');
    expect(reloaded.deps).toContain('file:/etc/haproxy/conf.d/pg-test-primary.cfg');
    // NODE's HAProxy: PGSQL writes no haproxy.cfg, no unit settings, keeps its own record and reloads after NODE's reload.
    expect(reloaded.want).toMatchObject({ record: 'haproxy-pgsql', action: 'reload', firstTime: 'reload' });
    const haproxyPaths = n1!.filter((r) => r.kind === 'file').map((r) => (r.want as { path: string }).path).filter((path) => path.includes('haproxy'));
    expect(haproxyPaths.map((path) => path.replace(/pg-test-\w+/, 'X'))).toEqual(Array(4).fill('/etc/haproxy/conf.d/X.cfg'));
    expect(out.edges).toContainEqual({ before: { host: '10.0.0.11', resource: 'reload:haproxy' }, after: { host: '10.0.0.11', resource: 'reload:haproxy-pgsql' } });
  });

  it('includes the SQL objects engineer’s pgbouncer lists', () => {
    const ini = fileOn(n1, '/etc/pgbouncer/pgbouncer.ini');
    expect(ini).toContain('%include /etc/pgbouncer/database.txt');
    expect(ini).toContain('auth_hba_file             = /etc/pgbouncer/pgb_hba.conf');
    expect(n1!.findIndex((r) => (r.want as { path?: string }).path === '/etc/pgbouncer/database.txt')).toBeLessThan(n1!.findIndex((r) => (r.want as { path?: string }).path === '/etc/pgbouncer/pgbouncer.ini'));
  });

  it('never shows a password in a plan of bare nodes', () => {
    const d: Desired = { hosts: [...out.resources].map(([host, resources]) => ({ host, target: { host } as never, resources })), edges: out.edges };
    const observations: Observation[] = d.hosts.map((h) => ({ host: h.host, ok: true, facts: ASSUMED_FACTS, states: {}, durationMs: 1 }));
    const p = plan(d, observations, 'r1');
    const shown = renderText(p.plan) + renderJson(p.plan);
    for (const secret of ['Secret.Repl.1', 'Secret.Api.2', 'Secret.User.3']) expect(shown).not.toContain(secret);
  });

  it('refuses at plan time a PostgreSQL version no configured repo has: a blocking note per member, nothing to install', async () => {
    const other = await desired(16);
    expect(other.notes).toHaveLength(3);
    for (const n of other.notes) {
      expect(n).toMatchObject({ resource: 'packages:pgsql', blocking: true });
      expect(n.message).toMatch(/pg_version 16 is not in Debian 12 \(it ships PostgreSQL 15\).*set pg_version: 15 or add a repo that has it/);
    }
    expect(other.resources.size).toBe(0);
    expect(out.notes.filter((n) => n.resource === 'packages:pgsql')).toEqual([]);
    const p = plan({ hosts: [], edges: [] }, [], 'r1').plan;
    p.notes.push(...other.notes);
    p.hosts.push(...other.notes.map((n) => n.host));
    expect(renderText(p)).toContain('✗ packages:pgsql: pg_version 16');
    expect(renderText(p)).toContain('3 blocking: not applicable until the inventory changes');
  });
});

describe('pg_conf: the tuning template on the node Corral saw', () => {
  const wantOf = <W>(list: Resource[] | undefined, kind: string): W => list!.find((r) => r.kind === kind)!.want as W;
  const sized = (memMiB: number) => (): Facts => ({ ...ASSUMED_FACTS, memMiB });

  it("puts oltp.yml's values for the primary's node in the DCS, pg_parameters over them, the same for every member", async () => {
    // The primary has 16 GiB, the replicas 8: the cluster has one DCS, worked out on the primary.
    const out = await desiredOf(INVENTORY(), (host) => ({ ...ASSUMED_FACTS, memMiB: host === '10.0.0.11' ? 16384 : 8192 }));
    const dcs = wantOf<PatroniDcsWant>(out.resources.get('10.0.0.11'), 'patroni-dcs');
    expect(dcs.parameters).toMatchObject({ shared_buffers: '4096MB', effective_cache_size: '12288MB', max_connections: 500, work_mem: '8MB', ssl: 'on' });
    expect(dcs.settings).toMatchObject({ synchronous_mode: false, synchronous_mode_strict: false });
    const replica = wantOf<PatroniRestartWant>(out.resources.get('10.0.0.12'), 'patroni-restart');
    expect(replica.parameters).toEqual(dcs.parameters);
    const yml = parse(fileOn(out.resources.get('10.0.0.13'), '/pg/conf/pg-test-3.yml')) as { bootstrap: { dcs: { postgresql: { parameters: object } } } };
    expect(yml.bootstrap.dcs.postgresql.parameters).toEqual(dcs.parameters);
  });

  it('a node found bigger changes shared_buffers in the DCS of a running cluster, and the members restart for it', async () => {
    const before = wantOf<PatroniDcsWant>((await desiredOf(INVENTORY(), sized(8192))).resources.get('10.0.0.11'), 'patroni-dcs');
    const after = await desiredOf(INVENTORY(), sized(32768));
    const dcs = wantOf<PatroniDcsWant>(after.resources.get('10.0.0.11'), 'patroni-dcs');
    const running = { settings: before.settings, parameters: before.parameters };
    expect(patroniDcs.diff(dcs, running)).toEqual(
      expect.arrayContaining([
        { field: 'postgresql.parameters.shared_buffers', from: '2048MB', to: '8192MB' },
        { field: 'postgresql.parameters.effective_cache_size', from: '6144MB', to: '24576MB' },
      ]),
    );
    const restart = wantOf<PatroniRestartWant>(after.resources.get('10.0.0.12'), 'patroni-restart');
    const have = { pendingRestart: false, dcs: before.parameters, postmaster: ['shared_buffers', 'max_connections'] };
    expect(patroniRestart.diff(restart, have)).toEqual([{ field: 'postgres restart', from: null, to: 'for shared_buffers' }]);
  });

  it('crit.yml: synchronous replication, strict; a watchdog; data checksums', async () => {
    const out = await desiredOf(INVENTORY().replace('pg_rto: fast', 'pg_rto: fast\n        pg_conf: crit.yml\n        pg_checksum: false'));
    const dcs = wantOf<PatroniDcsWant>(out.resources.get('10.0.0.11'), 'patroni-dcs');
    expect(dcs.settings).toMatchObject({ synchronous_mode: true, synchronous_mode_strict: true });
    expect(dcs.parameters).toMatchObject({ max_parallel_workers_per_gather: 0, idle_in_transaction_session_timeout: '1min' });
    const yml = parse(fileOn(out.resources.get('10.0.0.12'), '/pg/conf/pg-test-2.yml')) as { watchdog: object; bootstrap: { initdb: unknown[] } };
    expect(yml.watchdog).toEqual({ mode: 'automatic' });
    expect(yml.bootstrap.initdb).toContain('data-checksums');
    expect(out.notes).toEqual([]);
  });

  it('a template of the user\'s own is not read: a note, and oltp.yml', async () => {
    const out = await desiredOf(INVENTORY().replace('pg_rto: fast', 'pg_rto: fast\n        pg_conf: mine.yml'));
    expect(out.notes.map((n) => [n.host, n.resource])).toEqual([['10.0.0.11', 'pgsql']]);
    expect(out.notes[0]!.message).toMatch(/^pg_conf mine\.yml is not one of Pigsty's templates .*pg-test is tuned by oltp\.yml/);
    expect(wantOf<PatroniDcsWant>(out.resources.get('10.0.0.11'), 'patroni-dcs').parameters).toMatchObject({ shared_buffers: '2048MB', max_parallel_workers_per_gather: 2 });
  });
});

describe('member selectors', async () => {
  const v = await validateInventory(tmpRepo({ 'pigsty.yml': INVENTORY() }));
  const members = v.hosts.filter((h) => h.has('pg_cluster'));
  const names = (s: string) => selectMembers(s, members).map((h) => h.str('pg_seq'));
  it('reads the JMESPath subset of Pigsty services', () => {
    expect(names('[]')).toEqual(['1', '2', '3']);
    expect(names('[? pg_role == `primary` || pg_role == `offline` ]')).toEqual(['1']);
    expect(names('[? pg_role == `offline` || pg_offline_query ]')).toEqual(['3']);
    expect(names('[? pg_role == `replica` && !pg_offline_query]')).toEqual(['2']);
    expect(names("[? (pg_seq == `2`) || pg_role == 'primary' ]")).toEqual(['1', '2']);
  });
});

const target = { config: '/etc/patroni/patroni.yml', api: 'http://10.0.0.11:8008' };

describe('patroni-leader: switch over only when pg_role changed', () => {
  const w: PatroniLeaderWant = { ...target, cluster: 'pg-test', primary: 'pg-test-1', timeoutSeconds: 60 };
  const probe = (leader: string, recorded?: string) =>
    `cluster=${JSON.stringify({ members: [{ name: leader, role: 'leader', state: 'running' }, { name: 'pg-test-9', role: 'replica', state: 'running' }] })}\nconfig=${JSON.stringify(recorded ? { ttl: 30, corral_intended_primary: recorded } : { ttl: 30 })}\n`;
  it('records the intention on a new cluster, without a switchover', () => {
    const h = patroniLeader.parse(probe('pg-test-1'), w) as never;
    expect(patroniLeader.diff(w, h)).toEqual([{ field: 'intended primary', from: null, to: 'pg-test-1' }]);
    expect(patroniLeader.apply(w, h)).not.toContain(' switchover ');
  });
  it('leaves a failover alone: drift, not a change', () => {
    expect(patroniLeader.diff(w, patroniLeader.parse(probe('pg-test-2', 'pg-test-1'), w) as never)).toEqual([]);
  });
  it('switches over when the inventory names another primary than the one recorded', () => {
    const h = patroniLeader.parse(probe('pg-test-2', 'pg-test-2'), w) as never;
    expect(patroniLeader.diff(w, h)).toEqual([{ field: 'leader (switchover)', from: 'pg-test-2', to: 'pg-test-1' }]);
    expect(patroniLeader.apply(w, h)).toMatch(/python3 - \/etc\/patroni\/patroni.yml switchover pg-test-1 60/);
    expect(patroniLeader.effects!(w, h)).toEqual({ restarts: true });
  });
});

describe('parameters: reload or restart, as the server says', () => {
  const params = { work_mem: '16MB', shared_buffers: '256MB' };
  const dcsWant: PatroniDcsWant = { ...target, cluster: 'pg-test', settings: { ttl: 30 }, parameters: params };
  const restartWant: PatroniRestartWant = { ...target, name: 'pg-test-1', parameters: params, port: 5432, socketDir: '/var/run/postgresql', dbsu: 'postgres', timeoutSeconds: 60, settleSeconds: 10 };
  const config = (p: Record<string, unknown>) => `config=${JSON.stringify({ ttl: 30, postgresql: { parameters: p } })}\n`;
  const node = (p: Record<string, unknown>, pending = false) => `${config(p)}patroni=${JSON.stringify({ state: 'running', pending_restart: pending })}\npostmaster=max_connections,shared_buffers,wal_level\n`;

  it('a reload-only parameter changes the DCS and restarts nothing', () => {
    const current = { work_mem: '8MB', shared_buffers: '256MB' };
    expect(patroniDcs.diff(dcsWant, patroniDcs.parse(config(current), dcsWant) as never)).toEqual([{ field: 'postgresql.parameters.work_mem', from: '8MB', to: '16MB' }]);
    expect(patroniDcs.apply(dcsWant, patroniDcs.parse(config(current), dcsWant) as never)).toContain('{"postgresql":{"parameters":{"work_mem":"16MB"}}}');
    expect(patroniRestart.diff(restartWant, patroniRestart.parse(node(current), restartWant) as never)).toEqual([]);
  });
  it('a postmaster parameter plans a restart of each member, and a pending restart is finished', () => {
    const current = { work_mem: '16MB', shared_buffers: '128MB' };
    expect(patroniRestart.diff(restartWant, patroniRestart.parse(node(current), restartWant) as never)).toEqual([{ field: 'postgres restart', from: null, to: 'for shared_buffers' }]);
    expect(patroniRestart.diff(restartWant, patroniRestart.parse(node(params, true), restartWant) as never)).toEqual([{ field: 'postgres restart', from: 'pending_restart', to: 'pending_restart' }]);
    expect(patroniRestart.diff(restartWant, patroniRestart.parse(node(params), restartWant) as never)).toEqual([]);
  });
  it('raising max_connections rolls (replicas first); lowering it restarts the primary first, in place, as a standby may not hold less', () => {
    const w = (max: number): PatroniRestartWant => ({ ...restartWant, parameters: { max_connections: max } });
    const have = patroniRestart.parse(node({ max_connections: 200 }), w(300)) as never;
    expect(patroniRestart.diff(w(300), have)).toEqual([{ field: 'postgres restart', from: null, to: 'for max_connections' }]);
    expect(patroniRestart.apply(w(300), have)).toMatch(/restart 60 10 '\{"max_connections":300\}' rolling/);
    expect(patroniRestart.diff(w(100), have)).toEqual([{ field: 'postgres restart', from: null, to: 'for max_connections (max_connections lowered: the primary restarts first, in place)' }]);
    expect(patroniRestart.apply(w(100), have)).toMatch(/restart 60 10 '\{"max_connections":100\}' primary-first/);
  });
  it('the program the Patroni kinds run on the nodes is valid Python', () => {
    const script = patroniCtl('/etc/patroni/patroni.yml', 'wait-leader', 1);
    const program = script.slice(script.indexOf('\n') + 1, script.lastIndexOf('\nCORRAL_PATRONI'));
    expect(program).toContain("elif cmd == 'restart':");
    expect(() => execFileSync('python3', ['-c', 'import ast, sys; ast.parse(sys.stdin.read())'], { input: program, stdio: ['pipe', 'pipe', 'pipe'] })).not.toThrow();
    expect(() => execFileSync('python3', ['-c', 'import ast, sys; ast.parse(sys.stdin.read())'], { input: program + '\n  )', stdio: ['pipe', 'pipe', 'pipe'] })).toThrow();
  });
  it('"on" and true, "100" and 100 are the same DCS value', () => {
    const w = { ...dcsWant, parameters: { hot_standby_feedback: 'on', log_min_duration_statement: 100 } };
    expect(patroniDcs.diff(w, patroniDcs.parse(config({ hot_standby_feedback: 'on', log_min_duration_statement: '100' }), w) as never)).toEqual([]);
  });
});

describe('health and role drift', () => {
  const member = (name: string, role: string, state = 'running', lagging: boolean | null = false) => ({ name, host: `10.0.0.1${name.slice(-1)}`, role, state, lagging });
  const all = ['pg-test-1', 'pg-test-2', 'pg-test-3'];
  it('Healthy: a leader, every replica running and not lagging', () => {
    expect(pgHealth('pg-test-1', all, [member('pg-test-1', 'leader'), member('pg-test-2', 'replica'), member('pg-test-3', 'replica')])).toEqual({ status: 'Healthy', leader: 'pg-test-1', intendedPrimary: 'pg-test-1', roleDrift: false, problems: [] });
  });
  it('Degraded with role drift after a failover with the old primary gone', () => {
    const h = pgHealth('pg-test-1', all, [member('pg-test-2', 'leader'), member('pg-test-3', 'replica')]);
    expect(h).toMatchObject({ status: 'Degraded', leader: 'pg-test-2', roleDrift: true });
    expect(h.problems).toEqual(['pg-test-1 is not a member of the Patroni cluster']);
  });
  it('Degraded when a replica lags or is stopped; Down without a leader', () => {
    expect(pgHealth('pg-test-1', all, [member('pg-test-1', 'leader'), member('pg-test-2', 'replica', 'running', true), member('pg-test-3', 'replica', 'stopped')]).problems).toEqual(['pg-test-2 lags behind the leader', 'pg-test-3 is stopped']);
    expect(pgHealth('pg-test-1', all, [member('pg-test-1', 'replica', 'stopped'), member('pg-test-2', 'replica')]).status).toBe('Down');
    expect(pgHealth('pg-test-1', all, null)).toMatchObject({ status: 'Down', problems: ['no member answered on the Patroni REST API'] });
  });
  it('patroni-member keeps the cluster view with the lag as a side of the limit', () => {
    const w: PatroniMemberWant = { ...target, name: 'pg-test-1', timeoutSeconds: 60, lagLimitBytes: 1000 };
    const out = `patroni=${JSON.stringify({ state: 'running', role: 'master' })}\ncluster=${JSON.stringify({ members: [{ name: 'pg-test-1', host: '10.0.0.11', role: 'leader', state: 'running' }, { name: 'pg-test-2', host: '10.0.0.12', role: 'replica', state: 'running', lag: 5000 }, { name: 'pg-test-3', host: '10.0.0.13', role: 'replica', state: 'running', lag: 'unknown' }] })}\n`;
    expect(patroniMember.parse(out, w)).toEqual({ state: 'running', role: 'master', cluster: [member('pg-test-1', 'leader'), member('pg-test-2', 'replica', 'running', true), member('pg-test-3', 'replica', 'running', null)] });
    expect(patroniMember.diff(w, null)).toEqual([{ field: 'state', from: null, to: 'running' }]);
  });
});

describe('health for the daemon', async () => {
  const v = await validateInventory(tmpRepo({ 'pigsty.yml': INVENTORY() }));
  const cluster = v.clusters.find((c) => c.module === 'pgsql')!;
  const seen = (cluster: object[]): Observation => ({ host: '10.0.0.12', ok: true, facts: ASSUMED_FACTS, states: { 'patroni-member:pg-test-2': { state: 'running', role: 'master', cluster } }, durationMs: 1 });
  it('reads the cluster from any member that answered and says role drift', () => {
    const after = [
      { name: 'pg-test-2', host: '10.0.0.12', role: 'leader', state: 'running', lagging: false },
      { name: 'pg-test-1', host: '10.0.0.11', role: 'replica', state: 'running', lagging: false },
      { name: 'pg-test-3', host: '10.0.0.13', role: 'replica', state: 'running', lagging: false },
    ];
    const down: Observation = { host: '10.0.0.11', ok: false, error: 'unreachable', errorKind: 'connect' };
    expect(pgsql.health!({ cluster, hosts: v.hosts, observations: [down, seen(after)] })).toEqual({
      status: 'Healthy',
      problems: ['role drift: pg-test-2 leads, pg_role names pg-test-1; Corral does not switch back (commit a pg_role change to switch over)'],
      // Each member as Patroni lists it, for the status page; the leader's lag is not a thing.
      members: [
        { name: 'pg-test-2', role: 'leader', state: 'running' },
        { name: 'pg-test-1', role: 'replica', state: 'running', lag: 'no lag' },
        { name: 'pg-test-3', role: 'replica', state: 'running', lag: 'no lag' },
      ],
    });
    expect(pgsql.health!({ cluster, hosts: v.hosts, observations: [down] }).status).toBe('Down');
  });
});

describe('scale in: members the inventory dropped', () => {
  const member = (name: string, host: string, role = 'replica', state = 'running') => ({ name, host, role, state, lagging: false });
  const three = [member('pg-test-1', '10.0.0.11', 'leader'), member('pg-test-2', '10.0.0.12'), member('pg-test-3', '10.0.0.13')];
  const observed = (cluster: object[]): Observation[] => [{ host: '10.0.0.11', ok: true, facts: ASSUMED_FACTS, states: { 'patroni-member:pg-test-1': { state: 'running', role: 'primary', cluster } }, durationMs: 1 }];
  const departed = async (cluster: object[], edit = (t: string) => t) => {
    const v = await validateInventory(tmpRepo({ 'pigsty.yml': edit(INVENTORY()) }));
    const c = v.clusters.find((x) => x.module === 'pgsql')!;
    return pgsql.departed!({ cluster: c, hosts: v.hosts, observations: observed(cluster) });
  };

  it('retires a replica Patroni still lists, on its own address, as a destructive change', async () => {
    const out = await departed([...three, member('pg-test-4', '10.0.0.14')]);
    expect(out.notes).toEqual([]);
    expect(out.departures).toHaveLength(1);
    const d = out.departures[0]!;
    expect(d.address).toBe('10.0.0.14');
    expect(d.reachedAs.name).toBe('10.0.0.11');
    expect(d.resources.map((r) => [r.kind, r.want])).toEqual([['patroni-retire', { cluster: 'pg-test', name: 'pg-test-4', api: 'http://10.0.0.14:8008' }]]);
    const desired: Desired = { hosts: [{ host: d.address, target: { name: d.address, address: d.address, port: 22, user: 'root', connection: 'ssh' }, resources: d.resources }], edges: [] };
    const have = { patroniRunning: true, patroniEnabled: true, pgbouncerRunning: true, haproxyServices: 4 };
    const p = plan(desired, [{ host: '10.0.0.14', ok: true, facts: ASSUMED_FACTS, states: { 'patroni-retire:pg-test-4': have }, durationMs: 1 }], 'r1').plan;
    expect(p.changes.map((c) => [c.resource, c.destructive, c.restarts])).toEqual([['patroni-retire:pg-test-4', true, false]]);
    const retired = { patroniRunning: false, patroniEnabled: false, pgbouncerRunning: false, haproxyServices: 0 };
    expect(plan(desired, [{ host: '10.0.0.14', ok: true, facts: ASSUMED_FACTS, states: { 'patroni-retire:pg-test-4': retired }, durationMs: 1 }], 'r1').plan.changes).toEqual([]);
  });

  it('nothing departs when Patroni lists exactly the inventory', async () => {
    expect(await departed(three)).toEqual({ departures: [], notes: [] });
  });

  it('pg_safeguard blocks it with a message naming the member and the way out', async () => {
    const out = await departed([...three, member('pg-test-4', '10.0.0.14')], (t) => t.replace('pg_rto: fast', 'pg_rto: fast\n        pg_safeguard: true'));
    expect(out.departures).toEqual([]);
    expect(out.notes.map((n) => n.message)).toEqual(['pg-test-4 (10.0.0.14) runs in pg-test but the inventory no longer names it: pg_safeguard is on for pg-test, so it is not removed (set pg_safeguard: false to allow it)']);
  });

  it('never a leader, never without a leader, never a member renamed on a host the inventory keeps', async () => {
    const led = await departed([member('pg-test-4', '10.0.0.14', 'leader'), member('pg-test-1', '10.0.0.11'), member('pg-test-2', '10.0.0.12')]);
    expect(led.departures).toEqual([]);
    expect(led.notes[0]!.message).toContain('it leads the cluster: commit a pg_role change to switch over first');
    const leaderless = await departed([member('pg-test-1', '10.0.0.11', 'replica', 'stopped'), member('pg-test-4', '10.0.0.14')]);
    expect(leaderless.departures).toEqual([]);
    expect(leaderless.notes[0]!.message).toContain('no running leader');
    const renamed = await departed([...three.slice(0, 2), member('pg-test-9', '10.0.0.13')]);
    expect(renamed.departures).toEqual([]);
    expect(renamed.notes[0]!.message).toContain('10.0.0.13 is pg-test-3 in the inventory: renaming a member (pg_seq) is not supported');
  });

  it("patroni-retire refuses on the node when the member leads by then, and keeps the data directory", () => {
    const script = patroniRetire.apply({ cluster: 'pg-test', name: 'pg-test-4', api: 'http://10.0.0.14:8008' }, null);
    expect(script.split('\n')[0]).toContain('curl -sf -o /dev/null -m 3 http://10.0.0.14:8008/primary');
    expect(script).toContain('systemctl disable --now patroni.service');
    expect(script).toContain('rm -f /etc/haproxy/conf.d/pg-test-*.cfg /etc/haproxy/pg-test-*.cfg');
    expect(script).not.toMatch(/rm -rf|\/pg\/data/);
    expect(patroniRetire.parse('patroni=active\nenabled=enabled\npgbouncer=inactive\nhaproxy=0\n', { cluster: 'pg-test', name: 'pg-test-4', api: '' })).toEqual({ patroniRunning: true, patroniEnabled: true, pgbouncerRunning: false, haproxyServices: 0 });
  });
});

describe('PGSQL: new etcd settings restart Patroni, paused', async () => {
  const out = await desired();
  const on = (ip: string, kind: string): Resource => out.resources.get(ip)!.find((r) => r.kind === kind)!;
  const restartWant = (ip: string): PatroniDcsRestartWant => on(ip, 'patroni-dcs-restart').want as PatroniDcsRestartWant;
  const yml = fileOn(out.resources.get('10.0.0.12'), '/pg/conf/pg-test-2.yml');

  it("records at each start the etcd settings Patroni read, hashed on the node exactly as Corral hashes patroni.yml's etcd3 section", () => {
    const unit = fileOn(out.resources.get('10.0.0.12'), '/etc/systemd/system/patroni.service');
    expect(unit).toContain(`ExecStartPre=+/bin/sh -c "mkdir -p /var/lib/corral && ${dcsSectionHash('/etc/patroni/patroni.yml')} > ${DCS_CLIENT_RECORD}"`);
    const dir = tmpRepo({ 'patroni.yml': yml });
    const onNode = execFileSync('sh', ['-c', dcsSectionHash(`${dir}/patroni.yml`)], { encoding: 'utf8' }).trim();
    expect(onNode).toBe(restartWant('10.0.0.12').dcsSha);
    expect(dcsSection(yml)).toMatch(/^etcd3:\n {2}hosts: .*\n(?: {2}.*\n)+$/);
    expect(dcsSection(yml)).not.toContain('restapi');
  });

  it('restarts a member whose Patroni runs other etcd settings (or unrecorded ones), and no other', () => {
    const w = restartWant('10.0.0.12');
    expect(w.others).toEqual(['http://10.0.0.11:8008', 'http://10.0.0.13:8008']);
    const have = (running: string, paused = false) => patroniDcsRestart.parse(`dcs-client=${running}\npatroni=${JSON.stringify({ state: 'running', ...(paused ? { pause: true } : {}) })}\n`, w);
    expect(patroniDcsRestart.diff(w, have(w.dcsSha) as never)).toEqual([]);
    expect(patroniDcsRestart.diff(w, have('unknown') as never)).toEqual([expect.objectContaining({ from: 'not recorded (started before Corral recorded it)' })]);
    expect(patroniDcsRestart.diff(w, have('0123456789abcdef') as never)).toEqual([expect.objectContaining({ from: '0123456789ab' })]);
    // Not running: it reads patroni.yml when it starts.
    expect(patroniDcsRestart.parse('', w)).toBeNull();
    expect(patroniDcsRestart.apply(w, have('unknown') as never)).toContain(`dcs-restart ${DCS_CLIENT_RECORD} ${w.dcsSha} '["http://10.0.0.11:8008","http://10.0.0.13:8008"]' 120`);
    expect(patroniDcsRestart.effects!(w, have('unknown') as never)).toEqual({ restarts: true });
  });

  it('pauses the cluster on the primary before its etcd moves, unless it runs paused already', () => {
    const w = on('10.0.0.11', 'patroni-pause').want as PatroniPauseWant;
    expect(out.resources.get('10.0.0.12')!.some((r) => r.kind === 'patroni-pause')).toBe(false);
    const have = (running: string, paused: boolean) => patroniPause.parse(`dcs-client=${running}\npatroni=${JSON.stringify({ state: 'running', pause: paused })}\n`, w) as never;
    expect(patroniPause.diff(w, have('unknown', false))).toEqual([expect.objectContaining({ field: 'maintenance mode' })]);
    expect(patroniPause.diff(w, have('unknown', true))).toEqual([]);
    expect(patroniPause.diff(w, have(w.dcsSha, false))).toEqual([]);
    expect(out.edges).toEqual(expect.arrayContaining(['10.0.0.11', '10.0.0.12', '10.0.0.13'].map((ip, i) => ({ before: { host: '10.0.0.11', resource: 'patroni-pause:pg-test' }, after: { host: ip, resource: `etcd-tls-move:etcd-${i + 1}` } }))));
  });

  it('restarts one member at a time, the primary last, each after etcd has the cluster\'s login, and before anything else talks to the DCS', () => {
    const edges = out.edges.filter((e) => e.after.resource.startsWith('patroni-dcs-restart:')).map((e) => `${e.before.resource}@${e.before.host} -> ${e.after.resource}@${e.after.host}`);
    expect(edges).toEqual(
      expect.arrayContaining([
        'etcd-auth:etcd@10.0.0.11 -> patroni-dcs-restart:pg-test-2@10.0.0.12',
        'patroni-dcs-restart:pg-test-2@10.0.0.12 -> patroni-dcs-restart:pg-test-3@10.0.0.13',
        'patroni-dcs-restart:pg-test-3@10.0.0.13 -> patroni-dcs-restart:pg-test-1@10.0.0.11',
      ]),
    );
    for (const kind of ['patroni-leader', 'patroni-dcs', 'pgbackrest-stanza', 'pg-role']) expect(on('10.0.0.11', kind).deps).toContain('patroni-dcs-restart:pg-test-1');
  });

  it('holds the restart while its etcd still speaks plain http and is not in the run (the daemon syncs etcd apart)', async () => {
    const apart = await desired(15, (module) => module !== 'etcd');
    const w = apart.resources.get('10.0.0.12')!.find((r) => r.kind === 'patroni-dcs-restart')!.want as PatroniDcsRestartWant;
    expect(w.heldWhilePlain!.urls).toEqual(['http://10.0.0.11:2379', 'http://10.0.0.12:2379', 'http://10.0.0.13:2379']);
    expect(patroniDcsRestart.probe(w)).toContain("for u in http://10.0.0.11:2379 http://10.0.0.12:2379 http://10.0.0.13:2379; do if curl -s -m 2 \"$u/version\" | grep -q etcdserver");
    const held = patroniDcsRestart.parse('dcs-client=unknown\netcd-plain=yes\n', w) as { unsupported: string };
    expect(held.unsupported).toContain('without etcd cluster etcd');
    expect(patroniDcsRestart.parse('dcs-client=unknown\n', w)).toMatchObject({ running: 'unknown' });
    // Together with etcd (a CLI apply over the inventory), nothing is held.
    expect(restartWant('10.0.0.12').heldWhilePlain).toBeUndefined();
  });
});
