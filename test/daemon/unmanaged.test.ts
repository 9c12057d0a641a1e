/**
 * A module Corral does not build (INFRA) is never shown Synced or Healthy: its clusters are
 * Unmanaged, with the reason, in the daemon's status and metrics and in the CLI's plan.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { Daemon, type Revision, type RevisionSource } from '../../src/daemon/daemon.js';
import { CorralMetrics } from '../../src/daemon/metrics.js';
import { createTransport } from '../../src/transport/index.js';
import { testAuthority } from '../helpers/pki.js';
import { corral } from '../helpers/cli.js';
import { tmpRepo } from '../helpers/tmp.js';

// This machine on a port nothing listens on: a sync of the NODE cluster finds it unreachable at once.
const INVENTORY = `
all:
  children:
    infra: { hosts: { 127.0.0.1: { infra_seq: 1 } } }
  vars: { ansible_port: 1 }
`;

describe('modules without a reconciler', () => {
  it('are Unmanaged in the daemon: status, sync refused, metrics', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'corral-unmanaged-'));
    const revision: Revision = { revision: 'c'.repeat(40), author: 't', subject: 'infra', dir: tmpRepo({ 'pigsty.yml': INVENTORY }) };
    const source: RevisionSource = { describe: 'test', latest: () => Promise.resolve(revision), at: () => Promise.resolve(revision) };
    const metrics = new CorralMetrics();
    const transport = createTransport({ hostKeys: { knownHostsFile: join(stateDir, 'known_hosts'), mode: 'strict' }, connectTimeoutMs: 2000 });
    const d = new Daemon({ source, stateDir, transport, metrics, logger: pino({ level: 'silent' }), ssh: {}, pki: await testAuthority(), version: 'test' });
    await d.fetchAndSync('startup');
    const infra = d.status().clusters.find((c) => c.module === 'infra')!;
    expect(infra).toMatchObject({ name: 'infra', sync: 'Unmanaged', health: 'Unmanaged' });
    expect(infra.message).toContain('no INFRA module');
    // The NODE cluster of the same host is managed: tried, and unreachable.
    expect(d.status().clusters.find((c) => c.module === 'node')!.sync).not.toBe('Unmanaged');
    const refused = d.sync('infra', 'api');
    expect(refused.accepted).toBe(false);
    expect(refused.message).toContain('Unmanaged');
    expect(d.suspend('infra')).toBe(false);
    expect(await metrics.registry.metrics()).toMatch(/corral_cluster_info\{cluster="infra",module="infra",sync_status="Unmanaged",health_status="Unmanaged"/);
    await d.stop();
    await transport.close();
  });

  it('are named in the CLI plan', async () => {
    const { stdout } = await corral('plan', tmpRepo({ 'pigsty.yml': INVENTORY }), '--pki-dir', mkdtempSync(join(tmpdir(), 'corral-pki-')));
    expect(stdout).toContain('INFRA cluster infra is Unmanaged: Corral has no INFRA module yet');
  });
});
