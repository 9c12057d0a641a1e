/** PGSQL's L2 VIP (vip-manager, or Patroni's callbacks without it) and Patroni's REST allowlist, log and tags, as data: no node, no SSH. */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { validateInventory } from '../../src/config/validate.js';
import { ASSUMED_FACTS } from '../../src/engine/facts.js';
import type { Desired, Facts, Observation } from '../../src/engine/model.js';
import { plan } from '../../src/engine/plan.js';
import { renderJson, renderText } from '../../src/engine/render.js';
import type { Resource } from '../../src/engine/resources/kind.js';
import { tmpRepo } from '../../test/helpers/tmp.js';
import { certificatesFor } from '../../test/helpers/pki.js';
import { parsesAsBash } from '../../test/helpers/bash.js';
import { dbsuSudoers, pgsql } from './index.js';
import { pgVip, type PgVipWant } from './kinds/pg-vip.js';
import { PG_VIP, VIP_MANAGER } from './templates.js';

const PIGSTY_INFRA = `
    node_repo_modules: infra
    repo_upstream:
      - { name: pigsty-infra, description: 'Pigsty INFRA', module: infra, releases: [11, 12, 13], baseurl: { default: 'https://repo.pigsty.io/apt/infra/ generic main' } }`;

const INVENTORY = (vip: string, global = PIGSTY_INFRA) => `
all:
  vars:
    admin_ip: 10.0.0.10${global}
  children:
    infra:
      hosts: { 10.0.0.10: { infra_seq: 1 } }
    etcd:
      hosts:
        10.0.0.11: { etcd_seq: 1 }
        10.0.0.12: { etcd_seq: 2 }
      vars: { etcd_cluster: etcd }
    pg-test:
      hosts:
        10.0.0.11: { pg_seq: 1, pg_role: primary }
        10.0.0.12: { pg_seq: 2, pg_role: replica, pg_vip_interface: eth1 }
      vars:
        pg_cluster: pg-test
        pg_version: 15
        pg_etcd_password: Secret.Etcd.4
        patroni_password: Secret.Api.2
${vip}
`;
const VIP_ON = `        pg_vip_enabled: true
        pg_vip_address: 10.0.0.20/24`;

async function desiredOf(text: string, facts: Facts = ASSUMED_FACTS) {
  const v = await validateInventory(tmpRepo({ 'pigsty.yml': text }));
  expect(v.problems.filter((p) => p.severity === 'error')).toEqual([]);
  const cluster = v.clusters.find((c) => c.module === 'pgsql')!;
  return pgsql.desired({ cluster, hosts: v.hosts, facts: () => facts, certificates: await certificatesFor(v), together: () => true });
}
const wantAt = <W>(list: Resource[] | undefined, path: string): W => list!.find((r) => (r.want as { path?: string }).path === path)!.want as W;
const contentAt = (list: Resource[] | undefined, path: string): string => wantAt<{ content: string }>(list, path).content;
/** The plan of bare nodes for a desired state, as text and JSON. */
function shownPlan(out: Awaited<ReturnType<typeof desiredOf>>): string {
  const d: Desired = { hosts: [...out.resources].map(([host, resources]) => ({ host, target: { host } as never, resources })), edges: out.edges };
  const observations: Observation[] = d.hosts.map((h) => ({ host: h.host, ok: true, facts: ASSUMED_FACTS, states: {}, durationMs: 1 }));
  const p = plan(d, observations, 'r1');
  return renderText(p.plan) + renderJson(p.plan);
}
const parses = (script: string): boolean => spawnSync('bash', ['-n'], { input: script }).status === 0;

/** A resource of vip-manager's: its package, unit, launcher, config or service (the dbsu's sudoers only names it). */
const isVipManager = (r: { want: unknown }): boolean => /vip-manager/.test(JSON.stringify(r.want)) && !JSON.stringify(r.want).includes('/etc/sudoers.d/');

