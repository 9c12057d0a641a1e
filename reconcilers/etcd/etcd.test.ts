import { describe, expect, it } from 'vitest';
import { validateInventory } from '../../src/config/validate.js';
import type { HostView } from '../../src/config/hosts.js';
import { ASSUMED_FACTS } from '../../src/engine/facts.js';
import type { Desired, Observation } from '../../src/engine/model.js';
import { plan } from '../../src/engine/plan.js';
import { renderText } from '../../src/engine/render.js';
import { etcdCluster, etcdHealth, type EtcdClusterHave } from './kinds/etcd-cluster.js';
import { etcdMember, type EtcdMemberHave, type EtcdMemberWant } from './kinds/etcd-member.js';
import { etcdTlsMove, type EtcdTlsMoveWant } from './kinds/etcd-tls-move.js';
import { etcdAuth, type EtcdAuthHave, type EtcdAuthWant } from './kinds/etcd-auth.js';
import { sha256 } from '../../src/engine/resources/file.js';
import type { Resource, Unsupported } from '../../src/engine/resources/kind.js';
import { tmpRepo } from '../../test/helpers/tmp.js';
import { clusterHealth, etcd, etcdEndpoints } from './index.js';
import { certificatesFor } from '../../test/helpers/pki.js';

const inventory = (hosts: string, vars = ''): string => `
all:
  children:
    etcd:
      hosts:
${hosts}
      vars: { etcd_cluster: etcd${vars} }
    pg-test:
      hosts: { 10.0.0.21: { pg_seq: 1, pg_role: primary } }
      vars: { pg_cluster: pg-test }
`;
const THREE = ['        10.0.0.13: { etcd_seq: 3 }', '        10.0.0.11: { etcd_seq: 1 }', '        10.0.0.12: { etcd_seq: 2 }'].join('\n');
const TWO = ['        10.0.0.11: { etcd_seq: 1 }', '        10.0.0.12: { etcd_seq: 2 }'].join('\n');
const IPS = ['10.0.0.11', '10.0.0.12', '10.0.0.13'];

async function load(text: string, together: (module: string, cluster: string) => boolean = () => true): Promise<{ hosts: HostView[]; desired: Desired; notes: { host: string; message: string }[] }> {
  const v = await validateInventory(tmpRepo({ 'pigsty.yml': text }));
  expect(v.problems.filter((p) => p.severity === 'error')).toEqual([]);
  const cluster = v.clusters.find((c) => c.module === 'etcd')!;
  const out = etcd.desired({ cluster, hosts: v.hosts, facts: () => ASSUMED_FACTS, certificates: await certificatesFor(v), together });
  const target = (name: string) => ({ name, address: name, port: 22, user: 'root', connection: 'ssh' as const });
  return { hosts: v.hosts, notes: out.notes, desired: { hosts: [...out.resources].map(([host, resources]) => ({ host, target: target(host), resources })), edges: out.edges } };
}

const on = (d: Desired, host: string): Resource[] => d.hosts.find((h) => h.host === host)!.resources;
const memberOf = (d: Desired, host: string): EtcdMemberWant => on(d, host).find((r) => r.kind === 'etcd-member')!.want as EtcdMemberWant;

