/**
 * The engine on real nodes: three lab nodes from bare to converged, drift found, a node down,
 * a wrong host key, a non-root user with sudo, an apply killed midway.
 */
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { applyKilledAt, corral, lab, useBareLab, LAB_KNOWN_HOSTS, onNode } from '../helpers/lab.js';

const FLEET = join(import.meta.dirname, '../fixtures/lab-fleet');


describe('NODE on three lab nodes', () => {
  useBareLab();

  it('takes bare nodes to the inventory in one apply, and the next plan is empty', async () => {
    const first = await corral('plan', FLEET, '--detailed-exitcode');
    expect(first.code).toBe(2);
    // The lab writes its own source file; Corral takes it over, and moves nothing else away.
    expect(first.out).toContain('~ apt-source:lab');
    expect(first.out).toContain('+ file:/etc/chrony/chrony.conf');
    const applied = await corral('apply', FLEET, '--yes');
    expect(applied.out).toContain('the nodes converged');
    expect(applied.code).toBe(0);
    const again = await corral('plan', FLEET, '--detailed-exitcode');
    expect(again.out).toContain('No changes');
    expect(again.code).toBe(0);
    expect((await onNode('n2', 'hostname')).trim()).toBe('lab-two');
    expect((await onNode('n2', 'cat /proc/sys/net/core/somaxconn')).trim()).toBe('4096');
    expect(await onNode('n2', 'systemctl is-active prometheus-node-exporter')).toContain('active');
    // What a container cannot take is said per resource, and the rest converged.
    expect(again.out).toMatch(/! sysctl:vm\.swappiness: .*read-only/);
    expect(again.out).toMatch(/! service:chrony: systemd skips/);
  }, 10 * 60_000);

  it('a second apply changes nothing and says so', async () => {
    const r = await corral('apply', FLEET, '--yes');
    expect(r.code).toBe(0);
    expect(r.out).toContain('Nothing to apply: the nodes already match.');
  }, 120_000);

  it('shows exactly the drift made by hand', async () => {
    await onNode('n1', 'hostnamectl set-hostname drifted; sysctl -w net.core.somaxconn=128; echo "# edited" >> /etc/chrony/chrony.conf');
    const r = await corral('plan', FLEET, '--format', 'json');
    const plan = JSON.parse(r.out) as { changes: { host: string; resource: string; action: string }[] };
    expect(plan.changes.map((c) => `${c.host} ${c.action} ${c.resource}`).sort()).toEqual(
      ['10.213.0.11 update file:/etc/chrony/chrony.conf', '10.213.0.11 update hostname', '10.213.0.11 update sysctl:net.core.somaxconn'].sort(),
    );
    expect((await corral('apply', FLEET, '--yes')).code).toBe(0);
  }, 120_000);

  it('a stopped node gets a clear error while the others converge', async () => {
    await lab('stop-node', 'n3');
    try {
      await onNode('n1', 'sysctl -w net.core.somaxconn=256');
      const r = await corral('apply', FLEET, '--yes');
      expect(r.code).toBe(1);
      expect(r.out).toMatch(/10\.213\.0\.13: unreachable: .*(no SSH handshake|timed out|EHOSTUNREACH)/i);
      expect(r.out).toContain('[10.213.0.11] ✓ sysctl:net.core.somaxconn applied');
      expect((await onNode('n1', 'cat /proc/sys/net/core/somaxconn')).trim()).toBe('4096');
    } finally {
      await lab('start-node', 'n3');
    }
  }, 240_000);

  it('refuses a host whose key does not match known_hosts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-kh-'));
    const wrong = join(dir, 'known_hosts');
    const lines = readFileSync(LAB_KNOWN_HOSTS, 'utf8').split('\n');
    // n1 presents its own key; known_hosts claims n2's key for n1's address.
    const n2key = lines.find((l) => l.startsWith('10.213.0.12'))!.split(' ').slice(1).join(' ');
    writeFileSync(wrong, lines.map((l) => (l.startsWith('10.213.0.11') ? `10.213.0.11 ${n2key}` : l)).join('\n'));
    await onNode('n1', 'sysctl -w net.core.somaxconn=300');
    const r = await corral('apply', FLEET, '--yes', '--known-hosts', wrong);
    expect(r.out).toMatch(/10\.213\.0\.11: unreachable: .*host key/i);
    expect((await onNode('n1', 'cat /proc/sys/net/core/somaxconn')).trim()).toBe('300');
    expect((await corral('apply', FLEET, '--yes')).code).toBe(0);
  }, 120_000);

  it('works as a non-root user through sudo', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-admin-'));
    copyFileSync(join(FLEET, 'pigsty.yml'), join(dir, 'pigsty.yml'));
    writeFileSync(join(dir, 'corral.yml'), 'ssh:\n  user: admin\n');
    await onNode('n2', 'sysctl -w net.core.somaxconn=512');
    const r = await corral('apply', dir, '--yes');
    expect(r.out).toContain('[10.213.0.12] ✓ sysctl:net.core.somaxconn applied');
    expect(r.code).toBe(0);
  }, 120_000);

  it('an apply killed midway leaves nodes the next apply converges', async () => {
    await Promise.all(['n1', 'n2', 'n3'].map((n) => onNode(n, 'rm -f /etc/chrony/chrony.conf /etc/default/prometheus-node-exporter; hostnamectl set-hostname was-killed')));
    await applyKilledAt(FLEET, '✓');
    const r = await corral('apply', FLEET, '--yes');
    expect(r.out).toContain('the nodes converged');
    expect(r.code).toBe(0);
    expect((await corral('plan', FLEET, '--detailed-exitcode')).code).toBe(0);
  }, 240_000);
});
