// A drift check of a converged node costs one exec: the daemon keeps each host's facts from the sync
// before, so it compiles for the node as it is and observes it once (not once for assumed facts and
// again for the real ones). A real sshd on loopback, the real SSH transport counting execs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Daemon } from '../../src/daemon/daemon.js';
import { CorralMetrics } from '../../src/daemon/metrics.js';
import { folderRevisions } from '../../src/daemon/sources.js';
import { createTransport } from '../../src/transport/index.js';
import { ensureTestUsers, startSshd, SUDO_USER, type Sshd } from '../helpers/sshd.js';
import { testAuthority } from '../helpers/pki.js';
import { tmpRepo } from '../helpers/tmp.js';
import { until } from '../helpers/until.js';

/** A NODE cluster that asks nothing of this machine: every sync of it is a no-op. */
const quiet = (port: number): string =>
  `all:\n  children:\n    nodes:\n      hosts:\n        127.0.0.1: { ansible_port: ${port}, ansible_user: ${SUDO_USER} }\n  vars:\n` +
  ['nodename_overwrite: false', 'node_write_etc_hosts: false', "node_repo_modules: ''", 'node_default_packages: []', 'node_packages: []', 'node_sysctl_params: {}', 'node_kernel_modules: []', "node_data: ''", 'node_admin_enabled: false', 'node_ntp_enabled: false', 'node_exporter_enabled: false', 'haproxy_enabled: false'].map((l) => `    ${l}\n`).join('');

describe("the daemon keeps hosts' facts between syncs", () => {
  let sshd: Sshd;
  beforeAll(async () => {
    ensureTestUsers();
    sshd = await startSshd();
  }, 300_000);
  afterAll(() => sshd?.dispose());

  it('observes a converged node once per drift check', async () => {
    const dir = tmpRepo({ 'pigsty.yml': quiet(sshd.port), 'corral.yml': 'sync:\n  defaults: { sync: auto, driftInterval: 1h }\n' });
    const stateDir = mkdtempSync(join(tmpdir(), 'corral-facts-'));
    const knownHosts = join(stateDir, 'known_hosts');
    writeFileSync(knownHosts, sshd.hostKeyLines.join('\n') + '\n');
    const transport = createTransport({ hostKeys: { knownHostsFile: knownHosts, mode: 'strict' } });
    const d = new Daemon({ source: folderRevisions(dir), stateDir, transport, metrics: new CorralMetrics(), logger: pino({ level: 'silent' }), ssh: { privateKeyFile: sshd.clientKeyFile }, pki: await testAuthority(), version: 'test' });
    try {
      await d.start();
      const first = d.status().clusters[0]!;
      expect(first, first.message).toMatchObject({ name: 'nodes', sync: 'Synced' });
      const afterFirst = transport.stats().execs['127.0.0.1'] ?? 0;
      for (let i = 0; i < 3; i++) {
        const { lastPlanId: planId, checkedAt } = d.status().clusters[0]!;
        expect(d.sync('nodes', 'api').accepted).toBe(true);
        await until('the next sync', () => (d.status().clusters[0]!.lastPlanId !== planId && d.status().clusters[0]!.sync === 'Synced' ? true : undefined), 30_000, 20);
        expect(Date.parse(d.status().clusters[0]!.checkedAt!), 'each check says when it observed').toBeGreaterThan(Date.parse(checkedAt!));
      }
      expect(transport.stats().execs['127.0.0.1']! - afterFirst, 'three drift checks, one exec each').toBe(3);
    } finally {
      await d.stop();
      await transport.close();
    }
  }, 120_000);
});
