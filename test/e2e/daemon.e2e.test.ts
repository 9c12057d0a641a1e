/**
 * The daemon end to end: a real git HTTP server, the lab's real nodes, the real HTTP API and
 * /metrics. A commit is picked up by the poll and applied; a revert goes back the same way; an
 * invalid commit changes nothing; a git server that is down leaves the last good revision in force;
 * a kill -9 in the middle of a sync is followed by a restart that converges.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Daemon } from '../../src/daemon/daemon.js';
import { CorralMetrics } from '../../src/daemon/metrics.js';
import { buildServer } from '../../src/daemon/http/server.js';
import { gitRevisions } from '../../src/daemon/sources.js';
import { createGitSource } from '../../src/git/source.js';
import { createTransport } from '../../src/transport/index.js';
import type { ClusterStatus } from '../../src/daemon/types.js';
import { startGitServer, type GitServer, type TestRepo } from '../helpers/git-server.js';
import { lab, LAB_KEY, LAB_KNOWN_HOSTS, LAB_PKI_DIR, onNode } from '../helpers/lab.js';
import { until } from '../helpers/until.js';
import { openAuthority } from '../../src/pki/authority.js';
import { freePort } from '../helpers/ports.js';

const ROOT = join(import.meta.dirname, '../..');
const FLEET = readFileSync(join(ROOT, 'test/fixtures/lab-fleet/pigsty.yml'), 'utf8');
const SETTINGS = 'sync:\n  pollInterval: 1s\n  defaults: { sync: auto, driftInterval: 1h }\n';
const TOKEN = 'test-token-for-the-api';

describe('the daemon on a git server and the lab', () => {
  let server: GitServer;
  let repo: TestRepo;
  let daemon: Daemon;
  let base: string;
  let close: () => Promise<void>;
  const somaxconn = async (): Promise<string> => (await onNode('n2', 'cat /proc/sys/net/core/somaxconn')).trim();
  const clusterStatus = async (): Promise<ClusterStatus> => {
    const r = await fetch(`${base}/api/clusters/nodes`);
    return ((await r.json()) as { status: ClusterStatus }).status;
  };
  const syncedAt = (revision: string) => async (): Promise<ClusterStatus | undefined> => {
    const s = await clusterStatus();
    return s.sync === 'Synced' && s.revision === revision ? s : undefined;
  };

  beforeAll(async () => {
    await lab('up', '3');
    server = await startGitServer();
    repo = await server.createRepo('fleet');
    await repo.commit({ 'pigsty.yml': FLEET, 'corral.yml': SETTINGS }, 'the lab fleet');
    await repo.push();
    const stateDir = mkdtempSync(join(tmpdir(), 'corral-daemon-'));
    const metrics = new CorralMetrics();
    const logger = pino({ level: 'silent' });
    const transport = createTransport({ hostKeys: { knownHostsFile: LAB_KNOWN_HOSTS, mode: 'strict' }, events: metrics.transportEvents() });
    const git = createGitSource({ url: server.repoUrl('fleet'), branch: 'main', stateDir: join(stateDir, 'git') });
    daemon = new Daemon({ source: gitRevisions(git, 'fleet'), stateDir, transport, metrics, logger, ssh: { privateKeyFile: LAB_KEY }, pki: await openAuthority(LAB_PKI_DIR, { create: true }), version: 'test' });
    const app = buildServer({ api: daemon, metrics, logger, token: TOKEN });
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    close = async () => {
      await daemon.stop();
      await app.close();
      await transport.close();
      await server.close();
    };
    await daemon.start();
  }, 10 * 60_000);
  afterAll(async () => close?.());

  it('syncs the first revision and is ready', async () => {
    const head = await repo.head();
    await until('first sync', syncedAt(head), 5 * 60_000);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    expect(await somaxconn()).toBe('4096');
  }, 6 * 60_000);

  it('applies a pushed commit found by the poll, and shows it in status and metrics', async () => {
    const sha = await repo.commit({ 'pigsty.yml': FLEET.replace('net.core.somaxconn: 4096', 'net.core.somaxconn: 2048') }, 'smaller accept queue');
    await repo.push();
    const s = await until('the new commit synced', syncedAt(sha));
    expect(s.message).toContain(sha.slice(0, 12));
    expect(await somaxconn()).toBe('2048');
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toContain(`corral_cluster_info{cluster="nodes",module="node",sync_status="Synced",health_status="Healthy",revision="${sha.slice(0, 12)}"} 1`);
    expect(metrics).toMatch(/corral_sync_total\{cluster="nodes",phase="Succeeded"\} [1-9]/);
    expect(metrics).toMatch(/corral_ssh_commands_total\{result="ok"\} [1-9]/);
  }, 3 * 60_000);

  it('rolls back with git revert, synced like any commit', async () => {
    const before = await repo.head();
    const sha = await repo.revert(before);
    await repo.push();
    await until('the revert synced', syncedAt(sha));
    expect(await somaxconn()).toBe('4096');
    const detail = (await (await fetch(`${base}/api/clusters/nodes`)).json()) as { history: { revision: string; result: string; subject: string }[] };
    expect(detail.history[0]).toMatchObject({ revision: sha, result: 'Succeeded' });
    expect(detail.history[0]!.subject).toMatch(/^Revert/);
    expect(detail.history.some((h) => h.revision === before)).toBe(true);
  }, 3 * 60_000);

  it('changes nothing for an invalid commit and points at the error', async () => {
    const good = await repo.head();
    const bad = await repo.commit({ 'pigsty.yml': FLEET.replace('net.core.somaxconn: 4096', 'net.core.somaxconn: 1024\n      net.core.somaxconn: 512') }, 'broken');
    await repo.push();
    const s = await until('Invalid', async () => {
      const st = await clusterStatus();
      return st.sync === 'Invalid' ? st : undefined;
    });
    expect(s.message).toMatch(new RegExp(`${bad.slice(0, 12)} is invalid: pigsty\\.yml:\\d+:\\d+ `));
    const status = (await (await fetch(`${base}/api/status`)).json()) as { git: { lastGoodRevision: string } };
    expect(status.git.lastGoodRevision).toBe(good);
    expect(await somaxconn()).toBe('4096');
    const fixed = await repo.revert(bad);
    await repo.push();
    await until('fixed', syncedAt(fixed));
  }, 3 * 60_000);

  it('keeps the last good revision while the git server is down, and counts the failures', async () => {
    const good = await repo.head();
    await server.stop();
    try {
      await until('a failed fetch', async () => ((await (await fetch(`${base}/api/status`)).json()) as { git: { lastFetchOk: boolean } }).git.lastFetchOk === false || undefined);
      const status = (await (await fetch(`${base}/api/status`)).json()) as { git: { lastGoodRevision: string; lastError: string } };
      expect(status.git.lastGoodRevision).toBe(good);
      expect(status.git.lastError).toBeTruthy();
      expect((await fetch(`${base}/readyz`)).status).toBe(200);
      expect(await (await fetch(`${base}/metrics`)).text()).toMatch(/corral_git_fetch_total\{result="unreachable"\} [1-9]/);
    } finally {
      await server.start();
    }
  }, 60_000);

  it('serves /metrics that promtool accepts', async () => {
    const text = await (await fetch(`${base}/metrics`)).text();
    const child = execFile('promtool', ['check', 'metrics']);
    let out = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    child.stdin?.end(text);
    const code = await new Promise<number>((r) => child.on('exit', (c) => r(c ?? 1)));
    expect(out).toBe('');
    expect(code).toBe(0);
  });

  it('needs the token to sync through the API', async () => {
    expect((await fetch(`${base}/api/clusters/nodes/sync`, { method: 'POST' })).status).toBe(401);
    expect((await fetch(`${base}/api/clusters/nodes/sync`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(202);
  });
});

describe('a kill -9 in the middle of a sync', () => {
  it('restarts into a consistent state and the next sync converges', async () => {
    await lab('up', '3');
    const server = await startGitServer();
    const repo = await server.createRepo('fleet');
    await repo.commit({ 'pigsty.yml': FLEET, 'corral.yml': SETTINGS }, 'the lab fleet');
    await repo.push();
    const stateDir = mkdtempSync(join(tmpdir(), 'corral-kill-'));
    const env = { ...process.env, CORRAL_SSH_KEY: LAB_KEY, CORRAL_KNOWN_HOSTS: LAB_KNOWN_HOSTS, CORRAL_PKI_DIR: LAB_PKI_DIR, CORRAL_LOG_LEVEL: 'info' };
    const port = await freePort();
    let logs = '';
    const serve = (): ChildProcess => {
      const child = spawn(process.execPath, [join(ROOT, 'bin/corral.js'), 'serve', '--repo', server.repoUrl('fleet'), '--state-dir', stateDir, '--listen', `127.0.0.1:${port}`], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout.on('data', (d: Buffer) => (logs += d.toString()));
      child.stderr.on('data', (d: Buffer) => (logs += d.toString()));
      return child;
    };
    const exited = (child: ChildProcess): Promise<unknown> => (child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((r) => child.on('exit', r)));
    // Drift on every node, so the first sync has work to do; kill the daemon while it applies.
    await Promise.all(['n1', 'n2', 'n3'].map((n) => onNode(n, 'rm -f /etc/chrony/chrony.conf /etc/default/prometheus-node-exporter; sysctl -w net.core.somaxconn=100')));
    const first = serve();
    await until('an apply in progress', async () => ((await onNode('n1', 'cat /proc/sys/net/core/somaxconn')).trim() !== '100' || (await onNode('n1', 'test -e /etc/chrony/chrony.conf && echo y || true')).trim() === 'y') || undefined, 120_000).catch(() => undefined);
    expect(first.exitCode, `the daemon died before the kill:\n${logs}`).toBeNull();
    first.kill('SIGKILL');
    await exited(first);
    // Every state file is whole JSON, never a half-written one.
    for (const f of readdirSync(stateDir)) if (f.endsWith('.json')) expect(() => JSON.parse(readFileSync(join(stateDir, f), 'utf8')) as unknown).not.toThrow();
    for (const f of readdirSync(join(stateDir, 'plans'))) expect(() => JSON.parse(readFileSync(join(stateDir, 'plans', f), 'utf8')) as unknown).not.toThrow();
    const second = serve();
    try {
      const head = await repo.head();
      await until('the restarted daemon to converge', async () => {
        expect(second.exitCode, `the restarted daemon died:\n${logs}`).toBeNull();
        const r = await fetch(`http://127.0.0.1:${port}/api/clusters/nodes`).catch(() => undefined);
        if (!r?.ok) return undefined;
        const s = ((await r.json()) as { status: ClusterStatus }).status;
        return s.sync === 'Synced' && s.revision === head ? s : undefined;
      }, 5 * 60_000);
      expect((await onNode('n3', 'cat /proc/sys/net/core/somaxconn')).trim()).toBe('4096');
      expect(await onNode('n3', 'cat /etc/default/prometheus-node-exporter')).toContain('--web.listen-address=:9100');
    } finally {
      second.kill('SIGTERM');
      await exited(second);
      await server.close();
    }
  }, 10 * 60_000);
});
