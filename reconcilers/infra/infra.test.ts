import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { validateInventory } from '../../src/config/validate.js';
import { ASSUMED_FACTS } from '../../src/engine/facts.js';
import { ignoredNotes } from '../../src/engine/ignored.js';
import type { Desired, Facts, Note, Observation } from '../../src/engine/model.js';
import { observeScript } from '../../src/engine/observe.js';
import { plan } from '../../src/engine/plan.js';
import { renderJson, renderMarkdown, renderText } from '../../src/engine/render.js';
import { sha256, type FileWant } from '../../src/engine/resources/file.js';
import { kindOf } from '../../src/engine/resources/index.js';
import type { Resource } from '../../src/engine/resources/kind.js';
import type { Certificates, Controller } from '../../src/engine/reconciler.js';
import { tmpRepo } from '../../test/helpers/tmp.js';
import { certificatesFor } from '../../test/helpers/pki.js';
import { infra } from './index.js';
import { retiredUnits } from './kinds/retired-units.js';
import { halfInterval } from './templates.js';

/** Pigsty's default single node (conf/meta.yml): INFRA, ETCD and PGSQL pg-meta on one host. */
const META = `
all:
  children:
    infra: { hosts: { 10.10.10.10: { infra_seq: 1 } }, vars: { repo_enabled: false } }
    etcd: { hosts: { 10.10.10.10: { etcd_seq: 1 } }, vars: { etcd_cluster: etcd } }
    pg-meta: { hosts: { 10.10.10.10: { pg_seq: 1, pg_role: primary } }, vars: { pg_cluster: pg-meta } }
  vars:
    admin_ip: 10.10.10.10
    infra_portal: { home: { domain: i.pigsty }, pgadmin: { domain: adm.pigsty, endpoint: "\${admin_ip}:8885" } }
`;

/** Three PGSQL members that are the etcd cluster too, one infra node, and a plain host monitored only. */
const fleet = (pgVars = '', extra = ''): string => `
all:
  children:
    infra: { hosts: { 10.0.0.10: { infra_seq: 1 } } }
    etcd:
      hosts: { 10.0.0.11: { etcd_seq: 1 }, 10.0.0.12: { etcd_seq: 2 }, 10.0.0.13: { etcd_seq: 3 } }
      vars: { etcd_cluster: etcd }
    pg-test:
      hosts: { 10.0.0.11: { pg_seq: 1, pg_role: primary }, 10.0.0.12: { pg_seq: 2, pg_role: replica }, 10.0.0.13: { pg_seq: 3, pg_role: replica } }
      vars: { pg_cluster: pg-test${pgVars} }
    www: { hosts: { 10.0.0.20: {} }, vars: { node_cluster: www } }
${extra}`;

const REDIS = `    redis-ms:
      hosts: { 10.0.0.21: { redis_node: 1, redis_instances: { 6379: {}, 6380: {} } }, 10.0.0.22: { redis_node: 2, redis_instances: { 6379: { replica_of: '10.0.0.21 6379' } } } }
      vars: { redis_cluster: redis-ms }
`;

interface Loaded {
  desired: Desired;
  notes: Note[];
  /** What the plan says of the cluster's parameters that Corral does not honour (the schema's x-corral). */
  ignored: Note[];
  certificates: Certificates;
}

async function load(text: string, facts: (host: string) => Facts = () => ASSUMED_FACTS, controller?: Controller): Promise<Loaded> {
  const v = await validateInventory(tmpRepo({ 'pigsty.yml': text }));
  expect(v.problems.filter((p) => p.severity === 'error')).toEqual([]);
  const cluster = v.clusters.find((c) => c.module === 'infra')!;
  const certificates = await certificatesFor(v);
  const out = infra.desired({ cluster, hosts: v.hosts, facts, certificates, together: () => true, ...(controller ? { controller } : {}) });
  const target = (name: string) => ({ name, address: name, port: 22, user: 'root', connection: 'ssh' as const });
  return { notes: out.notes, ignored: ignoredNotes(cluster), certificates, desired: { hosts: [...out.resources].map(([host, resources]) => ({ host, target: target(host), resources })), edges: out.edges } };
}

const on = (d: Desired, host: string): Resource[] => d.hosts.find((h) => h.host === host)!.resources;
const wantsOf = <W>(d: Desired, host: string, kind: string): W[] => on(d, host).filter((r) => r.kind === kind).map((r) => r.want as W);
const filesOf = (d: Desired, host: string): Map<string, FileWant> => new Map(wantsOf<FileWant>(d, host, 'file').map((f) => [f.path, f]));
const fileOf = (d: Desired, host: string, path: string): FileWant => {
  const f = filesOf(d, host).get(path);
  if (!f) throw new Error(`no file ${path} on ${host}`);
  return f;
};
const targetNames = (d: Desired, host: string, dir: string): string[] =>
  [...filesOf(d, host).keys()]
    .filter((p) => p.startsWith(`/infra/targets/${dir}/`))
    .map((p) => p.slice(`/infra/targets/${dir}/`.length))
    .sort();
const targetsIn = (d: Desired, host: string, dir: string, name: string): string => fileOf(d, host, `/infra/targets/${dir}/${name}`).content;