/** `etcdctl member list` lines (simple format) for the given members, as the probes print them. */
const listing = (ips: readonly string[], started = true): string =>
  ips.map((ip, i) => `etcd-member: ${(0x8e9e05c52164694dn + BigInt(i)).toString(16)}, ${started ? 'started' : 'unstarted'}, ${started ? `etcd-${ip.slice(-1)}` : ''}, https://${ip}:2380, ${started ? `https://${ip}:2379` : ''}, false`).join('\n');
const healthLines = (up: readonly string[], down: readonly string[] = []): string =>
  [...up.map((ip) => `etcd-health: https://${ip}:2379 is healthy: successfully committed proposal: took = 2.1ms`), ...down.map((ip) => `etcd-health: https://${ip}:2379 is unhealthy: failed to commit proposal: context deadline exceeded`)].join('\n');
const confProbe = (content: string): string => `type=regular file\nowner=etcd\ngroup=etcd\nmode=644\nsha256=${sha256(content)}\ncontent=${Buffer.from(content).toString('base64')}\n`;

interface NodeState {
  /** The config on disk, or none. */
  conf?: string;
  hasData: boolean;
  /** What `member list` against the other members prints. */
  others: string;
  /** etcd.service runs the package's default etcd. */
  foreign?: boolean;
}

/** Observations where everything but etcd's own state is in place, so the plan shows only membership and config. */
function observations(d: Desired, nodes: Record<string, NodeState>, cluster = ''): Observation[] {
  return d.hosts.map((h) => {
    const states: Record<string, unknown> = {};
    for (const r of h.resources) {
      const w = r.want as Record<string, unknown>;
      const id = `${r.kind}:${String(w.path ?? w.name ?? w.cluster)}`;
      if (r.kind === 'packages') states[id] = { 'etcd-server': '3.4.23', 'etcd-client': '3.4.23' };
      else if (r.kind === 'directory') states[id] = { type: 'directory', owner: w.owner, group: w.group, mode: w.mode };
      else if (r.kind === 'file') states[id] = { type: 'regular file', owner: w.owner ?? 'root', group: w.group ?? w.owner ?? 'root', mode: w.mode, sha256: sha256(w.content as string), content: w.content };
      else if (r.kind === 'service') states[id] = { enabled: true, running: true };
      else if (r.kind === 'etcd-member') {
        const n = nodes[h.host]!;
        states[id] = etcdMember.parse(`${n.conf !== undefined ? confProbe(n.conf) : 'absent\n'}${n.hasData ? 'has-data=yes\n' : ''}${n.foreign ? 'foreign=yes\n' : ''}${n.others}`, w as unknown as EtcdMemberWant);
      } else if (r.kind === 'etcd-cluster') states[id] = etcdCluster.parse(cluster, r.want as never);
      else if (r.kind === 'etcd-auth') states[id] = { enabled: true, users: Object.fromEntries((w.users as { name: string }[]).map((u) => [u.name, 'ok'])) };
    }
    return { host: h.host, ok: true as const, facts: ASSUMED_FACTS, states, durationMs: 1 };
  });
}

describe('ETCD reconciler', () => {
  it('lays out each member as Pigsty does, named <etcd_cluster>-<etcd_seq>', async () => {
    const { desired } = await load(inventory(THREE, ', etcd_heartbeat_interval: 150, etcd_data: /data/etcd2'));
    const conf = memberOf(desired, '10.0.0.12').conf.new;
    expect(conf).toContain('name: etcd-2\n');
    expect(conf).toContain('data-dir: /data/etcd2\n');
    expect(conf).toContain('initial-cluster-token: "etcd"');
    expect(conf).toContain('initial-cluster-state: "new"');
    // Sorted by address, whatever the inventory order.
    expect(conf).toContain('initial-cluster: "etcd-1=https://10.0.0.11:2380,etcd-2=https://10.0.0.12:2380,etcd-3=https://10.0.0.13:2380"');
    expect(conf).toContain('listen-client-urls: "https://10.0.0.12:2379,https://127.0.0.1:2379"');
    expect(conf).toContain('advertise-client-urls: "https://10.0.0.12:2379"');
    expect(conf).toContain('heartbeat-interval: 150\n');
    expect(conf).toContain('election-timeout: 1000\n');
    expect(memberOf(desired, '10.0.0.12').conf.existing).toContain('initial-cluster-state: "existing"');
    const unit = on(desired, '10.0.0.12').find((r) => r.kind === 'file' && (r.want as { path: string }).path === '/etc/systemd/system/etcd.service')!.want as { content: string };
    expect(unit.content).toContain('ExecStart=/usr/bin/etcd --config-file /etc/etcd/etcd.conf');
    expect(unit.content).toContain('WorkingDirectory=/data/etcd2');
    expect(on(desired, '10.0.0.12').find((r) => r.kind === 'packages')!.want).toMatchObject({ packages: ['etcd-server', 'etcd-client'] });
    // The service waits for its unit and its config.
    expect(on(desired, '10.0.0.12').find((r) => r.kind === 'service')!.deps).toEqual(['packages:etcd', 'file:/etc/systemd/system/etcd.service', 'etcd-member:etcd-2']);
  });

  it('gives patroni the etcd group as client URLs, sorted by address', async () => {
    const { hosts } = await load(inventory(THREE, ', etcd_port: 12379'));
    expect(etcdEndpoints(hosts)).toEqual(['https://10.0.0.11:12379', 'https://10.0.0.12:12379', 'https://10.0.0.13:12379']);
  });

  it('observes membership from the lowest etcd_seq, and removes members before others join', async () => {
    const { desired } = await load(inventory(THREE));
    expect(IPS.map((ip) => on(desired, ip).some((r) => r.kind === 'etcd-cluster'))).toEqual([true, false, false]);
    expect(desired.edges.filter((e) => e.before.resource === 'etcd-cluster:etcd')).toEqual([
      { before: { host: '10.0.0.11', resource: 'etcd-cluster:etcd' }, after: { host: '10.0.0.13', resource: 'etcd-member:etcd-3' } },
      { before: { host: '10.0.0.11', resource: 'etcd-cluster:etcd' }, after: { host: '10.0.0.12', resource: 'etcd-member:etcd-2' } },
    ]);
  });

  it('serves https with the member certificate from Corral\'s CA, peers checked by it', async () => {
    const { desired, notes } = await load(inventory(THREE));
    expect(notes).toEqual([]);
    const conf = memberOf(desired, '10.0.0.12').conf.new;
    expect(conf).toContain('listen-peer-urls: "https://10.0.0.12:2380"');
    expect(conf).toMatch(/client-transport-security:\n {2}cert-file: "\/etc\/etcd\/server.crt"\n {2}key-file: "\/etc\/etcd\/server.key"\n {2}trusted-ca-file: "\/etc\/etcd\/ca.crt"/);
    expect(conf).toMatch(/peer-transport-security:\n(?: {2}.*\n){3} {2}client-cert-auth: true/);
    const files = new Map(on(desired, '10.0.0.12').filter((r) => r.kind === 'file').map((r) => [(r.want as { path: string }).path, r.want as { content: string; mode: number; owner?: string; secret?: boolean }]));
    expect(files.get('/etc/etcd/ca.crt')!.content).toMatch(/^-----BEGIN CERTIFICATE-----/);
    expect(files.get('/etc/etcd/server.key')).toMatchObject({ mode: 0o600, owner: 'etcd', secret: true });
    expect(files.get('/etc/etcd/etcd.pass')).toMatchObject({ content: 'Etcd.Root', mode: 0o640, owner: 'root', group: 'etcd', secret: true });
    // The member starts only once its certificate and root's password are on the node.
    const deps = on(desired, '10.0.0.12').find((r) => r.kind === 'etcd-member')!.deps!;
    expect(deps).toEqual(expect.arrayContaining(['file:/etc/etcd/server.crt', 'file:/etc/etcd/server.key', 'file:/etc/etcd/ca.crt', 'file:/etc/etcd/etcd.pass']));
  });

  it('asks for a certificate per member with Pigsty\'s SANs and cert_validity', async () => {
    const v = await validateInventory(tmpRepo({ 'pigsty.yml': inventory(THREE, ', cert_validity: 365d') }));
    const cluster = v.clusters.find((c) => c.module === 'etcd')!;
    const requests = etcd.certificates!({ cluster, hosts: v.hosts });
    expect(requests.find((r) => r.id === 'etcd/10.0.0.12')).toEqual({ id: 'etcd/10.0.0.12', commonName: 'etcd-2', organizationalUnit: 'etcd', dns: ['localhost', 'etcd-2'], ips: ['127.0.0.1', '10.0.0.12'], validityDays: 365 });
  });

  it('turns RBAC on: root, and a user per PGSQL cluster with read-write on its prefix', async () => {
    const { desired } = await load(inventory(THREE, ', etcd_root_password: Root.Secret.9'));
    const anchor = on(desired, '10.0.0.11');
    const auth = anchor.find((r) => r.kind === 'etcd-auth')!;
    expect(auth.want).toMatchObject({ cluster: 'etcd', users: [{ name: 'pg-test', prefix: '/pg/pg-test/' }], passwordsFile: '/etc/etcd/users.pass' });
    const passwords = anchor.find((r) => (r.want as { path?: string }).path === '/etc/etcd/users.pass')!.want;
    // pg_etcd_password is empty: Pigsty's password is the cluster's name.
    expect(passwords).toMatchObject({ content: 'pg-test:pg-test\n', mode: 0o600, secret: true });
    expect(on(desired, '10.0.0.12').some((r) => r.kind === 'etcd-auth')).toBe(false);
    // Off on a new cluster: the plan turns it on; no password is in a script or a field.
    const obs = observations(desired, { '10.0.0.11': { hasData: false, others: '' }, '10.0.0.12': { hasData: false, others: '' }, '10.0.0.13': { hasData: false, others: '' } }).map((o) =>
      o.ok && o.host === '10.0.0.11' ? { ...o, states: { ...o.states, 'etcd-auth:etcd': etcdAuth.parse('auth=off\n', auth.want as EtcdAuthWant) } } : o,
    );
    const { plan: p, scripts } = plan(desired, obs, 'r');
    const change = p.changes.find((c) => c.kind === 'etcd-auth')!;
    expect(change.fields.map((f) => f.field)).toEqual(['user pg-test', 'auth']);
    const script = scripts.get(change.id)!;
    expect(script).toContain('auth enable');
    expect(script).toContain('role grant-permission pg-test --prefix=true readwrite /pg/pg-test/');
    expect(script).not.toContain('Root.Secret.9');
    expect(renderText(p)).not.toContain('Root.Secret.9');
    expect(JSON.stringify(p)).not.toContain('Root.Secret.9');
    // etcd asks clients for a certificate: the member's own travels with the script, its key never into the plan.
    expect(script).toContain('ETCDCTL_CERT="$tls/cert" ETCDCTL_KEY="$tls/key"');
    expect(JSON.stringify(p)).not.toContain('PRIVATE KEY');
    expect(renderText(p)).not.toContain('PRIVATE KEY');
  });

  it('reads RBAC as it runs: a user whose login fails is set again; root failing to log in is reported', async () => {
    const { desired } = await load(inventory(THREE));
    const want = on(desired, '10.0.0.11').find((r) => r.kind === 'etcd-auth')!.want as EtcdAuthWant;
    expect(etcdAuth.diff(want, etcdAuth.parse('auth=on\nroot=ok\nuser.pg-test=ok\n', want) as EtcdAuthHave)).toEqual([]);
    expect(etcdAuth.diff(want, etcdAuth.parse('auth=on\nroot=ok\nuser.pg-test=wrong\n', want) as EtcdAuthHave).map((f) => f.field)).toEqual(['user pg-test']);
    expect((etcdAuth.parse('auth=on\n', want) as Unsupported).unsupported).toContain('root does not log in');
    expect(etcdAuth.parse('auth=unknown\n', want)).toBeNull();
  });

  it('moves a plain-http cluster to TLS one member at a time, then turns auth on', async () => {
    const { desired } = await load(inventory(THREE));
    const want = (ip: string): EtcdTlsMoveWant => on(desired, ip).find((r) => r.kind === 'etcd-tls-move')!.want as EtcdTlsMoveWant;
    const plain = memberOf(desired, '10.0.0.11').conf.existing.replaceAll('https://', 'http://');
    // etcd-member leaves a plain member's config to the move, which restarts it (etcd-member would not).
    const member = etcdMember.parse(`${confProbe(plain)}has-data=yes\n`, memberOf(desired, '10.0.0.11')) as EtcdMemberHave;
    expect(etcdMember.diff(memberOf(desired, '10.0.0.11'), member)).toEqual([]);
    const moving = etcdTlsMove.parse('etcd-plain=yes\n', want('10.0.0.11')) as { plain: boolean };
    const [transport] = etcdTlsMove.diff(want('10.0.0.11'), moving);
    expect(transport!.field).toBe('transport');
    expect(transport!.to).toContain('https://10.0.0.11:2380');
    expect(etcdTlsMove.effects!(want('10.0.0.11'), moving)).toEqual({ restarts: true });
    expect(etcdTlsMove.diff(want('10.0.0.11'), etcdTlsMove.parse('', want('10.0.0.11')) as { plain: boolean })).toEqual([]);
    const script = etcdTlsMove.apply(want('10.0.0.11'), moving);
    expect(script).toContain("member update \"$id\" --peer-urls=https://10.0.0.11:2380");
    expect(script.indexOf('member update')).toBeLessThan(script.indexOf('systemctl restart etcd.service'));
    expect(script).toContain('--endpoints=https://127.0.0.1:2379 --cacert=/etc/etcd/ca.crt --cert=/etc/etcd/server.crt --key=/etc/etcd/server.key endpoint health');
    // By address, one after the other, and auth only once every member moved.
    const moves = desired.edges.filter((e) => e.before.resource.startsWith('etcd-tls-move:'));
    expect(moves).toEqual(
      expect.arrayContaining([
        { before: { host: '10.0.0.11', resource: 'etcd-tls-move:etcd-1' }, after: { host: '10.0.0.12', resource: 'etcd-tls-move:etcd-2' } },
        { before: { host: '10.0.0.12', resource: 'etcd-tls-move:etcd-2' }, after: { host: '10.0.0.13', resource: 'etcd-tls-move:etcd-3' } },
        { before: { host: '10.0.0.12', resource: 'etcd-tls-move:etcd-2' }, after: { host: '10.0.0.11', resource: 'etcd-auth:etcd' } },
        { before: { host: '10.0.0.13', resource: 'etcd-tls-move:etcd-3' }, after: { host: '10.0.0.11', resource: 'etcd-auth:etcd' } },
      ]),
    );
    expect(moves).toHaveLength(4);
    expect(on(desired, '10.0.0.11').find((r) => r.kind === 'etcd-auth')!.deps).toContain('etcd-tls-move:etcd-1');
    // etcd-auth waits for the move: a plain cluster is not probed over https (it would only time out).
    const auth = on(desired, '10.0.0.11').find((r) => r.kind === 'etcd-auth')!.want as EtcdAuthWant;
    expect(etcdAuth.parse('etcd-plain=yes\n', auth)).toBeNull();
    expect(etcdAuth.probe(auth)).toContain(`grep -q '^listen-peer-urls: "http:' /etc/etcd/etcd.conf`);
  });

  it('holds the move when a PGSQL cluster that uses the etcd is not in the run (the daemon syncs it apart)', async () => {
    const { desired } = await load(inventory(THREE), (module, name) => !(module === 'pgsql' && name === 'pg-test'));
    const want = on(desired, '10.0.0.12').find((r) => r.kind === 'etcd-tls-move')!.want as EtcdTlsMoveWant;
    const held = etcdTlsMove.parse('etcd-plain=yes\n', want) as Unsupported;
    expect(held.unsupported).toContain('pauses pg-test and restarts its Patroni');
    expect(held.unsupported).toContain('corral apply');
    const auth = on(desired, '10.0.0.11').find((r) => r.kind === 'etcd-auth')!.want as EtcdAuthWant;
    expect((etcdAuth.parse('etcd-plain=yes\n', auth) as Unsupported).unsupported).toContain('runs plain http');
    // A cluster that already runs TLS is not held by anything.
    expect(etcdTlsMove.parse('', want)).toEqual({ plain: false });
  });

  it('refuses a password etcdctl would cut at a blank', async () => {
    const { desired, notes } = await load(inventory(THREE, ", etcd_root_password: 'two words'"));
    expect(desired.hosts).toEqual([]);
    expect(notes.map((n) => [n.host, (n as { blocking?: boolean }).blocking])).toEqual([['10.0.0.11', true]]);
    expect(notes[0]!.message).toContain('etcd_root_password holds a space');
  });


  it('bootstraps a new cluster: every member starts with `new`, no member add', async () => {
    const { desired } = await load(inventory(THREE));
    const fresh = { hasData: false, others: '' };
    const { plan: p, scripts } = plan(desired, observations(desired, { '10.0.0.11': fresh, '10.0.0.12': fresh, '10.0.0.13': fresh }), 'r');
    const members = p.changes.filter((c) => c.kind === 'etcd-member');
    expect(members.map((c) => c.host).sort()).toEqual(IPS);
    for (const c of members) {
      expect(c.fields.map((f) => f.field)).toEqual(['content', 'mode', 'owner']);
      expect(scripts.get(c.id)).not.toContain('member add');
      expect(c.fields[0]!.text!.after).toContain('initial-cluster-state: "new"');
    }
    expect(p.changes.some((c) => c.destructive)).toBe(false);
  });

  it("stops the package's default etcd so that the member's own starts", async () => {
    const { desired } = await load(inventory(THREE));
    const running = (ip: string): NodeState => ({ conf: memberOf(desired, ip).conf.new, hasData: false, others: '', foreign: ip === '10.0.0.12' });
    const { plan: p, scripts } = plan(desired, observations(desired, { '10.0.0.11': running('10.0.0.11'), '10.0.0.12': running('10.0.0.12'), '10.0.0.13': running('10.0.0.13') }), 'r');
    expect(p.changes.map((c) => `${c.host} ${c.action} ${c.resource} ${c.fields.map((f) => f.field).join(',')}`)).toEqual(['10.0.0.12 update etcd-member:etcd-2 process', '10.0.0.12 restart service:etcd ']);
    expect(scripts.get(p.changes[0]!.id)).toContain('systemctl stop etcd.service');
  });

  it('is in sync when a running member only has other initial-cluster settings (etcd reads them once)', async () => {
    const { desired } = await load(inventory(TWO));
    const old = (ip: string): string => memberOf(desired, ip).conf.existing.replace('initial-cluster: "', 'initial-cluster: "etcd-0=https://10.0.0.10:2380,');
    const running = (ip: string): NodeState => ({ conf: old(ip), hasData: true, others: listing(TWO_IPS) });
    const { plan: p } = plan(desired, observations(desired, { '10.0.0.11': running('10.0.0.11'), '10.0.0.12': running('10.0.0.12') }, `${listing(TWO_IPS)}\n${healthLines(TWO_IPS)}`), 'r');
    expect(p.changes).toEqual([]);
    // Any other setting is rewritten, and the running service restarts.
    const slower = memberOf(desired, '10.0.0.11').conf.new.replace('heartbeat-interval: 100', 'heartbeat-interval: 300');
    const drift = plan(desired, observations(desired, { '10.0.0.11': { ...running('10.0.0.11'), conf: slower }, '10.0.0.12': running('10.0.0.12') }, listing(TWO_IPS)), 'r').plan;
    expect(drift.changes.map((c) => `${c.host} ${c.action} ${c.resource}`)).toEqual(['10.0.0.11 update etcd-member:etcd-1', '10.0.0.11 restart service:etcd']);
  });

  it('adds a new member: member add on the running cluster, then it starts with `existing`', async () => {
    const { desired } = await load(inventory(THREE));
    const running = (ip: string): NodeState => ({ conf: memberOf(desired, ip).conf.new, hasData: true, others: listing(TWO_IPS) });
    const obs = observations(desired, { '10.0.0.11': running('10.0.0.11'), '10.0.0.12': running('10.0.0.12'), '10.0.0.13': { hasData: false, others: listing(TWO_IPS) } }, listing(TWO_IPS));
    const { plan: p, scripts } = plan(desired, obs, 'r');
    const add = p.changes.find((c) => c.host === '10.0.0.13' && c.kind === 'etcd-member')!;
    expect(add.fields[0]).toEqual({ field: 'member', from: null, to: 'member add etcd-3' });
    expect(add.fields[1]!.text!.after).toContain('initial-cluster-state: "existing"');
    expect(add.destructive).toBe(false);
    const script = scripts.get(add.id)!;
    expect(script).toContain('etcdctl --endpoints=https://10.0.0.11:2379,https://10.0.0.12:2379 --dial-timeout=2s --command-timeout=5s member add etcd-3 --peer-urls=https://10.0.0.13:2380;');
    // root logs in from the node's password file; the CA travels in the script (a new node has no ca.crt yet).
    expect(script).toContain('ETCDCTL_USER="root:$(cat /etc/etcd/etcd.pass)"');
    expect(script).toContain('-----BEGIN CERTIFICATE-----');
    expect(script).not.toContain('Etcd.Root');
    // Its service starts after the member was added and the config written.
    const start = p.changes.find((c) => c.host === '10.0.0.13' && c.kind === 'service');
    expect(p.changes.indexOf(start!)).toBeGreaterThan(p.changes.indexOf(add));
    expect(p.changes.filter((c) => c.host !== '10.0.0.13')).toEqual([]);
  });

  it('honours etcd_learner and etcd_init: existing for a member that joins', async () => {
    const learner = THREE.replace('10.0.0.13: { etcd_seq: 3 }', '10.0.0.13: { etcd_seq: 3, etcd_learner: true }');
    const { desired } = await load(inventory(learner));
    const obs = observations(desired, { '10.0.0.11': { conf: '', hasData: true, others: '' }, '10.0.0.12': { conf: '', hasData: true, others: '' }, '10.0.0.13': { hasData: false, others: listing(TWO_IPS) } });
    const { plan: p, scripts } = plan(desired, obs, 'r');
    const add = p.changes.find((c) => c.host === '10.0.0.13' && c.kind === 'etcd-member')!;
    expect(scripts.get(add.id)).toContain('member add etcd-3 --peer-urls=https://10.0.0.13:2380 --learner');
    // etcd_init: existing starts a new member as `existing` even when no other member answers (Pigsty's way of adding one).
    const existing = await load(inventory(THREE, ', etcd_init: existing'));
    const alone = observations(existing.desired, { '10.0.0.11': { hasData: false, others: '' }, '10.0.0.12': { hasData: false, others: '' }, '10.0.0.13': { hasData: false, others: '' } });
    const conf = plan(existing.desired, alone, 'r').plan.changes.find((c) => c.kind === 'etcd-member')!.fields[0]!;
    expect(conf.text!.after).toContain('initial-cluster-state: "existing"');
  });

  it('a member added by an interrupted apply is not added twice', async () => {
    const { desired } = await load(inventory(THREE));
    const others = `${listing(TWO_IPS)}\n${listing(['10.0.0.13'], false).replace('8e9e05c52164694d', 'aaaa')}`;
    const obs = observations(desired, { '10.0.0.11': { conf: '', hasData: true, others }, '10.0.0.12': { conf: '', hasData: true, others }, '10.0.0.13': { hasData: false, others } });
    const { plan: p, scripts } = plan(desired, obs, 'r');
    const c = p.changes.find((x) => x.host === '10.0.0.13' && x.kind === 'etcd-member')!;
    expect(c.fields.map((f) => f.field)).toEqual(['content', 'mode', 'owner']);
    expect(scripts.get(c.id)).not.toContain('member add');
    expect(c.fields[0]!.text!.after).toContain('initial-cluster-state: "existing"');
  });

  it('removes a member the inventory no longer lists, as a destructive change', async () => {
    const { desired } = await load(inventory(TWO));
    const running = (ip: string): NodeState => ({ conf: memberOf(desired, ip).conf.new, hasData: true, others: listing(IPS) });
    const { plan: p, scripts } = plan(desired, observations(desired, { '10.0.0.11': running('10.0.0.11'), '10.0.0.12': running('10.0.0.12') }, `${listing(IPS)}\n${healthLines(IPS)}`), 'r');
    expect(p.changes.map((c) => `${c.host} ${c.resource}`)).toEqual(['10.0.0.11 etcd-cluster:etcd']);
    const remove = p.changes[0]!;
    expect(remove.destructive).toBe(true);
    expect(remove.fields).toEqual([{ field: 'members', from: ['etcd-3 https://10.0.0.13:2380'], to: 'member remove' }]);
    expect(scripts.get(remove.id)).toContain('etcdctl --endpoints=https://10.0.0.11:2379,https://10.0.0.12:2379 --dial-timeout=2s --command-timeout=5s member remove 8e9e05c52164694f;');
    expect(renderText(p)).toContain('etcd-cluster:etcd');
  });

  it('rejoins a member whose data the cluster forgot, moving the data aside; etcd_safeguard forbids it', async () => {
    for (const safeguard of [false, true]) {
      const { desired } = await load(inventory(THREE, safeguard ? ', etcd_safeguard: true' : ''));
      const running = (ip: string): NodeState => ({ conf: memberOf(desired, ip).conf.new, hasData: true, others: listing(TWO_IPS) });
      const obs = observations(desired, { '10.0.0.11': running('10.0.0.11'), '10.0.0.12': running('10.0.0.12'), '10.0.0.13': running('10.0.0.13') }, listing(TWO_IPS));
      const { plan: p, scripts } = plan(desired, obs, 'r');
      const c = p.changes.find((x) => x.host === '10.0.0.13' && x.kind === 'etcd-member');
      if (safeguard) {
        expect(c).toBeUndefined();
        expect(p.notes.map((n) => n.host)).toEqual(['10.0.0.13']);
        expect(p.notes[0]!.message).toContain('etcd_safeguard');
        continue;
      }
      expect(c!.destructive).toBe(true);
      const script = scripts.get(c!.id)!;
      expect(script).toMatch(/mv \/data\/etcd \/data\/etcd\.removed-/);
      expect(script.indexOf('mv /data/etcd')).toBeLessThan(script.indexOf('member add etcd-3'));
      expect(c!.fields[1]!.text!.after).toContain('initial-cluster-state: "existing"');
    }
  });

  it('under --limit keeps the whole cluster in initial-cluster and removes nothing', async () => {
    const v = await validateInventory(tmpRepo({ 'pigsty.yml': inventory(THREE) }));
    const cluster = v.clusters.find((c) => c.module === 'etcd')!;
    const out = etcd.desired({ cluster: { ...cluster, members: cluster.members.filter((m) => m.name === '10.0.0.13') }, hosts: v.hosts, facts: () => ASSUMED_FACTS, certificates: await certificatesFor(v), together: () => true });
    expect([...out.resources.keys()]).toEqual(['10.0.0.13']);
    expect(out.resources.get('10.0.0.13')!.some((r) => r.kind === 'etcd-cluster')).toBe(false);
    expect((out.resources.get('10.0.0.13')!.find((r) => r.kind === 'etcd-member')!.want as EtcdMemberWant).conf.new).toContain('etcd-1=https://10.0.0.11:2380');
  });
});

const TWO_IPS = ['10.0.0.11', '10.0.0.12'];

describe('etcd health', () => {
  const have = (up: string[], down: string[] = [], members = [...up, ...down]): EtcdClusterHave => etcdCluster.parse(`${listing(members)}\n${healthLines(up, down)}`, { cluster: 'etcd', client: { endpoints: [], ca: '', cert: '', key: '' }, peerURLs: members.map((ip) => `https://${ip}:2380`) }) as EtcdClusterHave;

  it('is Healthy, Degraded with a quorum, Down without one', () => {
    expect(etcdHealth(have(IPS))).toBe('Healthy');
    expect(etcdHealth(have(TWO_IPS, ['10.0.0.13']))).toBe('Degraded');
    expect(etcdHealth(have(['10.0.0.11'], ['10.0.0.12', '10.0.0.13']))).toBe('Down');
    expect(etcdHealth(null)).toBe('Down');
  });

  it('counts an added member that has not started as not healthy', () => {
    const h = etcdCluster.parse(`${listing(TWO_IPS)}\n${listing(['10.0.0.13'], false).replace('8e9e05c52164694d', 'aaaa')}\n${healthLines(TWO_IPS)}`, { cluster: 'etcd', client: { endpoints: [], ca: '', cert: '', key: '' }, peerURLs: IPS.map((ip) => `https://${ip}:2380`) }) as EtcdClusterHave;
    expect(h.members).toHaveLength(3);
    expect(etcdHealth(h)).toBe('Degraded');
  });

  it('is read from the plan observations of the observing member', async () => {
    const { desired, hosts } = await load(inventory(THREE));
    const fresh = { hasData: false, others: '' };
    const nodes = { '10.0.0.11': fresh, '10.0.0.12': fresh, '10.0.0.13': fresh };
    expect(clusterHealth(observations(desired, nodes, `${listing(IPS)}\n${healthLines(IPS)}`), hosts, 'etcd')).toBe('Healthy');
    expect(clusterHealth(observations(desired, nodes, ''), hosts, 'etcd')).toBe('Down');
    expect(clusterHealth(observations(desired, nodes, `${listing(IPS)}\n${healthLines(IPS)}`), hosts, 'other')).toBe('Down');
  });
});
