/**
 * MINIO: the hosts with `minio_seq` in `minio_cluster` run one object storage server each, as
 * Pigsty's minio role lays it out for minio_type silo: the package of minio_type and mcli from
 * Pigsty's infra repo, the minio user and group, the drives of minio_data, the env file and unit
 * named after minio_type, the member's certificate from Corral's CA in ~minio/.minio/certs, the
 * members' names (and minio_domain) in /etc/hosts. Several members make one distributed server
 * (MINIO_VOLUMES spans them with MinIO's ellipses). The cluster's first member (by address, as
 * Pigsty picks it) provisions minio_buckets and minio_users through mcli.
 */
import { membership } from '../../src/config/clusters.js';
import type { HostView } from '../../src/config/hosts.js';
import { stateOf, type CrossEdge, type Facts, type Observation } from '../../src/engine/model.js';
import { resourceList, type Certificates, type ModuleDesired, type ModuleHealth, type Reconciler, type ResourceList } from '../../src/engine/reconciler.js';
import { configuredRepo, searchedRepos } from '../../src/engine/repos.js';
import { group, user } from '../../src/engine/resources/account.js';
import { block } from '../../src/engine/resources/block.js';
import { directory, file } from '../../src/engine/resources/file.js';
import type { GenericKindName } from '../../src/engine/resources/index.js';
import type { Ref, Resource } from '../../src/engine/resources/kind.js';
import { packages, packagesId } from '../../src/engine/resources/packages.js';
import { service } from '../../src/engine/resources/service.js';
import { memberCertificate } from '../../src/pki/requests.js';
import { minioBucket } from './kinds/bucket.js';
import { minioHealth, minioHealthId, type MinioHealthWant } from './kinds/health.js';
import { MINIO_KINDS } from './kinds/index.js';
import { LOCAL_ALIAS, MCLI_DIR } from './kinds/mcli.js';
import { minioTlsOff } from './kinds/tls-off.js';
import { minioUser, secretHash, type MinioUserWant } from './kinds/user.js';
import {
  accessKeyOf,
  bucketsOf,
  byName,
  clusterNotes,
  domainOf,
  drivesOf,
  endpointOf,
  homeOf,
  httpsOf,
  instanceOf,
  nodeNameOf,
  osUserOf,
  portOf,
  schemeOf,
  secretKeyOf,
  typeOf,
  usersOf,
  volumesOf,
} from './params.js';
import { bucketPolicy, envFile, mcliConfig, unitFile } from './templates.js';

/** Where Pigsty's repos keep silo and mcli: its infra repo, its local repo (which holds what the infra node downloaded), or one named after MinIO. */
const OFFERS_MINIO = /(^|[\s-])(infra|local)(\s|$)|minio|silo/i;

/** The users' secret keys, a `<access_key><TAB><secret_key>` line each, read by the user kind's apply on the provisioning member. */
export const USERS_FILE = '/var/lib/corral/minio/users.pass';

/** A member's resources as they are built: the generic kinds and MINIO's. */
type Builder = ResourceList<(typeof MINIO_KINDS)[number]['name'] | GenericKindName>;

const membersOf = (hosts: readonly HostView[], cluster: string): HostView[] => hosts.filter((h) => membership(h, 'minio') === cluster).sort(byName);

const certificateId = (h: HostView): string => `minio/${h.name}`;

/** Pigsty's layout of a member's TLS files: MinIO finds them in its user's ~/.minio/certs. */
export const tlsPaths = (h: HostView): { dir: string; cert: string; key: string; ca: string } => {
  const dir = `${homeOf(h)}/.minio/certs`;
  return { dir, cert: `${dir}/public.crt`, key: `${dir}/private.key`, ca: `${dir}/CAs/ca.crt` };
};

/** Why this member cannot have its packages, if it cannot: they are in no repository configured for it. */
function unavailable(h: HostView, f: Facts): string | undefined {
  if (configuredRepo(h, f, OFFERS_MINIO)) return undefined;
  return `${typeOf(h)} and mcli are not in ${f.osId} ${f.osVersion}'s own repositories, and no repo of repo_upstream that has them (Pigsty's infra or local repo) is configured for ${searchedRepos(h, f)}: add Pigsty's infra repo to repo_upstream and its module to node_repo_modules`;
}

/** The names the node's own /etc/hosts block gives (NODE's node_etc_hosts), so MINIO does not map minio_domain a second time. */
function namedByNode(h: HostView): Set<string> {
  if (!h.param('node_write_etc_hosts')) return new Set();
  const lines = [...h.param('node_default_etc_hosts'), ...h.param('node_etc_hosts')];
  return new Set(lines.flatMap((l) => l.trim().split(/\s+/).slice(1)));
}

