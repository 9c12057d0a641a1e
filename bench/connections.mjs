// bench/connections: a no-op sync of N hosts by one daemon, the first time (every host a handshake)
// and once connected (one exec per host over the connections kept open), each beside the SSH floor
// measured in the same run: N parallel `ssh HOST sudo -n true` (new connections), then the same over
// OpenSSH's own multiplexed master connections (ControlMaster, already open). Also the process's RSS.
// The hosts are loopback addresses (127.0.N.M), one sshd per 16 of them (OpenSSH's ListenAddress cap).
// Needs: root, /usr/sbin/sshd, the test users (a test/transport run creates them), `npm run build`.
// Run: npm run bench:connections   (HOSTS=100,1000 by default)
import { execFile, execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { useModules } from '../dist/src/engine/modules.js';
import { MODULES } from '../dist/reconcilers/index.js';
import { Daemon } from '../dist/src/daemon/daemon.js';
import { CorralMetrics } from '../dist/src/daemon/metrics.js';
import { folderRevisions } from '../dist/src/daemon/sources.js';
import { openAuthority } from '../dist/src/pki/authority.js';
import { createTransport } from '../dist/src/transport/index.js';

const USER = 'corral-test-sudo';
const SIZES = (process.env.HOSTS ?? '100,1000').split(',').map(Number);
const run = promisify(execFile);
const sleep = (t) => new Promise((r) => setTimeout(r, t));
const s = (ms) => `${(ms / 1000).toFixed(2)} s`;
const mib = (bytes) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
useModules(MODULES, new URL('../dist/reconcilers/index.js', import.meta.url).href);

try {
  execFileSync('id', [USER], { stdio: 'ignore' });
} catch {
  console.error(`bench/connections: no user ${USER}; run the transport tests once (npx vitest run --project unit test/transport) to create it`);
  process.exit(2);
}

/** A NODE inventory that asks nothing of a host, so a sync of these hosts is a no-op. */
const quiet = (ips) =>
  `all:\n  children:\n    nodes:\n      hosts:\n${ips.map((ip) => `        ${ip}: { ansible_port: 2222, ansible_user: ${USER} }`).join('\n')}\n  vars:\n` +
  ['nodename_overwrite: false', 'node_write_etc_hosts: false', "node_repo_modules: ''", 'node_default_packages: []', 'node_packages: []', 'node_sysctl_params: {}', 'node_kernel_modules: []', "node_data: ''", 'node_admin_enabled: false', 'node_ntp_enabled: false', 'node_exporter_enabled: false', 'haproxy_enabled: false'].map((l) => `    ${l}\n`).join('');

/** `ssh ... sudo -n true` on every host at once; with `control`, over a master connection per host. */
async function sshFloor(dir, ips, control) {
  const opts = ['-p', '2222', '-i', join(dir, 'client'), '-o', `UserKnownHostsFile=${join(dir, 'known_hosts')}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes'];
  if (control) opts.push('-o', 'ControlMaster=auto', '-o', `ControlPath=${join(dir, 'ctl-%h')}`, '-o', 'ControlPersist=120');
  const t = performance.now();
  await Promise.all(ips.map((ip) => run('ssh', [...opts, `${USER}@${ip}`, 'sudo -n true'])));
  return performance.now() - t;
}

async function syncBench(n) {
  const dir = mkdtempSync(join(tmpdir(), `corral-conn-${n}-`));
  chmodSync(dir, 0o755);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'host')]);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'client')]);
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(join(dir, 'client.pub')), { mode: 0o644 });
  mkdirSync('/run/sshd', { recursive: true });
  const ips = Array.from({ length: n }, (_, i) => `127.0.${10 + Math.floor(i / 200)}.${(i % 200) + 1}`);
  const sshds = [];
  for (let g = 0; g < ips.length; g += 16) {
    const conf = join(dir, `sshd_config_${g}`);
    writeFileSync(conf, [...ips.slice(g, g + 16).map((ip) => `ListenAddress ${ip}:2222`), `HostKey ${join(dir, 'host')}`, `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`, 'PasswordAuthentication no', 'KbdInteractiveAuthentication no', 'UsePAM no', 'StrictModes no', 'MaxStartups 1000', 'MaxSessions 20', 'LogLevel ERROR', `PidFile ${join(dir, `sshd-${g}.pid`)}`, ''].join('\n'));
    sshds.push(spawn('/usr/sbin/sshd', ['-D', '-e', '-f', conf], { stdio: 'ignore' }));
  }
  const hostKey = readFileSync(join(dir, 'host.pub'), 'utf8').trim().split(' ').slice(0, 2).join(' ');
  writeFileSync(join(dir, 'known_hosts'), ips.map((ip) => `[${ip}]:2222 ${hostKey}`).join('\n') + '\n');
  await sleep(1000);
  let daemon;
  let transport;
  try {
    const floorNew = await sshFloor(dir, ips, false);
    await sshFloor(dir, ips, true); // opens the master connections
    const floorOpen = await sshFloor(dir, ips, true);

    const repo = join(dir, 'repo');
    mkdirSync(repo);
    writeFileSync(join(repo, 'pigsty.yml'), quiet(ips));
    // Manual: the first sync only plans, so a host this inventory would change (this machine) is never
    // changed; the timed syncs below apply only once that plan was empty.
    writeFileSync(join(repo, 'corral.yml'), 'sync:\n  defaults: { sync: manual, driftInterval: 1h }\n');
    transport = createTransport({ hostKeys: { knownHostsFile: join(dir, 'known_hosts'), mode: 'strict' } });
    const pki = await openAuthority(join(dir, 'pki'), { create: true });
    daemon = new Daemon({ source: folderRevisions(repo), stateDir: join(dir, 'state'), transport, metrics: new CorralMetrics(), logger: pino({ level: 'silent' }), ssh: { privateKeyFile: join(dir, 'client') }, version: 'bench', pki });
    // The first sync runs at start: every host a handshake.
    const t0 = performance.now();
    await daemon.start();
    const first = performance.now() - t0;
    const status = () => daemon.cluster('nodes').status;
    if (status().sync !== 'Synced' || status().driftChanges) throw new Error(`the first sync found changes to make (nothing was applied): ${status().message ?? ''} ${status().driftChanges}`);
    const connected = [];
    for (let i = 0; i < 3; i++) {
      const before = status().lastPlanId;
      const t1 = performance.now();
      daemon.sync('nodes', 'api');
      while (!(status().sync === 'Synced' && status().lastPlanId !== before)) await sleep(5);
      connected.push(performance.now() - t1);
      if (status().driftChanges) throw new Error(`sync ${i + 2} found changes: ${status().message}`);
    }
    const again = connected.sort((a, b) => a - b)[1];
    global.gc?.();
    const rss = process.memoryUsage().rss;
    const stats = transport.stats();
    const connects = Math.max(...Object.values(stats.connects));
    const execs = Object.values(stats.execs);
    console.log(`${n} hosts (no-op sync, one daemon):`);
    console.log(`  first sync (handshakes)   ${s(first).padStart(8)}   SSH floor, ${n} parallel new ssh connections       ${s(floorNew).padStart(8)}   ratio ${(first / floorNew).toFixed(2)}x`);
    console.log(`  once connected (median 3) ${s(again).padStart(8)}   SSH floor, ${n} parallel execs on open ssh masters ${s(floorOpen).padStart(8)}   ratio ${(again / floorOpen).toFixed(2)}x`);
    console.log(`  ${execs.length} hosts, ${connects} connection per host over 4 syncs, ${Math.max(...execs) / 4} exec per host per sync; RSS of this process ${mib(rss)}`);
    return { n, first, again, rss };
  } finally {
    await daemon?.stop();
    await transport?.close();
    for (const d of sshds) d.kill('SIGKILL');
    for (const ip of ips) execFile('ssh', ['-o', `ControlPath=${join(dir, 'ctl-%h')}`, '-O', 'exit', ip], () => {});
    await sleep(500);
    rmSync(dir, { recursive: true, force: true });
  }
}

const results = [];
for (const n of SIZES) results.push(await syncBench(n));
const by = (n) => results.find((r) => r.n === n);
if (by(100)) console.log(`target: 100 hosts once connected < 2 s -> ${by(100).again < 2000 ? 'met' : 'MISSED'}`);
if (by(1000)) console.log(`target: 1,000 hosts < 15 s -> ${by(1000).again < 15000 ? 'met' : 'MISSED'} (first sync ${by(1000).first < 15000 ? 'also under' : 'over'} 15 s); RSS < 250 MB -> ${by(1000).rss < 250e6 ? 'met' : 'MISSED'}`);
process.exit(0);
