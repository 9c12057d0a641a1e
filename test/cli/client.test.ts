/**
 * The CLI verbs that ask a running daemon: status, diff, sync --wait, suspend, resume, history; the
 * daemon's HTTP face on loopback over a FakeApi, as a real `corral serve` would answer. And init.
 */
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { applyProgress } from '../../src/daemon/progress.js';
import type { ClusterStatus, HistoryEntry, HostProgress, PlanRecord, Trigger } from '../../src/daemon/types.js';
import { statusTable } from '../../src/cli/client.js';
import { TEMPLATES } from '../../src/cli/init.js';
import { change, FakeApi, planRecord, pgTestPlan } from '../daemon/http/fake-api.js';
import { harness, TOKEN } from '../daemon/http/helpers.js';
import { corral } from '../helpers/cli.js';
import { tmpRepo } from '../helpers/tmp.js';

/** A FakeApi whose syncs go through the states a real one goes through, one step per read of the cluster. */
class SyncingApi extends FakeApi {
  steps: ((c: ClusterStatus) => void)[] = [];
  ends: 'Synced' | 'Failed' = 'Synced';
  runs = 0;

  override sync(name: string, trigger: Trigger): { accepted: boolean; message: string } {
    const r = super.sync(name, trigger);
    const c = this.clusters.find((x) => x.name === name)!;
    c.sync = 'Syncing';
    c.progress = { phase: 'planning', hosts: [] };
    const n = ++this.runs;
    const host = (h: string, applied: number, current?: string): HostProgress => ({ host: h, planned: 2, applied, failed: 0, skipped: 0, ...(current ? { current } : {}) });
    this.steps = [
      (s) => (s.progress = { phase: 'applying', hosts: [host('10.213.0.11', 0, 'file:/etc/pgbouncer/pgbouncer.ini'), host('10.213.0.12', 0)] }),
      (s) => (s.progress = { phase: 'applying', hosts: [host('10.213.0.11', 2), host('10.213.0.12', 1, 'sysctl:vm.swappiness')] }),
      (s) => (s.progress = { phase: 'verifying', hosts: [host('10.213.0.11', 2), host('10.213.0.12', 2)] }),
      (s) => {
        delete s.progress;
        s.sync = this.ends;
        s.message = this.ends === 'Synced' ? 'synced to a0b1c2d3e4f5' : 'file:/etc/x on 10.213.0.12 failed: exit 1';
        const rec: PlanRecord = planRecord(`plan-${name}-sync-${n}`, name, { ...pgTestPlan(), changes: [] }, '2026-11-25T19:40:00.000Z');
        this.plans.set(rec.id, rec);
        s.lastPlanId = rec.id;
        const entry: HistoryEntry = {
          id: `h-sync-${n}`, cluster: name, revision: rec.revision, author: 'Ada', subject: 'x', startedAt: '2026-11-25T19:39:00.000Z', finishedAt: '2026-11-25T19:40:00.000Z',
          result: this.ends === 'Synced' ? 'Succeeded' : 'Failed', trigger: 'api', changes: { planned: 4, applied: this.ends === 'Synced' ? 4 : 3, failed: this.ends === 'Synced' ? 0 : 1, skipped: 0 },
        };
        this.history.set(name, [entry, ...(this.history.get(name) ?? [])]);
      },
    ];
    return r;
  }

  override cluster(name: string): ReturnType<FakeApi['cluster']> {
    const c = this.clusters.find((x) => x.name === name);
    const step = this.steps.shift();
    if (c && step) step(c);
    return super.cluster(name);
  }
}

const api = new SyncingApi();
const h = harness({ token: TOKEN, api });
let server = '';
const savedToken = process.env.CORRAL_API_TOKEN;

beforeAll(async () => {
  await h.app.listen({ host: '127.0.0.1', port: 0 });
  const address = h.app.server.address();
  server = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
});
afterAll(async () => {
  await h.app.close();
});
afterEach(() => {
  if (savedToken === undefined) delete process.env.CORRAL_API_TOKEN;
  else process.env.CORRAL_API_TOKEN = savedToken;
});