/** Pigsty's `# minio dns` records: every member by its minio_node name; and minio_domain for this member itself, unless node_etc_hosts maps it. */
export function hostsLines(h: HostView, members: readonly HostView[]): string[] {
  const domain = namedByNode(h).has(domainOf(h)) ? [] : [domainOf(h)];
  return members.map((m) => [m.name, nodeNameOf(m), ...(m.name === h.name ? domain : [])].join(' '));
}

/** The mcli configuration of a member: Pigsty's alias (minio_alias to minio_endpoint) and Corral's loopback one; the CA under https. */
function mcliFiles(r: Builder, h: HostView, certificates: Certificates): Ref {
  const dir = r.add(directory, { path: MCLI_DIR, mode: 0o700 });
  if (httpsOf(h)) {
    const cas = r.add(directory, { path: `${MCLI_DIR}/certs/CAs`, mode: 0o700 }, [dir]);
    r.add(file, { path: `${MCLI_DIR}/certs/CAs/ca.crt`, content: certificates.ca, mode: 0o644 }, [cas]);
  }
  const login = { accessKey: accessKeyOf(h), secretKey: secretKeyOf(h) };
  const aliases = [
    { name: h.param('minio_alias'), url: endpointOf(h), ...login },
    // Last: Corral's calls reach this member's own server whatever minio_domain resolves to.
    { name: LOCAL_ALIAS, url: `${schemeOf(h)}://127.0.0.1:${portOf(h)}`, ...login },
  ];
  return r.add(file, { path: `${MCLI_DIR}/config.json`, content: mcliConfig(aliases), mode: 0o600, secret: true }, [dir]);
}

/** The certificate, key and CA where MinIO reads them; the certs folder stands for them (a renewed certificate is reloaded by MinIO itself). */
function tlsFiles(r: Builder, h: HostView, confDir: Ref, certificates: Certificates): Ref {
  const paths = tlsPaths(h);
  const owned = { owner: osUserOf(h), group: 'minio' };
  const { certificate, key } = certificates.get(certificateId(h));
  const dir = r.add(directory, { path: paths.dir, mode: 0o750, ...owned }, [confDir]);
  const cas = r.add(directory, { path: `${paths.dir}/CAs`, mode: 0o750, ...owned }, [dir]);
  r.add(file, { path: paths.cert, content: certificate, mode: 0o644, ...owned }, [dir]);
  r.add(file, { path: paths.key, content: key, mode: 0o600, ...owned, secret: true }, [dir]);
  r.add(file, { path: paths.ca, content: certificates.ca, mode: 0o644, ...owned }, [cas]);
  return dir;
}

/** Buckets (with Pigsty's policy each), then the users and their policies, on the provisioning member; their ids. */
function provisioning(r: Builder, h: HostView, cluster: string, deps: Ref[]): Ref[] {
  const buckets = bucketsOf(h).map((b) => r.add(minioBucket, { cluster, name: b.name, versioning: b.versioning === true, lock: b.lock === true, policy: bucketPolicy(b.name) }, deps));
  const users = usersOf(h);
  if (!users.length) return buckets;
  const secrets = r.add(file, { path: USERS_FILE, content: users.map((u) => `${u.access_key}\t${u.secret_key}\n`).join(''), mode: 0o600, secret: true });
  return [
    ...buckets,
    ...users.map((u) => {
      const want: MinioUserWant = { cluster, accessKey: u.access_key, policy: u.policy ?? '', secretHash: secretHash(cluster, u.access_key, u.secret_key), secretsFile: USERS_FILE };
      return r.add(minioUser, want, [...deps, secrets, ...buckets]);
    }),
  ];
}

