/**
 * PGSQL: a PostgreSQL cluster run by Patroni on etcd, with pgbouncer, HAProxy services (in NODE's
 * HAProxy) and pgBackRest on every member, laid out as Pigsty lays it out. The primary (pg_role: primary)
 * bootstraps first; replicas start after it runs and clone through Patroni. Parameter changes go
 * through Patroni's DCS; those that need a restart restart one member at a time, replicas first.
 */
import type { HostView } from '../../src/config/hosts.js';
import { membership } from '../../src/config/clusters.js';
import { resourceList, type Departure, type ModuleDesired, type ReconcileInput, type Reconciler } from '../../src/engine/reconciler.js';
import type { Facts, Note } from '../../src/engine/model.js';
import { leadsRunning, patroniMember, patroniMemberId, runningLeader } from './kinds/patroni-member.js';
import { directory, file, sha256 } from '../../src/engine/resources/file.js';
import type { Ref } from '../../src/engine/resources/kind.js';
import { packages, packagesId } from '../../src/engine/resources/packages.js';
import { readHash, reload } from '../../src/engine/resources/reload.js';
import { service } from '../../src/engine/resources/service.js';
import { staleFiles } from '../../src/engine/resources/stale-files.js';
import { symlink } from '../../src/engine/resources/symlink.js';
import { configuredRepo, searchedRepos } from '../../src/engine/repos.js';
import type { PatroniTarget } from './kinds/patroni-api.js';
import { patroniDcs } from './kinds/patroni-dcs.js';
import { patroniDcsRestart, patroniPause } from './kinds/patroni-dcs-client.js';
import { patroniLeader } from './kinds/patroni-leader.js';
import { patroniRestart } from './kinds/patroni-restart.js';
import { patroniRetire, retireNotesId } from './kinds/patroni-retire.js';
import { backupResources, repositoryNotes } from './backup.js';
import { pitrNotes, pitrSteps, type PitrSteps } from './pitr.js';
import { pgPitr } from './kinds/pg-pitr.js';
import { RECORD_KEY } from './kinds/patroni-leader.js';
import { PGSQL_KINDS } from './kinds/index.js';
import { pgDbsu } from './kinds/pg-dbsu.js';
import { pgVip, pgVipId } from './kinds/pg-vip.js';
import { pgPackages } from './packages.js';
import type { PgService } from '../../src/types/inventory.gen.js';
import { etcdAuthRef, etcdEndpoints, etcdLogins, etcdServiceId, etcdTlsMoveRefs, patroniEtcdCluster } from '../etcd/index.js';
import { memberCertificate } from '../../src/pki/requests.js';
import { pgHbaPath } from './hba.js';
import { patroniView, pgHealthFromObservations } from './health.js';
import { hbaPeers, sqlObjects } from './objects.js';
import { exporterNotes, exporterPackages, exporterResources, unwritable } from './exporters.js';
import { HAPROXY, haproxyReloadId } from '../node/index.js';
import {
  createclusterConf,
  dcsConfig,
  dcsSection,
  haproxyService,
  instanceName,
  nodeSpec,
  patroniUnit,
  patroniYml,
  pgConf,
  PG_TLS,
  pgbouncerIni,
  restApiAllowlist,
  rtoPlan,
  serviceMarker,
  PG_VIP,
  pgVipCallback,
  pgVipHelper,
  vipAddress,
  VIP_MANAGER,
  vipManagerLauncher,
  vipManagerUnit,
  vipManagerYml,
  standbyCluster,
  type StandbyCluster,
} from './templates.js';

/** How long a member may take to start: initdb on the primary, a base backup on a replica. */
const START_TIMEOUT_SECONDS = 900;

/** Debian ships one PostgreSQL major per release; other versions come from PGDG or Pigsty's repo. */
const DEBIAN_POSTGRES: Record<string, string> = { '11': '15', '12': '15', '13': '17' };

/** Replication lag a healthy replica stays under: pg_rpo, Pigsty's bound on data loss at failover. */
export const lagLimitBytes = (h: HostView): number => h.int('pg_rpo') || 1048576;

const restScheme = (h: HostView): string => (h.param('patroni_ssl_enabled') ? 'https' : 'http');

export const patroniTarget = (h: HostView): PatroniTarget => ({
  config: '/etc/patroni/patroni.yml',
  api: `${restScheme(h)}://${h.name}:${h.int('patroni_port')}`,
  ...(h.param('patroni_ssl_enabled') ? { caFile: PG_TLS.ca } : {}),
});

const certificateId = (h: HostView): string => `pgsql/${instanceName(h)}`;

