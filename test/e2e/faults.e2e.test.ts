/**
 * The fault suite on the lab: a real `corral serve` keeps pg-test (PostgreSQL with Patroni on three
 * nodes, etcd on the same nodes) converged while faults hit its applies. Each run commits a change
 * (a database and a parameter), waits until the daemon has applied K changes of it, injects the
 * fault, and then checks what the issue asks: the nodes converge (every cluster Synced at the new head and
 * Healthy, pg-test's database there), the state dir is whole (every JSON file parses, every history entry
 * from before is still there), nothing is lost (the canary rows written at the start), and the
 * daemon runs. One table: fault, injection points, runs, converged, lost.
 * The lab starts from a snapshot of converged nodes (labFrom): installing is not what this tests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterStatus, HistoryEntry } from '../../src/daemon/types.js';
import { startGitServer, type GitServer, type TestRepo } from '../helpers/git-server.js';
import { corral, lab, labEnv, labFrom, onNode } from '../helpers/lab.js';
import { freePort } from '../helpers/ports.js';
import { until } from '../helpers/until.js';
import { faultTable } from '../faults/table.js';

const ROOT = join(import.meta.dirname, '../..');
const FIXTURE = readFileSync(join(ROOT, 'test/fixtures/lab-pg/pigsty.yml'), 'utf8');
const SETTINGS = 'sync:\n  pollInterval: 1s\n  defaults: { sync: auto, selfHeal: true, driftInterval: 10s }\n';
const PASSWORD = 'Test.Lab.Pass';
const CANARY_ROWS = 100;
/** CORRAL_FAULTS=full kills the daemon after every change of the apply; the short form (CI) after the first, a middle one and the last. */
const FULL = process.env.CORRAL_FAULTS === 'full';

/** The inventory of run `i`: one more database and another work_mem, so each run has changes to apply. */
function inventoryOf(i: number): string {
  const item = (name: string): string => `          - { name: ${name}, owner: dbuser_test }`;
  const dbs = Array.from({ length: i }, (_, k) => item(`fault_${k + 1}`)).join('\n');
  return FIXTURE.replace(item('test'), `${item('test')}\n${dbs}`).replace('work_mem: 8MB', `work_mem: ${8 + i}MB`);
}

function psql(database: string, query: string): Promise<string> {
  // HAProxy's 5433 on any node leads to the primary, wherever it is now.
  return new Promise((resolve, reject) => {
    const p = spawn('psql', [`host=10.213.0.11 port=5433 dbname=${database} user=dbuser_test connect_timeout=3`, '-AtXq', '-c', query], { env: { ...process.env, PGPASSWORD: PASSWORD } });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('exit', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(err.trim()))));
  });
}

/** A `corral serve` whose JSON log lines are read as they come: the apply's `change done` lines are the injection points. */
class Served {
  child!: ChildProcess;
  logs = '';
  private waiters: ((line: Record<string, unknown>) => void)[] = [];

  constructor(
    readonly stateDir: string,
    readonly port: number,
    private readonly repoUrl: string,
  ) {}

