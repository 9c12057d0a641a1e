// bench/targets: a target written by Corral to scraped. A host joins the inventory (its node is already
// built, so the apply writes only INFRA's target files on the infra node); the time from the apply's end
// to its node_exporter target `up` in VictoriaMetrics, next to the baseline measured in the same run:
// a target file written straight into /infra/targets over ssh to the same target `up` (VictoriaMetrics'
// own file-SD re-read, -promscrape.fileSDCheckInterval=5s, plus its first scrape, every 10 s).
// Needs: root, the lab (test/lab/lab.sh), `npm run build`. Run under the lab lock:
//   flock /tmp/corral-lab.lock npm run bench:targets
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..');
const LAB = process.env.CORRAL_LAB_DIR ?? '/var/lib/corral-lab';
const env = { ...process.env, CORRAL_SSH_KEY: join(LAB, 'keys/id_ed25519'), CORRAL_KNOWN_HOSTS: join(LAB, 'known_hosts'), CORRAL_PKI_DIR: join(LAB, 'pki') };
const INFRA = '10.213.0.11';
const JOINER = '10.213.0.12';
const ROUNDS = 5;
const lab = (...args) => execFileSync('bash', [join(ROOT, 'test/lab/lab.sh'), ...args], { stdio: 'ignore' });
const onInfra = (command) => execFileSync('ssh', ['-F', join(LAB, 'ssh_config'), '-o', 'BatchMode=yes', 'n1', command], { encoding: 'utf8' });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const single = readFileSync(join(ROOT, 'test/fixtures/lab-single/pigsty.yml'), 'utf8');
/** The single-node default, with n2 as a plain host watched by INFRA (node_exporter only). */
const withJoiner = single.replace('  vars:\n    version:', `    www:\n      hosts: { ${JOINER}: {} }\n      vars: { node_cluster: www }\n  vars:\n    version:`);

function apply(text) {
  const dir = mkdtempSync(join(tmpdir(), 'corral-targets-bench-'));
  writeFileSync(join(dir, 'pigsty.yml'), text);
  const out = execFileSync('node', [join(ROOT, 'bin/corral.js'), 'apply', dir, '--yes'], { env, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  if (!out.includes('the nodes converged')) throw new Error(`apply did not converge:\n${out.slice(-3000)}`);
  return out;
}

async function targets() {
  const res = await fetch(`http://${INFRA}:8428/api/v1/targets`, { signal: AbortSignal.timeout(5000) });
  return (await res.json()).data.activeTargets;
}

/** Milliseconds from now until a target matching `match` is listed with `health` (or, for 'gone', no longer listed). */
async function until(match, health) {
  const t0 = performance.now();
  for (;;) {
    const list = (await targets().catch(() => [])).filter(match);
    if (health === 'gone' ? list.length === 0 : list.some((t) => t.health === health)) return performance.now() - t0;
    if (performance.now() - t0 > 120_000) throw new Error(`no target ${health} within 120 s`);
    await sleep(100);
  }
}

const joinerNode = (t) => t.labels.job === 'node' && t.labels.instance === `${JOINER}:9100` && !t.labels.bench;
const benchTarget = (i) => (t) => t.labels.bench === String(i);

lab('down', '--wipe');
lab('up', '2');
apply(withJoiner);
await until(joinerNode, 'up');

const corral = [];
const direct = [];
for (let i = 0; i < ROUNDS; i++) {
  apply(single);
  await until(joinerNode, 'gone');
  apply(withJoiner);
  corral.push(await until(joinerNode, 'up'));

  // The baseline: the same target (another label set, so another target) written by hand, not by Corral.
  onInfra(`printf -- '- labels: { bench: "${i}" }\\n  targets: [ ${JOINER}:9100 ]\\n' > /infra/targets/node/bench.yml`);
  direct.push(await until(benchTarget(i), 'up'));
  onInfra('rm -f /infra/targets/node/bench.yml');
  await until(benchTarget(i), 'gone');
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] / 1000;
const fmt = (xs) => xs.map((x) => (x / 1000).toFixed(1)).join(', ');
console.log('| what | median s | rounds |\n|---|---|---|');
console.log(`| apply's end to the new host's target up (Corral) | ${median(corral).toFixed(1)} | ${fmt(corral)} |`);
console.log(`| a target file written by hand to up (VictoriaMetrics' SD re-read + first scrape) | ${median(direct).toFixed(1)} | ${fmt(direct)} |`);
console.log(`\nCorral / VictoriaMetrics' own re-read: ${(median(corral) / median(direct)).toFixed(2)}x (target <= 1.2x: Corral adds nothing after the file is written)`);