/** Services of the cluster: pg_default_services then pg_services (a later one of the same name wins). */
export function servicesOf(h: HostView): PgService[] {
  const byName = new Map<string, PgService>();
  for (const s of [...h.param('pg_default_services'), ...h.param('pg_services')]) byName.set(s.name, s);
  return [...byName.values()];
}

/** Why `pg_version` cannot be installed on this host, if it cannot: Debian ships one major, other majors need PGDG's or Pigsty's repo configured for the node. */
export function unavailableVersion(h: HostView, f: Facts): string | undefined {
  const version = h.str('pg_version');
  const shipped = f.osId === 'debian' ? DEBIAN_POSTGRES[f.osVersion] : undefined;
  if (!shipped || shipped === version || configuredRepo(h, f, /pgdg|pigsty/i)) return undefined;
  return `pg_version ${version} is not in Debian ${f.osVersion} (it ships PostgreSQL ${shipped}) and no PGDG or Pigsty repo of repo_upstream is configured for ${searchedRepos(h, f)}: postgresql-${version} cannot be installed; set pg_version: ${shipped} or add a repo that has it`;
}

/**
 * A run without the etcd cluster Patroni uses (the daemon's PGSQL unit) must not move Patroni to an
 * etcd that still speaks plain http: the move is one run over both (etcd-tls-move). Patroni's probe
 * asks etcd's plain client URLs to tell.
 */
function heldWhilePlain(input: ReconcileInput): { heldWhilePlain: { why: string; urls: string[] } } | Record<string, never> {
  const etcdCluster = patroniEtcdCluster(input.hosts);
  if (etcdCluster === undefined || input.together('etcd', etcdCluster)) return {};
  const why = `Patroni moves to TLS with its etcd in one run, which this one (without etcd cluster ${etcdCluster}) is not; run \`corral apply\` over the inventory once (etcd and PGSQL together)`;
  return { heldWhilePlain: { why, urls: etcdEndpoints(input.hosts).map((u) => u.replace(/^https:/, 'http:')) } };
}

/** What other members' resources and edges wait for, on one member. */
interface MemberIds {
  service: Ref;
  /** What Patroni starts after, and does not restart for: restarting it stops PostgreSQL. */
  startsAfter: Ref[];
  member: Ref;
  restart: Ref;
  dcsRestart: Ref;
  dcs?: Ref;
  pause?: Ref;
  /** The reload of HAProxy after this member's service files. */
  haproxy: Ref;
}

/** A cascading replica's upstream: the instance name of the member of its own cluster at its pg_upstream. */
function replicateFrom(h: HostView, all: readonly HostView[]): string | undefined {
  const upstream = h.str('pg_upstream');
  if (!upstream || h.str('pg_role') === 'primary') return undefined;
  const m = all.find((x) => x.name === upstream && x !== h);
  return m ? instanceName(m) : undefined;
}

