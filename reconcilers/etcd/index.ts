/**
 * ETCD: an etcd cluster from the hosts with `etcd_seq`, laid out as Pigsty lays it out
 * (/etc/etcd/etcd.conf, etcd.service, data in etcd_data), bootstrapped once, then grown and shrunk
 * through `etcdctl member add/remove`. Plain http without auth: Pigsty's TLS and RBAC are not built
 * (said in the plan's notes).
 */
import { membership } from '../../src/config/clusters.js';
import type { HostView } from '../../src/config/hosts.js';
import type { Observation } from '../../src/engine/model.js';
import { resourceList, type ModuleDesired, type Reconciler } from '../../src/engine/reconciler.js';
import { etcdCluster, etcdHealth, type EtcdClusterHave, type EtcdHealth } from '../../src/engine/resources/etcd-cluster.js';
import type { EtcdMemberWant, InitialState } from '../../src/engine/resources/etcd-member.js';
import { etcdConf, etcdctlProfile, etcdUnit } from './templates.js';

const CONF_PATH = '/etc/etcd/etcd.conf';
const byName = (a: HostView, b: HostView): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
const port = (h: HostView): number => h.param('etcd_port') ?? 2379;
const clientURL = (h: HostView): string => `http://${h.name}:${port(h)}`;
const peerURL = (h: HostView): string => `http://${h.name}:${h.param('etcd_peer_port') ?? 2380}`;
const instance = (h: HostView): string => `${h.param('etcd_cluster') ?? 'etcd'}-${h.param('etcd_seq') ?? 0}`;

/**
 * Client URLs of the `etcd` group's members, sorted by address as Pigsty sorts groups['etcd'],
 * for DCS clients such as patroni.yml's etcd3 hosts.
 */
export function etcdEndpoints(hosts: readonly HostView[]): string[] {
  return hosts
    .filter((h) => h.groups.includes('etcd') && h.has('etcd_seq'))
    .sort(byName)
    .map(clientURL);
}

const membersOf = (hosts: readonly HostView[], cluster: string): HostView[] => hosts.filter((h) => membership(h, 'etcd') === cluster);

/** The member that observes the cluster's membership and health: the lowest etcd_seq. */
const observer = (members: readonly HostView[]): HostView => [...members].sort((a, b) => (a.param('etcd_seq') ?? 0) - (b.param('etcd_seq') ?? 0))[0]!;

const clusterWant = (name: string, members: readonly HostView[]): { cluster: string; endpoints: string[]; peerURLs: string[] } => {
  const sorted = [...members].sort(byName);
  return { cluster: name, endpoints: sorted.map(clientURL), peerURLs: sorted.map(peerURL) };
};

function memberWant(h: HostView, members: readonly HostView[]): EtcdMemberWant {
  const dataDir = h.param('etcd_data') ?? '/data/etcd';
  const render = (state: InitialState): string =>
    etcdConf({
      name: instance(h),
      dataDir,
      token: h.param('etcd_cluster') ?? 'etcd',
      state,
      initialCluster: [...members].sort(byName).map((m) => `${instance(m)}=${peerURL(m)}`),
      ip: h.name,
      port: port(h),
      peerPort: h.param('etcd_peer_port') ?? 2380,
      electionTimeout: h.param('etcd_election_timeout') ?? 1000,
      heartbeatInterval: h.param('etcd_heartbeat_interval') ?? 100,
    });
  return {
    name: instance(h),
    confPath: CONF_PATH,
    conf: { new: render('new'), existing: render('existing') },
    init: h.param('etcd_init') ?? 'new',
    dataDir,
    peerURL: peerURL(h),
    peers: members.filter((m) => m.name !== h.name).sort(byName).map(clientURL),
    learner: h.param('etcd_learner') === true,
    safeguard: h.param('etcd_safeguard') === true,
  };
}

export const etcd: Reconciler = {
  module: 'etcd',
  desired({ cluster, hosts, facts }) {
    const out: ModuleDesired = { resources: new Map(), edges: [], notes: [] };
    // The whole cluster, also under --limit: a limited run must neither shrink initial-cluster nor remove members it did not select.
    const members = membersOf(hosts, cluster.name);
    const anchor = observer(members);
    const whole = clusterWant(cluster.name, members);
    const membershipId = etcdCluster.id(whole);
    out.notes.push({
      host: anchor.name,
      resource: membershipId,
      message: "Pigsty's etcd TLS (CA, server certs, https URLs) and RBAC (root user, etcd_root_password, auth enable) are not built: etcd serves plain http without auth",
    });
    for (const h of cluster.members) {
      const f = facts(h.name);
      const r = resourceList('etcd', cluster.name);
      for (const param of ['etcd_rm_data', 'etcd_rm_pkg'] as const) {
        if (h.has(param)) out.notes.push({ host: h.name, resource: 'etcd', message: `${param} applies to removing a member's node, which Corral leaves as it is` });
      }
      if (f.packageManager === 'unknown') {
        out.notes.push({ host: h.name, resource: 'packages:etcd', message: 'no known package manager: etcd is not installed' });
        continue;
      }
      // Debian's package starts its own etcd (data in /var/lib/etcd/default, localhost only) at install;
      // the unit below takes the service over and the first config change restarts it as a member.
      const pkg = r.add('packages', { name: 'etcd', manager: f.packageManager, packages: f.packageManager === 'apt' ? ['etcd-server', 'etcd-client'] : ['etcd'] });
      const want = memberWant(h, members);
      const confDir = r.add('directory', { path: '/etc/etcd', mode: 0o750, owner: 'etcd', group: 'etcd' }, [pkg]);
      const dataDir = r.add('directory', { path: want.dataDir, mode: 0o700, owner: 'etcd', group: 'etcd' }, [pkg]);
      const member = r.add('etcd-member', want, [confDir, dataDir]);
      const unit = r.add('file', { path: '/etc/systemd/system/etcd.service', content: etcdUnit(want.dataDir), mode: 0o644 }, [pkg]);
      r.add('file', { path: '/etc/profile.d/etcdctl.sh', content: etcdctlProfile(whole.endpoints), mode: 0o644 });
      const svc = r.add('service', { name: 'etcd', enabled: true, running: true }, [pkg, unit, member]);
      if (h.name === anchor.name) r.add('etcd-cluster', whole, [svc]);
      // Members leave before new ones join, so that the cluster's membership always matches a new member's initial-cluster.
      else out.edges.push({ before: { host: anchor.name, resource: membershipId }, after: { host: h.name, resource: member } });
      out.resources.set(h.name, r.list);
    }
    return out;
  },
  health({ cluster, hosts, observations }) {
    const status = clusterHealth(observations, hosts, cluster.name);
    const problems = { Healthy: [], Degraded: ['a member is unhealthy or unreachable; the cluster keeps its quorum'], Down: ['no quorum of healthy members (or the observing member did not answer)'] }[status];
    return { status, problems };
  },
};

/**
 * The health of etcd cluster `name` of the inventory `hosts`, from a plan's observations (those of
 * its observing member, the lowest etcd_seq): Down when that member could not be observed.
 */
export function clusterHealth(observations: readonly Observation[], hosts: readonly HostView[], name: string): EtcdHealth {
  const members = membersOf(hosts, name);
  if (!members.length) return 'Down';
  const id = etcdCluster.id(clusterWant(name, members));
  const obs = observations.find((o) => o.host === observer(members).name);
  return etcdHealth(obs?.ok ? ((obs.states[id] ?? null) as EtcdClusterHave | null) : null);
}
