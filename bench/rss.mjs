// bench/rss: the resident memory of an idle `corral serve` (watching examples/local, its first sync
// done) beside a bare `node -e` in the same run. Idle is a steady state: V8 shrinks its heap some
// seconds after the last work, and drift checks allocate again, so RSS is sampled every second for
// SAMPLE_S seconds after SETTLE_MS and the median is reported (the spread beside it). The daemon is
// measured twice: as `node bin/corral.js serve` is, and with the environment deploy/corral.service
// sets (its Environment= lines).
// NODE_FLAGS adds flags to the daemon's node (e.g. NODE_FLAGS=--max-semi-space-size=1).
// Run: npm run bench:rss (after npm run build).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..');
const SETTLE_MS = Number(process.env.SETTLE_MS ?? 10_000);
const SAMPLE_S = Number(process.env.SAMPLE_S ?? 20);
const TARGET_MB = 80;
const sleep = (t) => new Promise((r) => setTimeout(r, t));
const rssMiB = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;

/** `Environment=K=V ...` lines of the shipped unit. */
function unitEnvironment() {
  const env = {};
  for (const line of readFileSync(join(ROOT, 'deploy/corral.service'), 'utf8').split('\n')) {
    const m = /^Environment=(.*)$/.exec(line.trim());
    if (m) for (const pair of m[1].split(/\s+/)) env[pair.slice(0, pair.indexOf('='))] = pair.slice(pair.indexOf('=') + 1);
  }
  return env;
}

/** Median and range of RSS samples, once `ready` says the process is up and SETTLE_MS has passed. */
async function settled(args, env = {}, ready = () => true) {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let logs = '';
  child.stdout.on('data', (d) => (logs += d));
  child.stderr.on('data', (d) => (logs += d));
  try {
    const end = Date.now() + 120_000;
    while (!ready(logs)) {
      if (Date.now() > end || child.exitCode !== null) throw new Error(`not ready: ${logs.slice(-2000)}`);
      await sleep(100);
    }
    await sleep(SETTLE_MS);
    const samples = [];
    for (let i = 0; i < SAMPLE_S; i++) {
      samples.push(rssMiB(child.pid));
      await sleep(1000);
    }
    samples.sort((a, b) => a - b);
    return { median: samples[Math.floor(samples.length / 2)], min: samples[0], max: samples.at(-1) };
  } finally {
    child.kill('SIGKILL');
  }
}

const show = (r) => `${r.median.toFixed(0)} MiB (${r.min.toFixed(0)}-${r.max.toFixed(0)})`;
const state = mkdtempSync(join(tmpdir(), 'corral-rss-'));
try {
  const bare = await settled(['-e', 'setInterval(() => {}, 1000)']);
  const flags = (process.env.NODE_FLAGS ?? '').split(' ').filter(Boolean);
  const serve = (env) =>
    settled([...flags, join(ROOT, 'bin/corral.js'), 'serve', '--watch', join(ROOT, 'examples/local'), '--state-dir', state, '--listen', '127.0.0.1:0', '--known-hosts', '/dev/null', '--log-level', 'info'], env, (l) => /"msg":"(sync finished|in sync|out of sync)|"sync":"/.test(l) || /Synced|OutOfSync|Failed/.test(l));
  const unitEnv = unitEnvironment();
  const results = [['as `node bin/corral.js serve`', await serve({})], [`as deploy/corral.service runs it (${Object.entries(unitEnv).map(([k, v]) => `${k}=${v}`).join(' ') || 'no Environment='})`, await serve(unitEnv)]];
  console.log(`RSS, median of ${SAMPLE_S} samples after ${SETTLE_MS / 1000} s idle (range): bare node ${show(bare)}`);
  for (const [how, r] of results) {
    console.log(`corral serve${flags.length ? ` (node ${flags.join(' ')})` : ''} idle (examples/local) ${how}: ${show(r)}, ${(r.median / bare.median).toFixed(2)}x bare, +${(r.median - bare.median).toFixed(0)} MiB; target < ${TARGET_MB} MB -> ${r.median * 2 ** 20 < TARGET_MB * 1e6 ? 'met' : 'MISSED'}`);
  }
} finally {
  rmSync(state, { recursive: true, force: true });
}