  start(): void {
    this.child = spawn(process.execPath, [join(ROOT, 'bin/corral.js'), 'serve', '--repo', this.repoUrl, '--state-dir', this.stateDir, '--listen', `127.0.0.1:${this.port}`, '--log-level', 'debug'], {
      env: { ...process.env, ...labEnv, CORRAL_LOG_FORMAT: 'json' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let rest = '';
    this.child.stdout!.on('data', (d: Buffer) => {
      const text = rest + d.toString();
      const lines = text.split('\n');
      rest = lines.pop()!;
      for (const line of lines) {
        if (!line.includes('"change done"') && !line.includes('"sync finished"')) continue;
        this.logs += line + '\n';
        const parsed = JSON.parse(line) as Record<string, unknown>;
        for (const w of [...this.waiters]) w(parsed);
      }
    });
    this.child.stderr!.on('data', (d: Buffer) => (this.logs += d.toString()));
  }

  running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  async kill9(): Promise<void> {
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGKILL');
    await exited;
  }

  /** Resolves when pg-test's apply has done `k` changes from now (true), or its sync ended first (false). */
  afterChanges(k: number): Promise<boolean> {
    let done = 0;
    return new Promise((resolve) => {
      const waiter = (line: Record<string, unknown>): void => {
        if (line.cluster !== 'pg-test') return;
        if (line.msg === 'change done') done++;
        if (done < k && line.msg !== 'sync finished') return;
        this.waiters = this.waiters.filter((w) => w !== waiter);
        resolve(done >= k);
      };
      this.waiters.push(waiter);
    });
  }

  async clusters(): Promise<ClusterStatus[] | undefined> {
    const r = await fetch(`http://127.0.0.1:${this.port}/api/clusters`, { signal: AbortSignal.timeout(3000) }).catch(() => undefined);
    return r?.ok ? ((await r.json()) as ClusterStatus[]) : undefined;
  }
}

/** Every JSON file of the state dir parses; the history entries given are all still there. */
function stateWhole(stateDir: string, before: Set<string>): boolean {
  const files = [...readdirSync(stateDir).filter((f) => f.endsWith('.json')), ...['history', 'plans'].flatMap((d) => readdirSync(join(stateDir, d)).map((f) => `${d}/${f}`))];
  try {
    for (const f of files) JSON.parse(readFileSync(join(stateDir, f), 'utf8'));
  } catch {
    return false;
  }
  return [...before].every((id) => historyIds(stateDir).has(id));
}

function historyIds(stateDir: string): Set<string> {
  const dir = join(stateDir, 'history');
  return new Set(readdirSync(dir).flatMap((f) => (JSON.parse(readFileSync(join(dir, f), 'utf8')) as HistoryEntry[]).map((e) => e.id)));
}

describe('faults during PGSQL applies, with a real daemon on the lab', () => {
  let server: GitServer;
  let repo: TestRepo;
  let daemon: Served;
  let run = 0;
  let plannedChanges = 0;
  /** How many clusters the daemon lists once it runs the fixture. */
  let clusters = 0;
  const table = faultTable('lab');

  beforeAll(async () => {
    const from = await labFrom('pg-test', 3, async () => {
      const { code, out } = await corral('apply', join(ROOT, 'test/fixtures/lab-pg'), '--yes');
      expect(code, out).toBe(0);
    });
    console.log(`faults: the lab was ${from} (snapshot pg-test)`);
    server = await startGitServer();
    repo = await server.createRepo('fleet');
    await repo.commit({ 'pigsty.yml': FIXTURE, 'corral.yml': SETTINGS }, 'pg-test');
    await repo.push();
    daemon = new Served(mkdtempSync(join(tmpdir(), 'corral-faults-')), await freePort(), server.repoUrl('fleet'));
    daemon.start();
    const head = await repo.head();
    await until('every cluster synced', async () => {
      const all = await daemon.clusters();
      return all?.length && all.every((c) => c.sync === 'Synced' && c.revision === head && c.health === 'Healthy') ? all : undefined;
    }, 10 * 60_000, 500).then((all) => (clusters = all.length));
    await psql('test', `DROP TABLE IF EXISTS canary; CREATE TABLE canary AS SELECT generate_series(1, ${CANARY_ROWS}) AS i`);
    // How many changes one run applies: the injection points.
    const dir = mkdtempSync(join(tmpdir(), 'corral-faults-plan-'));
    writeFileSync(join(dir, 'pigsty.yml'), inventoryOf(1));
    const plan = await corral('plan', dir, '--limit', 'pg-test', '--format', 'json');
    plannedChanges = (JSON.parse(plan.out) as { changes: unknown[] }).changes.length;
  }, 20 * 60_000);

  afterAll(async () => {
    if (daemon?.running()) await daemon.kill9();
    await server?.close();
    // The lab as the next file expects it: every node up.
    await lab('up', '3');
  }, 10 * 60_000);

  /** One run: commit, wait for `k` changes of the apply, inject, then check convergence and losses. */
  async function faultRun(k: number, inject: () => Promise<void>): Promise<{ converged: boolean; lost: string[]; reached: boolean }> {
    run++;
    const before = historyIds(daemon.stateDir);
    const applied = daemon.afterChanges(k);
    await repo.commit({ 'pigsty.yml': inventoryOf(run) }, `fault run ${run}`);
    await repo.push();
    const head = await repo.head();
    const reached = await applied;
    await inject();
    // Only what the daemon observed after the fault counts: a unit checked before it (etcd, while pg-test applies) still says Synced.
    const injected = Date.now();
    const converged = await until(`every cluster converged after run ${run}`, async () => {
      if (!daemon.running()) return false;
      // A daemon just restarted lists no cluster until it has a revision in force: that is not converged.
      const all = await daemon.clusters();
      const checkedSince = (c: ClusterStatus): boolean => c.checkedAt !== undefined && Date.parse(c.checkedAt) > injected;
      return all?.length === clusters && all.every((c) => c.sync === 'Synced' && c.revision === head && c.health === 'Healthy' && c.driftChanges === 0 && checkedSince(c)) ? true : undefined;
    }, 5 * 60_000, 500).catch(() => false);
    const canary = await psql('test', 'SELECT count(*) FROM canary').catch((e: Error) => e.message);
    const database = await psql(`fault_${run}`, 'SELECT 1').catch((e: Error) => e.message);
    const lost = [
      ...(daemon.running() ? [] : ['the daemon died']),
      ...(stateWhole(daemon.stateDir, before) ? [] : ['the state dir is not whole']),
      ...(canary === String(CANARY_ROWS) ? [] : [`canary rows: ${canary}`]),
      ...(database === '1' ? [] : [`database fault_${run}: ${database}`]),
    ];
    if (lost.length || !converged) console.log(`run ${run} (after change ${k}): converged ${converged}, canary ${canary}, database ${database}, daemon ${daemon.running() ? 'running' : 'dead'}\n${daemon.logs.slice(-3000)}`);
    return { converged: converged && database === '1', lost, reached };
  }

  /** Runs the fault once per injection point (after change k of the apply), each recorded in the table. */
  async function fault(name: string, points: number[], inject: (k: number) => Promise<void>): Promise<void> {
    for (const k of points) {
      const r = await faultRun(k, () => inject(k));
      expect(r.reached, `the apply reached change ${k}`).toBe(true);
      table.record({ fault: name, injection: `after change ${k}`, converged: r.converged, lost: r.lost });
    }
    expect(table.rows().find((r) => r.fault === name)).toMatchObject({ runs: points.length, converged: points.length, lost: 0 });
  }

  it('kill -9 of the daemon after every change of a PGSQL apply: the restarted daemon converges', async () => {
    expect(plannedChanges, 'a run applies more than one change').toBeGreaterThan(1);
    const every = Array.from({ length: plannedChanges }, (_, i) => i + 1);
    const points = FULL ? every : [...new Set([1, Math.ceil(plannedChanges / 2), plannedChanges])];
    await fault('kill -9 of the daemon', points, async () => {
      await daemon.kill9();
      daemon.start();
    });
  }, 30 * 60_000);

  it("SSH dropped mid-apply (a node's sshd sessions killed): the next sync converges", async () => {
    await fault('SSH sessions dropped on n2', [1], async () => {
      await onNode('n2', "pkill -KILL -f '^sshd: root@notty' || true").catch(() => undefined);
    });
  }, 10 * 60_000);

  it('a node rebooted mid-apply: the next syncs converge once it is back', async () => {
    await fault('n3 rebooted', [1], async () => {
      await lab('stop-node', 'n3');
      await lab('start-node', 'n3');
    });
  }, 10 * 60_000);

  it('an etcd member stopped during a sync: the ETCD unit starts it again, every cluster converges', async () => {
    await fault('etcd member on n3 stopped', [1], async () => {
      await onNode('n3', 'systemctl stop etcd');
    });
    expect((await onNode('n3', 'systemctl is-active etcd')).trim()).toBe('active');
  }, 10 * 60_000);

  it('etcd quorum lost during a sync: etcd comes back, Patroni leads again, every cluster converges', async () => {
    await fault('etcd quorum lost (n2, n3 stopped)', [1], async () => {
      await Promise.all(['n2', 'n3'].map((n) => onNode(n, 'systemctl stop etcd')));
    });
    for (const n of ['n2', 'n3']) expect((await onNode(n, 'systemctl is-active etcd')).trim()).toBe('active');
  }, 10 * 60_000);
});
