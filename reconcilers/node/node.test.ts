import { describe, expect, it } from 'vitest';
import { validateInventory } from '../../src/config/validate.js';
import { ASSUMED_FACTS } from '../../src/engine/facts.js';
import type { Resource } from '../../src/engine/resources/kind.js';
import { tmpRepo } from '../../test/helpers/tmp.js';
import { node, packageNames } from './index.js';
import { certificatesFor } from '../../test/helpers/pki.js';

const INVENTORY = `
all:
  children:
    pg-test:
      hosts:
        10.0.0.11: { pg_seq: 1, pg_role: primary }
        10.0.0.12: { pg_seq: 2, pg_role: replica, nodename: custom-name }
      vars: { pg_cluster: pg-test }
  vars:
    admin_ip: 10.0.0.1
    node_timezone: UTC
    node_repo_modules: lab,missing
    repo_upstream:
      - { name: lab, module: lab, releases: [12], arch: [x86_64], baseurl: { default: 'http://\${admin_ip}:8080/ ./' } }
      - { name: old, module: lab, releases: [11], arch: [x86_64], baseurl: { default: 'http://old/ \${distro_codename} main' } }
    node_default_packages: [ 'jq,curl', rsync ]
    node_sysctl_params: { net.core.somaxconn: 4096 }
    node_kernel_modules: []
    node_crontab: [ '00 01 * * * postgres /pg/bin/pg-backup full' ]
    node_admin_pk_list: [ 'ssh-ed25519 AAAATEST admin@example' ]
`;

describe('NODE reconciler', async () => {
  const v = await validateInventory(tmpRepo({ 'pigsty.yml': INVENTORY }));
  const cluster = v.clusters.find((c) => c.module === 'node')!;
  const out = node.desired({ cluster, hosts: v.hosts, facts: () => ASSUMED_FACTS, certificates: await certificatesFor(v), together: () => true });
  const on = (host: string): Resource[] => out.resources.get(host)!;
  const find = (host: string, kind: string, pred: (w: Record<string, unknown>) => boolean = () => true) =>
    on(host).find((r) => r.kind === kind && pred(r.want as Record<string, unknown>))?.want as Record<string, unknown> | undefined;

  it('validates', () => expect(v.problems).toEqual([]));

  it('names PostgreSQL nodes after their instance unless nodename is set', () => {
    expect(find('10.0.0.11', 'hostname')).toEqual({ name: 'pg-test-1' });
    expect(find('10.0.0.12', 'hostname')).toEqual({ name: 'custom-name' });
  });

  it('picks repo_upstream entries by module, release and arch, filling placeholders', () => {
    expect(find('10.0.0.11', 'apt-source')).toEqual({ name: 'lab', content: '# managed by corral: repo module lab\ndeb [trusted=yes] http://10.0.0.1:8080/ ./\n' });
    expect(find('10.0.0.11', 'apt-sources-only')).toEqual({ keep: ['lab'] });
  });

  it('installs the listed packages, split on commas, plus what enabled services need', () => {
    expect(find('10.0.0.11', 'packages')?.packages).toEqual(['jq', 'curl', 'rsync', 'openssh-server', 'chrony', 'prometheus-node-exporter', 'haproxy', 'cron', 'tzdata']);
    expect(packageNames(['a, b', '{{ jinja }}', 'c'])).toEqual(['a', 'b', 'c']);
  });

  it('orders packages after the sources and services after their config', () => {
    const ids = on('10.0.0.11').map((r) => r.kind);
    expect(ids.indexOf('apt-sources-only')).toBeLessThan(ids.indexOf('packages'));
    const chrony = on('10.0.0.11').find((r) => r.kind === 'service' && (r.want as { name: string }).name === 'chrony')!;
    expect(chrony.deps).toEqual(['packages:node', 'file:/etc/chrony/chrony.conf']);
  });

  it('writes /etc/crontab in full when node_crontab_overwrite (the default)', () => {
    expect(String(find('10.0.0.11', 'file', (w) => w.path === '/etc/crontab')?.content)).toContain('00 01 * * * postgres /pg/bin/pg-backup full');
  });

  it('creates the admin user with sudo checked by visudo and its keys in a managed block', () => {
    expect(find('10.0.0.11', 'user')).toEqual({ name: 'dba', uid: 88, group: 'admin', home: '/home/dba', shell: '/bin/bash' });
    expect(find('10.0.0.11', 'file', (w) => w.path === '/etc/sudoers.d/dba')).toMatchObject({ content: '%admin ALL=(ALL) NOPASSWD: ALL\n', mode: 0o440, validate: 'visudo -cf %s' });
    expect(find('10.0.0.11', 'block', (w) => String(w.path).endsWith('authorized_keys'))?.lines).toEqual(['ssh-ed25519 AAAATEST admin@example']);
  });

  it('passes only explicit node_exporter_options to Debian’s exporter', () => {
    expect(find('10.0.0.11', 'file', (w) => w.path === '/etc/default/prometheus-node-exporter')?.content).toBe('# managed by corral (node_exporter_port, node_exporter_options)\nARGS="--web.listen-address=:9100"\n');
  });

  it('leaves APT sources alone, and says so, when no repo_upstream entry matches', async () => {
    const v2 = await validateInventory(tmpRepo({ 'pigsty.yml': 'all:\n  hosts: { 10.0.0.5: {} }\n  vars: { node_repo_modules: local }\n' }));
    const o = node.desired({ cluster: v2.clusters[0]!, hosts: v2.hosts, facts: () => ASSUMED_FACTS, certificates: await certificatesFor(v2), together: () => true });
    expect(o.resources.get('10.0.0.5')!.some((r) => r.kind.startsWith('apt-source'))).toBe(false);
    expect(o.notes[0]?.message).toContain('APT sources are left as they are');
  });
});
