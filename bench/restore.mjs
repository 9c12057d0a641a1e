// bench/restore: the restore of a 1 GB database by Corral (a commit of pg_pitr, `corral apply --pitr`)
// beside the same restore done by hand as Pigsty's pg-pitr tells a person to (stop Patroni, pgbackrest
// restore, replay and promote, start Patroni), of the same backup, in the same run, on the same node.
// Corral's overhead is the difference. One member (pg-test on n1, etcd beside it), so the figure is the
// restore itself: replicas would be cloned again in both ways alike.
// Needs: root, the lab (test/lab/lab.sh), `npm run build`. Run under the lab lock:
//   flock /tmp/corral-lab.lock npm run bench:restore
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..');
const LAB = process.env.CORRAL_LAB_DIR ?? '/var/lib/corral-lab';
const SIZE_GB = Number(process.env.RESTORE_GB ?? 1);
const env = { ...process.env, CORRAL_SSH_KEY: join(LAB, 'keys/id_ed25519'), CORRAL_KNOWN_HOSTS: join(LAB, 'known_hosts'), CORRAL_PKI_DIR: join(LAB, 'pki') };
const lab = (...args) => execFileSync('bash', [join(ROOT, 'test/lab/lab.sh'), ...args], { stdio: 'ignore' });
const onNode = (cmd) => execFileSync('ssh', ['-F', join(LAB, 'ssh_config'), '-o', 'BatchMode=yes', 'n1', cmd], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }).trim();
const asDbsu = (cmd) => onNode(`runuser -u postgres -- ${cmd}`);
const psql = (sql) => asDbsu(`psql -AtXqc "${sql}"`);

/** The lab-pg fixture cut to one member on n1 and one etcd member, plus `vars` for pg-test. */
function inventory(vars = '') {
  const text = readFileSync(join(ROOT, 'test/fixtures/lab-pg/pigsty.yml'), 'utf8')
    .replace(/^ {8}10\.213\.0\.1[23]: \{ (etcd|pg)_seq.*\n/gm, '')
    .replace('        pg_cluster: pg-test\n', `        pg_cluster: pg-test\n${vars}`);
  const dir = mkdtempSync(join(tmpdir(), 'corral-restore-bench-'));
  writeFileSync(join(dir, 'pigsty.yml'), text);
  return dir;
}

function corral(...args) {
  const t = performance.now();
  const out = execFileSync('node', [join(ROOT, 'bin/corral.js'), ...args], { env, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  if (!out.includes('the nodes converged')) throw new Error(`corral ${args.join(' ')} did not converge:\n${out.slice(-3000)}`);
  return (performance.now() - t) / 1000;
}

function timed(fn) {
  const t = performance.now();
  fn();
  return (performance.now() - t) / 1000;
}

lab('down', '--wipe');
lab('up', '1');
corral('apply', inventory(), '--yes');

// About SIZE_GB of tables (pgbench's scale 68 is 1 GB), then the full backup both restores start from.
asDbsu(`pgbench -i -q -s ${Math.round(68 * SIZE_GB)} postgres`);
const size = psql('select pg_size_pretty(pg_database_size(current_database()))');
asDbsu('pgbackrest --stanza=pg-test --type=full backup');

// By hand, as Pigsty's pg-pitr prints it: to the end of that backup (immediate), promoted, Patroni back (on a cleared DCS).
const byHand = timed(() => {
  onNode('systemctl stop patroni');
  asDbsu('pgbackrest --stanza=pg-test --delta --type=immediate --target-action=promote restore');
  asDbsu('/usr/lib/postgresql/15/bin/pg_ctl -D /pg/data -w -l /pg/log/postgres/bench.log start');
  onNode(`until [ "$(runuser -u postgres -- psql -AtXqc 'select pg_is_in_recovery()')" = f ]; do sleep 0.2; done`);
  asDbsu('/usr/lib/postgresql/15/bin/pg_ctl -D /pg/data -m fast -w stop');
  // As Corral does: the DCS describes the abandoned timeline, so Patroni would not lead the restored data.
  onNode(`printf 'pg-test\\nYes I am aware\\n' | patronictl -c /etc/patroni/patroni.yml remove pg-test >/dev/null`);
  onNode('systemctl start patroni');
  onNode(`timeout 300 bash -c 'until curl -sf http://10.213.0.11:8008/primary >/dev/null; do sleep 0.2; done'`);
});

// Corral: the same backup, the same target, from a commit.
const byCorral = corral('apply', inventory(`        pg_pitr: { type: immediate }\n`), '--yes', '--pitr');
lab('down');

console.log(`| restore of ${size} (pgBackRest full backup, to its end, promoted) | seconds |\n|---|---|`);
console.log(`| by hand (Pigsty's pg-pitr steps) | ${byHand.toFixed(1)} |`);
console.log(`| corral apply --pitr (plan, checks, restore, DCS, record, verify) | ${byCorral.toFixed(1)} |`);
console.log(`\nCorral / by hand: ${(byCorral / byHand).toFixed(2)}x; Corral's overhead ${(byCorral - byHand).toFixed(1)} s`);
