/**
 * NODE's HAProxy with PGSQL's services in it, as one compiled inventory: the files a node gets, laid
 * out in a temp dir as in /etc/haproxy and checked by the real `haproxy -c` in the order Debian's unit
 * loads them; the admin page's secret; haproxy_services; the move of services out of /etc/haproxy.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateInventory } from '../../src/config/validate.js';
import { ASSUMED_FACTS } from '../../src/engine/facts.js';
import type { Desired, Observation } from '../../src/engine/model.js';
import { plan } from '../../src/engine/plan.js';
import { renderJson, renderMarkdown, renderText } from '../../src/engine/render.js';
import type { Resource } from '../../src/engine/resources/kind.js';
import { service } from '../../src/engine/resources/service.js';
import { staleFiles, type StaleFilesWant } from '../../src/engine/resources/stale-files.js';
import { compile } from '../../src/engine/run.js';
import { tmpRepo } from '../../test/helpers/tmp.js';
import { certificatesFor } from '../../test/helpers/pki.js';
import { node } from './index.js';

const ADMIN_PASSWORD = `Hap'Admin #$1`;

/** An etcd, a PGSQL cluster `name` on two members, and a node of no module with trio.yml's MinIO listener; `vars`: more global vars, `a: 1, b: 2`. */
const INVENTORY = (name: string, vars = '') => `
all:
  children:
    etcd:
      hosts: { 10.0.0.11: { etcd_seq: 1 } }
      vars: { etcd_cluster: etcd }
    ${name}:
      hosts:
        10.0.0.11: { pg_seq: 1, pg_role: primary }
        10.0.0.12: { pg_seq: 2, pg_role: replica }
      vars: { pg_cluster: ${name}, pg_version: 15 }
    proxy:
      hosts: { 10.0.0.20: {} }
      vars:
        node_cluster: proxy
        haproxy_services:
          - name: minio
            port: 9002
            balance: leastconn
            options:
              - option httpchk
              - option http-keep-alive
              - http-check send meth OPTIONS uri /minio/health/live
              - http-check expect status 200
            servers:
              - { name: minio-1, ip: 10.0.0.11, port: 9000, options: 'check-ssl verify none check port 9000' }
              - { name: minio-2, ip: 10.0.0.12, port: 9000, options: 'check-ssl verify none check port 9000', backup: true }
  vars: { haproxy_admin_password: ${JSON.stringify(ADMIN_PASSWORD)}${vars ? `, ${vars}` : ''} }
`;

async function load(name: string, vars = ''): Promise<Desired> {
  const v = await validateInventory(tmpRepo({ 'pigsty.yml': INVENTORY(name, vars) }));
  expect(v.problems.filter((p) => p.severity === 'error')).toEqual([]);
  const targets = new Map(v.hosts.map((h) => [h.name, { name: h.name, address: h.address, port: 22, user: 'root', connection: 'ssh' as const }]));
  return compile(v, v.hosts, () => ASSUMED_FACTS, await certificatesFor(v), targets).desired;
}

type Want = { path?: string; name?: string; content?: string; mode?: number; secret?: boolean; packages?: string[] };
const on = (d: Desired, host: string): Resource<Want>[] => d.hosts.find((h) => h.host === host)!.resources as Resource<Want>[];
const fileOf = (d: Desired, host: string, path: string): Want | undefined => on(d, host).find((r) => r.kind === 'file' && r.want.path === path)?.want;

/** A free TCP port on loopback. */
const freePort = (): Promise<number> =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

/** A host's files under /etc/haproxy and its /etc/default/haproxy, written under `root` as on the node. */
function layOut(d: Desired, host: string): string {
  const root = mkdtempSync(join(tmpdir(), 'corral-haproxy-'));
  for (const r of on(d, host).filter((x) => x.kind === 'file' && /^\/etc\/(haproxy\/|default\/haproxy$)/.test(x.want.path!))) {
    const path = join(root, r.want.path!);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, r.want.content!.replaceAll('/etc/haproxy', join(root, 'etc/haproxy')));
  }
  return root;
}

