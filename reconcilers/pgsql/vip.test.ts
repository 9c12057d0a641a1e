/** PGSQL's L2 VIP (vip-manager) and Patroni's REST allowlist, log and tags, as data: no node, no SSH. */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
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
import { pgsql } from './index.js';
import { VIP_MANAGER } from './templates.js';

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
    const d: Desired = { hosts: [...out.resources].map(([host, resources]) => ({ host, target: { host } as never, resources })), edges: out.edges };
    const observations: Observation[] = d.hosts.map((h) => ({ host: h.host, ok: true, facts: ASSUMED_FACTS, states: {}, durationMs: 1 }));
    const p = plan(d, observations, 'r1');
    const shown = renderText(p.plan) + renderJson(p.plan);
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

  it("on Debian 12 without Pigsty's repo (vip-manager 1.x reads etcd v2 only): a note per member, no vip-manager", async () => {
    const bare = await desiredOf(INVENTORY(VIP_ON, ''));
    const notes = bare.notes.filter((n) => n.resource === 'service:vip-manager');
    expect(notes.map((n) => n.host)).toEqual(['10.0.0.11', '10.0.0.12']);
    expect(notes[0]!.message).toMatch(/Debian 12 ships vip-manager 1\.x, which reads etcd's v2 API only.*add Pigsty's infra repo/);
    expect(notes[0]!.blocking).toBeUndefined();
    expect([...bare.resources.values()].flat().filter(isVipManager)).toEqual([]);
    // Debian 13 is not ruled out by release: the launcher checks the version it finds.
    const trixie = await desiredOf(INVENTORY(VIP_ON, ''), { ...ASSUMED_FACTS, osVersion: '13', codename: 'trixie' });
    expect(trixie.notes.filter((n) => n.resource === 'service:vip-manager')).toEqual([]);
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
