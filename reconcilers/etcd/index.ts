/**
 * ETCD: an etcd cluster from the hosts with `etcd_seq`, laid out as Pigsty v4 lays it out
 * (/etc/etcd/etcd.conf, etcd.service, data in etcd_data, certificates from Corral's CA in
 * /etc/etcd), bootstrapped once, then grown and shrunk through `etcdctl member add/remove`.
 * https for clients and peers; RBAC on: root (etcd_root_password) and one user per PGSQL
 * cluster with read-write on its own prefix, which its Patroni logs in as.
 */
import { membership } from '../../src/config/clusters.js';
import type { HostView } from '../../src/config/hosts.js';
import { stateOf, type CrossEdge, type Note, type Observation } from '../../src/engine/model.js';
import { resourceList, type Certificates, type ModuleDesired, type Reconciler } from '../../src/engine/reconciler.js';
import { etcdCluster, etcdClusterId, etcdHealth, type EtcdHealth } from './kinds/etcd-cluster.js';
import { etcdAuth, etcdAuthId, type EtcdAuthWant, type EtcdUser } from './kinds/etcd-auth.js';
import { etcdMember, ROOT_PASSWORD_FILE, type EtcdClient, type EtcdMemberWant, type InitialState } from './kinds/etcd-member.js';
import { ETCD_CONF, etcdTlsMove, type EtcdTlsMoveHave, type EtcdTlsMoveWant } from './kinds/etcd-tls-move.js';
import { refTo, type Ref } from '../../src/engine/resources/kind.js';
import { ETCD_KINDS } from './kinds/index.js';
import { directory, file } from '../../src/engine/resources/file.js';
import { packages, packagesId } from '../../src/engine/resources/packages.js';
import { service, type ServiceWant } from '../../src/engine/resources/service.js';
import { memberCertificate } from '../../src/pki/requests.js';
import { ETCD_TLS, etcdConf, etcdctlProfile, etcdUnit } from './templates.js';

const CONF_PATH = ETCD_CONF;
const byName = (a: HostView, b: HostView): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
const port = (h: HostView): number => h.param('etcd_port');
const clientURL = (h: HostView): string => `https://${h.name}:${port(h)}`;
const peerURL = (h: HostView): string => `https://${h.name}:${h.param('etcd_peer_port')}`;
/** etcd_seq has no role default: every member has one (the etcd/missing-seq check), 0 only satisfies the type. */
const seqOf = (h: HostView): number => h.param('etcd_seq') ?? 0;
const instance = (h: HostView): string => `${h.param('etcd_cluster')}-${seqOf(h)}`;

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
const observer = (members: readonly HostView[]): HostView => [...members].sort((a, b) => seqOf(a) - seqOf(b))[0]!;

/** etcdctl on member `h` as a client of `endpoints`, with the member's own certificate. */
const clientOf = (h: HostView, endpoints: readonly HostView[], certificates: Certificates): EtcdClient => {
  const { certificate, key } = certificates.get(certificateId(h));
  return { endpoints: [...endpoints].sort(byName).map(clientURL), ca: certificates.ca, cert: certificate, key };
};

const clusterWant = (name: string, members: readonly HostView[], certificates: Certificates): { cluster: string; client: EtcdClient; peerURLs: string[] } => ({
  cluster: name,
  client: clientOf(observer(members), members, certificates),
  peerURLs: [...members].sort(byName).map(peerURL),
});

const certificateId = (h: HostView): string => `etcd/${h.name}`;

