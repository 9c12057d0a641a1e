/**
 * INFRA: the monitoring stack on the hosts with `infra_seq`, laid out as Pigsty's infra role lays it
 * out (/infra -> infra_data, scrape targets in /infra/targets/<job>/, rules in /infra/rules), on
 * Debian 12's packages: VictoriaMetrics on vmetrics_port with file service discovery, vmalert (in
 * Debian's victoria-metrics package) evaluating Corral's rules, Alertmanager on alertmanager_port,
 * the blackbox exporter pinging every node and VIP, nginx with Pigsty's portal, the CA and the local
 * repository's folder, and the exporters of pg_exporters. Every infra node gets every target file.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { membership } from '../../src/config/clusters.js';
import type { HostView } from '../../src/config/hosts.js';
import type { CrossEdge } from '../../src/engine/model.js';
import { resourceList, type ModuleDesired, type ReconcileInput, type Reconciler } from '../../src/engine/reconciler.js';
import { directory, file, sha256 } from '../../src/engine/resources/file.js';
import type { Ref } from '../../src/engine/resources/kind.js';
import { packages, packagesId } from '../../src/engine/resources/packages.js';
import { readHash, reload } from '../../src/engine/resources/reload.js';
import { service } from '../../src/engine/resources/service.js';
import { staleFiles } from '../../src/engine/resources/stale-files.js';
import { symlink } from '../../src/engine/resources/symlink.js';
import type { InfraPortalEntry, InfraService } from '../../src/types/inventory.gen.js';
import { memberCertificate } from '../../src/pki/requests.js';
import { packageRoot } from '../../src/util/package-root.js';
import { nodePackagesRef, nodename, packageNames, repoServers, repoSourceRef } from '../node/index.js';
import { INFRA_KINDS } from './kinds/index.js';
import { retiredUnits } from './kinds/retired-units.js';
import { clusterNotes, unservedEntry } from './notes.js';
import { CONTROLLER_FILE, controllerFile, nodeIns, pgrdsFiles, remoteInstances, TARGET_DIRS, TARGET_MARKER, targetFiles, type RemoteInstance, type TargetFile } from './targets.js';
import {
  agentRules,
  ALERTMANAGER_YML,
  alertmanagerDefaults,
  BLACKBOX_DROPIN,
  BLACKBOX_YML,
  blackboxDefaults,
  endpointServer,
  homeServer,
  INFRA_TLS,
  NGINX_CONF,
  NGINX_TLS,
  nginxExporterDefaults,
  pathServer,
  PG_EXPORTER_MARKER,
  pgExporterEnv,
  pgExporterUnit,
  pgExporterUrl,
  PORTAL_MARKER,
  portalPage,
  RULES_MARKER,
  scrapeConfig,
  VMALERT_UNIT,
  vmalertDefaults,
  vmetricsDefaults,
  type PortalServer,
} from './templates.js';

const CLUSTER = 'infra';
/** Debian's users: victoria-metrics runs as _victoria-metrics, Alertmanager and the exporters as prometheus. */
const VM_USER = '_victoria-metrics';
const PROM_USER = 'prometheus';

/** Corral's alert rules (reconcilers/infra/rules), read from the package (reconcilers/ ships with it): name → text. */
let shipped: [string, string][] | undefined;
export function shippedRules(): [string, string][] {
  const dir = join(packageRoot, 'reconcilers/infra/rules');
  return (shipped ??= readdirSync(dir)
    .filter((f) => f.endsWith('.yml'))
    .sort()
    .map((f) => [f, readFileSync(join(dir, f), 'utf8')]));
}

/** Corral's own alerts (deploy/alerts.yml, on the daemon's metrics), as an infra node loads them. */
let own: [string, string] | undefined;
export function corralRules(): [string, string] {
  return (own ??= ['corral.yml', `${RULES_MARKER}\n${readFileSync(join(packageRoot, 'deploy/alerts.yml'), 'utf8')}`]);
}