describe('corral status', () => {
  it('lists every cluster: sync, health, revision, drift, message', async () => {
    const r = await corral('status', '--server', server);
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe('corral 0.1.0-test: https://git.example.test/ops/fleet.git, revision a0b1c2d3e4f5');
    expect(lines[1]).toMatch(/^CLUSTER\s+MODULE\s+SYNC\s+HEALTH\s+REVISION\s+DRIFT\s+MESSAGE$/);
    expect(lines).toContainEqual(expect.stringMatching(/^pg-test\s+pgsql\s+OutOfSync\s+Degraded\s+3f1c2a9b8d7e\s+3\s+3 changes to apply \(manual sync\)$/));
    expect(lines).toContainEqual(expect.stringMatching(/^redis-test\s+redis\s+Failed\s+Unreachable/));
  });

  it('one cluster in detail, and JSON', async () => {
    const r = await corral('status', 'pg-test', '--server', server);
    expect(r.stdout).toContain('pg-test (pgsql): OutOfSync, Degraded\n  revision   3f1c2a9b8d7e\n  drift      3 changes (plan plan-pg-test-2: corral diff pg-test)');
    expect(r.stdout).toContain('  policy     sync manual, prune off, selfHeal on');
    const json = JSON.parse((await corral('status', 'etcd', '--server', server, '--format', 'json')).stdout) as ClusterStatus;
    expect(json).toMatchObject({ name: 'etcd', sync: 'Synced', health: 'Healthy' });
  });

  it('a cluster that does not exist, and a daemon that does not answer', async () => {
    const missing = await corral('status', 'nope', '--server', server);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe('nope: no cluster named "nope" (HTTP 404)\n');
    const down = await corral('status', '--server', 'http://127.0.0.1:1');
    expect(down.code).toBe(2);
    expect(down.stderr).toContain('cannot reach corral at http://127.0.0.1:1');
  });

  it('pads columns to the widest cell', () => {
    const table = statusTable([{ name: 'a-very-long-cluster-name', module: 'node', sync: 'Synced', health: 'Healthy', driftChanges: 0, policy: { sync: 'auto', prune: false, selfHeal: false, suspend: false, driftIntervalSeconds: 60 }, hosts: [] }]);
    expect(table.split('\n')[1]).toBe('a-very-long-cluster-name  node    Synced  Healthy  -         0');
  });
});

describe('corral diff', () => {
  it("prints the daemon's current plan of the cluster", async () => {
    const r = await corral('diff', 'pg-test', '--server', server);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Plan for revision a0b1c2d3e4f5');
    expect(r.stdout).toContain('~ file:/etc/pgbouncer/pgbouncer.ini');
    expect(r.stdout).toContain('-pool_mode = session\n');
    expect(r.stdout).toContain('password: changed (redacted)');
    const none = await corral('diff', 'redis-test', '--server', server);
    expect(none.code).toBe(1);
    expect(none.stderr).toBe('redis-test: no plan yet (Failed: 10.213.0.13: connect timed out after 10 s)\n');
  });
});

describe('corral suspend and resume', () => {
  it('need the token; with it, they change the cluster', async () => {
    delete process.env.CORRAL_API_TOKEN;
    const refused = await corral('suspend', 'etcd', '--server', server);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('(HTTP 401) (the token: CORRAL_API_TOKEN)');
    expect(api.calls.suspend).toEqual([]);

    process.env.CORRAL_API_TOKEN = TOKEN;
    expect(await corral('suspend', 'etcd', '--server', server)).toEqual({ code: 0, stdout: 'etcd: suspended: nothing is planned or applied until corral resume\n', stderr: '' });
    expect(api.clusters.find((c) => c.name === 'etcd')?.policy.suspend).toBe(true);
    expect((await corral('resume', 'etcd', '--server', server)).stdout).toBe('etcd: resumed\n');
    expect(api.calls).toMatchObject({ suspend: ['etcd'], resume: ['etcd'] });
  });
});

