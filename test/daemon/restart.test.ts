/**
 * A daemon started while its git server is down: the last good revision (state.json) is read again
 * from the source (the clone in the state dir) and put in force, so its clusters are known, synced
 * and drift-checked; the fetch failure is reported, and the daemon is not ready until a fetch works.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { Daemon, type Revision, type RevisionSource } from '../../src/daemon/daemon.js';
import { CorralMetrics } from '../../src/daemon/metrics.js';
import { FetchError } from '../../src/git/source.js';
import { createTransport } from '../../src/transport/index.js';
import { testAuthority } from '../helpers/pki.js';
import { tmpRepo } from '../helpers/tmp.js';

// This machine on a port nothing listens on: a sync finds it unreachable at once.
const INVENTORY = 'all:\n  children:\n    nodes: { hosts: { 127.0.0.1: {} }, vars: { node_cluster: nodes } }\n  vars: { ansible_port: 1 }\n';

describe('a daemon started while the git server is down', () => {
  it('puts the last good revision in force again, from the source, and reports the fetch failure', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'corral-restart-'));
    const good: Revision = { revision: 'a'.repeat(40), author: 't', subject: 'the fleet', dir: tmpRepo({ 'pigsty.yml': INVENTORY }) };
    writeFileSync(join(stateDir, 'state.json'), JSON.stringify({ lastGoodRevision: good.revision, suspended: {} }));
    let down = true;
    const asked: string[] = [];
    const source: RevisionSource = {
      describe: 'test',
      latest: () => (down ? Promise.reject(new FetchError('unreachable', 'http://git.invalid/fleet.git: cannot reach the server (ECONNREFUSED)')) : Promise.resolve(good)),
      at: (sha) => {
        asked.push(sha);
        return Promise.resolve(good);
      },
    };
    const transport = createTransport({ hostKeys: { knownHostsFile: join(stateDir, 'known_hosts'), mode: 'strict' }, connectTimeoutMs: 2000 });
    const d = new Daemon({ source, stateDir, transport, metrics: new CorralMetrics(), logger: pino({ level: 'silent' }), ssh: {}, pki: await testAuthority(), version: 'test' });
    try {
      await d.fetchAndSync('startup');
      const s = d.status();
      expect(asked).toEqual([good.revision]);
      expect(s.ready).toBe(false);
      expect(s.git).toMatchObject({ lastFetchOk: false, lastGoodRevision: good.revision, lastError: expect.stringContaining('ECONNREFUSED') as string });
      expect(s.clusters.map((c) => [c.name, c.revision, c.health])).toEqual([['nodes', good.revision, 'Unreachable']]);
      // Once: the next failing poll does not read it again.
      await d.fetchAndSync('poll');
      expect(asked).toHaveLength(1);
      down = false;
      await d.fetchAndSync('poll');
      expect(d.status().ready).toBe(true);
    } finally {
      await d.stop();
      await transport.close();
    }
  });
});