describe('the L2 VIP: vip-manager on every member', async () => {
  const out = await desiredOf(INVENTORY(VIP_ON));
  const n1 = out.resources.get('10.0.0.11');
  const n2 = out.resources.get('10.0.0.12');

  it("writes Pigsty's vip-manager.yml: the leader key, the member's name, the VIP, Patroni's etcd endpoints, certificate and login", () => {
    const config = wantAt<{ content: string; secret: boolean; mode: number }>(n1, VIP_MANAGER.config);
    expect(config).toMatchObject({ secret: true, mode: 0o600 });
    expect(parse(config.content)).toEqual({
      interval: 1000,
      'trigger-key': '/pg/pg-test/leader',
      'trigger-value': 'pg-test-1',
      ip: '10.0.0.20',
      netmask: 24,
      'manager-type': 'basic',
      'dcs-type': 'etcd',
      'dcs-endpoints': ['https://10.0.0.11:2379', 'https://10.0.0.12:2379'],
      'etcd-ca-file': '/pg/cert/ca.crt',
      'etcd-cert-file': '/pg/cert/server.crt',
      'etcd-key-file': '/pg/cert/server.key',
      'etcd-user': 'pg-test',
      'etcd-password': 'Secret.Etcd.4',
      'retry-num': 2,
      'retry-after': 250,
    });
    // The same login Patroni uses for the same etcd.
    const patroni = parse(contentAt(n1, '/pg/conf/pg-test-1.yml')) as { etcd3: { username: string; password: string; cacert: string } };
    expect(patroni.etcd3).toMatchObject({ username: 'pg-test', password: 'Secret.Etcd.4', cacert: '/pg/cert/ca.crt' });
    expect(parse(contentAt(n2, VIP_MANAGER.config))).toMatchObject({ 'trigger-key': '/pg/pg-test/leader', 'trigger-value': 'pg-test-2', interface: 'eth1' });
  });

  it('pg_vip_interface auto (the default): the launcher binds the VIP on the interface holding the member address', () => {
    expect(parse(contentAt(n1, VIP_MANAGER.config))).not.toHaveProperty('interface');
    const auto = contentAt(n1, VIP_MANAGER.launcher);
    expect(auto).toContain("ip -o -4 addr show to '10.0.0.11/32'");
    expect(auto).toContain('--interface="$dev"');
    const fixed = contentAt(n2, VIP_MANAGER.launcher);
    expect(fixed).not.toContain('ip -o');
    expect(fixed).toContain(`exec /usr/bin/vip-manager --config=${VIP_MANAGER.config}\n`);
    for (const s of [auto, fixed]) expect(parses(s)).toBe(true);
    expect(parses(auto.replace('esac', ''))).toBe(false);
  });

  it('installs vip-manager after its unit and config, runs it, and restarts it when they change', () => {
    const kinds = n1!.map((r) => r.kind + ':' + String((r.want as { path?: string; name?: string }).path ?? (r.want as { name?: string }).name));
    const unitAt = kinds.indexOf(`file:${VIP_MANAGER.unit}`);
    const pkgAt = kinds.indexOf('packages:pgsql-vip');
    const svcAt = kinds.indexOf('service:vip-manager');
    expect(Math.min(unitAt, pkgAt, svcAt)).toBeGreaterThanOrEqual(0);
    expect(unitAt).toBeLessThan(pkgAt);
    expect(pkgAt).toBeLessThan(svcAt);
    const svc = n1![svcAt]!;
    expect(svc.want).toEqual({ name: 'vip-manager', enabled: true, running: true });
    expect(svc.deps).toEqual(expect.arrayContaining([`file:${VIP_MANAGER.config}`, `file:${VIP_MANAGER.unit}`, `file:${VIP_MANAGER.launcher}`]));
    expect((n1![pkgAt]!.want as { packages: string[] }).packages).toEqual(['vip-manager']);
    expect(contentAt(n1, VIP_MANAGER.unit)).toContain(`ExecStart=${VIP_MANAGER.launcher}\n`);
  });

  it('never shows the etcd or REST password in a plan of bare nodes', () => {
    const shown = shownPlan(out);
    expect(shown).toContain(VIP_MANAGER.config);
    for (const secret of ['Secret.Etcd.4', 'Secret.Api.2']) expect(shown).not.toContain(secret);
  });

  it('runs no vip-manager when pg_vip_enabled is off (the default)', async () => {
    const off = await desiredOf(INVENTORY(''));
    const all = [...off.resources.values()].flat();
    expect(all.length).toBeGreaterThan(0);
    expect(all.filter(isVipManager)).toEqual([]);
    expect(off.notes.filter((n) => n.message.includes('vip'))).toEqual([]);
  });

  it("on Debian 12 without Pigsty's repo (vip-manager 1.x reads etcd v2 only): a note per member that Patroni's callbacks run the VIP, no vip-manager", async () => {
    const bare = await desiredOf(INVENTORY(VIP_ON, ''));
    const notes = bare.notes.filter((n) => n.resource.startsWith('pg-vip:'));
    expect(notes.map((n) => n.host)).toEqual(['10.0.0.11', '10.0.0.12']);
    expect(notes[0]!.message).toMatch(/Debian 12 ships vip-manager 1\.x, which reads etcd's v2 API only.*is run by Patroni's callbacks instead of vip-manager.*add Pigsty's infra repo/);
    expect(notes[0]!.blocking).toBeUndefined();
    expect([...bare.resources.values()].flat().filter(isVipManager)).toEqual([]);
    // Debian 13 is not ruled out by release: the launcher checks the version it finds.
    const trixie = await desiredOf(INVENTORY(VIP_ON, ''), { ...ASSUMED_FACTS, osVersion: '13', codename: 'trixie' });
    expect(trixie.notes.filter((n) => n.resource.startsWith('pg-vip:'))).toEqual([]);
  });

  it('the launcher refuses vip-manager 1.x and starts 2.x on the interface that holds the address', () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-vip-'));
    const stub = (name: string, body: string): void => {
      writeFileSync(join(dir, name), `#!/bin/sh\n${body}\n`);
      chmodSync(join(dir, name), 0o755);
    };
    stub('ip', `echo "2: ens3    inet 10.0.0.11/24 brd 10.0.0.255 scope global ens3"`);
    const run = (version: string) => {
      stub('vip-manager', `[ "$1" = --version ] && { echo "version: ${version}"; exit 0; }; echo "ran $*"`);
      const script = contentAt(n1, VIP_MANAGER.launcher).replaceAll('/usr/bin/vip-manager', join(dir, 'vip-manager'));
      return spawnSync('sh', ['-c', script], { env: { ...process.env, PATH: `${dir}:${process.env.PATH}` }, encoding: 'utf8' });
    };
    const old = run('1.0.2');
    expect(old.status).toBe(1);
    expect(old.stderr).toContain("vip-manager 1.0.2 reads etcd's v2 API only");
    const current = run('2.6.0');
    expect(current.status).toBe(0);
    expect(current.stdout.trim()).toBe(`ran --config=${VIP_MANAGER.config} --interface=ens3`);
    execFileSync('rm', ['-rf', dir]);
  });
});

