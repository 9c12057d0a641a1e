/** Standby clusters (pg_upstream on a primary), delayed clusters (pg_delay) and cascading replicas, as data: no node, no SSH. */
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { validateInventory } from '../../src/config/validate.js';
import { ASSUMED_FACTS } from '../../src/engine/facts.js';
import type { Resource } from '../../src/engine/resources/kind.js';
import { tmpRepo } from '../../test/helpers/tmp.js';
import { certificatesFor } from '../../test/helpers/pki.js';
import { pgsql } from './index.js';
import { pgHealth } from './health.js';
import { hbaAllowsReplication, renderHba } from './hba.js';
import { patroniLeader, type PatroniLeaderWant } from './kinds/patroni-leader.js';
import { patroniDcs, type PatroniDcsWant } from './kinds/patroni-dcs.js';

const INVENTORY = (standbyHost = '10.0.0.14: { pg_seq: 1, pg_role: primary, pg_upstream: 10.0.0.11 }') => `
all:
  children:
    etcd:
      hosts:
        10.0.0.11: { etcd_seq: 1 }
      vars: { etcd_cluster: etcd }
    pg-test:
      hosts:
        10.0.0.11: { pg_seq: 1, pg_role: primary }
        10.0.0.12: { pg_seq: 2, pg_role: replica }
        10.0.0.13: { pg_seq: 3, pg_role: replica, pg_upstream: 10.0.0.12 }
      vars:
        pg_cluster: pg-test
        pg_users: [ { name: app, password: Secret.User.3, pgbouncer: true } ]
        pg_databases: [ { name: app, owner: app } ]
    pg-standby:
      hosts:
        ${standbyHost}
        10.0.0.15: { pg_seq: 2, pg_role: replica }
      vars:
        pg_cluster: pg-standby
        pg_users: [ { name: app, password: Secret.User.3, pgbouncer: true } ]
        pg_databases: [ { name: app, owner: app } ]
  vars:
    pg_version: 15
    pg_replication_password: Secret.Repl.1
    patroni_password: Secret.Api.2
`;

async function desiredOf(text: string, name: string) {
  const v = await validateInventory(tmpRepo({ 'pigsty.yml': text }));
  expect(v.problems.filter((p) => p.severity === 'error')).toEqual([]);
  const cluster = v.clusters.find((c) => c.module === 'pgsql' && c.name === name)!;
  return { v, out: pgsql.desired({ cluster, hosts: v.hosts, facts: () => ASSUMED_FACTS, certificates: await certificatesFor(v), together: () => true }) };
}
const contentOf = (list: Resource[] | undefined, path: string): string => (list!.find((r) => (r.want as { path?: string }).path === path)!.want as { content: string }).content;
const ofKind = (list: Resource[] | undefined, kind: string): Resource[] => list!.filter((r) => r.kind === kind);

