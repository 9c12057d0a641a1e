// bench/daemon: the daemon's costs, each printed beside a baseline measured in the same run:
//  - idle RSS, beside a bare Node process; RSS with a 1,000-host inventory loaded, beside idle;
//  - a no-op sync of 100 hosts (one sshd on 100 loopback addresses), beside 100 parallel `ssh true`;
//  - commit to sync start, through the poll (at 1 s) and through the API, beside a `git fetch`.
// Printed, not asserted, except that the work was right. Run: npm run bench:daemon
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { afterAll, expect, it } from 'vitest';
import { Daemon } from '../src/daemon/daemon.js';
import { CorralMetrics } from '../src/daemon/metrics.js';
import { gitRevisions, folderRevisions } from '../src/daemon/sources.js';
import { createGitSource } from '../src/git/source.js';
import { createTransport } from '../src/transport/index.js';
import { runGit, startGitServer } from '../test/helpers/git-server.js';
import { ensureTestUsers, SUDO_USER } from '../test/helpers/sshd.js';
import { testAuthority } from '../test/helpers/pki.js';

const ROOT = join(import.meta.dirname, '..');
const run = promisify(execFile);
const rows: string[] = [];
const ms = (t: number): string => `${t.toFixed(0)} ms`;
const rssMiB = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
const sleep = (t: number): Promise<void> => new Promise((r) => setTimeout(r, t));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  console.log(`\nbench/daemon\n${rows.map((r) => `  ${r}`).join('\n')}\n`);
});

/** A NODE inventory that asks nothing of a host (so a sync of hosts already like this is a no-op). */
function quietInventory(hosts: string[], extra = ''): string {
  return `all:\n  children:\n    nodes:\n      hosts:\n${hosts.map((h) => `        ${h}`).join('\n')}\n  vars:\n    nodename_overwrite: false\n    node_write_etc_hosts: false\n    node_repo_modules: ''\n    node_default_packages: []\n    node_packages: []\n    node_sysctl_params: {}\n    node_kernel_modules: []\n    node_data: ''\n    node_admin_enabled: false\n    node_ntp_enabled: false\n    node_exporter_enabled: false\n    haproxy_enabled: false\n${extra}`;
}

async function serveRss(dir: string, waitFor: (logs: string) => boolean): Promise<number> {
  let logs = '';
  const child = spawn(process.execPath, [join(ROOT, 'bin/corral.js'), 'serve', '--watch', dir, '--state-dir', mkdtempSync(join(tmpdir(), 'corral-rss-')), '--listen', '127.0.0.1:0', '--known-hosts', '/dev/null'], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  child.stdout.on('data', (d: Buffer) => (logs += d.toString()));
  for (let i = 0; i < 600 && !waitFor(logs); i++) await sleep(100);
  await sleep(2000);
  const rss = rssMiB(child.pid!);
  child.kill('SIGKILL');
  return rss;
}

it('memory: idle, and with 1,000 hosts loaded', async () => {
  const base = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)']);
  children.push(base);
  await sleep(1500);
  const bare = rssMiB(base.pid!);
  const one = mkdtempSync(join(tmpdir(), 'corral-one-'));
  writeFileSync(join(one, 'pigsty.yml'), quietInventory(['127.0.0.1: { ansible_connection: local }']));
  const idle = await serveRss(one, (l) => l.includes('out of sync') || l.includes('"sync finished"') || l.includes('in force'));
  const many = mkdtempSync(join(tmpdir(), 'corral-1000-'));
  // 1,000 hosts on a closed loopback port: loaded, validated and planned; every connection refused at once.
  const hosts = Array.from({ length: 1000 }, (_, i) => `10.${(i >> 8) & 255}.${i & 255}.1: { ansible_host: 127.0.0.1, ansible_port: ${20000 + i} }`);
  writeFileSync(join(many, 'pigsty.yml'), quietInventory(hosts));
  const loaded = await serveRss(many, (l) => l.includes('"cluster":"nodes"'));
  rows.push(`RSS: bare node ${bare.toFixed(0)} MiB; corral serve idle ${idle.toFixed(0)} MiB (${(idle / bare).toFixed(1)}x); with 1,000 hosts ${loaded.toFixed(0)} MiB (${(loaded / idle).toFixed(2)}x idle)`);
  expect(loaded).toBeGreaterThan(0);
});

