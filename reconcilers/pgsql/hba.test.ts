/** pg_hba.conf and pgb_hba.conf rendered from Pigsty's rule lists. */
import { describe, expect, it } from 'vitest';
import { validateInventory } from '../../src/config/validate.js';
import { tmpRepo } from '../../test/helpers/tmp.js';
import { renderHba } from './hba.js';

const INVENTORY = `
all:
  children:
    infra: { hosts: { 10.0.0.10: { infra_seq: 1 } } }
    pg-test:
      hosts:
        10.0.0.11: { pg_seq: 1, pg_role: primary }
        10.0.0.12: { pg_seq: 2, pg_role: replica, pg_offline_query: true }
      vars:
        pg_cluster: pg-test
        pg_hba_rules:
          - { user: dbuser_app, db: app, addr: 10.1.0.0/16, auth: ssl, title: app from its subnet, order: 120 }
          - { user: all, db: all, addr: cluster, auth: pwd, title: members }
          - { user: '\${admin}', db: all, addr: infra, auth: cert, role: primary, title: admin from infra on the primary }
          - { title: raw lines, role: offline, rules: [ 'host all etl 10.2.0.0/16 scram-sha-256' ] }
        pgb_hba_rules:
          - { user: all, db: all, addr: admin, auth: os, title: admin node }
  vars:
    admin_ip: 10.0.0.10
    node_firewall_intranet: [ 10.0.0.0/8 ]
`;

const v = await validateInventory(tmpRepo({ 'pigsty.yml': INVENTORY }));
const host = (name: string) => v.hosts.find((h) => h.name === name)!;
const peers = { infra: ['10.0.0.10'], members: ['10.0.0.11', '10.0.0.12'] };
const lines = (text: string): string[] => text.split('\n').filter((l) => l && !l.startsWith('# '));

describe('pg_hba.conf', () => {
  const primary = renderHba(host('10.0.0.11'), 'postgres', peers);
  const replica = renderHba(host('10.0.0.12'), 'postgres', peers);

  it('validates', () => expect(v.problems.filter((p) => p.severity === 'error')).toEqual([]));

  it('expands the default rules with user and address aliases, ordered by `order`', () => {
    const rules = lines(primary).map((l) => l.split(/\s+/));
    expect(rules[0]).toEqual(['local', 'all', 'postgres', 'ident']);
    // order 120 goes between the defaults at 100 and 150.
    expect(rules[1]).toEqual(['hostssl', 'app', 'dbuser_app', '10.1.0.0/16', 'scram-sha-256']);
    expect(rules[2]).toEqual(['local', 'replication', 'postgres', 'ident']);
    expect(rules.slice(3, 6)).toEqual([
      ['local', 'replication', 'replicator', 'scram-sha-256'],
      ['host', 'replication', 'replicator', '127.0.0.1/32', 'scram-sha-256'],
      ['host', 'replication', 'replicator', '::1/128', 'scram-sha-256'],
    ]);
    expect(rules).toContainEqual(['host', 'replication', 'replicator', '10.0.0.0/8', 'scram-sha-256']);
    expect(rules).toContainEqual(['host', 'all', 'dbuser_monitor', '10.0.0.10/32', 'scram-sha-256']);
    expect(rules).toContainEqual(['hostssl', 'all', 'dbuser_dba', '0.0.0.0/0', 'scram-sha-256']);
    expect(rules).toContainEqual(['hostssl', 'all', 'dbuser_dba', '::/0', 'scram-sha-256']);
    expect(rules).toContainEqual(['local', 'all', '+dbrole_readonly', 'scram-sha-256']);
  });

  it('puts rules without `order` last, in the order written, with cluster and infra addresses', () => {
    // The last line is the raw rule, commented out on the primary.
    const tail = lines(primary).slice(-4, -1).map((l) => l.split(/\s+/));
    expect(tail).toEqual([
      ['host', 'all', 'all', '10.0.0.11/32', 'scram-sha-256'],
      ['host', 'all', 'all', '10.0.0.12/32', 'scram-sha-256'],
      ['hostssl', 'all', 'dbuser_dba', '10.0.0.10/32', 'cert'],
    ]);
  });

  it('comments out rules for another pg_role; offline rules apply where offline queries are allowed', () => {
    expect(primary).toContain('# admin from infra on the primary [primary]\nhostssl');
    expect(replica).toContain('# admin from infra on the primary [primary] [DISABLED]\n#hostssl');
    expect(primary).toContain('#host all etl 10.2.0.0/16 scram-sha-256');
    expect(replica).toContain('\nhost all etl 10.2.0.0/16 scram-sha-256');
  });

  it('uses md5 for pwd when pg_pwd_enc is md5', async () => {
    const md5 = await validateInventory(tmpRepo({ 'pigsty.yml': INVENTORY.replace('pg_cluster: pg-test', 'pg_cluster: pg-test\n        pg_pwd_enc: md5') }));
    expect(renderHba(md5.hosts.find((h) => h.name === '10.0.0.11')!, 'postgres', peers)).toMatch(/host +replication +replicator +10\.0\.0\.0\/8 +md5/);
  });
});

describe('pgb_hba.conf', () => {
  const text = renderHba(host('10.0.0.11'), 'pgbouncer', peers);

  it('maps os and ident auth to peer and expands the admin alias', () => {
    const rules = lines(text).map((l) => l.split(/\s+/));
    expect(rules[0]).toEqual(['local', 'pgbouncer', 'postgres', 'peer']);
    expect(rules).toContainEqual(['host', 'all', 'dbuser_monitor', '0.0.0.0/0', 'reject']);
    expect(rules.at(-1)).toEqual(['host', 'all', 'all', '10.0.0.10/32', 'peer']);
  });

  it('refuses the replication database', async () => {
    const bad = await validateInventory(tmpRepo({ 'pigsty.yml': INVENTORY.replace('db: all, addr: admin, auth: os', 'db: replication, addr: admin, auth: os') }));
    expect(() => renderHba(bad.hosts.find((h) => h.name === '10.0.0.11')!, 'pgbouncer', peers)).toThrow(/replication is not allowed/);
  });
});
