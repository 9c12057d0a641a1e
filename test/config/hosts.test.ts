import { describe, expect, it } from 'vitest';
import { validateInventory } from '../../src/config/validate.js';
import { tmpRepo } from '../helpers/tmp.js';

const INVENTORY = `
all:
  vars:
    pg_port: 5000
    node_tune: oltp
    admin_ip: 10.0.0.9
    node_etc_hosts: ['\${admin_ip} i.pigsty']
    team_note: 'ask \${admin_ip}'
    pg_default_hba_rules:
      - { user: '\${dbsu}', db: all, addr: local, auth: ident, title: dbsu local }
  children:
    parent:
      vars: { pg_port: 5001 }
      children:
        child:
          vars: { pg_port: 5002 }
          hosts: { 10.0.0.1: {}, 10.0.0.2: {} }
    a-group: { vars: { node_tune: olap }, hosts: { 10.0.0.1: {} } }
    b-group: { vars: { node_tune: tiny }, hosts: { 10.0.0.1: { pg_port: 5003 } } }
`;

describe('effective variables', async () => {
  const result = await validateInventory(tmpRepo({ 'pigsty.yml': INVENTORY }));
  const host = (name: string) => result.hosts.find((h) => h.name === name)!;

  it('host vars beat group vars', () => {
    expect(host('10.0.0.1').get('pg_port')).toBe(5003);
  });
  it('a child group beats its parent, and both beat all.vars', () => {
    expect(host('10.0.0.2').get('pg_port')).toBe(5002);
  });
  it('among groups of one depth, the later name wins, as in Ansible', () => {
    expect(host('10.0.0.1').get('node_tune')).toBe('tiny');
    expect(host('10.0.0.2').get('node_tune')).toBe('oltp');
  });
  it('falls back to the role default from the schema', () => {
    expect(host('10.0.0.2').has('pg_dbsu')).toBe(false);
    expect(host('10.0.0.2').get('pg_dbsu')).toBe('postgres');
  });
  it('fills Pigsty placeholders where Pigsty fills them, and nowhere else', () => {
    expect(host('10.0.0.1').get('node_etc_hosts')).toEqual(['10.0.0.9 i.pigsty']);
    expect((host('10.0.0.1').get('pg_default_hba_rules') as { user: string }[])[0]?.user).toBe('postgres');
    expect(host('10.0.0.1').get('team_note')).toBe('ask ${admin_ip}');
  });
  it('knows where each value was written', () => {
    expect(host('10.0.0.1').origin('pg_port')).toMatchObject({ file: 'pigsty.yml', line: 19, col: 73 });
    expect(host('10.0.0.2').origin('pg_port')).toMatchObject({ file: 'pigsty.yml', line: 16, col: 28 });
  });
  it('lists a host in every group that holds it, with their ancestors', () => {
    expect(host('10.0.0.1').groups).toEqual(['all', 'a-group', 'b-group', 'parent', 'child']);
  });
});

describe('module membership', async () => {
  const result = await validateInventory(tmpRepo({
    'pigsty.yml': `
all:
  children:
    etcd: { hosts: { 10.0.0.1: { etcd_seq: 1 } }, vars: { etcd_cluster: etcd } }
    shards:
      hosts:
        10.0.0.1: { pg_cluster: pg-a, pg_seq: 1, pg_role: primary }
        10.0.0.2: { pg_cluster: pg-b, pg_seq: 1, pg_role: primary }
`,
  }));
  it('comes from identity variables, not group names', () => {
    const names = result.clusters.map((c) => `${c.module}/${c.name}:${c.members.map((m) => m.name).join(',')}`);
    expect(names).toEqual(['node/nodes:10.0.0.1,10.0.0.2', 'etcd/etcd:10.0.0.1', 'pgsql/pg-a:10.0.0.1', 'pgsql/pg-b:10.0.0.2']);
    expect(result.problems).toEqual([]);
  });
});