/** Patroni's etcd login for each PGSQL cluster, as Pigsty names it: user and role `<pg_cluster>`, password pg_etcd_password (else the cluster's name). */
export function etcdLogins(hosts: readonly HostView[]): (EtcdUser & { password: string })[] {
  const byCluster = new Map<string, EtcdUser & { password: string }>();
  for (const h of hosts) {
    const name = membership(h, 'pgsql');
    if (name === undefined || byCluster.has(name)) continue;
    byCluster.set(name, { name, prefix: `${h.str('pg_namespace')}/${name}/`, password: h.str('pg_etcd_password') || name });
  }
  return [...byCluster.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** etcdctl reads a password from stdin up to the first blank: one with a space or tab could not be set as it is written. */
const unsettable = (password: string): boolean => /\s/.test(password);

function memberWant(h: HostView, members: readonly HostView[], certificates: Certificates): EtcdMemberWant {
  const dataDir = h.param('etcd_data');
  const render = (state: InitialState): string =>
    etcdConf({
      name: instance(h),
      dataDir,
      token: h.param('etcd_cluster'),
      state,
      initialCluster: [...members].sort(byName).map((m) => `${instance(m)}=${peerURL(m)}`),
      ip: h.name,
      port: port(h),
      peerPort: h.param('etcd_peer_port'),
      electionTimeout: h.param('etcd_election_timeout'),
      heartbeatInterval: h.param('etcd_heartbeat_interval'),
    });
  return {
    name: instance(h),
    confPath: CONF_PATH,
    conf: { new: render('new'), existing: render('existing') },
    init: h.param('etcd_init'),
    dataDir,
    peerURL: peerURL(h),
    peers: clientOf(h, members.filter((m) => m.name !== h.name), certificates),
    learner: h.param('etcd_learner'),
    safeguard: h.param('etcd_safeguard'),
  };
}

/** The cluster Patroni uses: the one whose members are in the `etcd` group (Pigsty's groups['etcd']). */
const servesPatroni = (members: readonly HostView[]): boolean => members.some((h) => h.groups.includes('etcd'));

function authWant(name: string, members: readonly HostView[], certificates: Certificates, logins: readonly EtcdUser[], heldBy: string | undefined): EtcdAuthWant {
  const users = logins.map(({ name: user, prefix }) => ({ name: user, prefix }));
  return { cluster: name, client: clusterWant(name, members, certificates).client, users, passwordsFile: USERS_PASSWORD_FILE, confPath: CONF_PATH, ...(heldBy ? { heldBy } : {}) };
}

/**
 * Why this run cannot move a plain-http cluster to TLS: the PGSQL clusters that use it are paused
 * and their Patroni restarted in the same run, so a run without one of them (the daemon syncs a
 * cluster at a time) leaves the move to a `corral apply` over the inventory.
 */
function tlsMoveHeldBy(logins: readonly EtcdUser[], together: (module: string, cluster: string) => boolean): string | undefined {
  const apart = logins.filter((l) => !together('pgsql', l.name)).map((l) => l.name);
  if (!apart.length) return undefined;
  return `moving it to TLS pauses ${apart.join(', ')} and restarts its Patroni, which this run (without ${apart.length > 1 ? 'those clusters' : 'that cluster'}) cannot do; run \`corral apply\` over the inventory once (etcd and PGSQL together)`;
}

/** The TLS move of each member of a plain-http etcd cluster, by host: PGSQL pauses its clusters before the first of them. */
export function etcdTlsMoveRefs(hosts: readonly HostView[]): CrossEdge['after'][] {
  return patroniEtcdMembers(hosts).map((h) => ({ host: h.name, resource: tlsMoveId(h) }));
}

/** The members of the etcd cluster Patroni uses: the `etcd` group's (Pigsty's groups['etcd']). */
const patroniEtcdMembers = (hosts: readonly HostView[]): HostView[] => hosts.filter((h) => h.groups.includes('etcd') && membership(h, 'etcd') !== undefined);

/** The name of the etcd cluster Patroni uses, if the inventory has one. */
export const patroniEtcdCluster = (hosts: readonly HostView[]): string | undefined => {
  const first = patroniEtcdMembers(hosts)[0];
  return first && membership(first, 'etcd');
};

const tlsMoveId = (h: HostView): Ref<EtcdTlsMoveHave> => refTo(etcdTlsMove, instance(h));

const tlsMoveWant = (h: HostView, conf: string, heldBy?: string): EtcdTlsMoveWant => ({
  name: instance(h),
  confPath: CONF_PATH,
  conf,
  peerURL: peerURL(h),
  port: port(h),
  tls: ETCD_TLS,
  ...(heldBy ? { heldBy } : {}),
});

const USERS_PASSWORD_FILE = '/etc/etcd/users.pass';

const ETCD_SERVICE: ServiceWant = { name: 'etcd', enabled: true, running: true };

/** etcd's service on each member: what a DCS client (Patroni) waits for, on every etcd host. */
export const etcdServiceId = service.id(ETCD_SERVICE);

export const etcd: Reconciler = {
  module: 'etcd',
  kinds: ETCD_KINDS,
  // Every member's, also under --limit: the observing member's certificate is how the others' probes reach the cluster.
  certificates: ({ cluster, hosts }) =>
    membersOf(hosts, cluster.name).map((h) =>
      memberCertificate({ id: certificateId(h), address: h.name, commonName: instance(h), organizationalUnit: 'etcd', names: [instance(h)], validity: h.str('cert_validity') }),
    ),
  desired({ cluster, hosts, facts, certificates, together }) {
    const out: ModuleDesired = { resources: new Map(), edges: [], notes: [] };
    // The whole cluster, also under --limit: a limited run must neither shrink initial-cluster nor remove members it did not select.
    const members = membersOf(hosts, cluster.name);
    const anchor = observer(members);
    const whole = clusterWant(cluster.name, members, certificates);
    const membershipId = etcdCluster.id(whole);
    const logins = servesPatroni(members) ? etcdLogins(hosts) : [];
    const rootPassword = anchor.str('etcd_root_password');
    const blocked = passwordProblems(anchor, rootPassword, logins);
    if (blocked.length) {
      out.notes.push(...blocked);
      return out;
    }
    const heldBy = tlsMoveHeldBy(logins, together);
    // A plain-http cluster moves to TLS one member at a time, by address; etcd-auth (on the anchor) comes after every member moved.
    const byAddress = [...members].sort(byName);
    for (const h of cluster.members) {
      const f = facts(h.name);
      const r = resourceList('etcd', cluster.name, ETCD_KINDS);
      if (f.packageManager === 'unknown') {
        out.notes.push({ host: h.name, resource: packagesId('etcd'), message: 'no known package manager: etcd is not installed' });
        continue;
      }
      // Debian's package starts its own etcd (data in /var/lib/etcd/default, localhost only) at install;
      // the unit below takes the service over and the first config change restarts it as a member.
      const pkg = r.add(packages, { name: 'etcd', manager: f.packageManager, packages: f.packageManager === 'apt' ? ['etcd-server', 'etcd-client'] : ['etcd'] });
      const want = memberWant(h, members, certificates);
      const confDir = r.add(directory, { path: '/etc/etcd', mode: 0o750, owner: 'etcd', group: 'etcd' }, [pkg]);
      const dataDir = r.add(directory, { path: want.dataDir, mode: 0o700, owner: 'etcd', group: 'etcd' }, [pkg]);
      // etcd reads its certificate files on each new connection: a renewed certificate needs no restart.
      const cert = certificates.get(certificateId(h));
      const owned = { owner: 'etcd', group: 'etcd' };
      const tls = [
        r.add(file, { path: ETCD_TLS.ca, content: certificates.ca, mode: 0o644, ...owned }, [confDir]),
        r.add(file, { path: ETCD_TLS.cert, content: cert.certificate, mode: 0o644, ...owned }, [confDir]),
        r.add(file, { path: ETCD_TLS.key, content: cert.key, mode: 0o600, ...owned, secret: true }, [confDir]),
      ];
      const rootPass = r.add(file, { path: ROOT_PASSWORD_FILE, content: rootPassword, mode: 0o640, owner: 'root', group: 'etcd', secret: true }, [confDir]);
      const member = r.add(etcdMember, want, [confDir, dataDir, ...tls, rootPass]);
      const move = r.add(etcdTlsMove, tlsMoveWant(h, want.conf.existing, heldBy), [...tls, rootPass]);
      const previous = byAddress[byAddress.indexOf(h) - 1];
      if (previous) out.edges.push({ before: { host: previous.name, resource: tlsMoveId(previous) }, after: { host: h.name, resource: move } });
      if (h.name !== anchor.name) out.edges.push({ before: { host: h.name, resource: move }, after: { host: anchor.name, resource: etcdAuthId(cluster.name) } });
      const unit = r.add(file, { path: '/etc/systemd/system/etcd.service', content: etcdUnit(want.dataDir), mode: 0o644 }, [pkg]);
      r.add(file, { path: '/etc/profile.d/etcdctl.sh', content: etcdctlProfile(whole.client.endpoints, ROOT_PASSWORD_FILE), mode: 0o644 });
      const svc = r.add(service, ETCD_SERVICE, [pkg, unit, member]);
      if (h.name === anchor.name) {
        const state = r.add(etcdCluster, whole, [svc]);
        const passwords = r.add(file, { path: USERS_PASSWORD_FILE, content: logins.map((l) => `${l.name}:${l.password}\n`).join(''), mode: 0o600, secret: true }, [confDir]);
        r.add(etcdAuth, authWant(cluster.name, members, certificates, logins, heldBy), [state, passwords, rootPass, move]);
      }
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
  return etcdHealth(stateOf(observations, observer(members).name, etcdClusterId(name)) ?? null);
}

/** Passwords etcdctl could not set as written: the cluster is left alone rather than built with another password than Patroni's. */
function passwordProblems(anchor: HostView, root: string, logins: readonly { name: string; password: string }[]): Note[] {
  const bad = [...(unsettable(root) ? ['etcd_root_password'] : []), ...logins.filter((l) => unsettable(l.password)).map((l) => `pg_etcd_password of ${l.name}`)];
  return bad.map((what) => ({ host: anchor.name, resource: 'etcd', blocking: true, message: `${what} holds a space or tab, which etcdctl cannot take from stdin; choose a password without blanks` }));
}

/** Where Patroni's etcd login is made: the etcd cluster of the `etcd` group, on its observing member. */
export function etcdAuthRef(hosts: readonly HostView[]): CrossEdge['before'] | undefined {
  const name = patroniEtcdCluster(hosts);
  return name === undefined ? undefined : { host: observer(membersOf(hosts, name)).name, resource: etcdAuthId(name) };
}