/** `haproxy -c` with the files and folders Debian's unit passes: `-f $CONFIG`, then the `-f` of $EXTRAOPTS (the rendered defaults). */
function haproxyCheck(root: string): { ok: boolean; output: string; args: string[] } {
  const defaults = readFileSync(join(root, 'etc/default/haproxy'), 'utf8');
  const value = (key: string): string => new RegExp(`^${key}="([^"]*)"$`, 'm').exec(defaults)?.[1] ?? '';
  const extra = value('EXTRAOPTS').split(/\s+/);
  const files = extra.flatMap((x, i) => (x === '-f' ? ['-f', extra[i + 1]!] : []));
  const args = ['-c', '-f', value('CONFIG'), ...files];
  const run = spawnSync('haproxy', args, { encoding: 'utf8' });
  return { ok: run.status === 0, output: `${run.stdout}${run.stderr}`, args };
}

describe('HAProxy loads haproxy.cfg first, then conf.d, whatever the clusters are named', () => {
  it('the real haproxy is here (CI installs Debian’s)', () => {
    expect(execFileSync('haproxy', ['-v'], { encoding: 'utf8' })).toMatch(/HAProxy version 2\./);
  });

  for (const name of ['app-meta', 'pg-test', 'zz-last', 'pg2-db01']) {
    it(`${name}: haproxy -c passes with no warning, global and defaults before every listener`, async () => {
      const d = await load(name);
      const root = layOut(d, '10.0.0.11');
      expect(readdirSync(join(root, 'etc/haproxy/conf.d')).sort()).toEqual([`${name}-default.cfg`, `${name}-offline.cfg`, `${name}-primary.cfg`, `${name}-replica.cfg`]);
      const check = haproxyCheck(root);
      expect(check.args).toEqual(['-c', '-f', join(root, 'etc/haproxy/haproxy.cfg'), '-f', join(root, 'etc/haproxy/conf.d')]);
      expect(check.output).toContain('Configuration file is valid');
      expect(check.output).not.toMatch(/WARNING|ALERT/);
      expect(check.ok).toBe(true);
    });
  }

  it('the check fails on the old layout: services beside haproxy.cfg in one folder, read in name order (app-meta before haproxy.cfg)', async () => {
    const d = await load('app-meta');
    const root = layOut(d, '10.0.0.11');
    const flat = mkdtempSync(join(tmpdir(), 'corral-haproxy-old-'));
    writeFileSync(join(flat, 'haproxy.cfg'), readFileSync(join(root, 'etc/haproxy/haproxy.cfg')));
    for (const f of readdirSync(join(root, 'etc/haproxy/conf.d'))) writeFileSync(join(flat, f), readFileSync(join(root, 'etc/haproxy/conf.d', f)));
    // Corral's old /etc/default/haproxy: CONFIG="/etc/haproxy".
    const run = spawnSync('haproxy', ['-c', '-f', flat], { encoding: 'utf8' });
    expect(`${run.stdout}${run.stderr}`).toMatch(/WARNING.*missing timeouts for proxy 'app-meta-primary'/);
  });

  it("is Pigsty's global and defaults, as Debian's package runs them", async () => {
    const d = await load('pg-test', 'haproxy_client_timeout: 0.5h, haproxy_server_timeout: 2h');
    const cfg = fileOf(d, '10.0.0.11', '/etc/haproxy/haproxy.cfg')!.content!;
    expect(cfg).toMatch(/^global\n {4}user haproxy\n {4}group haproxy\n {4}node pg-test-1\n/m);
    expect(cfg).toContain('    maxconn 65535\n    no strict-limits\n');
    expect(cfg).toContain('    timeout client 1800000ms\n    timeout server 2h\n');
    expect(fileOf(d, '10.0.0.11', '/etc/default/haproxy')!.content).toBe(
      '# managed by corral (NODE): haproxy.cfg first, then every file of conf.d\nCONFIG="/etc/haproxy/haproxy.cfg"\nEXTRAOPTS="-f /etc/haproxy/conf.d -S /run/haproxy-master.sock"\n',
    );
  });
});

