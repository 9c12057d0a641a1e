/**
 * ETCD on three bare lab nodes: a 3-member cluster in one apply, a member removed (destructive,
 * explicit in the CLI) and added back, with etcd's own view checked by etcdctl on the nodes.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { lab, labEnv, onNode } from '../helpers/lab.js';

const CLI = join(import.meta.dirname, '../../bin/corral.js');
const THREE = join(import.meta.dirname, '../fixtures/lab-etcd');
// The same inventory with n3 left as a plain node: no longer an etcd member.
const TWO = mkdtempSync(join(tmpdir(), 'corral-etcd-'));
const three = readFileSync(join(THREE, 'pigsty.yml'), 'utf8');
writeFileSync(join(TWO, 'pigsty.yml'), three.replace('        10.213.0.13: { etcd_seq: 3 }\n', '').replace('  vars:\n    admin_ip', '    nodes:\n      hosts: { 10.213.0.13: {} }\n  vars:\n    admin_ip'));

/** The built CLI, as an operator runs it. */
function corral(...argv: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...argv], { env: { ...process.env, ...labEnv }, maxBuffer: 16 * 1024 * 1024 }, (e, stdout, stderr) => {
      resolve({ code: e ? Number(e.code ?? 1) : 0, out: stdout + stderr });
    });
  });
}

/** etcdctl on a node over https, as root (the password from the node's etcd.pass), or with other credentials. */
const etcdctl = (node: string, args: string, login = '--cert=/etc/etcd/server.crt --key=/etc/etcd/server.key --user="root:$(cat /etc/etcd/etcd.pass)"'): Promise<string> =>
  onNode(node, `ETCDCTL_API=3 etcdctl --endpoints=https://127.0.0.1:2379 --cacert=/etc/etcd/ca.crt --command-timeout=3s ${login} ${args} 2>&1 || true`);
/** `name peerURL` of each started member, sorted. */
const members = async (node: string): Promise<string[]> =>
  (await etcdctl(node, 'member list')).trim().split('\n').map((l) => l.split(', ')).map((f) => `${f[1]} ${f[2]} ${f[3]}`).sort();

describe('ETCD on three lab nodes', () => {
  beforeAll(async () => {
    await lab('down', '--wipe');
    await lab('up', '3');
  }, 5 * 60_000);

  it('builds a healthy 3-member cluster from bare nodes in one apply; the next plan is empty', async () => {
    const applied = await corral('apply', THREE, '--yes', '--prune');
    expect(applied.out).toContain('the nodes converged');
    expect(applied.code).toBe(0);
    const again = await corral('plan', THREE, '--detailed-exitcode');
    expect(again.out).toContain('No changes');
    expect(again.code).toBe(0);
    // TLS and RBAC: no answer over plain http, no key without credentials, no server trusted without Corral's CA.
    expect(await onNode('n1', 'curl -s -m 3 http://10.213.0.11:2379/version || echo refused')).not.toContain('etcdserver');
    await etcdctl('n1', 'put corral-e2e written-on-n1');
    expect(await etcdctl('n1', 'get corral-e2e', '--cert=/etc/etcd/server.crt --key=/etc/etcd/server.key')).toContain('user name is empty');
    // Without a certificate of Corral's CA, no client gets past TLS (etcd asks every client for one, as in Pigsty).
    expect(await etcdctl('n1', 'get corral-e2e', '--user="root:$(cat /etc/etcd/etcd.pass)"')).not.toContain('written-on-n1');
    expect(await onNode('n1', 'ETCDCTL_API=3 etcdctl --endpoints=https://10.213.0.11:2379 --dial-timeout=2s --command-timeout=3s endpoint health 2>&1 || true')).toContain('is unhealthy');
    expect(await onNode('n1', 'openssl x509 -noout -ext subjectAltName -in /etc/etcd/server.crt')).toMatch(/DNS:localhost, DNS:etcd-1, IP Address:127.0.0.1, IP Address:10.213.0.11/);
    expect(await members('n2')).toEqual(['started etcd-1 https://10.213.0.11:2380', 'started etcd-2 https://10.213.0.12:2380', 'started etcd-3 https://10.213.0.13:2380']);
    expect((await etcdctl('n1', 'endpoint health --cluster')).match(/ is healthy/g)).toHaveLength(3);
    // One cluster: a key written on n1 is read on n3; the data lives where Pigsty keeps it.
    expect(await etcdctl('n3', 'get --print-value-only corral-e2e')).toBe('written-on-n1\n');
    expect(await onNode('n3', 'test -d /data/etcd/member && systemctl show -p ExecStart etcd')).toContain('--config-file /etc/etcd/etcd.conf');
  }, 5 * 60_000);

  it('removes a member the inventory drops only as a destructive change, which an explicit apply makes', async () => {
    const planned = JSON.parse((await corral('plan', TWO, '--format', 'json')).out) as { changes: { host: string; resource: string; destructive: boolean }[] };
    // Besides the removal, only etcdctl's endpoint list in the login profile changes: no member restarts.
    expect(planned.changes.map((c) => `${c.host} ${c.resource} ${c.destructive}`)).toEqual(['10.213.0.11 file:/etc/profile.d/etcdctl.sh false', '10.213.0.11 etcd-cluster:etcd true', '10.213.0.12 file:/etc/profile.d/etcdctl.sh false']);
    const refused = await corral('apply', TWO, '--yes');
    expect(refused.code).toBe(1);
    expect(refused.out).toContain('not applied: the plan removes etcd-cluster:etcd on 10.213.0.11; pass --prune to allow it');
    expect(await members('n1')).toHaveLength(3);
    const applied = await corral('apply', TWO, '--yes', '--prune');
    expect(applied.code).toBe(0);
    expect(await members('n1')).toEqual(['started etcd-1 https://10.213.0.11:2380', 'started etcd-2 https://10.213.0.12:2380']);
    expect((await etcdctl('n1', 'endpoint health --cluster')).match(/ is healthy/g)).toHaveLength(2);
    expect((await corral('plan', TWO, '--detailed-exitcode')).code).toBe(0);
  }, 3 * 60_000);

  it('adds it back: its old data moved aside, member add, started as existing; 3 healthy members', async () => {
    const planned = JSON.parse((await corral('plan', THREE, '--format', 'json')).out) as { changes: { host: string; resource: string; destructive: boolean }[] };
    expect(planned.changes.filter((c) => c.resource === 'etcd-member:etcd-3')).toEqual([expect.objectContaining({ host: '10.213.0.13', destructive: true })]);
    const applied = await corral('apply', THREE, '--yes', '--prune');
    expect(applied.out).toContain('the nodes converged');
    expect(applied.code).toBe(0);
    expect(await members('n3')).toEqual(['started etcd-1 https://10.213.0.11:2380', 'started etcd-2 https://10.213.0.12:2380', 'started etcd-3 https://10.213.0.13:2380']);
    expect((await etcdctl('n2', 'endpoint health --cluster')).match(/ is healthy/g)).toHaveLength(3);
    expect(await etcdctl('n3', 'get --print-value-only corral-e2e')).toBe('written-on-n1\n');
    expect(await onNode('n3', 'ls -d /data/etcd.removed-*')).toMatch(/\/data\/etcd\.removed-\d{8}T\d{6}/);
    expect((await corral('plan', THREE, '--detailed-exitcode')).code).toBe(0);
  }, 3 * 60_000);
});