function memberResources(h: HostView, input: ReconcileInput, primary: HostView, standby: StandbyCluster | undefined, pitr: PitrSteps | undefined): { list: ReturnType<typeof resourceList>['list']; ids: MemberIds } {
  const { cluster } = input;
  const r = resourceList('pgsql', cluster.name, PGSQL_KINDS);
  const f = input.facts(h.name);
  const version = h.str('pg_version');
  const dbsu = h.str('pg_dbsu');
  const name = instanceName(h);
  const target = patroniTarget(h);

  const noMainCluster = r.add(file, { path: '/etc/postgresql-common/createcluster.conf', content: createclusterConf, mode: 0o644 });
  // The dbsu first, with Pigsty's uid: Debian's package would make `postgres` with a uid of its own.
  const dbsuUser = r.add(pgDbsu, { name: dbsu, uid: dbsuUid(h, f), home: h.str('pg_dbsu_home') });
  // The L2 VIP where vip-manager 2 is not to be had: Patroni's callbacks, with sudo for the helper.
  const vipCallbacks = h.param('pg_vip_enabled') && vipUnavailable(h, f) !== undefined;
  const sudoers = r.add(file, { path: `/etc/sudoers.d/${dbsu}`, content: dbsuSudoers(dbsu, h.str('pg_dbsu_sudo'), vipCallbacks ? PG_VIP.helper : undefined), mode: 0o440, validate: VISUDO }, [dbsuUser]);
  const pkg = r.add(
    packages,
    {
      name: 'pgsql',
      manager: f.packageManager === 'dnf' ? 'dnf' : 'apt',
      packages: [...new Set([`postgresql-${version}`, 'patroni', 'python3-etcd', 'pgbouncer', 'pgbackrest', 'curl', ...(h.param('pg_crontab').length ? ['cron'] : []), ...(vipCallbacks ? VIP_CALLBACK_PACKAGES : []), ...exporterPackages(h), ...pgPackages(h).packages])],
    },
    [noMainCluster, dbsuUser],
  );
  // Debian's umbrella unit would start any `<ver>/main` cluster on 5432, the port Patroni's PostgreSQL takes.
  r.add(service, { name: 'postgresql', enabled: false, running: false }, [pkg]);

  // Pigsty's layout: /pg -> <pg_fs_main>/<cluster>-<version>, everything of the instance under it.
  const fsMain = h.str('pg_fs_main');
  const home = `${fsMain}/${cluster.name}-${version}`;
  const owned = { owner: dbsu, group: dbsu };
  r.add(directory, { path: fsMain, mode: 0o755 });
  r.add(directory, { path: home, mode: 0o700, ...owned }, [pkg]);
  r.add(symlink, { path: '/pg', target: home });
  const dirs = new Map(['bin', 'conf', 'tmp', 'spool', 'backup', 'cert', 'log'].map((sub) => [sub, r.add(directory, { path: `/pg/${sub}`, mode: 0o700, ...owned })]));
  // PostgreSQL, pgbouncer and Patroni read the certificate when they (re)load it: a renewed one takes effect at the next reload.
  const cert = input.certificates.get(certificateId(h));
  const certDir = dirs.get('cert');
  const certFiles = [
    r.add(file, { path: PG_TLS.ca, content: input.certificates.ca, mode: 0o644, ...owned }, [certDir]),
    r.add(file, { path: PG_TLS.cert, content: cert.certificate, mode: 0o644, ...owned }, [certDir]),
    r.add(file, { path: PG_TLS.key, content: cert.key, mode: 0o600, ...owned, secret: true }, [certDir]),
  ];
  const logDirs = [h.str('pg_log_dir'), h.str('patroni_log_dir'), h.str('pgbouncer_log_dir'), h.str('pgbackrest_log_dir')];
  for (const dir of logDirs) r.add(directory, { path: dir, mode: 0o750, ...owned });
  const data = h.str('pg_data');
  r.add(directory, { path: data, mode: 0o700, ...owned });

  // Pigsty's bin dir /usr/pgsql/bin is a link to the installed major's binaries.
  const binDir = h.str('pg_bin_dir');
  if (binDir === '/usr/pgsql/bin') r.add(symlink, { path: '/usr/pgsql', target: `/usr/lib/postgresql/${version}` });

  const login = etcdLogins(input.hosts).find((l) => l.name === cluster.name)!;
  // One DCS for the cluster: its parameters are worked out on the primary's node, for every member.
  const dcs = dcsConfig(primary, input.facts(primary.name), standby);
  const etcdLogin = { username: login.name, password: login.password };
  const all = input.hosts.filter((m) => membership(m, 'pgsql') === cluster.name);
  const allowlist = restApiAllowlist(h, all, input.hosts.filter((x) => x.groups.includes('infra')));
  const from = replicateFrom(h, all);
  const callback = vipCallbacks ? { callback: PG_VIP.callback } : {};
  const yml = patroniYml({ h, etcd: etcdEndpoints(input.hosts), etcdLogin, binDir, hbaFile: pgHbaPath(h), dcs, allowlist, node: nodeSpec(h, f), ...(from ? { replicateFrom: from } : {}), ...callback });
  const unit = patroniUnit(dbsu);
  const ymlFile = r.add(file, { path: `/pg/conf/${name}.yml`, content: yml, mode: 0o600, ...owned, secret: true });
  r.add(directory, { path: '/etc/patroni', mode: 0o755 });
  const link = r.add(symlink, { path: target.config, target: `/pg/conf/${name}.yml` });
  const unitFile = r.add(file, { path: '/etc/systemd/system/patroni.service', content: unit, mode: 0o644 });
  // Patroni runs the VIP callback from its first start: the script, its helper and the sudo rule are there before.
  const vipFiles = vipCallbacks ? vipCallbackFiles(r, h, dirs.get('bin'), [pkg, sudoers]) : [];
  // Nothing as a dependency (which would restart it): restarting Patroni stops PostgreSQL. Config changes reload instead,
  // a new package (an extension) takes no restart, the VIP callback is read at each call.
  // A point-in-time recovery runs first; Patroni is started by its steps, never behind them.
  let step: Ref | undefined;
  for (const w of pitr?.steps.get(h.name) ?? []) step = r.add(pgPitr, w, [step]);
  const gate = pitr?.gate.get(h.name);
  const startsAfter = [pkg, ...vipFiles, ...(gate ? [gate] : [])];
  const patroni = r.add(service, { name: 'patroni', enabled: true, running: true });
  const reloaded = r.add(reload, { name: 'patroni', sha256: sha256(yml + unit), action: 'reload', firstTime: 'record' }, [patroni]);
  const member = r.add(patroniMember, { ...target, name, timeoutSeconds: START_TIMEOUT_SECONDS, lagLimitBytes: lagLimitBytes(h) }, [patroni]);
  // New etcd settings (hosts, TLS, login) take a restart of Patroni, paused; the rest of patroni.yml a reload.
  const rto = rtoPlan(h);
  const dcsSha = sha256(dcsSection(yml));
  const others = all.filter((m) => m !== h).map((m) => patroniTarget(m).api);
  const held = heldWhilePlain(input);
  const dcsRestart = r.add(patroniDcsRestart, { ...target, name, dcsSha, others, timeoutSeconds: 120, freshSeconds: rto.loopWait * 3 + 5, ...held }, [ymlFile, link, unitFile, reloaded]);

  let dcsId: Ref | undefined;
  let pause: Ref | undefined;
  if (h === primary) {
    pause = r.add(patroniPause, { ...target, cluster: cluster.name, dcsSha, timeoutSeconds: 60, ...held });
    const leader = r.add(patroniLeader, { ...target, cluster: cluster.name, primary: name, timeoutSeconds: 120, ...(standby ? { standby: true } : {}) }, [member, dcsRestart]);
    dcsId = r.add(patroniDcs, { ...target, cluster: cluster.name, settings: dcs.settings, parameters: dcs.parameters, ...(standby ? { standby } : {}) }, [leader, dcsRestart]);
  }
  const restart = r.add(
    patroniRestart,
    { ...target, name, parameters: dcs.parameters, port: h.int('pg_port'), socketDir: h.str('pg_localhost'), dbsu, timeoutSeconds: 300, settleSeconds: rto.loopWait * 3 + 5 },
    [member, dcsRestart, dcsId],
  );

  // HAProxy (NODE's) loads one listener per service from conf.d, servers picked among the cluster's members.
  const ctx = { cluster: cluster.name, members: cluster.members, rto, defaultDest: h.str('pg_default_service_dest') };
  const services = servicesOf(h).map((svc) => ({ path: `${HAPROXY.confD}/${cluster.name}-${svc.name}.cfg`, content: haproxyService(svc, ctx) }));
  const written = services.map((conf) => r.add(file, { ...conf, mode: 0o644 }));
  // A service taken out of the inventory: its listener goes too.
  const keep = services.map((f) => f.path.slice(HAPROXY.confD.length + 1));
  const stale = r.add(staleFiles, { dir: HAPROXY.confD, set: `${cluster.name} services`, marker: serviceMarker(cluster.name), keep });
  // Reloaded after these files change, under a record of PGSQL's own (NODE's is for its files), after NODE's reload.
  const haproxy = r.add(reload, { name: 'haproxy', record: 'haproxy-pgsql', sha256: readHash(services.map((x) => x.content)), action: 'reload', firstTime: 'reload' }, [...written, stale]);

  // pgbackrest.conf, the stanza, pg_crontab and /pg/bin on every member; the stanza once this member runs.
  // A standby cluster archives nothing of its own (Pigsty makes no stanza for it either).
  backupResources(r, h, f, h === primary, { pkg, bin: dirs.get('bin'), running: [member, dcsRestart, dcsId] }, { stanza: !standby });
  // Roles, databases, HBA and pgbouncer's lists: they act once this member runs (and talks to its DCS).
  // A standby cluster is read-only: its roles and databases are the upstream's, replicated.
  for (const res of sqlObjects(h, cluster.name, hbaPeers(input), { catalog: !standby })) r.list.push({ ...res, deps: [...(res.deps ?? []), member, dcsRestart] });

  if (h.param('pgbouncer_enabled')) {
    // After the lists it includes (sqlObjects above): pgbouncer refuses to start without them.
    const iniText = pgbouncerIni(h);
    const ini = r.add(file, { path: '/etc/pgbouncer/pgbouncer.ini', content: iniText, mode: 0o600, ...owned }, [pkg]);
    // Debian's package starts pgbouncer on its own ini; listen addresses change only with a restart.
    const pgbouncer = r.add(service, { name: 'pgbouncer', enabled: true, running: true }, [pkg]);
    r.add(reload, { name: 'pgbouncer', sha256: readHash([iniText]), action: 'restart', firstTime: 'restart' }, [pgbouncer, ini]);
  }
  // Drift repair behind the callbacks: the VIP on the member Patroni runs as leader, and on no other.
  if (vipCallbacks) r.add(pgVip, { ...target, name, address: vipAddress(h).ip, helper: PG_VIP.helper }, [member, ...vipFiles]);
  if (h.param('pg_vip_enabled') && !vipCallbacks) vipManagerResources(r, h, { etcd: etcdEndpoints(input.hosts), etcdLogin }, f.packageManager === 'dnf' ? 'dnf' : 'apt', [pkg, ...certFiles]);
  // Last: the pgbouncer exporter logs in to a running pgbouncer.
  exporterResources(r, h, pkg);

  return { list: r.list, ids: { service: patroni, startsAfter, member, restart, dcsRestart, haproxy, ...(dcsId ? { dcs: dcsId } : {}), ...(pause ? { pause } : {}) } };
}