it('a no-op sync of 100 hosts', async () => {
  // A plain sudo user, as on Pigsty nodes: root's shell start-up on this machine (pyenv) would be measured instead.
  ensureTestUsers();
  const dir = mkdtempSync(join(tmpdir(), 'corral-100-'));
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'host')]);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'client')]);
  // sshd reads authorized_keys as the user logging in.
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(join(dir, 'client.pub')), { mode: 0o644 });
  chmodSync(dir, 0o755);
  mkdirSync('/run/sshd', { recursive: true });
  const ips = Array.from({ length: 100 }, (_, i) => `127.0.2.${i + 1}`);
  // OpenSSH listens on at most 16 addresses per process: one sshd per 16 hosts.
  for (let g = 0; g < ips.length; g += 16) {
    const conf = join(dir, `sshd_config_${g}`);
    writeFileSync(conf, [...ips.slice(g, g + 16).map((ip) => `ListenAddress ${ip}:2222`), `HostKey ${join(dir, 'host')}`, `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`, 'PasswordAuthentication no', 'KbdInteractiveAuthentication no', 'UsePAM no', 'StrictModes no', 'MaxStartups 200', 'MaxSessions 20', `PidFile ${join(dir, `sshd-${g}.pid`)}`, ''].join('\n'));
    children.push(spawn('/usr/sbin/sshd', ['-D', '-e', '-f', conf], { stdio: 'ignore' }));
  }
  const hostKey = readFileSync(join(dir, 'host.pub'), 'utf8').trim().split(' ').slice(0, 2).join(' ');
  writeFileSync(join(dir, 'known_hosts'), ips.map((ip) => `[${ip}]:2222 ${hostKey}`).join('\n') + '\n');
  await sleep(1000);

  const t0 = performance.now();
  await Promise.all(ips.map((ip) => run('ssh', ['-p', '2222', '-i', join(dir, 'client'), '-o', `UserKnownHostsFile=${join(dir, 'known_hosts')}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', `${SUDO_USER}@${ip}`, 'sudo -n true'])));
  const floor = performance.now() - t0;

  const repo = join(dir, 'repo');
  mkdirSync(repo);
  writeFileSync(join(repo, 'pigsty.yml'), quietInventory(ips.map((ip) => `${ip}: { ansible_port: 2222, ansible_user: ${SUDO_USER} }`)));
  writeFileSync(join(repo, 'corral.yml'), 'sync:\n  defaults: { sync: auto, driftInterval: 1h }\n');
  const metrics = new CorralMetrics();
  const transport = createTransport({ hostKeys: { knownHostsFile: join(dir, 'known_hosts'), mode: 'strict' }, maxConnections: 128 });
  const daemon = new Daemon({ source: folderRevisions(repo), stateDir: join(dir, 'state'), transport, metrics, logger: pino({ level: 'silent' }), ssh: { privateKeyFile: join(dir, 'client') }, version: 'bench', pki: await testAuthority() });
  await daemon.start();
  expect(daemon.cluster('nodes')?.status.sync).toBe('Synced');
  const before = daemon.cluster('nodes')!.status.lastPlanId;
  const t1 = performance.now();
  daemon.sync('nodes', 'api');
  for (;;) {
    await sleep(20);
    const s = daemon.cluster('nodes')!.status;
    if (s.sync === 'Synced' && s.lastPlanId !== before) break;
  }
  const noop = performance.now() - t1;
  const execs = Object.values(transport.stats().execs);
  rows.push(`no-op sync of 100 hosts: ${ms(noop)} (connections reused), ${execs.length} hosts, ${Math.max(...execs)} execs on the busiest host over 2 syncs; baseline 100 parallel \`ssh true\`: ${ms(floor)} (ratio ${(noop / floor).toFixed(2)}x)`);
  await daemon.stop();
  await transport.close();
});

it('commit to sync start, by poll and by API', async () => {
  const server = await startGitServer();
  const repo = await server.createRepo('fleet');
  const inventory = quietInventory(['127.0.0.1: { ansible_connection: local }']);
  await repo.commit({ 'pigsty.yml': inventory, 'corral.yml': 'sync:\n  pollInterval: 1s\n  defaults: { sync: auto, driftInterval: 1h }\n' }, 'first');
  await repo.push();
  const stateDir = mkdtempSync(join(tmpdir(), 'corral-latency-'));
  const transport = createTransport({ hostKeys: { knownHostsFile: '/dev/null', mode: 'strict' } });
  const daemon = new Daemon({ source: gitRevisions(createGitSource({ url: server.repoUrl('fleet'), branch: 'main', stateDir: join(stateDir, 'git') }), 'fleet'), stateDir, transport, metrics: new CorralMetrics(), logger: pino({ level: 'silent' }), ssh: {}, version: 'bench', pki: await testAuthority() });
  await daemon.start();
  const started = async (sha: string): Promise<number> => {
    for (;;) {
      const h = daemon.history('nodes').find((e) => e.revision === sha);
      const s = daemon.cluster('nodes')!.status;
      if (h) return Date.parse(h.startedAt);
      if (s.revision === sha) return Date.now();
      await sleep(5);
    }
  };
  const poll: number[] = [];
  const api: number[] = [];
  for (let i = 0; i < 5; i++) {
    const sha = await repo.commit({ 'pigsty.yml': inventory + `# poll ${i}\n` }, `poll ${i}`);
    const pushed = Date.now();
    await repo.push();
    poll.push((await started(sha)) - pushed);
    const sha2 = await repo.commit({ 'pigsty.yml': inventory + `# api ${i}\n` }, `api ${i}`);
    const pushed2 = Date.now();
    await repo.push();
    daemon.nudge('api');
    api.push((await started(sha2)) - pushed2);
  }
  const cli = mkdtempSync(join(tmpdir(), 'corral-cli-'));
  await runGit(cli, ['clone', '--bare', '--quiet', server.repoUrl('fleet'), 'c.git']);
  const t = performance.now();
  await runGit(join(cli, 'c.git'), ['fetch', '--quiet', 'origin', 'main']);
  const fetchFloor = performance.now() - t;
  const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  rows.push(`commit to sync start (median of 5): poll every 1 s ${ms(med(poll))}; API trigger ${ms(med(api))}; baseline git fetch (CLI) ${ms(fetchFloor)}`);
  await daemon.stop();
  await transport.close();
  await server.close();
});