describe("patroni.yml: Pigsty's REST allowlist, log format and tags", async () => {
  const out = await desiredOf(INVENTORY(''));
  const yml = parse(contentAt(out.resources.get('10.0.0.12'), '/pg/conf/pg-test-2.yml')) as Record<string, Record<string, unknown>>;

  it('guards the REST API with patroni_username/password and allows admin_ip, the members and the infra nodes', () => {
    expect(yml.restapi).toMatchObject({
      listen: '10.0.0.12:8008',
      connect_address: '10.0.0.12:8008',
      authentication: { username: 'postgres', password: 'Secret.Api.2' },
      // Corral's own calls run on the members and reach a member's address, from the member's own.
      allowlist: ['10.0.0.10', '10.0.0.11', '10.0.0.12'],
    });
  });

  it("logs to journald in Pigsty's format, and tags the member with its version, spec and template", () => {
    expect(yml.log).toEqual({ level: 'INFO', dateformat: '%Y-%m-%d %H:%M:%S %z', format: '%(asctime)s %(levelname)s: %(message)s' });
    expect(yml.tags).toEqual({ nofailover: false, clonefrom: true, noloadbalance: false, nosync: false, version: '15', spec: '4C.8G.40G', conf: 'oltp.yml' });
  });
});

/** Patroni's callbacks of a member's patroni.yml, if any. */
const callbacksOf = (list: Resource[] | undefined, name: string): unknown => (parse(contentAt(list, `/pg/conf/${name}.yml`)) as { postgresql: { callbacks?: unknown } }).postgresql.callbacks;