describe('a standby cluster: pg_upstream on the primary names a member of another cluster', async () => {
  const { v, out } = await desiredOf(INVENTORY(), 'pg-standby');
  const test = (await desiredOf(INVENTORY(), 'pg-test')).out;
  const leader = out.resources.get('10.0.0.14');
  const replica = out.resources.get('10.0.0.15');

  it("bootstraps with Patroni's standby_cluster: the upstream's address and port, base backups; every member carries it, no apply delay", () => {
    for (const [list, name] of [[leader, 'pg-standby-1'], [replica, 'pg-standby-2']] as const) {
      const yml = parse(contentOf(list, `/pg/conf/${name}.yml`)) as { bootstrap: { dcs: { standby_cluster?: object } } };
      expect(yml.bootstrap.dcs.standby_cluster).toEqual({ host: '10.0.0.11', port: 5432, create_replica_methods: ['basebackup'] });
    }
    // The upstream cluster itself is no standby.
    const upstream = parse(contentOf(test.resources.get('10.0.0.11'), '/pg/conf/pg-test-1.yml')) as { bootstrap: { dcs: object } };
    expect(upstream.bootstrap.dcs).not.toHaveProperty('standby_cluster');
  });

  it("keeps standby_cluster in the running cluster's DCS: a new pg_upstream is patched in, a delay taken out is removed", () => {
    const dcs = ofKind(leader, 'patroni-dcs')[0]!.want as PatroniDcsWant;
    expect(dcs.standby).toEqual({ host: '10.0.0.11', port: 5432, create_replica_methods: ['basebackup'] });
    const have = { settings: { ...dcs.settings, standby_cluster: { host: '10.0.0.12', port: 5432, recovery_min_apply_delay: '1h' } }, parameters: dcs.parameters };
    expect(patroniDcs.diff(dcs, have)).toEqual([
      { field: 'standby_cluster.host', from: '10.0.0.12', to: '10.0.0.11' },
      { field: 'standby_cluster.recovery_min_apply_delay', from: '1h', to: '0' },
    ]);
    expect(patroniDcs.apply(dcs, have)).toContain(`patch-config '${JSON.stringify({ standby_cluster: { recovery_min_apply_delay: null, ...dcs.standby } })}'`);
    expect(patroniDcs.diff(dcs, { settings: { ...dcs.settings, standby_cluster: { host: '10.0.0.11', port: 5432 } }, parameters: dcs.parameters })).toEqual([]);
  });

  it('creates no role and no database on the read-only cluster (they replicate from upstream), and says so in a note; the upstream gets them', () => {
    for (const list of [leader, replica]) {
      expect(ofKind(list, 'pg-role')).toEqual([]);
      expect(ofKind(list, 'pg-database')).toEqual([]);
      // Its files still are written: pg_hba.conf and pgbouncer's lists.
      expect(contentOf(list, '/pg/data/pg_hba.conf')).toContain('replication');
    }
    expect(ofKind(test.resources.get('10.0.0.11'), 'pg-role').length).toBeGreaterThan(0);
    expect(ofKind(test.resources.get('10.0.0.11'), 'pg-database').map((r) => (r.want as { name: string }).name)).toEqual(['app']);
    expect(out.notes.map((n) => n.message).join('\n')).toMatch(/pg-standby is a standby cluster of 10\.0\.0\.11:5432: read-only.*not created here/);
    expect(ofKind(leader, 'pgbackrest-stanza')).toEqual([]);
    expect(ofKind(test.resources.get('10.0.0.11'), 'pgbackrest-stanza')).toHaveLength(1);
  });

  it("starts the standby leader after the upstream's member runs", () => {
    expect(out.edges).toContainEqual({ before: { host: '10.0.0.11', resource: 'patroni-member:pg-test-1' }, after: { host: '10.0.0.14', resource: 'service:patroni' } });
  });

  it('never switches over a standby cluster: a new pg_role is recorded, the leader left to Patroni', () => {
    const w = ofKind(leader, 'patroni-leader')[0]!.want as PatroniLeaderWant;
    expect(w.standby).toBe(true);
    const drifted = { leader: 'pg-standby-2', recorded: 'pg-standby-2' };
    expect(patroniLeader.diff(w, drifted)).toEqual([{ field: 'intended primary', from: 'pg-standby-2', to: 'pg-standby-1' }]);
    const commands = (script: string) => script.split('\n').filter((l) => l.startsWith('python3 - ')).join('\n');
    expect(commands(patroniLeader.apply(w, drifted))).not.toContain('switchover');
    expect(patroniLeader.effects!(w, drifted)).toEqual({ restarts: false });
    // The same change in a cluster of its own switches over.
    const plain = ofKind(test.resources.get('10.0.0.11'), 'patroni-leader')[0]!.want as PatroniLeaderWant;
    expect(plain.standby).toBeUndefined();
    expect(commands(patroniLeader.apply(plain, { leader: 'pg-test-2', recorded: 'pg-test-2' }))).toContain('switchover pg-test-1');
  });

  it("lets the standby cluster's members replicate from the upstream: its HBA (Pigsty's intranet rule) takes them", () => {
    const upstream = v.hosts.find((h) => h.name === '10.0.0.11')!;
    const hba = contentOf(test.resources.get('10.0.0.11'), '/pg/data/pg_hba.conf');
    expect(hba).toBe(renderHba(upstream, 'postgres', { infra: [], members: ['10.0.0.11', '10.0.0.12', '10.0.0.13'] }));
    for (const ip of ['10.0.0.14', '10.0.0.15']) expect(hbaAllowsReplication(hba, 'replicator', ip)).toBe(true);
    expect(hbaAllowsReplication(hba, 'replicator', '100.64.0.1')).toBe(false);
    expect(hbaAllowsReplication(hba, 'app', '10.0.0.14')).toBe(false);
  });

  it('is Healthy with a streaming standby leader and its replica, Down without it', () => {
    const m = (name: string, role: string, state: string) => ({ name, host: '', role, state, lagging: false });
    const all = ['pg-standby-1', 'pg-standby-2'];
    expect(pgHealth('pg-standby-1', all, [m('pg-standby-1', 'standby_leader', 'streaming'), m('pg-standby-2', 'replica', 'streaming')])).toEqual({
      status: 'Healthy', leader: 'pg-standby-1', intendedPrimary: 'pg-standby-1', roleDrift: false, problems: [],
    });
    expect(pgHealth('pg-standby-1', all, [m('pg-standby-1', 'standby_leader', 'stopped'), m('pg-standby-2', 'replica', 'streaming')]).status).toBe('Down');
  });
});

