/**
 * A module Corral does not build is never shown Synced or Healthy: its clusters are Unmanaged, with
 * the reason, in the daemon's status and metrics and in the CLI's plan. Every module Corral ships now
 * has a reconciler, so the module here is a descriptor without one, handed to the core only in this
 * test (and to the daemon's validation worker, through a module list of its own).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Daemon, type Revision, type RevisionSource } from '../../src/daemon/daemon.js';
import { CorralMetrics } from '../../src/daemon/metrics.js';
import { unmanagedReason, useModules, type ModuleDescriptor } from '../../src/engine/modules.js';
import { createTransport } from '../../src/transport/index.js';
import { packageRoot } from '../../src/util/package-root.js';
import { MODULES, MODULES_SOURCE } from '../../reconcilers/index.js';
import { testAuthority } from '../helpers/pki.js';
import { corral } from '../helpers/cli.js';
import { tmpRepo } from '../helpers/tmp.js';

const REASON = 'Corral has no DEMO module: nothing is installed or checked on these nodes';
const DEMO: ModuleDescriptor = { module: 'demo', membership: { identity: 'demo_seq', cluster: { name: 'demo' } }, after: ['node'], identities: [], checks: [], unmanaged: REASON };

// This machine on a port nothing listens on: a sync of the NODE cluster finds it unreachable at once.
const INVENTORY = `
all:
  children:
    demo: { hosts: { 127.0.0.1: { demo_seq: 1 } } }
  vars: { ansible_port: 1 }
`;

beforeAll(() => {
  // The worker validating the daemon's revisions loads the module list from a module URL: the built modules and DEMO.
  const list = join(mkdtempSync(join(tmpdir(), 'corral-modules-')), 'modules.mjs');
  const built = pathToFileURL(join(packageRoot, 'dist/reconcilers/index.js')).href;
  writeFileSync(list, `import { MODULES as BUILT } from ${JSON.stringify(built)};\nexport const MODULES = [...BUILT, ${JSON.stringify(DEMO)}];\n`);
  useModules([...MODULES, DEMO], pathToFileURL(list).href);
});
afterAll(() => useModules(MODULES, MODULES_SOURCE));

describe('modules without a reconciler', () => {
  it('are Unmanaged in the daemon: status, sync refused, metrics', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'corral-unmanaged-'));
    const revision: Revision = { revision: 'c'.repeat(40), author: 't', subject: 'demo', dir: tmpRepo({ 'pigsty.yml': INVENTORY }) };
    const source: RevisionSource = { describe: 'test', latest: () => Promise.resolve(revision), at: () => Promise.resolve(revision) };
    const metrics = new CorralMetrics();
    const transport = createTransport({ hostKeys: { knownHostsFile: join(stateDir, 'known_hosts'), mode: 'strict' }, connectTimeoutMs: 2000 });
    const d = new Daemon({ source, stateDir, transport, metrics, logger: pino({ level: 'silent' }), ssh: {}, pki: await testAuthority(), version: 'test' });
    await d.fetchAndSync('startup');
    const demo = d.status().clusters.find((c) => c.module === 'demo')!;
    expect(demo).toMatchObject({ name: 'demo', sync: 'Unmanaged', health: 'Unmanaged' });
    expect(demo.message).toBe(REASON);
    // The NODE cluster of the same host is managed: tried, and unreachable.
    expect(d.status().clusters.find((c) => c.module === 'node')!.sync).not.toBe('Unmanaged');
    const refused = d.sync('demo', 'api');
    expect(refused.accepted).toBe(false);
    expect(refused.message).toContain('Unmanaged');
    expect(d.suspend('demo')).toBe(false);
    expect(await metrics.registry.metrics()).toMatch(/corral_cluster_info\{cluster="demo",module="demo",sync_status="Unmanaged",health_status="Unmanaged"/);
    await d.stop();
    await transport.close();
  });

  it('are named in the CLI plan', async () => {
    const { stdout } = await corral('plan', tmpRepo({ 'pigsty.yml': INVENTORY }), '--pki-dir', mkdtempSync(join(tmpdir(), 'corral-pki-')));
    expect(stdout).toContain(`DEMO cluster demo is Unmanaged: ${REASON}`);
  });

  it('INFRA, once the example of one, is built now', () => {
    expect(unmanagedReason('infra')).toBeUndefined();
    expect(unmanagedReason('demo')).toBe(REASON);
  });
});