describe("the L2 VIP without vip-manager (Debian 12, no Pigsty repo): Patroni's callbacks", async () => {
  const out = await desiredOf(INVENTORY(VIP_ON, ''));
  const n1 = out.resources.get('10.0.0.11');
  const n2 = out.resources.get('10.0.0.12');
  const callback = { on_start: PG_VIP.callback, on_stop: PG_VIP.callback, on_role_change: PG_VIP.callback };

  it("gives every member's patroni.yml the callbacks, and none when pg_vip_enabled is off or vip-manager runs the VIP", async () => {
    expect(callbacksOf(n1, 'pg-test-1')).toEqual(callback);
    expect(callbacksOf(n2, 'pg-test-2')).toEqual(callback);
    const off = await desiredOf(INVENTORY('', ''));
    const pigsty = await desiredOf(INVENTORY(VIP_ON));
    for (const d of [off, pigsty]) for (const [host, list] of d.resources) expect(callbacksOf(list, host === '10.0.0.11' ? 'pg-test-1' : 'pg-test-2')).toBeUndefined();
    for (const d of [off, pigsty]) expect([...d.resources.values()].flat().filter((r) => r.kind === 'pg-vip' || JSON.stringify(r.want).includes('pg-vip'))).toEqual([]);
  });

  it('writes the callback and its helper root-owned 0755 before Patroni starts, installs sudo and arping, and repairs drift after the member runs', () => {
    const cb = n1!.find((r) => (r.want as { path?: string }).path === PG_VIP.callback)!;
    const helper = n1!.find((r) => (r.want as { path?: string }).path === PG_VIP.helper)!;
    expect(cb.want).toMatchObject({ mode: 0o755, owner: 'root', group: 'postgres' });
    expect(helper.want).toMatchObject({ mode: 0o755 });
    expect((helper.want as { owner?: string }).owner ?? 'root').toBe('root');
    // Before Patroni starts, and no restart for a new script: Patroni runs the callback afresh each time.
    const startsAfter = out.edges.filter((e) => e.after.host === '10.0.0.11' && e.after.resource === 'service:patroni').map((e) => e.before.resource);
    expect(startsAfter).toEqual(expect.arrayContaining([`file:${PG_VIP.callback}`, `file:${PG_VIP.helper}`]));
    expect(n1!.find((r) => r.kind === 'service' && (r.want as { name: string }).name === 'patroni')!.deps ?? []).toEqual([]);
    expect(cb.deps).toContain('file:/etc/sudoers.d/postgres');
    const pkg = n1!.find((r) => r.kind === 'packages' && (r.want as { name: string }).name === 'pgsql')!;
    expect((pkg.want as { packages: string[] }).packages).toEqual(expect.arrayContaining(['sudo', 'iputils-arping', 'iproute2']));
    const repair = n2!.find((r) => r.kind === 'pg-vip')!;
    expect(repair.want).toEqual({ config: '/etc/patroni/patroni.yml', api: 'http://10.0.0.12:8008', name: 'pg-test-2', address: '10.0.0.20', helper: PG_VIP.helper });
    expect(repair.deps).toContain('patroni-member:pg-test-2');
    for (const s of [contentAt(n1, PG_VIP.callback), contentAt(n1, PG_VIP.helper), contentAt(n2, PG_VIP.helper)]) expect(parsesAsBash(s)).toBe(true);
    expect(parsesAsBash(contentAt(n1, PG_VIP.helper).replace('esac', ''))).toBe(false);
  });

  it("lets the dbsu run only the helper's add and del as root, after pg_dbsu_sudo's rules (the last match wins)", () => {
    const text = contentAt(n1, '/etc/sudoers.d/postgres');
    const rule = `postgres ALL=(root) NOPASSWD: ${PG_VIP.helper} add, ${PG_VIP.helper} del`;
    expect(text.trim().split('\n').at(-1)).toBe(rule);
    expect(text.split('\n').filter((l) => l.includes(PG_VIP.helper))).toEqual([rule]);
    expect(text).not.toMatch(/NOPASSWD: ALL|NOPASSWD: \/(usr\/)?s?bin\/ip\b/);
    for (const mode of ['none', 'limit', 'all', 'nopass']) expect(dbsuSudoers('postgres', mode, PG_VIP.helper).trim().split('\n').at(-1)).toBe(rule);
    expect(dbsuSudoers('postgres', 'limit')).not.toContain(PG_VIP.helper);
    expect(contentAt(out.resources.get('10.0.0.11'), '/etc/sudoers.d/postgres')).toBe(dbsuSudoers('postgres', 'limit', PG_VIP.helper));
    if (spawnSync('sh', ['-c', 'command -v visudo']).status === 0) {
      const dir = mkdtempSync(join(tmpdir(), 'corral-sudoers-'));
      writeFileSync(join(dir, 'postgres'), text);
      expect(spawnSync('visudo', ['-cf', join(dir, 'postgres')]).status).toBe(0);
      rmSync(dir, { recursive: true });
    }
  });

  /** Runs the callback, then the helper (as sudo would), against stub `ip`, `arping` and `sudo` that log their arguments. */
  function node(list: Resource[] | undefined, opts: { arping?: boolean; iface?: string } = {}) {
    const dir = mkdtempSync(join(tmpdir(), 'corral-pgvip-'));
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    const log = join(dir, 'log');
    const state = join(dir, 'vip');
    const put = (name: string, body: string): void => {
      writeFileSync(join(bin, name), body);
      chmodSync(join(bin, name), 0o755);
    };
    // Only these tools on PATH: no arping of the machine's own.
    for (const tool of ['awk', 'cat', 'rm', 'bash', 'sh']) {
      const at = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim();
      symlinkSync(at, join(bin, tool));
    }
    const iface = opts.iface ?? 'ens3';
    put(
      'ip',
      `#!/bin/sh
echo "ip $*" >> ${log}
case "$*" in
  "-o -4 addr show")
    echo '1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever'
    echo '2: ${iface}@if9    inet 10.0.0.11/24 brd 10.0.0.255 scope global ${iface}\\       valid_lft forever preferred_lft forever'
    echo '3: eth1    inet 10.0.0.12/24 brd 10.0.0.255 scope global eth1\\       valid_lft forever preferred_lft forever'
    [ -f ${state} ] && cat ${state}; exit 0 ;;
  "addr add "*) echo "9: $5    inet $3 scope global secondary $5\\       valid_lft forever preferred_lft forever" > ${state} ;;
  "addr del "*) rm -f ${state} ;;
  *) exit 1 ;;
esac
`,
    );
    if (opts.arping !== false) put('arping', `#!/bin/sh\necho "arping $*" >> ${log}\n`);
    put('sudo', `#!/bin/sh\necho "sudo $*" >> ${log}\n[ "$1" = -n ] || exit 1\nshift\nexec "$@"\n`);
    const helper = join(dir, 'pg-vip-ip');
    writeFileSync(helper, contentAt(list, PG_VIP.helper));
    chmodSync(helper, 0o755);
    const callback = join(dir, 'pg-vip');
    writeFileSync(callback, contentAt(list, PG_VIP.callback).replaceAll(PG_VIP.helper, helper));
    chmodSync(callback, 0o755);
    const env = { PATH: bin };
    return {
      helperPath: helper,
      /** The callback as Patroni runs it: the status, and the logged calls that change something (no `addr show`). */
      patroni(...args: string[]) {
        rmSync(log, { force: true });
        const r = spawnSync(join(bin, 'bash'), [callback, ...args], { env, encoding: 'utf8' });
        const calls = existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n').filter((l) => !l.startsWith('ip -o -4 addr show')) : [];
        return { status: r.status, calls, stderr: r.stderr };
      },
      helper: (...args: string[]) => spawnSync(join(bin, 'bash'), [helper, ...args], { env, encoding: 'utf8' }),
      bound: () => (existsSync(state) ? readFileSync(state, 'utf8') : ''),
      done: () => rmSync(dir, { recursive: true }),
    };
  }

  it('binds the VIP on the interface holding the member address (auto) on start or promotion as leader, announces it, and binds it once', () => {
    const n = node(n1);
    for (const role of ['primary', 'master', 'standby_leader']) {
      const first = n.patroni('on_start', role, 'pg-test');
      expect(first).toMatchObject({ status: 0, calls: [`sudo -n ${n.helperPath} add`, 'ip addr add 10.0.0.20/24 dev ens3', 'arping -U -c 3 -I ens3 10.0.0.20'] });
      expect(n.bound()).toContain('inet 10.0.0.20/24');
      // Idempotent: bound already, it is announced again and not added twice.
      const again = n.patroni('on_role_change', role, 'pg-test');
      expect(again).toMatchObject({ status: 0, calls: [`sudo -n ${n.helperPath} add`, 'arping -U -c 3 -I ens3 10.0.0.20'] });
      expect(n.patroni('on_stop', role, 'pg-test').calls).toContain('ip addr del 10.0.0.20/24 dev ens3');
    }
    n.done();
  });

  it('unbinds the VIP on a stop, or on any role but the leader, wherever it is bound, and only when it is', () => {
    const n = node(n1);
    n.patroni('on_start', 'primary', 'pg-test');
    expect(n.patroni('on_role_change', 'replica', 'pg-test')).toMatchObject({ status: 0, calls: [`sudo -n ${n.helperPath} del`, 'ip addr del 10.0.0.20/24 dev ens3'] });
    expect(n.bound()).toBe('');
    expect(n.patroni('on_role_change', 'demoted', 'pg-test')).toMatchObject({ status: 0, calls: [`sudo -n ${n.helperPath} del`] });
    n.patroni('on_start', 'primary', 'pg-test');
    expect(n.patroni('on_stop', 'primary', 'pg-test').calls).toEqual([`sudo -n ${n.helperPath} del`, 'ip addr del 10.0.0.20/24 dev ens3']);
    expect(n.patroni('on_start', 'replica', 'pg-test').calls).toEqual([`sudo -n ${n.helperPath} del`]);
    // Actions Patroni is not configured to call, or none: nothing.
    expect(n.patroni('on_reload', 'primary', 'pg-test').calls).toEqual([]);
    expect(n.patroni().calls).toEqual([]);
    n.done();
  });

  it('binds on the named pg_vip_interface, adds the address without arping, and the helper takes nothing but add and del', () => {
    const n = node(n2, { arping: false });
    expect(n.patroni('on_start', 'primary', 'pg-test')).toMatchObject({ status: 0, calls: [`sudo -n ${n.helperPath} add`, 'ip addr add 10.0.0.20/24 dev eth1'] });
    const wrong = n.helper('add 10.9.9.9/32');
    expect(wrong.status).toBe(2);
    expect(n.helper('del', 'x').status).toBe(2);
    expect(n.bound()).toContain('inet 10.0.0.20/24');
    n.done();
    // auto, and no interface holds the member's address: nothing is bound.
    const list = n1!.map((r) => ((r.want as { path?: string }).path === PG_VIP.helper ? { ...r, want: { ...(r.want as object), content: contentAt(n1, PG_VIP.helper).replaceAll('10.0.0.11', '10.0.0.99') } } : r));
    const missing = node(list);
    const r = missing.patroni('on_start', 'primary', 'pg-test');
    expect(r.calls).toEqual([`sudo -n ${missing.helperPath} add`]);
    expect(r.stderr).toContain('no interface holds 10.0.0.99');
    missing.done();
  });

  it('never shows the etcd or REST password in a plan of bare nodes', () => {
    const shown = shownPlan(out);
    expect(shown).toContain(PG_VIP.helper);
    for (const secret of ['Secret.Etcd.4', 'Secret.Api.2']) expect(shown).not.toContain(secret);
  });
});

