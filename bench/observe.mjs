// bench/observe: observe and plan the NODE module on the lab nodes, beside `ansible-playbook --check`
// of an equivalent playbook (bench/observe/playbook.yml) on the same nodes, in the same run; then
// Corral alone on many sshd instances on loopback for a larger N. Prints times, ratios and SSH
// round trips per host. The lab comparison is made twice: on an idle machine, and with every core
// kept busy by a spinning shell (BUSY=0 skips it), each for the observe in-process and for the whole
// `corral plan` process (Node's start and the CLI's loading included).
// Needs: root, the lab (test/lab/lab.sh), Debian's ansible and openssh-server, `npm run build`.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, mkdirSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTransport } from '../dist/src/transport/index.js';
import { validateInventory } from '../dist/src/config/validate.js';
import { planRun } from '../dist/src/engine/run.js';
import { useModules } from '../dist/src/engine/modules.js';
import { openAuthority } from '../dist/src/pki/authority.js';
import { MODULES } from '../dist/reconcilers/index.js';

const ROOT = join(import.meta.dirname, '..');
const LAB = process.env.CORRAL_LAB_DIR ?? '/var/lib/corral-lab';
const RUNS = Number(process.env.RUNS ?? 3);
const MANY = Number(process.env.MANY ?? 20);
useModules(MODULES, new URL('../dist/reconcilers/index.js', import.meta.url).href);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function corralPlan(inventory, knownHosts, key, pkiDir) {
  const validated = await validateInventory(inventory);
  const pki = await openAuthority(pkiDir, { create: true });
  const times = [];
  let stats;
  let changes = 0;
  for (let i = 0; i < RUNS; i++) {
    // A fresh transport each run: connection setup is part of the cost, as it is for Ansible.
    const transport = createTransport({ hostKeys: { knownHostsFile: knownHosts, mode: 'strict' }, maxConnections: 64 });
    const t = performance.now();
    const p = await planRun({ validated, transport, ssh: { privateKeyFile: key }, revision: 'bench', pki });
    times.push(performance.now() - t);
    stats = transport.stats();
    changes = p.plan.changes.length;
    if (p.plan.unreachable.length) throw new Error(`unreachable: ${JSON.stringify(p.plan.unreachable)}`);
    await transport.close();
  }
  const execs = Object.values(stats.execs);
  return { ms: median(times), hosts: execs.length, execsPerHost: Math.max(...execs), changes };
}

function ansibleCheck(inventoryIni) {
  const times = [];
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    runAnsible(inventoryIni);
    times.push(performance.now() - t);
  }
  return median(times);
}

