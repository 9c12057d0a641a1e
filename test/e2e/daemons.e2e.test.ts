/**
 * Three `corral serve` sharing the lab through a real etcd (Debian's etcd-server on the lab's host
 * address): each cluster is synced by one daemon at a time, and every daemon shows every cluster.
 * The first daemon up takes every cluster; the others get their share when they join. Each daemon
 * runs in a network namespace of its own on the lab bridge, so a blackhole route there cuts it off
 * from etcd (and the host) while it still reaches the nodes: it must stop applying before its lease
 * ends. A kill -9 of the daemon applying hands its cluster to another within the TTL. Each
 * node keeps a log of what each daemon ran there (the node-side fence): no two changes overlap.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterStatus, DaemonStatus } from '../../src/daemon/types.js';
import { startEtcd, type EtcdServer } from '../helpers/etcd.js';
import { startGitServer, type GitServer } from '../helpers/git-server.js';
import { lab, labEnv, onNode } from '../helpers/lab.js';
import { until } from '../helpers/until.js';

const ROOT = join(import.meta.dirname, '../..');
const FLEET = readFileSync(join(ROOT, 'test/fixtures/lab-daemons/pigsty.yml'), 'utf8');
const SETTINGS = 'sync:\n  pollInterval: 1s\n  defaults: { sync: auto, driftInterval: 1h }\n';
const TOKEN = 'test-token-for-the-daemons';
const TTL = 5;
const HOST = '10.213.0.1';
const DAEMONS = ['d1', 'd2', 'd3'];
/** Each daemon in a network namespace of its own on the lab bridge (lab.sh netns): dN at 10.213.0.24N. */
const ipOf = (name: string): string => `10.213.0.24${name.slice(1)}`;
const NODE_OF: Record<string, string> = { 'node-a': 'n1', 'node-b': 'n2', 'node-c': 'n3' };

interface Served {
  child: ChildProcess;
  url: string;
  logs: string;
}

interface LogLine {
  at: number;
  what: 'start' | 'end';
  owner: string;
  token: number;
  change: string;
}

/** The node's apply log (src/daemon/coordination.ts guardScript), oldest first. */
async function applyLog(node: string): Promise<LogLine[]> {
  const text = await onNode(node, 'cat /var/lib/corral/apply.log 2>/dev/null || true');
  return text
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [at, what] = line.split(' ');
      const field = (k: string): string => new RegExp(`${k}=(\\S+)`).exec(line)![1]!;
      return { at: Number(at) * 1000, what: what as LogLine['what'], owner: field('owner'), token: Number(field('token')), change: field('change') };
    });
}

/** No overlap: every start is followed by its own end before anything else starts, and tokens never go back. */
function expectNoOverlap(log: LogLine[]): void {
  for (let i = 0; i < log.length; i += 2) {
    const [start, end] = [log[i]!, log[i + 1]];
    expect(start.what, `line ${i + 1}`).toBe('start');
    expect(end, `the end of ${start.change} by ${start.owner}`).toMatchObject({ what: 'end', owner: start.owner, token: start.token, change: start.change });
    if (i) expect(start.token, `line ${i + 1}: tokens never go back`).toBeGreaterThanOrEqual(log[i - 2]!.token);
  }
}