/** What the VIP callbacks run: sudo for the dbsu, ip, and arping for the gratuitous ARP. */
const VIP_CALLBACK_PACKAGES = ['sudo', 'iproute2', 'iputils-arping'];

/** Patroni's VIP callback (/pg/bin/pg-vip, root's, run by the dbsu) and the root-owned helper it runs with sudo. */
function vipCallbackFiles(r: ReturnType<typeof resourceList>, h: HostView, bin: Ref | undefined, after: Ref[]): Ref[] {
  const dir = r.add(directory, { path: '/usr/local/lib/corral', mode: 0o755 });
  return [
    r.add(file, { path: PG_VIP.helper, content: pgVipHelper(h), mode: 0o755 }, [dir, ...after]),
    r.add(file, { path: PG_VIP.callback, content: pgVipCallback(h), mode: 0o755, owner: 'root', group: h.str('pg_dbsu') }, [bin, ...after]),
  ];
}

/** Where vip-manager 2 or later is to be had: Pigsty's infra repo, or its local repo (what the infra node downloaded). */
const OFFERS_VIP_MANAGER = /(^|[\s-])(infra|local)(\s|$)|pigsty/i;

/**
 * Why the L2 VIP cannot be run on this node, if it cannot: Debian up to 12 ships vip-manager 1.x,
 * which reads etcd's v2 API only (Patroni keeps its leader key in etcd v3, and etcd 3.4 serves no v2
 * by default): it would never bind the VIP. vip-manager 2 or later comes from Pigsty's repo.
 */