describe('corral sync --wait', () => {
  it('follows the sync host by host and exits 0 when the cluster is Synced', async () => {
    process.env.CORRAL_API_TOKEN = TOKEN;
    api.ends = 'Synced';
    const r = await corral('sync', 'pg-test', '--wait', '--server', server);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      [
        'pg-test: sync of pg-test queued',
        'pg-test: applying 4 changes on 2 hosts',
        '  10.213.0.11  0/2 applied (applying file:/etc/pgbouncer/pgbouncer.ini)',
        '  10.213.0.12  0/2 applied',
        '  10.213.0.11  2/2 applied',
        '  10.213.0.12  1/2 applied (applying sysctl:vm.swappiness)',
        'pg-test: verifying',
        '  10.213.0.12  2/2 applied',
        'pg-test: Synced, Degraded (4/4 applied): synced to a0b1c2d3e4f5',
        '',
      ].join('\n'),
    );
  });

  it('exits 1 when the sync fails, saying why', async () => {
    process.env.CORRAL_API_TOKEN = TOKEN;
    api.ends = 'Failed';
    const r = await corral('sync', 'pg-test', '--wait', '--server', server);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('pg-test: Failed, Degraded (3/4 applied, 1 failed): file:/etc/x on 10.213.0.12 failed: exit 1\n');
  });

  it('without --wait, asks and returns; a refused sync exits 1', async () => {
    process.env.CORRAL_API_TOKEN = TOKEN;
    api.busy.add('etcd');
    const r = await corral('sync', 'etcd', '--server', server);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('etcd: a sync of etcd is already running (HTTP 409)\n');
  });
});

describe("the daemon's sync progress", () => {
  it('counts per host from the apply events, and says verifying once every change is done', () => {
    const plan = { ...pgTestPlan(), changes: [change({ host: 'a', resource: 'file:/x' }), change({ host: 'a', resource: 'file:/y' }), change({ host: 'b', resource: 'file:/z' })] };
    const { progress, onEvent } = applyProgress(plan);
    expect(progress).toEqual({ phase: 'applying', hosts: [{ host: 'a', planned: 2, applied: 0, failed: 0, skipped: 0 }, { host: 'b', planned: 1, applied: 0, failed: 0, skipped: 0 }] });
    const [x, y, z] = plan.changes as [typeof plan.changes[0], typeof plan.changes[0], typeof plan.changes[0]];
    const result = (c: typeof x, status: 'applied' | 'failed' | 'skipped') => ({ id: c.id, host: c.host, resource: c.resource, status, durationMs: 1 });
    onEvent({ type: 'start', change: x });
    expect(progress.hosts[0]).toMatchObject({ current: 'file:/x', applied: 0 });
    onEvent({ type: 'done', change: x, result: result(x, 'applied') });
    onEvent({ type: 'done', change: z, result: result(z, 'failed') });
    expect(progress.hosts[0]).toEqual({ host: 'a', planned: 2, applied: 1, failed: 0, skipped: 0 });
    expect(progress.phase).toBe('applying');
    onEvent({ type: 'done', change: y, result: result(y, 'skipped') });
    expect(progress).toMatchObject({ phase: 'verifying', hosts: [{ applied: 1, skipped: 1 }, { failed: 1 }] });
  });
});

describe('corral init', () => {
  const made: string[] = [];
  for (const name of Object.keys(TEMPLATES)) {
    it(`--template ${name} writes a repository that validates at once`, async () => {
      const dir = join(mkdtempSync(join(tmpdir(), 'corral-init-')), 'fleet');
      made.push(dir);
      const r = await corral('init', dir, '--template', name);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`a new config repository from the ${name} template`);
      const v = await corral('validate', dir);
      expect(v.stdout).toMatch(/^✓ .*0 errors, 0 warnings\n$/m);
      expect(v.code).toBe(0);
    });
  }

  it('refuses a folder that is not empty, and an unknown template', async () => {
    const dir = tmpRepo({ 'pigsty.yml': 'all: {}\n' });
    const r = await corral('init', dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('is not empty');
    expect(readdirSync(dir)).toEqual(['pigsty.yml']);
    expect((await corral('init', join(dir, 'new'), '--template', 'nope')).code).toBe(2);
  });
});
