// bench/pgsql: bare lab nodes to a healthy 3-node Patroni cluster with one `corral apply`, the
// unavoidable parts of that same run (package install, initdb + first start, base backup of each
// replica, first full backup) taken from the apply's own per-change timings; then the longest write
// gap of three rolling restarts, and the failover RTO a client sees through HAProxy.
// Needs: root, the lab (test/lab/lab.sh), Debian's postgresql-client on the host, `npm run build`.
// Run under the lab lock: flock /tmp/corral-lab.lock npm run bench:pgsql
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..');
const LAB = process.env.CORRAL_LAB_DIR ?? '/var/lib/corral-lab';
const FIXTURE = join(ROOT, 'test/fixtures/lab-pg');
const env = { ...process.env, CORRAL_SSH_KEY: join(LAB, 'keys/id_ed25519'), CORRAL_KNOWN_HOSTS: join(LAB, 'known_hosts'), PGPASSWORD: 'Test.Lab.Pass' };
const lab = (...args) => execFileSync('bash', [join(ROOT, 'test/lab/lab.sh'), ...args], { stdio: 'ignore' });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const psql = (ip, port, sql) => execFileSync('psql', [`host=${ip} port=${port} dbname=test user=dbuser_test connect_timeout=1`, '-AtXqc', sql], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();

function apply(dir) {
  const t = performance.now();
  const out = execFileSync('node', [join(ROOT, 'bin/corral.js'), 'apply', dir, '--yes'], { env, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  return { seconds: (performance.now() - t) / 1000, out };
}

/** Seconds of each applied change matching the pattern, from lines like `[10.213.0.12] ✓ packages:pgsql applied (25.3s)`. */
function durations(out, pattern) {
  return [...out.matchAll(/^\[(\S+)\] ✓ (\S+) applied \(([\d.]+)s\)$/gm)].filter((m) => pattern.test(m[2])).map((m) => ({ host: m[1], seconds: Number(m[3]) }));
}

function inventory(edit) {
  const dir = mkdtempSync(join(tmpdir(), 'corral-pg-bench-'));
  writeFileSync(join(dir, 'pigsty.yml'), edit(readFileSync(join(FIXTURE, 'pigsty.yml'), 'utf8')));
  return dir;
}

lab('down', '--wipe');
lab('up', '3');
const bringUp = apply(FIXTURE);
if (!bringUp.out.includes('the nodes converged')) throw new Error(`bring-up did not converge:\n${bringUp.out.slice(-3000)}`);
const max = (xs) => Math.max(...xs.map((x) => x.seconds));
const parts = {
  // Every package the cluster needs (etcd's, PostgreSQL's...), installed one after the other on a node (apt's lock): the slowest node.
  packages: Math.max(...durations(bringUp.out, /^packages:/).reduce((perHost, d) => perHost.set(d.host, (perHost.get(d.host) ?? 0) + d.seconds), new Map()).values()),
  primaryInitdb: max(durations(bringUp.out, /^patroni-member:pg-test-1$/)),
  replicaBaseBackup: max(durations(bringUp.out, /^patroni-member:pg-test-[23]$/)),
  firstFullBackup: max(durations(bringUp.out, /^pgbackrest-stanza:/)),
};

// Rolling restarts (max_connections raised three times) with a writer through HAProxy's primary service on n2.
psql('10.213.0.12', 5433, 'create table if not exists ticks (ts timestamptz)');
const loop = `while :; do psql "host=10.213.0.12 port=5433 dbname=test user=dbuser_test connect_timeout=1" -AtXqc "insert into ticks values (clock_timestamp())" >/dev/null 2>&1; sleep 0.05; done`;
const gaps = [];
let restart;
for (const max of [300, 400, 500]) {
  psql('10.213.0.12', 5433, 'truncate ticks');
  const writer = spawn('bash', ['-c', loop], { env, stdio: 'ignore', detached: true });
  try {
    restart = apply(inventory((t) => t.replace('work_mem: 8MB', `work_mem: 8MB\n          max_connections: ${max}`)));
  } finally {
    // Detached, so it outlives this process unless stopped here (a failed apply throws).
    process.kill(-writer.pid, 'SIGTERM');
  }
  gaps.push(Number(psql('10.213.0.12', 5433, 'select extract(epoch from max(gap)) from (select ts - lag(ts) over (order by ts) as gap from ticks) g')));
}
const gap = [...gaps].sort((a, b) => a - b)[1];

// Failover: the primary's node powered off; RTO = until a write through HAProxy on n2 succeeds again.
const t0 = performance.now();
lab('stop-node', 'n1');
let rto;
for (;;) {
  await sleep(200);
  try {
    // n1 is powered off: a write that succeeds went to the new leader.
    if (psql('10.213.0.12', 5433, 'insert into ticks values (now()) returning 1') === '1') {
      rto = (performance.now() - t0) / 1000;
      break;
    }
  } catch {
    // not yet
  }
  if (performance.now() - t0 > 180_000) throw new Error('no failover within 180 s');
}
lab('start-node', 'n1');

// The unavoidable parts on the critical path: packages (nodes in parallel), the primary's initdb and first start,
// then the replicas' base backups and the first full backup (which run at the same time).
const floor = parts.packages + parts.primaryInitdb + Math.max(parts.replicaBaseBackup, parts.firstFullBackup);
const rows = [
  ['bare nodes to a converged, healthy cluster (one apply)', bringUp.seconds],
  ['  package install: etcd, PostgreSQL and the rest (slowest node)', parts.packages],
  ['  primary: initdb and first start', parts.primaryInitdb],
  ['  replicas: base backup and start (slowest)', parts.replicaBaseBackup],
  ['  first full pgBackRest backup', parts.firstFullBackup],
  ['  floor: packages + initdb + max(base backup, full backup)', floor],
  ['rolling restart (apply of a postmaster parameter, last of 3)', restart.seconds],
  [`  longest write gap through HAProxy 5433, median of 3 (${gaps.map((g) => g.toFixed(1)).join(', ')})`, gap],
  ['failover RTO seen by a client through HAProxy', rto],
];
console.log('| what | seconds |\n|---|---|');
for (const [what, s] of rows) console.log(`| ${what} | ${s.toFixed(1)} |`);
console.log(`\nbring-up / floor: ${(bringUp.seconds / floor).toFixed(2)}x (target <= 1.5x); write gap ${gap.toFixed(1)} s (target < 5 s); failover RTO ${rto.toFixed(1)} s (Patroni's default target 30 s)`);
