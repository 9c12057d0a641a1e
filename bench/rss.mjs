// bench/rss: the resident memory of an idle `corral serve` (watching examples/local, its first sync
// done) beside a bare `node -e` in the same run, both read from /proc after they settle.
// NODE_FLAGS adds flags to the daemon's node (e.g. NODE_FLAGS=--max-semi-space-size=1 to see the
// young generation's share). Run: npm run bench:rss (after npm run build).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..');
const SETTLE_MS = Number(process.env.SETTLE_MS ?? 5000);
const sleep = (t) => new Promise((r) => setTimeout(r, t));
const rssMiB = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;

async function settled(args, ready = () => true) {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let logs = '';
  child.stdout.on('data', (d) => (logs += d));
  child.stderr.on('data', (d) => (logs += d));
  const end = Date.now() + 120_000;
  while (!ready(logs)) {
    if (Date.now() > end || child.exitCode !== null) throw new Error(`not ready: ${logs.slice(-2000)}`);
    await sleep(100);
  }
  await sleep(SETTLE_MS);
  const rss = rssMiB(child.pid);
  child.kill('SIGKILL');
  return rss;
}

const state = mkdtempSync(join(tmpdir(), 'corral-rss-'));
try {
  const bare = await settled(['-e', 'setInterval(() => {}, 1000)']);
  const flags = (process.env.NODE_FLAGS ?? '').split(' ').filter(Boolean);
  const serve = await settled([...flags, join(ROOT, 'bin/corral.js'), 'serve', '--watch', join(ROOT, 'examples/local'), '--state-dir', state, '--listen', '127.0.0.1:0', '--known-hosts', '/dev/null', '--log-level', 'info'], (l) => /"msg":"(sync finished|in sync|out of sync)|"sync":"/.test(l) || /Synced|OutOfSync|Failed/.test(l));
  console.log(`RSS: bare node ${bare.toFixed(0)} MiB; corral serve${flags.length ? ` (node ${flags.join(' ')})` : ''} idle (examples/local) ${serve.toFixed(0)} MiB (${(serve / bare).toFixed(2)}x, +${(serve - bare).toFixed(0)} MiB); target < 80 MB -> ${serve * 2 ** 20 < 80e6 ? 'met' : 'MISSED'}`);
} finally {
  rmSync(state, { recursive: true, force: true });
}