export function vipUnavailable(h: HostView, f: Facts): string | undefined {
  const major = parseInt(f.osVersion, 10);
  if (f.osId !== 'debian' || !(major <= 12) || configuredRepo(h, f, OFFERS_VIP_MANAGER)) return undefined;
  return `pg_vip_enabled: Debian ${f.osVersion} ships vip-manager 1.x, which reads etcd's v2 API only, while Patroni keeps its leader key in etcd v3, so ${h.str('pg_vip_address')} is run by Patroni's callbacks instead of vip-manager: ${PG_VIP.callback} binds it on the leader and unbinds it elsewhere (through sudo and ${PG_VIP.helper}); for vip-manager, add Pigsty's infra repo (vip-manager 2 or later) to repo_upstream and its module to node_repo_modules (searched: ${searchedRepos(h, f)})`;
}

/** vip-manager on the member: the package, its config (a secret: it holds the etcd password), Corral's unit and launcher; restarted when any changes. */
function vipManagerResources(r: ReturnType<typeof resourceList>, h: HostView, vip: { etcd: string[]; etcdLogin: { username: string; password: string } }, manager: 'apt' | 'dnf', after: Ref[]): void {
  const dir = r.add(directory, { path: '/usr/local/lib/corral', mode: 0o755 });
  const launcher = r.add(file, { path: VIP_MANAGER.launcher, content: vipManagerLauncher(h), mode: 0o755 }, [dir]);
  const unit = r.add(file, { path: VIP_MANAGER.unit, content: vipManagerUnit, mode: 0o644 });
  const config = r.add(file, { path: VIP_MANAGER.config, content: vipManagerYml({ h, ...vip }), mode: 0o600, secret: true });
  // Installed after Corral's unit and config: the package starts the unit it finds.
  const pkg = r.add(packages, { name: 'pgsql-vip', manager, packages: ['vip-manager'] }, [launcher, unit, config, ...after]);
  r.add(service, { name: 'vip-manager', enabled: true, running: true }, [pkg, launcher, unit, config]);
}

/**
 * Pigsty's pg_dbsu_uid: 26 (EL's postgres), which Debian gives to another account, so Pigsty takes
 * 543 on Debian and Ubuntu when the inventory leaves it at 26.
 */
export const dbsuUid = (h: HostView, f: Facts): number => (h.int('pg_dbsu_uid') === 26 && f.packageManager === 'apt' ? 543 : h.int('pg_dbsu_uid'));