describe('a delayed cluster: pg_delay on the primary of a standby cluster', async () => {
  const { out } = await desiredOf(INVENTORY('10.0.0.14: { pg_seq: 1, pg_role: primary, pg_upstream: 10.0.0.11, pg_delay: 1h }'), 'pg-standby');
  it("delays the standby leader's replay (standby_cluster.recovery_min_apply_delay), in the bootstrap and the DCS", () => {
    const yml = parse(contentOf(out.resources.get('10.0.0.15'), '/pg/conf/pg-standby-2.yml')) as { bootstrap: { dcs: { standby_cluster: object } } };
    expect(yml.bootstrap.dcs.standby_cluster).toEqual({ host: '10.0.0.11', port: 5432, create_replica_methods: ['basebackup'], recovery_min_apply_delay: '1h' });
    const dcs = ofKind(out.resources.get('10.0.0.14'), 'patroni-dcs')[0]!.want as PatroniDcsWant;
    expect(patroniDcs.diff(dcs, { settings: { ...dcs.settings, standby_cluster: { host: '10.0.0.11', port: 5432 } }, parameters: dcs.parameters })).toEqual([
      { field: 'standby_cluster.recovery_min_apply_delay', from: '0', to: '1h' },
    ]);
    expect(out.notes.map((n) => n.message).join('\n')).toContain('1h behind (pg_delay)');
  });
});

describe('a cascading replica: pg_upstream on a replica names a member of its own cluster', async () => {
  const { out } = await desiredOf(INVENTORY(), 'pg-test');
  it("tags it replicatefrom the member's name (Patroni looks members up by name), and no other member", () => {
    const tags = (host: string, name: string) => (parse(contentOf(out.resources.get(host), `/pg/conf/${name}.yml`)) as { tags: Record<string, unknown> }).tags;
    expect(tags('10.0.0.13', 'pg-test-3')).toMatchObject({ replicatefrom: 'pg-test-2', nofailover: false });
    expect(tags('10.0.0.12', 'pg-test-2')).not.toHaveProperty('replicatefrom');
    expect(tags('10.0.0.11', 'pg-test-1')).not.toHaveProperty('replicatefrom');
  });
});
