// bench/validate: validating a generated inventory of 1,000 clusters / 3,000 hosts, and every
// Pigsty template, against the floor of a plain `yaml` parse of the same files in the same run (without
// the library's duplicate-key check, which is quadratic; Corral checks keys itself, in linear time).
// Also the shapes that were quadratic once: 40,000 unknown variables in one mapping, and one group of
// 100,000 hosts. Targets: under 3x the parse time, and under 1 s for 3,000 hosts. First, the whole
// `corral validate` process on one template against a bare `node -e 0` (target: under 3x): the
// validators are compiled ahead of time (src/config/validators.gen.js, with the code cache `npm run build`
// writes), so no schema compile is in it.
// Run `npm run build` first.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { validateInventory } from '../dist/src/config/validate.js';
import { useModules } from '../dist/src/engine/modules.js';
import { MODULES } from '../dist/reconcilers/index.js';

useModules(MODULES, new URL('../dist/reconcilers/index.js', import.meta.url).href);
const CLUSTERS = Number(process.env.CLUSTERS ?? 1000);
const RUNS = Number(process.env.RUNS ?? 5);

function generate(dir) {
  mkdirSync(join(dir, 'clusters'), { recursive: true });
  writeFileSync(join(dir, 'corral.yml'), "inventory: ['global.yml', 'clusters/*.yml']\n");
  writeFileSync(join(dir, 'global.yml'), 'all:\n  vars:\n    admin_ip: 10.0.0.1\n    pg_version: 15\n    node_timezone: UTC\n');
  for (let c = 0; c < CLUSTERS; c++) {
    const hosts = [0, 1, 2].map((i) => {
      const n = c * 3 + i + 10;
      const ip = `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
      return `        ${ip}: { pg_seq: ${i + 1}, pg_role: ${i === 0 ? 'primary' : 'replica'} }`;
    });
    writeFileSync(join(dir, 'clusters', `pg-${c}.yml`), `all:
  children:
    pg-${c}:
      hosts:
${hosts.join('\n')}
      vars:
        pg_cluster: pg-${c}
        pg_users:
          - { name: app${c}, password: Secret.${c}, pgbouncer: true, roles: [dbrole_readwrite] }
        pg_databases:
          - { name: app${c}, owner: app${c} }
        pg_hba_rules:
          - { user: app${c}, db: app${c}, addr: intra, auth: pwd, title: app access }
`);
  }
}

function yamlFiles(dir) {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => /\.ya?ml$/.test(f) && !f.includes('_role-defaults')).map((f) => join(dir, f));
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function measure(label, targets, files) {
  const floor = [];
  const ours = [];
  let hosts = 0;
  let errors = 0;
  for (let r = 0; r < RUNS; r++) {
    let t = performance.now();
    for (const f of files) parse(readFileSync(f, 'utf8'), { version: '1.1', uniqueKeys: false });
    floor.push(performance.now() - t);
    t = performance.now();
    hosts = 0;
    errors = 0;
    for (const target of targets) {
      const v = await validateInventory(target);
      hosts += v.hosts.length;
      errors += v.problems.filter((p) => p.severity === 'error').length;
    }
    ours.push(performance.now() - t);
  }
  const f = median(floor);
  const o = median(ours);
  console.log(`${label}: ${files.length} files, ${hosts} hosts, ${errors} errors`);
  console.log(`  yaml parse (floor) ${f.toFixed(1)} ms   corral validate ${o.toFixed(1)} ms   ratio ${(o / f).toFixed(2)}x   ${((o * 1000) / Math.max(hosts, 1)).toFixed(1)} µs/host`);
  return { floor: f, ours: o, hosts };
}

const shared = process.env.CORRAL_SHARED ?? join(import.meta.dirname, '../../shared');
const conf = join(shared, 'pigsty-conf');
const hasConf = statSync(conf, { throwIfNoEntry: false })?.isDirectory();

/** Wall time of whole processes, alternated so that a busy machine weighs on both alike. */
function processes(template) {
  const bare = [];
  const validate = [];
  const time = (args) => {
    const t = performance.now();
    execFileSync(process.execPath, args, { stdio: 'ignore' });
    return performance.now() - t;
  };
  for (let r = 0; r < Math.max(RUNS, 9); r++) {
    bare.push(time(['-e', '0']));
    validate.push(time([join(import.meta.dirname, '../bin/corral.js'), 'validate', template]));
  }
  const [b, v] = [median(bare), median(validate)];
  console.log(`whole process, median of ${bare.length}: node -e 0 ${b.toFixed(0)} ms   corral validate ${template.replace(/.*\/(?=[^/]+\/[^/]+$)/, '')} ${v.toFixed(0)} ms   ratio ${(v / b).toFixed(2)}x (target < 3x)`);
  return v / b;
}
const startRatio = processes(hasConf ? join(conf, 'meta.yml') : join(import.meta.dirname, '../examples/single'));

const t0 = performance.now();
await validateInventory(join(import.meta.dirname, '../test/fixtures/valid/three-node.yml'));
console.log(`first call in this process (loads the validators): ${(performance.now() - t0).toFixed(1)} ms (not in the numbers below)`);

const dir = mkdtempSync(join(tmpdir(), 'corral-bench-'));
generate(dir);
const gen = await measure(`generated fleet (${CLUSTERS} clusters)`, [dir], yamlFiles(dir));

if (hasConf) {
  const templates = yamlFiles(conf);
  await measure('Pigsty templates', templates, templates);
} else console.log(`Pigsty templates: ${conf} not found, skipped`);

const wide = mkdtempSync(join(tmpdir(), 'corral-bench-wide-'));
writeFileSync(join(wide, 'pigsty.yml'), `all:\n  vars:\n${Array.from({ length: 40_000 }, (_, i) => `    my_var_${i}: ${i}\n`).join('')}`);
const wideResult = await measure('40,000 unknown variables', [wide], [join(wide, 'pigsty.yml')]);
const big = mkdtempSync(join(tmpdir(), 'corral-bench-group-'));
writeFileSync(join(big, 'pigsty.yml'), `all:\n  children:\n    nodes:\n      hosts:\n${Array.from({ length: 100_000 }, (_, i) => `        10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}: {}\n`).join('')}`);
const bigResult = await measure('one group of 100,000 hosts', [big], [join(big, 'pigsty.yml')]);

console.log(`targets: whole validate process < 3x node -e 0 -> ${startRatio < 3 ? 'met' : 'MISSED'}; ratio < 3x -> ${gen.ours / gen.floor < 3 ? 'met' : 'MISSED'}; 3,000 hosts < 1 s -> ${gen.ours < 1000 ? 'met' : 'MISSED'}; wide and big shapes < 3x -> ${Math.max(wideResult.ours / wideResult.floor, bigResult.ours / bigResult.floor) < 3 ? 'met' : 'MISSED'}`);