/** sudo checks the file when it is installed; a node without sudo keeps the file for when it is. */
const VISUDO = 'if command -v visudo >/dev/null; then visudo -cf %s; fi';

/** The services the dbsu may start, stop and reload with pg_dbsu_sudo: limit, as Pigsty lists them. */
const DBSU_SERVICES = ['postgres', 'pgbouncer', 'patroni', 'pgbackrest', 'pg_exporter', 'pgbouncer_exporter', 'pgbackrest_exporter', 'vip-manager'];

/**
 * /etc/sudoers.d/<pg_dbsu> for pg_dbsu_sudo: none (empty), limit (Pigsty's service commands for group
 * postgres), all, nopass; with `vipHelper` (the VIP run by Patroni's callbacks), whatever the mode, the
 * dbsu may also run exactly `<vipHelper> add` and `<vipHelper> del` as root, without a password.
 */
export function dbsuSudoers(dbsu: string, mode: string, vipHelper?: string): string {
  return `# managed by corral (pg_dbsu_sudo: ${mode})\n` + dbsuRules(dbsu, mode).map((l) => l + '\n').join('') + (vipHelper ? `${dbsu} ALL=(root) NOPASSWD: ${vipHelper} add, ${vipHelper} del\n` : '');
}

/** The rules of pg_dbsu_sudo. The VIP's rule comes after them: the last rule that matches a command wins, and `all` asks a password. */
function dbsuRules(dbsu: string, mode: string): string[] {
  if (mode === 'nopass') return [`${dbsu} ALL=(ALL) NOPASSWD: ALL`];
  if (mode === 'all') return [`${dbsu} ALL=(ALL) ALL`];
  if (mode !== 'limit') return [];
  return [
    '%postgres ALL=NOPASSWD: /sbin/modprobe softdog',
    `%postgres ALL=NOPASSWD: /bin/chown ${dbsu} /dev/watchdog`,
    ...DBSU_SERVICES.flatMap((svc) => [...['stop', 'start', 'status', 'reload', 'restart'].map((verb) => `%postgres ALL=NOPASSWD: /bin/systemctl ${verb} ${svc}`), `%postgres ALL=NOPASSWD: /usr/bin/journalctl -u ${svc}`]),
    '%postgres ALL=NOPASSWD: /bin/systemctl reload haproxy',
  ];
}

/** Package names of pg_packages and pg_extensions Corral cannot map to Debian's, on each member. */
function packageNotes(h: HostView): Note[] {
  const { unmapped } = pgPackages(h);
  if (!unmapped.length) return [];
  return [{ host: h.name, resource: packagesId('pgsql'), message: `pg_packages / pg_extensions: ${unmapped.join(', ')} not installed: Corral knows no Debian package of that name (name it as Debian does, postgresql-${h.str('pg_version')}-<name>)` }];
}

/** baseline scripts of pg_databases: Corral reads no file of the config repository for a module, so it does not load them. */
function baselineNotes(primary: HostView): Note[] {
  return primary
    .param('pg_databases')
    .filter((d) => d.baseline && d.state !== 'absent')
    .map((d) => ({ host: primary.name, resource: 'pgsql', message: `database ${d.name}: baseline ${d.baseline} is not loaded (Corral reads no files of the config repository for PGSQL); load it by hand with psql` }));
}

/** A pg_conf that is not one of Pigsty's four templates: Corral does not read template files. */
function pgConfNotes(primary: HostView): Note[] {
  const { unread } = pgConf(primary);
  if (unread === undefined) return [];
  const message = `pg_conf ${unread} is not one of Pigsty's templates (oltp.yml, olap.yml, crit.yml, tiny.yml): Corral does not read template files, so ${primary.str('pg_cluster')} is tuned by oltp.yml; set pg_parameters for your own values`;
  return [{ host: primary.name, resource: 'pgsql', message }];
}

/** A standby cluster: what Corral leaves to its upstream, said once in the plan. */
function standbyNotes(primary: HostView, standby: StandbyCluster | undefined): Note[] {
  if (!standby) return [];
  const delay = standby.recovery_min_apply_delay ? `, ${standby.recovery_min_apply_delay} behind (pg_delay)` : '';
  const message =
    `${primary.str('pg_cluster')} is a standby cluster of ${standby.host}:${standby.port}${delay}: read-only, its roles and databases are the upstream's, so pg_users and pg_databases are not created here, ` +
    'and it has no pgBackRest stanza of its own. Promote it by removing standby_cluster from its Patroni config (patronictl edit-config); Corral does not remove it';
  return [{ host: primary.name, resource: 'pgsql', message }];
}