/** Every resource of one member, and the ids of the buckets and users it provisions (the first member's). */
function memberResources(h: HostView, manager: 'apt' | 'dnf', cluster: string, members: readonly HostView[], certificates: Certificates): { list: Resource[]; provisions: Ref[] } {
  const r = resourceList('minio', cluster, MINIO_KINDS);
  const type = typeOf(h);
  const owned = { owner: osUserOf(h), group: 'minio' };
  const pkg = r.add(packages, { name: 'minio', manager, packages: [type, 'mcli', 'curl'] });
  const minioGroup = r.add(group, { name: 'minio' });
  const account = r.add(user, { name: osUserOf(h), group: 'minio', home: homeOf(h), shell: '/usr/sbin/nologin' }, [minioGroup]);
  for (const path of drivesOf(h)) r.add(directory, { path, mode: 0o750, ...owned }, [account]);
  const confDir = r.add(directory, { path: `${homeOf(h)}/.minio`, mode: 0o750, ...owned }, [account]);
  const tls = httpsOf(h) ? tlsFiles(r, h, confDir, certificates) : r.add(minioTlsOff, { dir: tlsPaths(h).dir }, [confDir]);
  const env = envFile({
    port: portOf(h),
    adminPort: h.param('minio_admin_port'),
    volumes: volumesOf(h, members),
    accessKey: accessKeyOf(h),
    secretKey: secretKeyOf(h),
    prometheusUrl: `http://${h.str('admin_ip')}:${h.int('vmetrics_port')}`,
    extraVars: h.param('minio_extra_vars'),
  });
  const envId = r.add(file, { path: `/etc/default/${type}`, content: env, mode: 0o640, owner: 'root', group: 'minio', secret: true }, [minioGroup]);
  const unit = r.add(file, { path: `/etc/systemd/system/${type}.service`, content: unitFile(type, osUserOf(h)), mode: 0o644 }, [pkg]);
  if (h.param('node_write_etc_hosts')) r.add(block, { path: '/etc/hosts', marker: 'corral minio dns', lines: hostsLines(h, members), mode: 0o644 });
  // Drives and the hosts block come first in this list, so they are in place before a start, but a fix to one never restarts the server.
  const svc = r.add(service, { name: type, enabled: true, running: true }, [pkg, tls, envId, unit]);
  const health: MinioHealthWant = { name: instanceOf(h), url: `${schemeOf(h)}://127.0.0.1:${portOf(h)}`, caFile: httpsOf(h) ? tlsPaths(h).ca : null };
  r.add(minioHealth, health, [svc]);
  let provisions: Ref[] = [];
  if (h.param('minio_provision')) {
    const config = mcliFiles(r, h, certificates);
    if (h.name === members[0]?.name) provisions = provisioning(r, h, cluster, [svc, config]);
  }
  return { list: r.list, provisions };
}

/** Provisioning (`provisions`, on the first member) waits for every member's server: a distributed cluster answers once enough of them run. */
function provisioningEdges(type: string, members: readonly HostView[], provisions: readonly Ref[]): CrossEdge[] {
  const anchor = members[0]!;
  const server = service.id({ name: type, enabled: true, running: true });
  return members.filter((m) => m.name !== anchor.name).flatMap((m) => provisions.map((id) => ({ before: { host: m.name, resource: server }, after: { host: anchor.name, resource: id } })));
}

/** The cluster's health from each member's live and cluster probes: Down without an answer or write quorum, Degraded while a member is down. */
export function clusterHealth(members: readonly HostView[], observations: readonly Observation[]): ModuleHealth {
  const problems: string[] = [];
  let live = 0;
  let quorum = false;
  for (const m of members) {
    const seen = stateOf(observations, m.name, minioHealthId(instanceOf(m)));
    if (seen?.cluster === 200) quorum = true;
    if (seen?.live === 200) live++;
    else problems.push(`${instanceOf(m)} (${m.name}) does not answer /minio/health/live${seen ? (seen.live ? ` (HTTP ${seen.live})` : '') : ' (not observed)'}`);
  }
  if (!quorum) problems.push('no member reports write quorum on /minio/health/cluster');
  const status = !live || !quorum ? 'Down' : live < members.length ? 'Degraded' : 'Healthy';
  return { status, problems };
}

export const minio: Reconciler = {
  module: 'minio',
  kinds: MINIO_KINDS,
  certificates: ({ cluster }) =>
    cluster.members
      .filter(httpsOf)
      .map((h) =>
        memberCertificate({
          id: certificateId(h),
          address: h.name,
          commonName: nodeNameOf(h),
          organizationalUnit: 'minio',
          names: [nodeNameOf(h), h.str('minio_cluster') ?? '', instanceOf(h), domainOf(h), `*.${domainOf(h)}`],
          validity: h.str('cert_validity'),
        }),
      ),
  desired({ cluster, hosts, facts, certificates }) {
    const out: ModuleDesired = { resources: new Map(), edges: [], notes: [] };
    // The whole cluster, also under --limit: MINIO_VOLUMES and /etc/hosts name every member, and the first provisions.
    const members = membersOf(hosts, cluster.name);
    out.notes.push(...clusterNotes(members[0]!));
    for (const h of cluster.members) {
      const why = unavailable(h, facts(h.name));
      // Nothing of the cluster is installed while a member could not have its server.
      if (why) out.notes.push({ host: h.name, resource: packagesId('minio'), message: why, blocking: true });
    }
    if (out.notes.some((n) => n.blocking)) return out;
    const provisions: Ref[] = [];
    for (const h of cluster.members) {
      const manager = facts(h.name).packageManager;
      if (manager === 'unknown') {
        out.notes.push({ host: h.name, resource: packagesId('minio'), message: 'no known package manager: MinIO is not installed' });
        continue;
      }
      const { list, provisions: ids } = memberResources(h, manager, cluster.name, members, certificates);
      out.resources.set(h.name, list);
      provisions.push(...ids);
    }
    out.edges.push(...provisioningEdges(typeOf(members[0]!), members, provisions));
    return out;
  },
  health: ({ cluster, hosts, observations }) => clusterHealth(membersOf(hosts, cluster.name), observations),
};