describe('three daemons sharing the lab through etcd', () => {
  let etcd: EtcdServer;
  let server: GitServer;
  let head: string;
  const daemons = new Map<string, Served>();
  const figures: string[] = [];

  const serve = (name: string): Served => {
    const listen = `${ipOf(name)}:8080`;
    const stateDir = mkdtempSync(join(tmpdir(), `corral-${name}-`));
    const args = [join(ROOT, 'bin/corral.js'), 'serve', '--repo', server.repoUrl('fleet'), '--state-dir', stateDir, '--listen', listen, '--etcd', etcd.url, '--lease-ttl', String(TTL), '--name', name];
    const env = { ...process.env, ...labEnv, CORRAL_API_TOKEN: TOKEN, CORRAL_LOG_FORMAT: 'json' };
    const child = spawn('ip', ['netns', 'exec', `lab-${name}`, process.execPath, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const served: Served = { child, url: `http://${listen}`, logs: '' };
    child.stdout.on('data', (d: Buffer) => (served.logs += d.toString()));
    child.stderr.on('data', (d: Buffer) => (served.logs += d.toString()));
    daemons.set(name, served);
    return served;
  };
  const status = async (d: Served): Promise<DaemonStatus | undefined> => {
    const r = await fetch(`${d.url}/api/status`, { signal: AbortSignal.timeout(2000) }).catch(() => undefined);
    return r?.ok ? ((await r.json()) as DaemonStatus) : undefined;
  };
  const cluster = async (d: Served, name: string): Promise<ClusterStatus | undefined> => (await status(d))?.clusters.find((c) => c.name === name);
  const kill9 = async (name: string): Promise<void> => {
    const d = daemons.get(name)!;
    d.child.kill('SIGKILL');
    if (d.child.exitCode === null && d.child.signalCode === null) await new Promise((r) => d.child.once('exit', r));
  };

  /** Drift on the cluster's node (a package removed, a sysctl changed), its sync asked of `via`; resolves once `owner` applies there. */
  const driftAndAsk = async (name: string, via: Served, owner: string): Promise<void> => {
    const node = NODE_OF[name]!;
    await onNode(node, 'DEBIAN_FRONTEND=noninteractive apt-get remove -y -q rsync >/dev/null; sysctl -qw net.core.somaxconn=100');
    const asked = Date.now();
    const r = await fetch(`${via.url}/api/clusters/${name}/sync`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(((await r.json()) as { message: string }).message).toContain(owner);
    await until(`${owner} applying on ${node}`, async () => ((await applyLog(node)).some((l) => l.what === 'start' && l.owner === owner && l.at > asked) ? true : undefined), 120_000, 100);
  };
  /** When the cluster was taken from `from` (as `via` shows it) and then synced by its new owner, both after `since`. */
  const takenOver = async (name: string, via: Served, from: string, since: number): Promise<{ taken: number; synced: number }> => {
    const taken = await until(`${name} taken from ${from}`, async () => {
      const c = await cluster(via, name);
      return c?.owner && c.owner !== from ? Date.now() : undefined;
    }, 60_000, 200);
    await until(`${name} synced again by its new owner`, async () => {
      const c = await cluster(via, name);
      return c?.sync === 'Synced' && c.owner !== from && Date.parse(c.lastSyncAt ?? '') > since ? c : undefined;
    }, 5 * 60_000, 500);
    return { taken, synced: Date.now() };
  };
  /** The node healed (the package back, the sysctl back) and its apply log without overlap. */
  const healed = async (node: string): Promise<LogLine[]> => {
    expect((await onNode(node, "dpkg-query -W -f='${Status}' rsync")).trim()).toBe('install ok installed');
    expect((await onNode(node, 'cat /proc/sys/net/core/somaxconn')).trim()).toBe('4096');
    const log = await applyLog(node);
    expectNoOverlap(log);
    return log;
  };

  beforeAll(async () => {
    await lab('up', '3');
    etcd = await startEtcd(HOST);
    server = await startGitServer({ host: HOST });
    const repo = await server.createRepo('fleet');
    await repo.commit({ 'pigsty.yml': FLEET, 'corral.yml': SETTINGS }, 'three clusters for three daemons');
    await repo.push();
    head = await repo.head();
    for (const d of DAEMONS) await lab('netns', d, ipOf(d));
    await Promise.all(Object.values(NODE_OF).map((n) => onNode(n, 'rm -rf /var/lib/corral/apply.log* /var/lib/corral/fence')));
  }, 15 * 60_000);

  afterAll(async () => {
    for (const d of daemons.values()) d.child.kill('SIGKILL');
    for (const d of DAEMONS) await lab('netns-del', d).catch(() => undefined);
    await server?.close();
    await etcd?.stop();
    if (figures.length) console.log(['daemons sharing the lab (TTL 5 s):', ...figures].join('\n  '));
  });

  it('d3 alone takes every cluster; d1 and d2 join, get their share, and every daemon shows each cluster with its one owner', async () => {
    const d3 = serve('d3');
    for (const name of Object.keys(NODE_OF)) {
      await until(`${name} synced by d3`, async () => {
        expect(d3.child.exitCode, d3.logs).toBeNull();
        const c = await cluster(d3, name);
        return c?.sync === 'Synced' && c.revision === head && c.owner === 'd3' ? c : undefined;
      }, 5 * 60_000, 500);
    }
    serve('d1');
    serve('d2');
    // The clusters whose choice is a newcomer are handed over to it, and synced there.
    const owners = await until('every daemon to show the same owner of each cluster, each Synced, the clusters spread', async () => {
      const seen = await Promise.all(DAEMONS.map((d) => status(daemons.get(d)!)));
      if (seen.some((s) => s?.daemons?.length !== 3 || s.clusters.length !== 3 || s.clusters.some((c) => c.sync !== 'Synced' || c.revision !== head))) return undefined;
      const of = seen.map((s) => s!.clusters.map((c) => c.owner).join());
      return of.every((o) => o === of[0]) && new Set(of[0]!.split(',')).size > 1 ? of[0]!.split(',') : undefined;
    }, 120_000, 500);
    figures.push(`owners after d1 and d2 joined: ${Object.keys(NODE_OF).map((n, i) => `${n} ${owners[i]}`).join(', ')}`);
    // Every change so far ran with its owner's fence; none overlapped.
    for (const node of Object.values(NODE_OF)) expectNoOverlap(await applyLog(node));
  }, 10 * 60_000);

  it('the daemon applying, cut off from etcd, stops before its lease ends; another takes its cluster within the TTL plus a sync', async () => {
    const owner = (await cluster(daemons.get('d1')!, 'node-a'))!.owner!;
    const via = daemons.get(DAEMONS.find((d) => d !== owner)!)!;
    // Drift on node-a, whose sync is asked of another daemon, which passes it to the owner.
    await driftAndAsk('node-a', via, owner);
    // The partition: the owner still reaches the nodes, not etcd (nor the host).
    execFileSync('ip', ['-n', `lab-${owner}`, 'route', 'add', 'blackhole', `${HOST}/32`]);
    const cutAt = Date.now();

    const { taken, synced } = await takenOver('node-a', via, owner, cutAt);
    const log = await healed('n1');
    const lastByOwner = Math.max(...log.filter((l) => l.owner === owner && l.what === 'start').map((l) => l.at));
    expect(lastByOwner - cutAt, `${owner} started nothing once its lease could have ended`).toBeLessThan(TTL * 1000);
    expect(taken - cutAt, 'taken within the TTL plus two ticks').toBeLessThan((TTL + 2) * 1000);
    for (const name of Object.keys(NODE_OF)) await until(`${name} owned by a daemon not cut off`, async () => ((await cluster(via, name))?.owner?.match(new RegExp(`^(?!${owner}$)d[123]$`)) ? true : undefined), 30_000, 200);
    figures.push(`partition of ${owner}: its last change started ${((lastByOwner - cutAt) / 1000).toFixed(2)} s after the cut; taken over after ${((taken - cutAt) / 1000).toFixed(2)} s; synced ${((synced - cutAt) / 1000).toFixed(2)} s after the cut`);
    expect(daemons.get(owner)!.child.exitCode, `${owner} keeps running while cut off`).toBeNull();
    await kill9(owner);
    daemons.delete(owner);
  }, 10 * 60_000);

  it('a kill -9 of the daemon applying: another takes its cluster within the TTL plus one sync, with no overlap on the node', async () => {
    const [first, second] = [...daemons.keys()];
    const owner = (await cluster(daemons.get(first!)!, 'node-b'))!.owner!;
    const other = daemons.get(owner === first ? second! : first!)!;
    await driftAndAsk('node-b', other, owner);
    await kill9(owner);
    const killedAt = Date.now();
    const { taken, synced } = await takenOver('node-b', other, owner, killedAt);
    expect((await cluster(other, 'node-b'))!.owner).toBe(owner === first ? second : first);
    await healed('n2');
    expect(taken - killedAt, 'taken within the TTL plus two ticks').toBeLessThan((TTL + 2) * 1000);
    figures.push(`kill -9 of ${owner} mid-apply: taken over after ${((taken - killedAt) / 1000).toFixed(2)} s; synced ${((synced - killedAt) / 1000).toFixed(2)} s after the kill`);
  }, 10 * 60_000);
});