/** What a node in the desired state reports: every resource as wanted (stale-files with nothing stale). */
function inSync(d: Desired, overrides: Record<string, unknown> = {}): Observation[] {
  return d.hosts.map((h) => {
    const states: Record<string, unknown> = {};
    for (const r of h.resources) {
      const w = r.want as Record<string, unknown>;
      const id = kindOf(r.kind).id(r.want);
      const owner = (w.owner as string | undefined) ?? 'root';
      const attrs = { owner, group: (w.group as string | undefined) ?? owner, mode: w.mode };
      if (r.kind === 'packages') states[id] = Object.fromEntries((w.packages as string[]).map((p) => [p, '1']));
      else if (r.kind === 'directory') states[id] = { type: 'directory', ...attrs };
      else if (r.kind === 'file') states[id] = { type: 'regular file', ...attrs, sha256: sha256(w.content as string), content: w.content };
      else if (r.kind === 'symlink') states[id] = { target: w.target };
      else if (r.kind === 'service') states[id] = { enabled: w.enabled, running: w.running };
      else if (r.kind === 'reload') states[id] = { sha256: w.sha256 };
      else if (r.kind === 'stale-files') states[id] = { files: w.keep };
      else if (r.kind === 'infra-retired-units') states[id] = { units: w.keep };
      else throw new Error(`no in-sync state for ${r.kind}`);
    }
    return { host: h.host, ok: true as const, facts: ASSUMED_FACTS, states: { ...states, ...overrides }, durationMs: 1 };
  });
}

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('INFRA on Pigsty\'s default single node (INFRA + ETCD + PGSQL pg-meta on one host)', () => {
  it('renders every component with Pigsty\'s ports, on Debian\'s packages and units', async () => {
    const { desired } = await load(META);
    expect(desired.hosts.map((h) => h.host)).toEqual(['10.10.10.10']);
    const [pkgs] = wantsOf<{ packages: string[] }>(desired, '10.10.10.10', 'packages');
    expect(pkgs!.packages).toEqual(['victoria-metrics', 'prometheus-alertmanager', 'prometheus-blackbox-exporter', 'nginx', 'prometheus-nginx-exporter']);
    expect(wantsOf(desired, '10.10.10.10', 'symlink')).toEqual([
      { path: '/infra', target: '/data/infra' },
      { path: '/www', target: '/data/nginx' },
    ]);
    const services = wantsOf<{ name: string; enabled: boolean; running: boolean }>(desired, '10.10.10.10', 'service');
    expect(services.map((s) => s.name)).toEqual(['victoria-metrics', 'vmalert', 'prometheus-alertmanager', 'prometheus-blackbox-exporter', 'nginx', 'prometheus-nginx-exporter']);
    expect(services.every((s) => s.enabled && s.running)).toBe(true);
    // Debian's packages start their services on their own defaults: Corral's first load of its settings restarts them.
    const reloads = wantsOf<{ name: string; firstTime: string }>(desired, '10.10.10.10', 'reload');
    expect(Object.fromEntries(reloads.map((r) => [r.name, r.firstTime]))).toEqual({
      'victoria-metrics': 'restart',
      vmalert: 'record',
      'prometheus-alertmanager': 'restart',
      'prometheus-blackbox-exporter': 'restart',
      nginx: 'restart',
      'prometheus-nginx-exporter': 'restart',
    });

    const vm = fileOf(desired, '10.10.10.10', '/etc/default/victoria-metrics').content;
    expect(vm).toContain('ARGS="-storageDataPath=/infra/metrics -httpListenAddr=:8428 -promscrape.config=/infra/prometheus.yml -search.latencyOffset=2s -retentionPeriod=15d -promscrape.fileSDCheckInterval=5s"');
    const scrape = fileOf(desired, '10.10.10.10', '/infra/prometheus.yml').content;
    expect(scrape).toContain('scrape_interval: 10s\n  scrape_timeout: 8s\n');
    for (const job of ['ping', 'infra', 'node', 'etcd', 'minio', 'pgsql', 'pgsql-patroni', 'pgrds', 'redis']) expect(scrape).toContain(`  - job_name: ${job}\n`);
    expect(scrape).toContain('replacement: 127.0.0.1:9115');
    expect(scrape).toContain('replacement: $1:9121');
    const vmalert = fileOf(desired, '10.10.10.10', '/etc/default/vmalert').content;
    for (const flag of ['-datasource.url=http://127.0.0.1:8428', '-remoteWrite.url=http://127.0.0.1:8428', '-notifier.url=http://127.0.0.1:9059', '-httpListenAddr=:8880', '-rule=/infra/rules/*.yml', '-evaluationInterval=5000ms', '-datasource.queryTimeAlignment=false']) expect(vmalert).toContain(flag);
    expect(fileOf(desired, '10.10.10.10', '/etc/systemd/system/vmalert.service').content).toContain('ExecStart=/usr/bin/vmalert $ARGS\n');
    const am = fileOf(desired, '10.10.10.10', '/etc/default/prometheus-alertmanager').content;
    for (const flag of ['--config.file=/etc/prometheus/alertmanager.yml', '--web.listen-address=:9059', '--storage.path=/infra/alertmgr']) expect(am).toContain(flag);
    expect(fileOf(desired, '10.10.10.10', '/etc/prometheus/alertmanager.yml').content).toContain('receiver: default');
    expect(fileOf(desired, '10.10.10.10', '/etc/default/prometheus-blackbox-exporter').content).toContain('ARGS="--config.file=/etc/prometheus/blackbox.yml --web.listen-address=:9115"');
    expect(fileOf(desired, '10.10.10.10', '/etc/prometheus/blackbox.yml').content).toContain('  icmp:\n    prober: icmp\n');
    expect(fileOf(desired, '10.10.10.10', '/etc/systemd/system/prometheus-blackbox-exporter.service.d/corral.conf').content).toContain('AmbientCapabilities=CAP_NET_RAW');

    const files = filesOf(desired, '10.10.10.10');
    expect([...files.keys()].filter((p) => p.startsWith('/infra/rules/')).sort()).toEqual(['agent.yml', 'corral.yml', 'etcd.yml', 'infra.yml', 'minio.yml', 'node.yml', 'pgsql.yml', 'redis.yml'].map((n) => `/infra/rules/${n}`));
    expect(fileOf(desired, '10.10.10.10', '/infra/rules/agent.yml').content).toContain('- record: node_up\n        expr: up{instance=~".*:9100"}');
    expect(fileOf(desired, '10.10.10.10', '/infra/rules/agent.yml').content).toContain('- alert: PatroniDown\n        expr: up{instance=~".*:8008"} < 1\n        for: 1m\n');
    // Corral's own alerts (deploy/alerts.yml) load there too, marked as Corral's rule file.
    const own = fileOf(desired, '10.10.10.10', '/infra/rules/corral.yml').content;
    expect(own.split('\n')[0]).toBe('# managed by corral (INFRA rules)');
    expect(own).toContain(readFileSync(join(import.meta.dirname, '../../deploy/alerts.yml'), 'utf8'));
  });

  it("the daemon's /metrics is a target of the infra node on its machine only; the CLI leaves that file as it is", async () => {
    const infraStale = (d: Desired): string[] => wantsOf<{ dir: string; keep: string[] }>(d, '10.10.10.10', 'stale-files').find((s) => s.dir === '/infra/targets/infra')!.keep;
    const here = (await load(META, undefined, { addresses: ['10.10.10.10', '192.168.1.5'], metrics: '127.0.0.1:9443' })).desired;
    expect(targetsIn(here, '10.10.10.10', 'infra', 'corral.yml')).toBe(
      ['# managed by corral (INFRA targets)', '# the corral daemon on 10.10.10.10', '- labels: { ip: 10.10.10.10, ins: corral, cls: corral }', '  targets:', '    - 127.0.0.1:9443', ''].join('\n'),
    );
    expect(infraStale(here)).toEqual(['infra-1.yml', 'corral.yml']);
    // A daemon elsewhere: the file goes, if an earlier daemon here wrote it.
    const elsewhere = (await load(META, undefined, { addresses: ['10.10.10.99'], metrics: '127.0.0.1:9443' })).desired;
    expect(targetNames(elsewhere, '10.10.10.10', 'infra')).toEqual(['infra-1.yml']);
    expect(infraStale(elsewhere)).toEqual(['infra-1.yml']);
    // The CLI: neither written nor removed.
    const cli = (await load(META)).desired;
    expect(targetNames(cli, '10.10.10.10', 'infra')).toEqual(['infra-1.yml']);
    expect(infraStale(cli)).toEqual(['infra-1.yml', 'corral.yml']);
  });

  it('serves the portal on nginx_port: the home server proxies each component, an endpoint entry its own server, https with Corral\'s certificate', async () => {
    const { desired, certificates } = await load(META);
    const nginx = fileOf(desired, '10.10.10.10', '/etc/nginx/nginx.conf').content;
    expect(nginx).toContain('include /etc/nginx/conf.d/*.conf;');
    expect(nginx).not.toContain('sites-enabled');
    const home = fileOf(desired, '10.10.10.10', '/etc/nginx/conf.d/home.conf').content;
    expect(home).toContain('server_name i.pigsty;\n    listen 80 default_server;\n    listen 443 ssl default_server;');
    for (const [path, port] of [['vmetrics', 8428], ['vmalert', 8880], ['alertmgr', 9059], ['blackbox', 9115]] as const) expect(home).toContain(`location /${path}/ {\n        proxy_pass http://127.0.0.1:${port}/;`);
    expect(home).toContain('location /nginx {\n        stub_status on;');
    expect(home).toContain('root /www;');
    const pgadmin = fileOf(desired, '10.10.10.10', '/etc/nginx/conf.d/pgadmin.conf').content;
    expect(pgadmin).toContain('server 10.10.10.10:8885 max_fails=0;');
    expect(pgadmin).toContain('server_name adm.pigsty;');
    expect(fileOf(desired, '10.10.10.10', '/etc/default/prometheus-nginx-exporter').content).toContain('-nginx.scrape-uri=http://127.0.0.1:80/nginx -web.listen-address=:9113');
    const page = fileOf(desired, '10.10.10.10', '/www/index.html').content;
    for (const link of ['/vmetrics/vmui/', '/vmalert/vmalert/groups', '/alertmgr/#/alerts', '/ca.crt', 'https://adm.pigsty/']) expect(page).toContain(`href="${link}"`);
    // Components that are not built are not linked.
    for (const link of ['/vlogs/', '/vtraces/', '/pev']) expect(page).not.toContain(link);
    expect(fileOf(desired, '10.10.10.10', '/www/ca.crt').content).toBe(certificates.ca);
    const key = fileOf(desired, '10.10.10.10', '/etc/nginx/conf.d/cert/pigsty.key');
    expect(key).toMatchObject({ mode: 0o600, secret: true });
    const names = execFileSync('openssl', ['x509', '-noout', '-ext', 'subjectAltName', '-subject'], { input: fileOf(desired, '10.10.10.10', '/etc/nginx/conf.d/cert/pigsty.crt').content, encoding: 'utf8' });
    for (const n of ['DNS:i.pigsty', 'DNS:adm.pigsty', 'IP Address:10.10.10.10', 'OU = nginx']) expect(names).toContain(n);
  });

  it('writes Pigsty\'s target files for the node, its etcd member, its PostgreSQL and the infra components, which Prometheus reads', async () => {
    const { desired } = await load(META);
    expect(targetNames(desired, '10.10.10.10', 'node')).toEqual(['10.10.10.10.yml']);
    expect(targetNames(desired, '10.10.10.10', 'ping')).toEqual(['10.10.10.10.yml']);
    expect(targetNames(desired, '10.10.10.10', 'etcd')).toEqual(['etcd-1.yml']);
    expect(targetNames(desired, '10.10.10.10', 'pgsql')).toEqual(['pg-meta-1.yml']);
    expect(targetNames(desired, '10.10.10.10', 'infra')).toEqual(['infra-1.yml']);
    expect(targetsIn(desired, '10.10.10.10', 'node', '10.10.10.10.yml')).toBe(
      ['# managed by corral (INFRA targets)', '# 10.10.10.10', '# node, haproxy, vector', '- labels: { ip: 10.10.10.10, ins: pg-meta-1, cls: nodes }', '  targets:', '    - 10.10.10.10:9100', '    - 10.10.10.10:9101', ''].join('\n'),
    );
    expect(targetsIn(desired, '10.10.10.10', 'pgsql', 'pg-meta-1.yml')).toBe(
      ['# managed by corral (INFRA targets)', '# pg-meta-1 [primary] @ 10.10.10.10', '- labels: { cls: pg-meta, ins: pg-meta-1, ip: 10.10.10.10 }', '  targets:', '    - 10.10.10.10:9630', '    - 10.10.10.10:9631', '    - 10.10.10.10:8008', ''].join('\n'),
    );
    expect(targetsIn(desired, '10.10.10.10', 'etcd', 'etcd-1.yml')).toContain('- labels: { ip: 10.10.10.10, ins: etcd-1, cls: etcd }\n  targets:\n    - 10.10.10.10:2379\n');
    const infraTargets = targetsIn(desired, '10.10.10.10', 'infra', 'infra-1.yml');
    for (const [ins, port] of [['nginx-1', 9113], ['vmetrics-1', 8428], ['vmalert-1', 8880], ['alertmanager-1', 9059], ['blackbox-1', 9115]] as const) expect(infraTargets).toContain(`ins: ${ins}, cls: ${ins.split('-')[0]!} }\n  targets:\n    - 10.10.10.10:${port}\n`);
    expect(infraTargets).not.toMatch(/grafana|vlogs|vtraces/);
    // Every folder is swept of Corral's files the inventory no longer asks for.
    const stale = wantsOf<{ dir: string; keep: string[] }>(desired, '10.10.10.10', 'stale-files');
    expect(stale.map((s) => s.dir)).toEqual([...['node', 'ping', 'infra', 'etcd', 'pgsql', 'patroni', 'pgrds', 'redis', 'minio'].map((d) => `/infra/targets/${d}`), '/infra/rules', '/etc/nginx/conf.d']);

    // Prometheus' own checker reads the scrape config and every target file (paths moved into a temp dir).
    const dir = mkdtempSync(join(tmpdir(), 'corral-infra-targets-'));
    dirs.push(dir);
    const files = filesOf(desired, '10.10.10.10');
    for (const [path, f] of files) {
      if (!path.startsWith('/infra/targets/') && !path.startsWith('/etc/pki/')) continue;
      mkdirSync(join(dir, path, '..'), { recursive: true });
      writeFileSync(join(dir, path), f.content);
    }
    writeFileSync(join(dir, 'prometheus.yml'), fileOf(desired, '10.10.10.10', '/infra/prometheus.yml').content.replaceAll('/infra/targets/', `${dir}/infra/targets/`).replaceAll('/etc/pki/', `${dir}/etc/pki/`));
    const checked = execFileSync('promtool', ['check', 'config', join(dir, 'prometheus.yml')], { encoding: 'utf8', stdio: 'pipe' });
    expect(checked).toContain('SUCCESS');
    expect(checked).not.toMatch(/FAILED|error/i);
  });

  it('gives the infra node the CA and a client certificate of its own for etcd\'s https (the key a secret file VictoriaMetrics reads)', async () => {
    const { desired, certificates } = await load(META);
    expect(fileOf(desired, '10.10.10.10', '/etc/pki/ca.crt').content).toBe(certificates.ca);
    const key = fileOf(desired, '10.10.10.10', '/etc/pki/infra.key');
    expect(key).toMatchObject({ mode: 0o640, owner: 'root', group: '_victoria-metrics', secret: true });
    const cert = fileOf(desired, '10.10.10.10', '/etc/pki/infra.crt').content;
    expect(cert).toBe(certificates.get('infra/10.10.10.10').certificate);
    const dir = mkdtempSync(join(tmpdir(), 'corral-infra-ca-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'ca.crt'), certificates.ca);
    writeFileSync(join(dir, 'infra.crt'), cert);
    expect(execFileSync('openssl', ['verify', '-CAfile', join(dir, 'ca.crt'), '-purpose', 'sslclient', join(dir, 'infra.crt')], { encoding: 'utf8' })).toContain(': OK');
    expect(execFileSync('openssl', ['x509', '-noout', '-subject', '-in', join(dir, 'infra.crt')], { encoding: 'utf8' })).toContain('OU = infra');
    expect(fileOf(desired, '10.10.10.10', '/infra/prometheus.yml').content).toContain('  - job_name: etcd\n    metrics_path: /metrics\n    file_sd_configs:\n      - files: [ /infra/targets/etcd/*.yml ]\n    scheme: https\n    tls_config:\n      ca_file: /etc/pki/ca.crt\n      cert_file: /etc/pki/infra.crt\n      key_file: /etc/pki/infra.key\n');
  });

  it('is in sync once applied: a node as desired plans nothing', async () => {
    const { desired } = await load(META);
    expect(plan(desired, inSync(desired), 'r1').plan.changes).toEqual([]);
  });
});

describe('INFRA targets across the inventory', () => {
  it('a 3-node PGSQL cluster on etcd and one infra node: a target file for every member and exporter, a plain host monitored as a node', async () => {
    const { desired } = await load(fleet());
    const all = ['10.0.0.10', '10.0.0.11', '10.0.0.12', '10.0.0.13', '10.0.0.20'];
    expect(desired.hosts.map((h) => h.host)).toEqual(['10.0.0.10']);
    expect(targetNames(desired, '10.0.0.10', 'node')).toEqual(all.map((ip) => `${ip}.yml`));
    expect(targetNames(desired, '10.0.0.10', 'ping')).toEqual(all.map((ip) => `${ip}.yml`));
    expect(targetNames(desired, '10.0.0.10', 'etcd')).toEqual(['etcd-1.yml', 'etcd-2.yml', 'etcd-3.yml']);
    expect(targetNames(desired, '10.0.0.10', 'pgsql')).toEqual(['pg-test-1.yml', 'pg-test-2.yml', 'pg-test-3.yml']);
    for (const [seq, role] of [[1, 'primary'], [2, 'replica'], [3, 'replica']] as const) {
      const ip = `10.0.0.1${seq}`;
      expect(targetsIn(desired, '10.0.0.10', 'pgsql', `pg-test-${seq}.yml`)).toContain(`# pg-test-${seq} [${role}] @ ${ip}\n- labels: { cls: pg-test, ins: pg-test-${seq}, ip: ${ip} }\n  targets:\n    - ${ip}:9630\n    - ${ip}:9631\n    - ${ip}:8008\n`);
      expect(targetsIn(desired, '10.0.0.10', 'etcd', `etcd-${seq}.yml`)).toContain(`- labels: { ip: ${ip}, ins: etcd-${seq}, cls: etcd }\n  targets:\n    - ${ip}:2379\n`);
      // node_id_from_pg: a PostgreSQL node is named <pg_cluster>-<pg_seq>; its HAProxy (NODE's) is listed.
      expect(targetsIn(desired, '10.0.0.10', 'node', `${ip}.yml`)).toContain(`- labels: { ip: ${ip}, ins: pg-test-${seq}, cls: nodes }\n  targets:\n    - ${ip}:9100\n    - ${ip}:9101\n`);
      expect(targetsIn(desired, '10.0.0.10', 'ping', `${ip}.yml`)).toContain(`  targets:\n    - ${ip}\n`);
    }
    // HAProxy on every node with haproxy_enabled, PostgreSQL or not (NODE's, as Pigsty); the plain host in its own node_cluster.
    expect(targetsIn(desired, '10.0.0.10', 'node', '10.0.0.10.yml')).toContain('  targets:\n    - 10.0.0.10:9100\n    - 10.0.0.10:9101\n');
    expect(targetsIn(desired, '10.0.0.10', 'node', '10.0.0.20.yml')).toContain('- labels: { ip: 10.0.0.20, ins: 10.0.0.20, cls: www }\n  targets:\n    - 10.0.0.20:9100\n    - 10.0.0.20:9101\n');
    expect(targetNames(desired, '10.0.0.10', 'redis')).toEqual([]);
  });

  it('follows each switch and port: exporters off, Patroni over https, VIPs pinged, other ports', async () => {
    const { desired } = await load(fleet(', pg_exporter_enabled: false, pgbouncer_exporter_port: 9632, patroni_ssl_enabled: true, pg_vip_enabled: true, pg_vip_address: 10.0.0.19/24, pg_vip_interface: eth0'));
    expect(targetsIn(desired, '10.0.0.10', 'pgsql', 'pg-test-2.yml')).toContain('  targets:\n    - 10.0.0.12:9632\n');
    expect(targetsIn(desired, '10.0.0.10', 'pgsql', 'pg-test-2.yml')).not.toMatch(/:9630|:8008/);
    expect(targetNames(desired, '10.0.0.10', 'patroni')).toEqual(['pg-test-1.yml', 'pg-test-2.yml', 'pg-test-3.yml']);
    expect(targetsIn(desired, '10.0.0.10', 'patroni', 'pg-test-2.yml')).toContain('- labels: { job: pgsql, cls: pg-test, ins: pg-test-2, ip: 10.0.0.12 }\n  targets:\n    - 10.0.0.12:8008\n');
    expect(targetNames(desired, '10.0.0.10', 'ping')).toContain('10.0.0.19---10.0.0.11.yml');
    expect(targetsIn(desired, '10.0.0.10', 'ping', '10.0.0.19---10.0.0.12.yml')).toContain('- labels: { cls: pg-test, ins: pg-test-2, ip: 10.0.0.12, vip: 10.0.0.19, job: pgsql-vip }\n  targets:\n    - 10.0.0.19\n');
    // The agent rules follow the ports too.
    expect(fileOf(desired, '10.0.0.10', '/infra/rules/agent.yml').content).toContain('- record: pgbouncer_exporter_agent_up\n        expr: up{instance=~".*:(9631|9632)"}');
  });

  it('a Redis cluster added gets its targets in the same plan; one removed loses them (stale files removed)', async () => {
    const before = await load(fleet());
    const after = await load(fleet('', REDIS));
    expect(targetNames(after.desired, '10.0.0.10', 'redis')).toEqual(['redis-ms-1.yml', 'redis-ms-2.yml']);
    expect(targetsIn(after.desired, '10.0.0.10', 'redis', 'redis-ms-1.yml')).toContain(
      '- labels: { cls: redis-ms, ins: redis-ms-1-6379, instance: 10.0.0.21:6379 }\n  targets:\n    - redis://10.0.0.21:6379\n- labels: { cls: redis-ms, ins: redis-ms-1-6380, instance: 10.0.0.21:6380 }\n  targets:\n    - redis://10.0.0.21:6380\n',
    );
    expect(targetNames(after.desired, '10.0.0.10', 'node')).toContain('10.0.0.21.yml');

    // Added: against the node as it was, the plan writes the new targets (and nothing restarts).
    const added = plan(after.desired, inSync(before.desired), 'r2').plan.changes;
    expect(added.filter((c) => c.resource.startsWith('file:/infra/targets/redis/')).map((c) => [c.resource, c.action])).toEqual([
      ['file:/infra/targets/redis/redis-ms-1.yml', 'create'],
      ['file:/infra/targets/redis/redis-ms-2.yml', 'create'],
    ]);
    expect(added.every((c) => c.resource.startsWith('file:/infra/targets/') || c.resource === 'stale-files:/infra/targets/redis (redis targets)')).toBe(true);
    expect(added.some((c) => c.restarts || c.destructive)).toBe(false);

    // Removed: the node still has the cluster's files; the plan deletes them, and only them.
    const stale = { 'stale-files:/infra/targets/redis (redis targets)': { files: ['redis-ms-1.yml', 'redis-ms-2.yml'] }, 'stale-files:/infra/targets/node (node targets)': { files: ['10.0.0.10.yml', '10.0.0.11.yml', '10.0.0.12.yml', '10.0.0.13.yml', '10.0.0.20.yml', '10.0.0.21.yml', '10.0.0.22.yml'] } };
    const removed = plan(before.desired, inSync(before.desired, stale), 'r3');
    expect(removed.plan.changes.map((c) => [c.resource, c.fields.map((f) => [f.field, f.from, f.to])])).toEqual([
      ['stale-files:/infra/targets/node (node targets)', [['stale files', ['10.0.0.21.yml', '10.0.0.22.yml'], []]]],
      ['stale-files:/infra/targets/redis (redis targets)', [['stale files', ['redis-ms-1.yml', 'redis-ms-2.yml'], []]]],
    ]);
    expect(removed.scripts.get('10.0.0.10|stale-files:/infra/targets/redis (redis targets)')).toBe("cd /infra/targets/redis && rm -f -- redis-ms-1.yml redis-ms-2.yml");
  });

  it('writes the same target files on every infra node, each with its own infra-<seq> components', async () => {
    const { desired } = await load(fleet('', '    infra2: { hosts: { 10.0.0.9: { infra_seq: 2, vmalert_enabled: false } } }\n'));
    expect(desired.hosts.map((h) => h.host).sort()).toEqual(['10.0.0.10', '10.0.0.9']);
    const targets = (host: string): [string, string][] => [...filesOf(desired, host)].filter(([p]) => p.startsWith('/infra/targets/')).map(([p, f]) => [p, f.content]);
    expect(targets('10.0.0.9')).toEqual(targets('10.0.0.10'));
    expect(targetNames(desired, '10.0.0.9', 'infra')).toEqual(['infra-1.yml', 'infra-2.yml']);
    expect(targetsIn(desired, '10.0.0.9', 'infra', 'infra-2.yml')).not.toContain('vmalert');
    expect(wantsOf<{ name: string }>(desired, '10.0.0.9', 'service').map((s) => s.name)).not.toContain('vmalert');
  });
});

describe('parameters not honoured here', () => {
  it('are noted once per cluster, on its first infra node', async () => {
    const extra = `    infra2:
      hosts: { 10.0.0.9: { infra_seq: 2 } }
  vars:
    nginx_users: { admin: pigsty }
    certbot_sign: true
    vmetrics_clean: true
    prometheus_scrape_interval: 15s
    repo_enabled: true
    vip_enabled: true
    vip_address: 10.0.0.99
    infra_portal: { home: { domain: i.pigsty }, wiki: { domain: wiki.pigsty, endpoint: "127.0.0.1:9700", auth: true }, custom: { domain: c.pigsty, conf: custom.conf } }
`;
    const loaded = await load(fleet('', extra));
    const notes = [...loaded.ignored, ...loaded.notes];
    expect(new Set(notes.map((n) => n.host))).toEqual(new Set(['10.0.0.10']));
    expect(new Set(notes.map((n) => n.message)).size).toBe(notes.length);
    const text = notes.map((n) => n.message).join('\n');
    for (const said of [
      'Grafana (grafana_enabled), VictoriaLogs (vlogs_enabled), VictoriaTraces (vtraces_enabled) and vector (vector_enabled) are not built: Debian 12 does not package them',
      'dns_enabled: dnsmasq and dns_records are not built here',
      'repo_enabled: the local software repository is not built',
      "Pigsty's bootstrap has NODE wait for this repo",
      "targets for keepalived's exporter (vip_exporter_port) are written as Pigsty writes them (10.0.0.10, 10.0.0.11, 10.0.0.12, 10.0.0.13 and 10.0.0.20, ...), but no Corral module runs it yet: they show down until one does; vip_enabled: false leaves them out",
      'infra_portal entries not served: wiki asks for basic auth (nginx_users)',
      'custom names an Ansible template (conf: custom.conf)',
      'nginx_users: basic auth is not built',
      "certbot_sign: certbot is not run: the servers use Corral's certificate for nginx",
      'vmetrics_clean: not honoured: Corral never deletes data or configs',
      "prometheus_scrape_interval (Pigsty v2's Prometheus) are not read",
      'pgbackrest_exporter is not in Debian 12',
    ]) {
      expect(text).toContain(said);
    }
    // PGSQL runs the postgres, pgbouncer and HAProxy exporters whose targets INFRA writes: nothing to say about them.
    expect(text).not.toMatch(/targets for (pg_exporter|pgbouncer_exporter|HAProxy)/);
    // The entries it cannot serve are not served open.
    const { desired } = await load(fleet('', extra));
    expect([...filesOf(desired, '10.0.0.10').keys()].filter((p) => p.startsWith('/etc/nginx/conf.d/') && p.endsWith('.conf'))).toEqual(['/etc/nginx/conf.d/home.conf']);
  });

  it('say nothing when the inventory asks for nothing Corral skips', async () => {
    const quiet = `  vars: { grafana_enabled: false, vlogs_enabled: false, vtraces_enabled: false, vector_enabled: false, dns_enabled: false, repo_enabled: false, pgbackrest_exporter_enabled: false }\n`;
    const { notes } = await load(fleet('', quiet));
    expect(notes).toEqual([]);
  });

  it('a node without apt gets a note and nothing else', async () => {
    const { desired, notes } = await load(fleet(), () => ({ ...ASSUMED_FACTS, packageManager: 'dnf' }));
    expect(desired.hosts).toEqual([]);
    expect(notes).toContainEqual({ host: '10.0.0.10', resource: 'packages:infra', message: 'INFRA is built on Debian packages: no apt on this node, nothing is done' });
  });
});

const MONITOR_PASSWORD = 'Canary.Monitor.7';
const PG_EXPORTERS = `    rds:
      hosts:
        10.0.0.10:
          pg_exporters:
            20001: { pg_cluster: pg-foo, pg_seq: 1, pg_host: 10.0.0.31 }
            20002: { pg_cluster: pg-foo, pg_seq: 2, pg_host: 10.0.0.32, pg_port: 5433 }
            20003: { pg_cluster: pg-bar, pg_seq: 1, pg_host: 10.0.0.33, pg_exporter_url: 'postgres://mon:Canary.Url.9@10.0.0.33/postgres' }
      vars: { pg_monitor_password: '${MONITOR_PASSWORD}', pg_exporter_include_database: 'app' }
`;

describe('pg_exporters (remote PostgreSQL monitored from the infra node)', () => {
  it('runs one Debian prometheus-postgres-exporter unit per entry, with Pigsty\'s connection string, and their pgrds targets', async () => {
    const { desired } = await load(fleet('', PG_EXPORTERS));
    const [pkgs] = wantsOf<{ packages: string[] }>(desired, '10.0.0.10', 'packages');
    expect(pkgs!.packages).toContain('prometheus-postgres-exporter');
    const services = wantsOf<{ name: string; enabled: boolean; running: boolean }>(desired, '10.0.0.10', 'service');
    expect(services).toContainEqual({ name: 'prometheus-postgres-exporter', enabled: false, running: false });
    for (const unit of ['pg_exporter_pg-foo-1', 'pg_exporter_pg-foo-2', 'pg_exporter_pg-bar-1']) expect(services).toContainEqual({ name: unit, enabled: true, running: true });
    const env = fileOf(desired, '10.0.0.10', '/etc/default/pg_exporter_pg-foo-2');
    expect(env).toMatchObject({ mode: 0o600, secret: true });
    expect(env.content).toContain(`DATA_SOURCE_NAME="postgres://dbuser_monitor:${MONITOR_PASSWORD}@10.0.0.32:5433/postgres?sslmode=disable"`);
    expect(env.content).toContain('ARGS="--web.listen-address=:20002 --web.telemetry-path=/metrics --auto-discover-databases --exclude-databases=template0,template1,postgres --include-databases=app"');
    expect(fileOf(desired, '10.0.0.10', '/etc/default/pg_exporter_pg-bar-1').content).toContain('DATA_SOURCE_NAME="postgres://mon:Canary.Url.9@10.0.0.33/postgres"');
    const unit = fileOf(desired, '10.0.0.10', '/etc/systemd/system/pg_exporter_pg-foo-1.service').content;
    expect(unit).toContain('EnvironmentFile=/etc/default/pg_exporter_pg-foo-1\nExecStart=/usr/bin/prometheus-postgres-exporter $ARGS\n');
    expect(unit.split('\n')[0]).toBe('# managed by corral (INFRA pg_exporters)');
    expect(targetNames(desired, '10.0.0.10', 'pgrds')).toEqual(['pg-bar.yml', 'pg-foo.yml']);
    expect(targetsIn(desired, '10.0.0.10', 'pgrds', 'pg-foo.yml')).toContain('# pg-foo-2 @ 10.0.0.32:5433\n- labels: { cls: pg-foo, ins: pg-foo-2, ip: 10.0.0.32 }\n  targets:\n    - 10.0.0.10:20002\n');
    expect(wantsOf(desired, '10.0.0.10', 'infra-retired-units')).toEqual([{ set: 'pg_exporters', prefix: 'pg_exporter_', marker: '# managed by corral (INFRA pg_exporters)', keep: ['pg_exporter_pg-foo-1', 'pg_exporter_pg-foo-2', 'pg_exporter_pg-bar-1'], envDir: '/etc/default' }]);
  });

  it('an entry taken out: its exporter is stopped and its unit and environment removed; units that are not Corral\'s stay', () => {
    const want = { set: 'pg_exporters', prefix: 'pg_exporter_', marker: '# managed by corral (INFRA pg_exporters)', keep: ['pg_exporter_pg-foo-1'], envDir: '/etc/default' };
    expect(retiredUnits.probe(want)).toContain('/etc/systemd/system/pg_exporter_*.service');
    const have = retiredUnits.parse('pg_exporter_pg-foo-1\npg_exporter_pg-foo-2\n', want);
    expect(retiredUnits.diff(want, have as { units: string[] })).toEqual([{ field: 'retired units', from: ['pg_exporter_pg-foo-2'], to: [] }]);
    const script = retiredUnits.apply(want, have as { units: string[] });
    expect(script).toContain('systemctl disable --now pg_exporter_pg-foo-2.service');
    expect(script).toContain('rm -f -- /etc/systemd/system/pg_exporter_pg-foo-2.service /etc/default/pg_exporter_pg-foo-2');
    expect(script).not.toContain('pg-foo-1');
    expect(retiredUnits.diff(want, { units: ['pg_exporter_pg-foo-1'] })).toEqual([]);
  });
});

describe('secrets', () => {
  it('never shows a password or private key in a plan (text, JSON, Markdown), nor in a script other than the file writes that carry them', async () => {
    const { desired, certificates } = await load(fleet('', PG_EXPORTERS));
    const keys = [certificates.get('infra/10.0.0.10').key, certificates.get('infra/nginx/10.0.0.10').key].map((k) => k.split('\n')[1]!);
    const secrets = [MONITOR_PASSWORD, 'Canary.Url.9', ...keys];
    const planned = plan(desired, desired.hosts.map((h) => ({ host: h.host, ok: true as const, facts: ASSUMED_FACTS, states: {}, durationMs: 1 })), 'r1');
    for (const text of [renderText(planned.plan), renderJson(planned.plan), renderMarkdown(planned.plan)]) for (const s of secrets) expect(text).not.toContain(s);
    for (const [id, script] of planned.scripts) {
      if (/\|file:/.test(id)) continue;
      for (const s of secrets) expect(script, id).not.toContain(s);
    }
    for (const h of desired.hosts) for (const s of secrets) expect(observeScript(h.resources, 'n0nce')).not.toContain(s);
    // The files that hold them are secret files: their content is never shown.
    for (const path of ['/etc/pki/infra.key', '/etc/nginx/conf.d/cert/pigsty.key', '/etc/default/pg_exporter_pg-foo-1', '/etc/default/pg_exporter_pg-bar-1']) expect(fileOf(desired, '10.0.0.10', path).secret, path).toBe(true);
  });
});

describe('scripts sent to nodes', () => {
  it('parse as bash, for every resource', async () => {
    const parses = (script: string): boolean => spawnSync('bash', ['-n'], { input: script }).status === 0;
    const broken: string[] = [];
    for (const { desired } of [await load(META), await load(fleet('', PG_EXPORTERS + REDIS))]) {
      for (const h of desired.hosts) {
        if (!parses(observeScript(h.resources, 'n0nce'))) broken.push(`${h.host} observation`);
        for (const r of h.resources) if (!parses(kindOf(r.kind).apply(r.want, null))) broken.push(`${h.host} ${kindOf(r.kind).id(r.want)} apply`);
      }
    }
    expect(broken).toEqual([]);
  });
});

describe('halfInterval', () => {
  it('halves a duration of one unit, and leaves one of several whole', () => {
    expect(['10s', '1m', '500ms', '2h', '1m30s'].map(halfInterval)).toEqual(['5000ms', '30000ms', '250ms', '3600000ms', '1m30s']);
  });
});