/** The steps of pg_pitr, when the cluster sets it and nothing blocks it (its notes go to `notes`). */
function recoverySteps(input: ReconcileInput, primary: HostView, all: readonly HostView[], standby: StandbyCluster | undefined, notes: Note[]): PitrSteps | undefined {
  if (!primary.param('pg_pitr')) return undefined;
  const found = pitrNotes(primary, standby !== undefined);
  if (all.some((h) => !input.cluster.members.includes(h))) {
    found.push({ host: primary.name, resource: 'pgsql', message: `pg_pitr of ${input.cluster.name}: a recovery stops and clones every member, so the run must take the whole cluster (not a --limit of it); nothing is restored`, blocking: true });
  }
  notes.push(...found);
  if (found.some((n) => n.blocking)) return undefined;
  const dcs = dcsConfig(primary, input.facts(primary.name), standby);
  const dcsPatch = { ...dcs.settings, postgresql: { parameters: dcs.parameters }, [RECORD_KEY]: instanceName(primary) };
  const member = (h: HostView) => ({ h, name: instanceName(h), target: patroniTarget(h) });
  return pitrSteps(member(primary), all.filter((h) => h !== primary).map(member), dcsPatch);
}

export const pgsql: Reconciler = {
  module: 'pgsql',
  kinds: PGSQL_KINDS,
  certificates: ({ cluster }) =>
    cluster.members.map((h) =>
      memberCertificate({ id: certificateId(h), address: h.name, commonName: instanceName(h), organizationalUnit: 'postgres', names: [cluster.name, instanceName(h)], validity: h.str('cert_validity') }),
    ),
  desired(input) {
    const out: ModuleDesired = { resources: new Map(), edges: [], notes: [] };
    const { cluster, hosts } = input;
    // The whole cluster, also under --limit: the intended primary may be outside the selection.
    const all = hosts.filter((h) => membership(h, 'pgsql') === cluster.name);
    const primary = all.find((h) => h.str('pg_role') === 'primary');
    if (!primary) {
      for (const h of cluster.members) out.notes.push({ host: h.name, resource: 'pgsql', message: `cluster ${cluster.name} has no member with pg_role: primary: nothing is done` });
      return out;
    }
    const etcdHosts = hosts.filter((h) => membership(h, 'etcd') !== undefined);
    const login = etcdAuthRef(hosts);
    const ids = new Map<string, MemberIds>();
    const unavailable = cluster.members.map((h) => ({ h, why: unavailableVersion(h, input.facts(h.name)) })).filter((x) => x.why);
    if (unavailable.length) {
      // Nothing of a cluster is installed when a member could not have its PostgreSQL.
      for (const { h, why } of unavailable) out.notes.push({ host: h.name, resource: packagesId('pgsql'), message: why!, blocking: true });
      return out;
    }
    // Exporter settings Debian's exporters do not take, once per cluster; values a file cannot hold block the plan.
    const upstream = hosts.find((h) => h.name === primary.str('pg_upstream'));
    const standby = standbyCluster(primary, upstream);
    if (cluster.members.includes(primary)) out.notes.push(...exporterNotes(primary), ...pgConfNotes(primary), ...standbyNotes(primary, standby), ...baselineNotes(primary));
    const pitr = recoverySteps(input, primary, all, standby, out.notes);
    if (pitr) out.edges.push(...pitr.edges);
    for (const h of cluster.members) {
      out.notes.push(...unwritable(h), ...packageNotes(h));
      const noVip = h.param('pg_vip_enabled') ? vipUnavailable(h, input.facts(h.name)) : undefined;
      if (noVip) out.notes.push({ host: h.name, resource: pgVipId(instanceName(h)), message: noVip });
      const m = memberResources(h, input, primary, standby, pitr);
      out.resources.set(h.name, m.list);
      ids.set(h.name, m.ids);
      for (const before of m.ids.startsAfter) out.edges.push({ before: { host: h.name, resource: before }, after: { host: h.name, resource: m.ids.service } });
      // NODE's HAProxy (its package, haproxy.cfg, its reload) before the reload for this member's services.
      out.edges.push({ before: { host: h.name, resource: haproxyReloadId }, after: { host: h.name, resource: m.ids.haproxy } });
      // etcd runs before Patroni needs it.
      for (const e of etcdHosts) out.edges.push({ before: { host: e.name, resource: etcdServiceId }, after: { host: h.name, resource: m.ids.service } });
      // Patroni logs in to etcd as its cluster's user, also after a restart for new etcd settings.
      if (login) for (const after of [m.ids.service, m.ids.dcsRestart]) out.edges.push({ before: login, after: { host: h.name, resource: after } });
    }
    const p = ids.get(primary.name);
    // A plain-http etcd moves to TLS only while the clusters that use it are paused (their Patroni loses it until restarted).
    if (p?.pause) for (const move of etcdTlsMoveRefs(hosts)) out.edges.push({ before: { host: primary.name, resource: p.pause }, after: move });
    // A standby leader clones its upstream: the upstream runs first when the inventory has it (in this run or not).
    const upstreamCluster = upstream && membership(upstream, 'pgsql');
    if (p && upstream && upstreamCluster && upstreamCluster !== cluster.name) {
      out.edges.push({ before: { host: upstream.name, resource: patroniMemberId(instanceName(upstream)) }, after: { host: primary.name, resource: p.service } });
    }
    const replicas = cluster.members.filter((h) => h !== primary);
    let previous: string | undefined;
    for (const h of replicas) {
      const m = ids.get(h.name)!;
      // Replicas clone from a running primary.
      if (p) out.edges.push({ before: { host: primary.name, resource: p.member }, after: { host: h.name, resource: m.service } });
      // Rolling restart: after the DCS change, one replica after the other, the primary last.
      if (p?.dcs) out.edges.push({ before: { host: primary.name, resource: p.dcs }, after: { host: h.name, resource: m.restart } });
      if (previous) out.edges.push({ before: { host: previous, resource: ids.get(previous)!.restart }, after: { host: h.name, resource: m.restart } });
      if (p) out.edges.push({ before: { host: h.name, resource: m.restart }, after: { host: primary.name, resource: p.restart } });
      // Patroni restarts for new etcd settings one member at a time, the primary last.
      if (previous) out.edges.push({ before: { host: previous, resource: ids.get(previous)!.dcsRestart }, after: { host: h.name, resource: m.dcsRestart } });
      if (p) out.edges.push({ before: { host: h.name, resource: m.dcsRestart }, after: { host: primary.name, resource: p.dcsRestart } });
      previous = h.name;
    }
    return out;
  },
  departed({ cluster, hosts, observations }) {
    const all = hosts.filter((h) => membership(h, 'pgsql') === cluster.name);
    // Not a departure, but what needs the observations too: a stanza moving to another repository.
    const out: { departures: Departure[]; notes: Note[] } = { departures: [], notes: repositoryNotes(cluster.members, observations) };
    const primary = all.find((h) => h.str('pg_role') === 'primary');
    const view = patroniView(observations, all);
    if (!primary || !view) return out;
    const named = new Set(all.map(instanceName));
    const byAddress = new Map(all.map((h) => [h.address, instanceName(h)]));
    const leader = runningLeader(view);
    const note = (message: string): number => out.notes.push({ host: primary.name, resource: retireNotesId(cluster.name), message });
    for (const m of view.filter((x) => !named.has(x.name))) {
      const what = `${m.name} (${m.host || 'no address'}) runs in ${cluster.name} but the inventory no longer names it`;
      if (!leader) note(`${what}: the cluster has no running leader, so nothing is removed`);
      else if (m.name === leader.name) note(`${what}, and it leads the cluster: commit a pg_role change to switch over first, then it is removed`);
      else if (byAddress.has(m.host)) note(`${what}, and ${m.host} is ${byAddress.get(m.host)} in the inventory: renaming a member (pg_seq) is not supported; remove it in one commit, add it back in the next`);
      else if (!m.host) note(`${what}: Patroni gives no address to reach it, so it is not removed`);
      else if (primary.param('pg_safeguard')) note(`${what}: pg_safeguard is on for ${cluster.name}, so it is not removed (set pg_safeguard: false to allow it)`);
      else {
        const r = resourceList('pgsql', cluster.name, PGSQL_KINDS);
        const { caFile } = patroniTarget(primary);
        r.add(patroniRetire, { cluster: cluster.name, name: m.name, api: `${restScheme(primary)}://${m.host}:${primary.int('patroni_port')}`, ...(caFile ? { caFile } : {}) });
        out.departures.push({ address: m.host, reachedAs: hosts.find((h) => h.address === m.host) ?? primary, resources: r.list });
      }
    }
    return out;
  },
  health({ cluster, observations }) {
    const view = patroniView(observations, cluster.members);
    const h = pgHealthFromObservations(observations, cluster.members, view);
    const drift = h.roleDrift ? [`role drift: ${h.leader} leads, pg_role names ${h.intendedPrimary}; Corral does not switch back (commit a pg_role change to switch over)`] : [];
    const members = (view ?? []).map((m) => ({ name: m.name, role: m.role, state: m.state, ...(m.lagging === null || leadsRunning(m) ? {} : { lag: m.lagging ? 'lags' : 'no lag' }) }));
    return { status: h.status, problems: [...h.problems, ...drift], members };
  },
};