const seqOf = (h: HostView): number => h.int('infra_seq') ?? 0;
const membersOf = (hosts: readonly HostView[]): HostView[] => hosts.filter((h) => membership(h, 'infra') !== undefined).sort((a, b) => seqOf(a) - seqOf(b) || (a.name < b.name ? -1 : 1));

const infraCertId = (h: HostView): string => `infra/${h.name}`;
const nginxCertId = (h: HostView): string => `infra/nginx/${h.name}`;
const sslMode = (h: HostView): string => h.param('nginx_sslmode');

/** The portal entries nginx serves: those with a domain, as Pigsty renders them, less those Corral cannot serve. */
function portalEntries(h: HostView): [string, InfraPortalEntry & { domain: string }][] {
  const out: [string, InfraPortalEntry & { domain: string }][] = [];
  for (const [name, e] of Object.entries(h.param('infra_portal'))) if (e?.domain && !unservedEntry(e)) out.push([name, { ...e, domain: e.domain }]);
  return out;
}

/** Every domain the nginx certificate names: Pigsty's i.pigsty and each portal entry's. */
function portalDomains(h: HostView): string[] {
  const out = ['i.pigsty'];
  for (const [, e] of portalEntries(h)) {
    out.push(e.domain);
    const more = (e as { domains?: unknown }).domains;
    if (Array.isArray(more)) out.push(...more.map(String));
  }
  return [...new Set(out)];
}

/** Which first path segments of the home server lead somewhere on this node. */
function servedPaths(h: HostView): Set<string> {
  const s = new Set(['ca.crt']);
  if (h.param('vmetrics_enabled')) s.add('vmetrics');
  if (h.param('vmetrics_enabled') && h.param('vmalert_enabled')) s.add('vmalert');
  if (h.param('alertmanager_enabled')) s.add('alertmgr');
  if (h.param('blackbox_enabled')) s.add('blackbox');
  if (h.param('repo_enabled') && h.param('repo_home') === h.param('nginx_home')) s.add(h.param('repo_name'));
  return s;
}