/** Fails loudly with Ansible's own recap when a task fails: a broken baseline is no baseline. */
function runAnsible(inventoryIni) {
  try {
    execFileSync('ansible-playbook', ['--check', '--forks', '20', '-i', inventoryIni, join(ROOT, 'bench/observe/playbook.yml')], {
      env: { ...process.env, ANSIBLE_HOST_KEY_CHECKING: 'True', ANSIBLE_NOCOLOR: '1', ANSIBLE_RETRY_FILES_ENABLED: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (e) {
    const out = String(e.stdout ?? '');
    throw new Error('ansible-playbook --check failed:\n' + out.split('\n').filter((l) => /fatal|FAILED|ERROR|failed=/.test(l)).join('\n'));
  }
}

// --- lab: 3 real nodes, converged by corral apply first so both tools see a settled fleet
execFileSync('bash', [join(ROOT, 'test/lab/lab.sh'), 'up', '3'], { stdio: 'inherit' });
const fleet = join(ROOT, 'test/fixtures/lab-fleet');
const labEnv = { ...process.env, CORRAL_SSH_KEY: join(LAB, 'keys/id_ed25519'), CORRAL_KNOWN_HOSTS: join(LAB, 'known_hosts'), CORRAL_PKI_DIR: join(LAB, 'pki') };
try {
  execFileSync(process.execPath, [join(ROOT, 'bin/corral.js'), 'apply', fleet, '--yes'], { env: labEnv, stdio: 'ignore' });
} catch { /* the plan below reports what is left */ }
const work = mkdtempSync(join(tmpdir(), 'corral-bench-observe-'));
const ini = join(work, 'lab.ini');
const sshArgs = `-o UserKnownHostsFile=${join(LAB, 'known_hosts')} -o StrictHostKeyChecking=yes`;
writeFileSync(ini, ['[all]', ...[1, 2, 3].map((i) => `10.213.0.1${i} nodename=lab-${['one', 'two', 'three'][i - 1]}`), '[all:vars]', 'ansible_user=root', `ansible_ssh_private_key_file=${join(LAB, 'keys/id_ed25519')}`, `ansible_ssh_common_args='${sshArgs}'`, 'ansible_python_interpreter=/usr/bin/python3', ''].join('\n'));

/** The whole `corral plan` process on the lab fleet, median of RUNS. */
function corralCli() {
  const times = [];
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    execFileSync(process.execPath, [join(ROOT, 'bin/corral.js'), 'plan', fleet], { env: labEnv, stdio: 'ignore' });
    times.push(performance.now() - t);
  }
  return median(times);
}

/** Both tools on the lab; `busy` keeps every core spinning meanwhile. */
async function labComparison(busy) {
  const spinners = busy ? Array.from({ length: availableParallelism() }, () => spawn('sh', ['-c', 'while :; do :; done'], { stdio: 'ignore' })) : [];
  try {
    const c = await corralPlan(fleet, join(LAB, 'known_hosts'), join(LAB, 'keys/id_ed25519'), join(LAB, 'pki'));
    const cli = corralCli();
    const a = ansibleCheck(ini);
    console.log(`lab, 3 nodes, ${busy ? `machine busy (${spinners.length} spinning shells, one per core)` : 'machine idle'} (median of ${RUNS}):`);
    console.log(`  corral plan (observe and plan in-process)  ${c.ms.toFixed(0)} ms  (${c.execsPerHost} SSH exec per host, ${c.changes} changes)`);
    console.log(`  corral plan (the whole process)            ${cli.toFixed(0)} ms`);
    console.log(`  ansible-playbook --check                   ${a.toFixed(0)} ms`);
    console.log(`  ratio ${(a / c.ms).toFixed(1)}x in-process, ${(a / cli).toFixed(1)}x the whole process (target: at least 10x)`);
    return c;
  } finally {
    for (const s of spinners) s.kill();
  }
}

const c = await labComparison(false);
if (process.env.BUSY !== '0') await labComparison(true);

// --- many hosts: sshd instances on loopback addresses, each a "host" (this machine, observed read-only)
const keys = join(work, 'keys');
mkdirSync(keys);
execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(keys, 'host')]);
execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(keys, 'client')]);
writeFileSync(join(keys, 'authorized_keys'), readFileSync(join(keys, 'client.pub')));
mkdirSync('/run/sshd', { recursive: true });
const hostKeyLine = readFileSync(join(keys, 'host.pub'), 'utf8').trim().split(' ').slice(0, 2).join(' ');
const ips = Array.from({ length: MANY }, (_, i) => `127.0.1.${i + 1}`);
const daemons = ips.map((ip) => {
  const conf = join(work, `sshd-${ip}.conf`);
  writeFileSync(conf, [`ListenAddress ${ip}:2222`, `HostKey ${join(keys, 'host')}`, `AuthorizedKeysFile ${join(keys, 'authorized_keys')}`, 'PasswordAuthentication no', 'KbdInteractiveAuthentication no', 'UsePAM no', 'StrictModes no', 'PermitRootLogin prohibit-password', 'MaxSessions 50', 'MaxStartups 100', `PidFile ${join(work, `sshd-${ip}.pid`)}`, ''].join('\n'));
  return spawn('/usr/sbin/sshd', ['-D', '-e', '-f', conf], { stdio: 'ignore' });
});
writeFileSync(join(work, 'known_hosts'), ips.map((ip) => `[${ip}]:2222 ${hostKeyLine}`).join('\n') + '\n');
const manyRepo = join(work, 'many');
mkdirSync(manyRepo);
const fleetVars = readFileSync(join(fleet, 'pigsty.yml'), 'utf8').split('\n  vars:\n')[1];
writeFileSync(join(manyRepo, 'pigsty.yml'), `all:\n  children:\n    nodes:\n      hosts:\n${ips.map((ip, i) => `        ${ip}: { nodename: many-${i + 1} }`).join('\n')}\n  vars:\n    ansible_port: 2222\n${fleetVars}`);
await new Promise((r) => setTimeout(r, 1000));
try {
  // Ansible takes minutes per run here, so the larger N is Corral alone, against its own 3-node time.
  const m = await corralPlan(manyRepo, join(work, 'known_hosts'), join(keys, 'client'), join(work, 'pki'));
  console.log(`loopback, ${MANY} sshd instances (median of ${RUNS}):`);
  console.log(`  corral plan          ${m.ms.toFixed(0)} ms  (${m.execsPerHost} SSH exec per host, ${m.hosts} hosts; ${(m.ms / m.hosts).toFixed(0)} ms per host vs ${(c.ms / c.hosts).toFixed(0)} ms per host on 3 lab nodes)`);
} finally {
  for (const d of daemons) d.kill();
}