describe("HAProxy's admin page on haproxy_exporter_port", () => {
  it('has the admin login with a password set, in a secret haproxy.cfg, and keeps /metrics open', async () => {
    const d = await load('pg-test');
    const cfg = fileOf(d, '10.0.0.20', '/etc/haproxy/haproxy.cfg')!;
    expect(cfg).toMatchObject({ mode: 0o600, secret: true });
    expect(cfg.content).toContain(`userlist stats-auth\n    group admin users admin\n    user admin insecure-password 'Hap'\\''Admin #$1'\n`);
    expect(cfg.content).toContain('listen stats\n    bind *:9101\n    mode http\n');
    expect(cfg.content).toContain('    stats uri /haproxy/10.0.0.20/\n');
    expect(cfg.content).toContain('    acl AUTH       http_auth(stats-auth)\n    acl AUTH_ADMIN http_auth_group(stats-auth) admin\n    stats http-request auth unless AUTH\n    stats admin if AUTH_ADMIN\n');
    expect(cfg.content).toContain('    http-request use-service prometheus-exporter if { path /metrics }\n');
    // No other file holds it.
    expect(d.hosts.flatMap((h) => (h.resources as Resource<Want>[]).filter((r) => JSON.stringify(r.want).includes('Admin #$1')).map((r) => `${h.host} ${r.want.path} ${r.want.secret}`))).toEqual(
      ['10.0.0.11', '10.0.0.12', '10.0.0.20'].map((h) => `${h} /etc/haproxy/haproxy.cfg true`),
    );
  });

  it('answers /metrics without a login and the stats page only with the admin password, as rendered (the real haproxy)', async () => {
    const cfg = fileOf(await load('pg-test'), '10.0.0.11', '/etc/haproxy/haproxy.cfg')!.content!;
    const port = await freePort();
    // The admin page alone, on a free port of loopback: the global section's user, socket and syslog need a real node.
    const admin = cfg.slice(cfg.indexOf('userlist stats-auth')).replace('bind *:9101', `bind 127.0.0.1:${port}`);
    const dir = mkdtempSync(join(tmpdir(), 'corral-haproxy-'));
    writeFileSync(join(dir, 'haproxy.cfg'), `global\n    maxconn 100\ndefaults\n    mode tcp\n    timeout connect 3s\n    timeout client 10s\n    timeout server 10s\n\n${admin}`);
    const proc = spawn('haproxy', ['-db', '-f', join(dir, 'haproxy.cfg')], { stdio: 'ignore' });
    try {
      const get = async (path: string, auth?: string): Promise<Response> => {
        for (let i = 0; ; i++) {
          try {
            return await fetch(`http://127.0.0.1:${port}${path}`, auth ? { headers: { authorization: `Basic ${Buffer.from(auth).toString('base64')}` } } : {});
          } catch (e) {
            if (i > 50) throw e;
            await new Promise((r) => setTimeout(r, 100));
          }
        }
      };
      const metrics = await get('/metrics');
      expect(metrics.status).toBe(200);
      expect(await metrics.text()).toContain('haproxy_process_');
      expect((await get('/haproxy/pg-test-1/')).status).toBe(401);
      expect((await get('/haproxy/pg-test-1/', 'admin:pigsty')).status).toBe(401);
      expect((await get('/haproxy/pg-test-1/', `admin:${ADMIN_PASSWORD}`)).status).toBe(200);
    } finally {
      proc.kill();
    }
  });

  it('blocks the plan of a node whose admin password haproxy.cfg cannot hold (a newline)', async () => {
    const v = await validateInventory(tmpRepo({ 'pigsty.yml': INVENTORY('pg-test').replace(JSON.stringify(ADMIN_PASSWORD), '"line\\nbreak"') }));
    const cluster = v.clusters.find((c) => c.module === 'node' && c.name === 'proxy')!;
    const out = node.desired({ cluster, hosts: v.hosts, facts: () => ASSUMED_FACTS, certificates: await certificatesFor(v), together: () => true });
    const blocking = out.notes.filter((n) => n.blocking);
    expect(blocking.map((n) => [n.host, n.resource])).toEqual([['10.0.0.20', 'file:/etc/haproxy/haproxy.cfg']]);
    expect(blocking[0]!.message).toBe('haproxy_admin_password holds a control character (a newline?), which /etc/haproxy/haproxy.cfg cannot hold; choose a value without one');
  });

  it('never shows the password in a plan (text, JSON, Markdown) or a script but the secret file’s write', async () => {
    const d = await load('pg-test');
    const p = plan(d, d.hosts.map((h): Observation => ({ host: h.host, ok: true, facts: ASSUMED_FACTS, states: {}, durationMs: 1 })), 'r1');
    expect(p.plan.changes.some((c) => c.resource === 'file:/etc/haproxy/haproxy.cfg')).toBe(true);
    const forms = [ADMIN_PASSWORD, ADMIN_PASSWORD.replace(/'/g, `'\\''`), Buffer.from(ADMIN_PASSWORD).toString('base64').slice(0, 12)];
    for (const text of [renderText(p.plan), renderJson(p.plan), renderMarkdown(p.plan)]) for (const f of forms) expect(text).not.toContain(f);
    for (const [id, script] of p.scripts) if (!id.endsWith('|file:/etc/haproxy/haproxy.cfg')) for (const f of forms) expect(script, id).not.toContain(f);
  });

  it('without haproxy_auth_enabled no login and no secret; without haproxy_enabled no admin page, no services, and HAProxy only where PGSQL needs it', async () => {
    const open = fileOf(await load('pg-test', 'haproxy_auth_enabled: false, haproxy_exporter_port: 9111, exporter_metrics_path: /prom'), '10.0.0.20', '/etc/haproxy/haproxy.cfg')!;
    expect(open).toMatchObject({ mode: 0o644 });
    expect(open.secret).toBeUndefined();
    expect(open.content).not.toContain('userlist');
    expect(open.content).toContain('bind *:9111');
    expect(open.content).toContain('use-service prometheus-exporter if { path /prom }');
    const off = await load('pg-test', 'haproxy_enabled: false');
    expect(fileOf(off, '10.0.0.11', '/etc/haproxy/haproxy.cfg')!.content).not.toContain('listen stats');
    expect(fileOf(off, '10.0.0.11', '/etc/haproxy/conf.d/pg-test-primary.cfg')).toBeDefined();
    expect(on(off, '10.0.0.20').filter((r) => JSON.stringify(r.want).includes('haproxy'))).toEqual([]);
  });
});

describe('haproxy_services', () => {
  it("renders each as Pigsty's service.j2 does, in conf.d, on a node of no other module, and haproxy -c takes it", async () => {
    const d = await load('pg-test');
    const minio = fileOf(d, '10.0.0.20', '/etc/haproxy/conf.d/minio.cfg')!;
    expect(minio.content).toBe(
      [
        '# managed by corral (NODE): service minio',
        'listen minio',
        '    bind *:9002',
        '    mode tcp',
        '    maxconn 10000',
        '    balance leastconn',
        '    option httpchk',
        '    option http-keep-alive',
        '    http-check send meth OPTIONS uri /minio/health/live',
        '    http-check expect status 200',
        '    default-server inter 3s fastinter 1s downinter 5s rise 3 fall 3 on-marked-down shutdown-sessions slowstart 30s maxconn 3000 maxqueue 128 weight 100',
        '    server minio-1 10.0.0.11:9000 check-ssl verify none check port 9000',
        '    server minio-2 10.0.0.12:9000 backup check-ssl verify none check port 9000',
        '',
      ].join('\n'),
    );
    expect(on(d, '10.0.0.20').find((r) => r.kind === 'packages')!.want.packages).toContain('haproxy');
    const check = haproxyCheck(layOut(d, '10.0.0.20'));
    expect(check.output).not.toMatch(/WARNING|ALERT/);
    expect(check.ok).toBe(true);
    // One dropped from the list goes (NODE's marked files only); a reload follows NODE's files.
    const stale = on(d, '10.0.0.20').find((r) => r.kind === 'stale-files' && (r.want as unknown as StaleFilesWant).set === 'node services')!;
    expect(stale.want).toMatchObject({ dir: '/etc/haproxy/conf.d', marker: '# managed by corral (NODE): service ', keep: ['minio.cfg'] });
    expect(on(d, '10.0.0.20').find((r) => r.kind === 'reload')!.deps).toEqual(expect.arrayContaining(['file:/etc/haproxy/conf.d/minio.cfg', 'stale-files:/etc/haproxy/conf.d (node services)']));
    // Not on the PGSQL members, which do not set it.
    expect(fileOf(d, '10.0.0.11', '/etc/haproxy/conf.d/minio.cfg')).toBeUndefined();
  });

  it('takes only names that make a file of conf.d', async () => {
    const v = await validateInventory(tmpRepo({ 'pigsty.yml': INVENTORY('pg-test').replace('- name: minio', '- name: ../minio') }));
    expect(v.problems.filter((p) => p.severity === 'error').map((p) => p.message).join('\n')).toMatch(/haproxy_services/);
  });

  it('haproxy_clean removes what Corral did not write from conf.d; haproxy_reload: false writes without reloading', async () => {
    const d = await load('pg-test', 'haproxy_clean: true, haproxy_reload: false');
    const clean = on(d, '10.0.0.11').find((r) => r.kind === 'stale-files' && (r.want as unknown as StaleFilesWant).unmarked)!.want as unknown as StaleFilesWant;
    expect(clean).toMatchObject({ dir: '/etc/haproxy/conf.d', glob: '*.cfg', keep: [] });
    const dir = mkdtempSync(join(tmpdir(), 'corral-haproxy-clean-'));
    writeFileSync(join(dir, 'pg-test-primary.cfg'), '# managed by corral (PGSQL): service pg-test-primary\n');
    writeFileSync(join(dir, 'minio.cfg'), '# managed by corral (NODE): service minio\n');
    writeFileSync(join(dir, 'hand.cfg'), 'listen hand\n');
    writeFileSync(join(dir, 'notes.txt'), 'not a config\n');
    runStale({ ...clean, dir });
    expect(readdirSync(dir).sort()).toEqual(['minio.cfg', 'notes.txt', 'pg-test-primary.cfg']);
    const reloads = on(d, '10.0.0.11').filter((r) => r.kind === 'reload' && r.want.name === 'haproxy').map((r) => r.want);
    expect(reloads).toEqual([expect.objectContaining({ name: 'haproxy', action: 'record', firstTime: 'restart' }), expect.objectContaining({ name: 'haproxy', record: 'haproxy-pgsql', action: 'reload' })]);
  });
});

/** A stale-files resource's probe, diff and apply, run by bash on this machine. */
function runStale(w: StaleFilesWant): string[] {
  const have = staleFiles.parse(execFileSync('bash', ['-c', staleFiles.probe(w)], { encoding: 'utf8' }), w) as { files: string[] };
  if (staleFiles.diff(w, have).length) execFileSync('bash', ['-c', staleFiles.apply(w, have)]);
  return have.files;
}

describe('a node Corral set up before conf.d', () => {
  it("moves PGSQL's service files from /etc/haproxy to conf.d before the restart that loads conf.d; nothing else in the folder is touched", async () => {
    const d = await load('pg-test');
    const move = on(d, '10.0.0.11').find((r) => r.kind === 'stale-files' && (r.want as unknown as StaleFilesWant).moveTo)!;
    const w = move.want as unknown as StaleFilesWant;
    expect(w).toEqual({ dir: '/etc/haproxy', set: 'services before conf.d', marker: '# managed by corral (PGSQL): service ', keep: [], glob: '*.cfg', moveTo: '/etc/haproxy/conf.d' });
    const root = mkdtempSync(join(tmpdir(), 'corral-haproxy-move-'));
    const confD = join(root, 'conf.d');
    writeFileSync(join(root, 'haproxy.cfg'), '# managed by corral (PGSQL)\nglobal\n');
    writeFileSync(join(root, 'pg-test-primary.cfg'), '# managed by corral (PGSQL): service pg-test-primary\nold\n');
    writeFileSync(join(root, 'pg-test-replica.cfg'), '# managed by corral (PGSQL): service pg-test-replica\nold\n');
    writeFileSync(join(root, 'mine.cfg'), 'listen mine\n# managed by corral (PGSQL): service pg-test-x\n');
    // A newer file of the same name already in conf.d (PGSQL wrote it first) wins over the old one.
    mkdirSync(confD);
    writeFileSync(join(confD, 'pg-test-replica.cfg'), '# managed by corral (PGSQL): service pg-test-replica\nnew\n');
    expect(runStale({ ...w, dir: root, moveTo: confD })).toEqual(['pg-test-primary.cfg', 'pg-test-replica.cfg']);
    expect(readdirSync(root).sort()).toEqual(['conf.d', 'haproxy.cfg', 'mine.cfg']);
    expect(readFileSync(join(confD, 'pg-test-primary.cfg'), 'utf8')).toContain('old');
    expect(readFileSync(join(confD, 'pg-test-replica.cfg'), 'utf8')).toContain('new');
    // Again: nothing left to move.
    expect(runStale({ ...w, dir: root, moveTo: confD })).toEqual([]);
    expect(existsSync(join(root, 'mine.cfg'))).toBe(true);
  });

  it('restarts HAProxy once for the new /etc/default/haproxy (the -f list is read at start), after the move; later changes reload', async () => {
    const d = await load('pg-test');
    const running = service.parse('LoadState=loaded\nActiveState=active\nUnitFileState=enabled\n', { name: 'haproxy', enabled: true, running: true });
    const old = { type: 'file', owner: 'root', group: 'root', mode: 0o644, sha256: 'old' };
    const states = { 'service:haproxy': running, 'file:/etc/default/haproxy': old, 'reload:haproxy': { sha256: 'old' }, 'stale-files:/etc/haproxy (services before conf.d)': { files: ['pg-test-primary.cfg'] } };
    const p = plan(d, d.hosts.map((h): Observation => ({ host: h.host, ok: true, facts: ASSUMED_FACTS, states: h.host === '10.0.0.11' ? states : {}, durationMs: 1 })), 'r1').plan;
    const mine = p.changes.filter((c) => c.host === '10.0.0.11').map((c) => c.resource);
    const restart = p.changes.find((c) => c.host === '10.0.0.11' && c.resource === 'service:haproxy')!;
    expect(restart).toMatchObject({ action: 'restart', restarts: true });
    expect(mine.indexOf('stale-files:/etc/haproxy (services before conf.d)')).toBeLessThan(mine.indexOf('service:haproxy'));
    expect(mine.indexOf('reload:haproxy')).toBeLessThan(mine.indexOf('reload:haproxy-pgsql'));
    expect(p.changes.find((c) => c.host === '10.0.0.11' && c.resource === 'reload:haproxy')!.restarts).toBe(false);
  });
});