describe('pg-vip: the VIP on the member Patroni runs as leader, and on no other', () => {
  const want: PgVipWant = { api: 'http://10.0.0.12:8008', name: 'pg-test-2', address: '10.0.0.20', helper: PG_VIP.helper };
  const probed = (patroni: object | null, bound: string | null): string =>
    [...(patroni ? [`patroni=${JSON.stringify(patroni)}`] : []), ...(bound ? [`bound=${bound}`] : [])].join('\n');
  const changes = (patroni: object | null, bound: string | null) => pgVip.diff(want, pgVip.parse(probed(patroni, bound), want) as never);

  it('unbinds it from a member whose Patroni answers with another role, binds it on a running leader, and leaves it when Patroni does not answer', () => {
    expect(changes({ state: 'running', role: 'replica' }, 'eth1')).toEqual([{ field: 'bound', from: '10.0.0.20 on eth1 (Patroni role replica)', to: null }]);
    expect(changes({ state: 'running', role: 'primary' }, null)).toEqual([{ field: 'bound', from: null, to: '10.0.0.20' }]);
    expect(changes({ state: 'streaming', role: 'standby_leader' }, null)).toEqual([{ field: 'bound', from: null, to: '10.0.0.20' }]);
    expect(changes(null, 'eth1')).toEqual([]);
    expect(changes({ state: 'running', role: 'primary' }, 'eth1')).toEqual([]);
    expect(changes({ state: 'running', role: 'replica' }, null)).toEqual([]);
    // A leader that does not run yet is left to Patroni's callback, bound or not.
    expect(changes({ state: 'starting', role: 'primary' }, 'eth1')).toEqual([]);
    expect(changes({ state: 'starting', role: 'primary' }, null)).toEqual([]);
    expect(pgVip.effects?.(want, null)?.destructive).toBeFalsy();
  });

  it("probes Patroni and the node's addresses, and acts on Patroni's role at apply time, never unbinding from a leader", () => {
    expect(pgVip.probe(want)).toContain('http://10.0.0.12:8008/patroni');
    const dir = mkdtempSync(join(tmpdir(), 'corral-pgvip-kind-'));
    const put = (name: string, body: string): void => {
      writeFileSync(join(dir, name), `#!/bin/sh\n${body}\n`);
      chmodSync(join(dir, name), 0o755);
    };
    put('ip', `echo '2: eth1@if4    inet 10.0.0.12/24 scope global eth1'; echo '2: eth1    inet 10.0.0.20/24 scope global secondary eth1'`);
    const probe = spawnSync('bash', ['-c', pgVip.probe(want)], { env: { ...process.env, PATH: `${dir}:${process.env.PATH}` }, encoding: 'utf8' });
    expect(pgVip.parse(probe.stdout, want)).toEqual({ boundOn: 'eth1', role: null, leads: false });
    const apply = (role: string | null): { status: number | null; out: string } => {
      put('curl', role === null ? 'exit 7' : `echo '{"state": "running", "role": "${role}", "replication": [{"state": "streaming"}]}'`);
      put('helper', 'echo "helper $*"');
      const r = spawnSync('bash', ['-c', pgVip.apply({ ...want, helper: join(dir, 'helper') }, null)], { env: { ...process.env, PATH: `${dir}:${process.env.PATH}` }, encoding: 'utf8' });
      return { status: r.status, out: r.stdout.trim() };
    };
    expect(apply('replica')).toEqual({ status: 0, out: 'helper del' });
    expect(apply('primary')).toEqual({ status: 0, out: 'helper add' });
    expect(apply('master')).toEqual({ status: 0, out: 'helper add' });
    expect(apply(null)).toMatchObject({ status: 1, out: '' });
    rmSync(dir, { recursive: true });
  });
});