const firstSegment = (url: string): string => url.replace(/^\//, '').split(/[/?#]/)[0] ?? '';

/** What the portal page links: infra_services whose component the node serves (not Logs, Traces...), then infra_extra_services. */
export function portalLinks(h: HostView): InfraService[] {
  const served = servedPaths(h);
  const links = h.param('infra_services').filter((s) => /^[a-z]+:\/\//.test(s.url) || served.has(firstSegment(s.url)));
  return [...links, ...h.param('infra_extra_services')];
}

function vmetrics(r: Builder, h: HostView, input: ReconcileInput, pkg: Ref, infraDir: Ref, targets: readonly TargetFile[]): void {
  const metrics = r.add(directory, { path: '/infra/metrics', mode: 0o750, owner: VM_USER, group: VM_USER }, [pkg, infraDir]);
  // The client certificate VictoriaMetrics shows etcd (and MinIO, Patroni over https): Pigsty's /etc/pki/infra.*.
  const pki = r.add(directory, { path: '/etc/pki', mode: 0o755 });
  const cert = input.certificates.get(infraCertId(h));
  const tls = [
    r.add(file, { path: INFRA_TLS.ca, content: input.certificates.ca, mode: 0o644 }, [pki]),
    r.add(file, { path: INFRA_TLS.cert, content: cert.certificate, mode: 0o644 }, [pki]),
    r.add(file, { path: INFRA_TLS.key, content: cert.key, mode: 0o640, owner: 'root', group: VM_USER, secret: true }, [pki, pkg]),
  ];
  const scrape = scrapeConfig({
    interval: h.param('vmetrics_scrape_interval'),
    timeout: h.param('vmetrics_scrape_timeout'),
    metricsPath: h.param('exporter_metrics_path'),
    blackboxPort: h.int('blackbox_port'),
    redisExporterPort: h.int('redis_exporter_port'),
    minioHttps: h.param('minio_https'),
  });
  const defaults = vmetricsDefaults({ port: h.int('vmetrics_port'), options: h.param('vmetrics_options') });
  const files = [r.add(file, { path: '/infra/prometheus.yml', content: scrape, mode: 0o644 }, [infraDir]), r.add(file, { path: '/etc/default/victoria-metrics', content: defaults, mode: 0o644 }, [pkg])];
  // Debian's package starts VictoriaMetrics on its own defaults at install: Corral's first load of its settings is a restart.
  const svc = r.add(service, { name: 'victoria-metrics', enabled: true, running: true }, [pkg, metrics]);
  r.add(reload, { name: 'victoria-metrics', sha256: sha256(defaults + scrape), action: 'restart', firstTime: 'restart' }, [svc, ...files, ...tls]);

  // Target files: VictoriaMetrics reads them every -promscrape.fileSDCheckInterval (vmetrics_options), no reload.
  // The daemon's own target is the daemon's to write or remove: a CLI run (no controller) keeps what is there.
  const { controller } = input;
  const own = controller?.addresses.includes(h.name) ? [controllerFile(h, controller.metrics)] : [];
  const targetsDir = r.add(directory, { path: '/infra/targets', mode: 0o755 }, [infraDir]);
  for (const dir of TARGET_DIRS) {
    const folder = r.add(directory, { path: `/infra/targets/${dir}`, mode: 0o755 }, [targetsDir]);
    const mine = [...targets, ...own].filter((t) => t.dir === dir);
    for (const t of mine) r.add(file, { path: `/infra/targets/${dir}/${t.name}`, content: t.content, mode: 0o644 }, [folder]);
    const keep = [...mine.map((t) => t.name), ...(dir === 'infra' && !controller ? [CONTROLLER_FILE] : [])];
    r.add(staleFiles, { dir: `/infra/targets/${dir}`, set: `${dir} targets`, marker: TARGET_MARKER, keep }, [folder]);
  }
  if (h.param('vmalert_enabled')) vmalert(r, h, input.hosts, pkg, infraDir, svc);
}

/** Each exporter's ports over the inventory (its PGSQL members for theirs, the nodes with haproxy_enabled for HAProxy's), for the agent rules: at least the infra node's own. */
function exporterPorts(h: HostView, hosts: readonly HostView[]): Parameters<typeof agentRules>[0] {
  const pg = hosts.filter((x) => membership(x, 'pgsql') !== undefined);
  const ports = (of: readonly HostView[], param: string): number[] => [h, ...of].map((x) => x.int(param)).filter((n): n is number => n !== undefined);
  return {
    node: ports(hosts, 'node_exporter_port'),
    haproxy: ports(hosts.filter((x) => x.param('haproxy_enabled')), 'haproxy_exporter_port'),
    patroni: ports(pg, 'patroni_port'),
    pgExporter: ports(pg, 'pg_exporter_port'),
    pgbouncerExporter: ports(pg, 'pgbouncer_exporter_port'),
  };
}

function vmalert(r: Builder, h: HostView, hosts: readonly HostView[], pkg: Ref, infraDir: Ref, vm: Ref): void {
  const rulesDir = r.add(directory, { path: '/infra/rules', mode: 0o755 }, [infraDir]);
  const agent = agentRules(exporterPorts(h, hosts));
  const rules: [string, string][] = [['agent.yml', agent], ...shippedRules(), corralRules()];
  for (const [name, content] of rules) r.add(file, { path: `/infra/rules/${name}`, content, mode: 0o644 }, [rulesDir]);
  const stale = r.add(staleFiles, { dir: '/infra/rules', set: 'alert rules', marker: RULES_MARKER, keep: rules.map(([name]) => name) }, [rulesDir]);
  const defaults = vmalertDefaults({
    vmetricsPort: h.int('vmetrics_port'),
    alertmanagerPort: h.int('alertmanager_port'),
    port: h.int('vmalert_port'),
    scrapeInterval: h.param('vmetrics_scrape_interval'),
    options: h.param('vmalert_options'),
  });
  const unit = r.add(file, { path: '/etc/systemd/system/vmalert.service', content: VMALERT_UNIT, mode: 0o644 });
  const env = r.add(file, { path: '/etc/default/vmalert', content: defaults, mode: 0o644 });
  // Corral's own unit: it starts on these files, and a change of them restarts it.
  // The rule files are written before it starts (they come first here), but are not its deps: new rules are a reload, not a restart.
  const svc = r.add(service, { name: 'vmalert', enabled: true, running: true }, [pkg, unit, env, vm]);
  r.add(reload, { name: 'vmalert', sha256: readHash(rules.flat()), action: 'reload', firstTime: 'record' }, [svc, stale]);
}

function alertmanager(r: Builder, h: HostView, pkg: Ref, infraDir: Ref): void {
  const options = h.param('alertmanager_options');
  // An operator's own config (its receivers): alertmanager_options names it, and Corral writes none.
  const ownConfig = /--config\.file\b/.test(options);
  const storage = r.add(directory, { path: '/infra/alertmgr', mode: 0o700, owner: PROM_USER, group: PROM_USER }, [pkg, infraDir]);
  const defaults = alertmanagerDefaults({ ip: h.name, port: h.int('alertmanager_port'), options, ownConfig });
  const files = [r.add(file, { path: '/etc/default/prometheus-alertmanager', content: defaults, mode: 0o644 }, [pkg])];
  if (!ownConfig) files.push(r.add(file, { path: '/etc/prometheus/alertmanager.yml', content: ALERTMANAGER_YML, mode: 0o644 }, [pkg]));
  const svc = r.add(service, { name: 'prometheus-alertmanager', enabled: true, running: true }, [pkg, storage]);
  r.add(reload, { name: 'prometheus-alertmanager', sha256: sha256(defaults + (ownConfig ? '' : ALERTMANAGER_YML)), action: 'restart', firstTime: 'restart' }, [svc, ...files]);
}

function blackbox(r: Builder, h: HostView, pkg: Ref): void {
  const defaults = blackboxDefaults({ port: h.int('blackbox_port'), options: h.param('blackbox_options') });
  const dropin = r.add(file, { path: '/etc/systemd/system/prometheus-blackbox-exporter.service.d/corral.conf', content: BLACKBOX_DROPIN, mode: 0o644 });
  const files = [
    r.add(file, { path: '/etc/prometheus/blackbox.yml', content: BLACKBOX_YML, mode: 0o644 }, [pkg]),
    r.add(file, { path: '/etc/default/prometheus-blackbox-exporter', content: defaults, mode: 0o644 }, [pkg]),
  ];
  // A changed drop-in restarts the unit through the service (daemon-reload first); settings through the reload record.
  const svc = r.add(service, { name: 'prometheus-blackbox-exporter', enabled: true, running: true }, [pkg, dropin]);
  r.add(reload, { name: 'prometheus-blackbox-exporter', sha256: sha256(defaults + BLACKBOX_YML), action: 'restart', firstTime: 'restart' }, [svc, ...files]);
}

/** The portal servers of infra_portal that nginx serves, each as a conf.d file. */
function portalServers(h: HostView): { name: string; content: string }[] {
  const ports = { http: h.int('nginx_port'), https: h.int('nginx_ssl_port') };
  const mode = sslMode(h);
  const proxies: [string, number][] = [];
  if (h.param('vmetrics_enabled')) proxies.push(['vmetrics', h.int('vmetrics_port')]);
  if (h.param('vmetrics_enabled') && h.param('vmalert_enabled')) proxies.push(['vmalert', h.int('vmalert_port')]);
  if (h.param('alertmanager_enabled')) proxies.push(['alertmgr', h.int('alertmanager_port')]);
  if (h.param('blackbox_enabled')) proxies.push(['blackbox', h.int('blackbox_port')]);
  const out: { name: string; content: string }[] = [];
  for (const [name, e] of portalEntries(h)) {
    const more = (e as { domains?: unknown }).domains;
    const enforce = mode === 'enforce' || e.enforce_https === true;
    const s: PortalServer = {
      name,
      domain: e.domain,
      domains: Array.isArray(more) ? more.map(String) : [],
      // The home server answers http always (Pigsty's home.conf), the others only https when enforced.
      http: name === 'home' || !enforce,
      https: mode !== 'disable',
      cert: e.cert ?? NGINX_TLS.cert,
      key: e.key ?? NGINX_TLS.key,
      ...(e.log ? { log: e.log } : {}),
      ...(e.config ? { config: e.config } : {}),
    };
    if (name === 'home') out.push({ name, content: homeServer(s, { ports, root: e.path ?? h.param('nginx_home'), proxies, stubStatus: h.param('nginx_exporter_enabled') }) });
    else if (e.path) out.push({ name, content: pathServer(s, { ports, path: e.path, index: e.index === true }) });
    else if (e.endpoint) out.push({ name, content: endpointServer(s, { ports, endpoint: e.endpoint, scheme: e.scheme ?? e.schema ?? 'http', websocket: e.websocket === true }) });
  }
  return out;
}

/** nginx on the infra node, serving the portal and the repository's folder; returns its last step, after which it serves them. */
function nginx(r: Builder, h: HostView, input: ReconcileInput, pkg: Ref): Ref {
  const home = h.param('nginx_home');
  const data = h.param('nginx_data');
  const dataDir = r.add(directory, { path: data, mode: 0o755 });
  const homeDir = home === data ? dataDir : r.add(symlink, { path: home, target: data }, [dataDir]);
  const links = portalLinks(h);
  const domains = portalEntries(h)
    .filter(([name]) => name !== 'home')
    .map(([name, e]) => ({ name, url: `${sslMode(h) === 'disable' ? 'http' : 'https'}://${e.domain}/` }));
  const page = portalPage({ title: `Pigsty INFRA ${nodeIns(h)} (infra-${seqOf(h)})`, links: links.map((l) => ({ name: l.name, url: l.url, desc: l.desc ?? '' })), domains });
  r.add(file, { path: `${home}/index.html`, content: page, mode: 0o644 }, [homeDir]);
  r.add(file, { path: `${home}/ca.crt`, content: input.certificates.ca, mode: 0o644 }, [homeDir]);
  if (h.param('repo_enabled')) r.add(directory, { path: `${h.param('repo_home')}/${h.param('repo_name')}`, mode: 0o755 }, [homeDir]);

  const confDir = r.add(directory, { path: '/etc/nginx/conf.d', mode: 0o755 }, [pkg]);
  const servers = portalServers(h);
  const confs = [{ path: '/etc/nginx/nginx.conf', content: NGINX_CONF }, ...servers.map((s) => ({ path: `/etc/nginx/conf.d/${s.name}.conf`, content: s.content }))];
  // What nginx loads at a reload: its configs, and the certificate (the key by its hash: a renewed one comes with a new certificate).
  const loaded = confs.map((c) => `${c.path}\0${c.content}`);
  const deps: Ref[] = [];
  if (sslMode(h) !== 'disable') {
    const certDir = r.add(directory, { path: '/etc/nginx/conf.d/cert', mode: 0o750 }, [confDir]);
    const cert = input.certificates.get(nginxCertId(h));
    deps.push(r.add(file, { path: NGINX_TLS.cert, content: cert.certificate, mode: 0o644 }, [certDir]));
    deps.push(r.add(file, { path: NGINX_TLS.key, content: cert.key, mode: 0o600, secret: true }, [certDir]));
    loaded.push(cert.certificate);
  }
  for (const c of confs) deps.push(r.add(file, { ...c, mode: 0o644 }, [pkg, confDir]));
  // A portal entry taken out of the inventory: its server goes too.
  deps.push(r.add(staleFiles, { dir: '/etc/nginx/conf.d', set: 'infra portal', marker: PORTAL_MARKER, keep: servers.map((s) => `${s.name}.conf`) }, [confDir]));
  // Debian's package starts nginx with its default site: Corral's first load is a restart (nginx -t first), later ones reloads.
  const svc = r.add(service, { name: 'nginx', enabled: true, running: true }, [pkg]);
  const serving = r.add(reload, { name: 'nginx', sha256: readHash(loaded), action: 'reload', firstTime: 'restart' }, [svc, ...deps]);

  if (h.param('nginx_exporter_enabled')) {
    const content = nginxExporterDefaults({ nginxPort: h.int('nginx_port'), port: h.int('nginx_exporter_port') });
    const env = r.add(file, { path: '/etc/default/prometheus-nginx-exporter', content, mode: 0o644 }, [pkg]);
    const exporter = r.add(service, { name: 'prometheus-nginx-exporter', enabled: true, running: true }, [pkg]);
    r.add(reload, { name: 'prometheus-nginx-exporter', sha256: readHash([content]), action: 'restart', firstTime: 'restart' }, [exporter, env]);
  }
  return serving;
}

/**
 * Pigsty's bootstrap: nodes install from the repository INFRA serves. Every other host whose APT
 * sources (as NODE writes them) fetch from this infra node's address gets them, and its packages,
 * after this node's nginx serves. Weak: an edge orders only when both ends change in the plan. None
 * on the infra node itself: there INFRA runs before NODE anyway (the modules' order), its packages
 * from the sources the node already has.
 */
function repoEdges(h: HostView, serving: Ref, input: ReconcileInput): CrossEdge[] {
  const mine = new Set([h.name, h.address]);
  const edges: CrossEdge[] = [];
  for (const other of input.hosts) {
    if (other.name === h.name) continue;
    const fed = repoServers(other, input.facts(other.name)).filter((s) => s.hosts.some((x) => mine.has(x)));
    const after = [...fed.map((s) => repoSourceRef(s.module)), ...(fed.length ? [nodePackagesRef] : [])];
    for (const resource of after) edges.push({ before: { host: h.name, resource: serving }, after: { host: other.name, resource } });
  }
  return edges;
}

/** Entry value, else the infra node's own variable, else Pigsty's default: how Pigsty's pg_exporters role reads each setting. */
function entrySetting<T>(h: HostView, r: RemoteInstance, key: string, fallback: T): T {
  const e = h.param('pg_exporters')[String(r.port)] as Record<string, unknown> | undefined;
  if (e && key in e) return e[key] as T;
  return h.has(key) ? (h.get(key) as T) : fallback;
}

/** The exporters of pg_exporters: one unit of Debian's prometheus-postgres-exporter per remote instance. */
function pgExporters(r: Builder, h: HostView, pkg: Ref | undefined): void {
  const remotes = remoteInstances(h);
  const keep: string[] = [];
  if (remotes.length) {
    // Debian's package starts its own instance on 9187, with no database to watch.
    r.add(service, { name: 'prometheus-postgres-exporter', enabled: false, running: false }, [pkg]);
    for (const x of remotes) {
      const unitName = `pg_exporter_${x.ins}`;
      keep.push(unitName);
      const given = entrySetting(h, x, 'pg_exporter_url', '');
      const url =
        given ||
        pgExporterUrl({
          user: entrySetting(h, x, 'pg_monitor_username', h.param('pg_monitor_username')),
          password: entrySetting(h, x, 'pg_monitor_password', h.param('pg_monitor_password')),
          host: x.host,
          port: x.pgPort,
          params: entrySetting(h, x, 'pg_exporter_params', h.param('pg_exporter_params')),
        });
      const envPath = `/etc/default/${unitName}`;
      const content = pgExporterEnv({
        url,
        port: x.port,
        metricsPath: h.param('exporter_metrics_path'),
        autoDiscovery: entrySetting(h, x, 'pg_exporter_auto_discovery', h.param('pg_exporter_auto_discovery')),
        exclude: entrySetting(h, x, 'pg_exporter_exclude_database', h.param('pg_exporter_exclude_database')),
        include: entrySetting(h, x, 'pg_exporter_include_database', h.param('pg_exporter_include_database')),
      });
      const env = r.add(file, { path: envPath, content, mode: 0o600, secret: true });
      const unit = r.add(file, { path: `/etc/systemd/system/${unitName}.service`, content: pgExporterUnit(x, envPath), mode: 0o644 });
      r.add(service, { name: unitName, enabled: true, running: true }, [pkg, env, unit]);
    }
  }
  // An entry taken out of pg_exporters: its exporter is stopped and its unit removed.
  r.add(retiredUnits, { set: 'pg_exporters', prefix: 'pg_exporter_', marker: PG_EXPORTER_MARKER, keep, envDir: '/etc/default' });
}

type Builder = ReturnType<typeof resourceList<(typeof INFRA_KINDS)[number]['name']>>;

/** The infra node's resources, and nginx's last step when it serves (what nodes fed by its repository wait for). */
function nodeResources(h: HostView, input: ReconcileInput, targets: readonly TargetFile[]): { list: Builder['list']; serving?: Ref } {
  const r: Builder = resourceList('infra', CLUSTER, INFRA_KINDS);
  const vm = h.param('vmetrics_enabled');
  const nginxOn = h.param('nginx_enabled');
  const pkgs = [
    ...(vm ? ['victoria-metrics'] : []),
    ...(h.param('alertmanager_enabled') ? ['prometheus-alertmanager'] : []),
    ...(h.param('blackbox_enabled') ? ['prometheus-blackbox-exporter'] : []),
    ...(nginxOn ? ['nginx'] : []),
    ...(nginxOn && h.param('nginx_exporter_enabled') ? ['prometheus-nginx-exporter'] : []),
    ...(remoteInstances(h).length ? ['prometheus-postgres-exporter'] : []),
    ...packageNames(h.param('infra_packages')),
  ];
  const pkg = r.add(packages, { name: 'infra', manager: 'apt', packages: [...new Set(pkgs)] });
  // Pigsty's layout: /infra -> infra_data.
  const data = r.add(directory, { path: h.param('infra_data'), mode: 0o771 });
  const infraDir = r.add(symlink, { path: '/infra', target: h.param('infra_data') }, [data]);
  if (vm) vmetrics(r, h, input, pkg, infraDir, [...targets, ...pgrdsFiles(h)]);
  if (h.param('alertmanager_enabled')) alertmanager(r, h, pkg, infraDir);
  if (h.param('blackbox_enabled')) blackbox(r, h, pkg);
  const serving = nginxOn ? nginx(r, h, input, pkg) : undefined;
  pgExporters(r, h, pkg);
  return { list: r.list, ...(serving ? { serving } : {}) };
}

export const infra: Reconciler = {
  module: 'infra',
  kinds: INFRA_KINDS,
  certificates: ({ cluster }) =>
    cluster.members.flatMap((h) => [
      ...(h.param('vmetrics_enabled') ? [memberCertificate({ id: infraCertId(h), address: h.name, commonName: h.name, organizationalUnit: 'infra', names: nodename(h) ? [nodename(h)!] : [], validity: h.str('cert_validity') })] : []),
      ...(h.param('nginx_enabled') && sslMode(h) !== 'disable'
        ? [memberCertificate({ id: nginxCertId(h), address: h.name, commonName: 'pigsty', organizationalUnit: 'nginx', names: portalDomains(h), validity: h.str('nginx_cert_validity') })]
        : []),
    ]),
  desired(input) {
    const out: ModuleDesired = { resources: new Map(), edges: [], notes: [] };
    const members = membersOf(input.hosts);
    const anchor = members[0]!;
    const targets = targetFiles(input.hosts);
    out.notes.push(...clusterNotes(anchor, members, targets));
    for (const h of input.cluster.members) {
      if (input.facts(h.name).packageManager !== 'apt') {
        out.notes.push({ host: h.name, resource: packagesId('infra'), message: 'INFRA is built on Debian packages: no apt on this node, nothing is done' });
        continue;
      }
      const { list, serving } = nodeResources(h, input, targets.files);
      out.resources.set(h.name, list);
      if (serving) out.edges.push(...repoEdges(h, serving, input));
    }
    return out;
  },
};

