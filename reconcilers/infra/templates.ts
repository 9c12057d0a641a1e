/**
 * The files INFRA writes on an infra node, laid out as Pigsty's infra role lays them out, on
 * Debian's packages: VictoriaMetrics (Debian's unit, its /etc/default file) with the scrape config in
 * /infra/prometheus.yml, vmalert (shipped in Debian's victoria-metrics package without a unit:
 * Corral's, after Pigsty's), Alertmanager and the blackbox exporter (Debian's units and config paths,
 * Pigsty's ports and settings), nginx with Pigsty's portal servers and a small home page.
 */
import type { TARGET_DIRS, RemoteInstance } from './targets.js';

/** Where Pigsty keeps the infra node's certificate (a client of etcd, MinIO and Patroni's https API). */
export const INFRA_TLS = { ca: '/etc/pki/ca.crt', cert: '/etc/pki/infra.crt', key: '/etc/pki/infra.key' };
/** The nginx server certificate, shared by every portal server that names no `cert` of its own. */
export const NGINX_TLS = { cert: '/etc/nginx/conf.d/cert/pigsty.crt', key: '/etc/nginx/conf.d/cert/pigsty.key' };
/** The first line of every portal server file in /etc/nginx/conf.d: what stale-files looks for. */
export const PORTAL_MARKER = '# managed by corral (INFRA portal)';
/** The first line of every rule file Corral writes in /infra/rules. */
export const RULES_MARKER = '# managed by corral (INFRA rules)';

/** A value for a systemd EnvironmentFile, double-quoted; blanks and newlines collapse into single spaces (`>-` options). */
export function envValue(value: string): string {
  return `"${value.replace(/\s+/g, ' ').trim().replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

const args = (parts: readonly string[]): string => parts.filter(Boolean).join(' ');

/**
 * /etc/default/victoria-metrics, read by Debian's victoria-metrics.service as $ARGS. A query sees
 * samples 2 s after their scrape rather than 30 s (VictoriaMetrics' default, for data that comes in
 * over the network): this node scrapes its own data, and every alert would wait those 30 s, twice
 * for one on a recorded series. vmetrics_options come last, so an operator's value wins.
 */
export function vmetricsDefaults(o: { port: number; options: string }): string {
  const flags = args(['-storageDataPath=/infra/metrics', `-httpListenAddr=:${o.port}`, '-promscrape.config=/infra/prometheus.yml', '-search.latencyOffset=2s', o.options]);
  return `# managed by corral (INFRA: vmetrics_port, vmetrics_options)\nARGS=${envValue(flags)}\n`;
}

/** Half a Prometheus duration (`10s` → `5000ms`); one of several units (`1m30s`) is left whole. */
export function halfInterval(interval: string): string {
  const m = /^(\d+)(ms|s|m|h)$/.exec(interval);
  return m ? `${(Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h']) / 2}ms` : interval;
}

/**
 * /etc/default/vmalert: Pigsty's flags (rules from /infra/rules, alerts to Alertmanager, state in
 * VictoriaMetrics). Rules are evaluated twice per scrape interval, so an alert fires at most its
 * `for:` and one scrape and half a scrape after what it watches went wrong, rather than two scrapes.
 */
export function vmalertDefaults(o: { vmetricsPort: number; alertmanagerPort: number; port: number; scrapeInterval: string; options: string }): string {
  const vm = `http://127.0.0.1:${o.vmetricsPort}`;
  const flags = args([
    `-datasource.url=${vm}`,
    `-remoteRead.url=${vm}`,
    `-remoteWrite.url=${vm}`,
    `-notifier.url=http://127.0.0.1:${o.alertmanagerPort}`,
    `-httpListenAddr=:${o.port}`,
    "-rule=/infra/rules/*.yml",
    `-evaluationInterval=${halfInterval(o.scrapeInterval)}`,
    // Query at the evaluation's own time, not rounded down to the interval: an alert is not an interval late.
    '-datasource.queryTimeAlignment=false',
    o.options,
  ]);
  return `# managed by corral (INFRA: vmalert_port, vmalert_options)\nARGS=${envValue(flags)}\n`;
}

/** vmalert.service: Debian ships the binary (/usr/bin/vmalert, in victoria-metrics) but no unit; this is Pigsty's, as Debian's user. */
export const VMALERT_UNIT = `# managed by corral (INFRA)
[Unit]
Description=VMAlert - alerting and recording rules evaluation engine
Documentation=https://docs.victoriametrics.com/vmalert/
After=network.target victoria-metrics.service
Wants=victoria-metrics.service

[Service]
User=_victoria-metrics
EnvironmentFile=-/etc/default/vmalert
ExecStart=/usr/bin/vmalert $ARGS
ExecReload=/bin/kill -HUP $MAINPID
TimeoutSec=120
Restart=on-failure
RestartSec=5
LimitNOFILE=131072

[Install]
WantedBy=multi-user.target
`;

/** /infra/prometheus.yml: Pigsty's scrape jobs, each reading its folder of /infra/targets (re-read every -promscrape.fileSDCheckInterval). */
export function scrapeConfig(o: { interval: string; timeout: string; metricsPath: string; blackboxPort: number; redisExporterPort: number; minioHttps: boolean }): string {
  const tls = (client: boolean): string[] => ['    scheme: https', '    tls_config:', `      ca_file: ${INFRA_TLS.ca}`, ...(client ? [`      cert_file: ${INFRA_TLS.cert}`, `      key_file: ${INFRA_TLS.key}`] : [])];
  /** One job: its comment, name, metrics path and target folder, then what else it says. */
  const job = (comment: string, name: string, path: string, dir: (typeof TARGET_DIRS)[number], extra: readonly string[] = []): string[] => [
    ...(comment ? [`  # ${comment}`] : []),
    `  - job_name: ${name}`,
    `    metrics_path: ${path}`,
    '    file_sd_configs:',
    `      - files: [ /infra/targets/${dir}/*.yml ]`,
    ...extra,
    '',
  ];
  /** A relabel rule: the regex of the source label (none: the whole value) put into `target` as `replacement`. */
  const relabel = (target: string, source?: string, regex?: string, replacement?: string): string[] => [
    ...(source ? [`      - source_labels: [ ${source} ]`] : [`      - target_label: ${target}`]),
    ...(regex ? [`        regex: ${regex}`] : []),
    ...(replacement ? [`        replacement: ${replacement}`] : []),
    ...(source ? [`        target_label: ${target}`] : []),
  ];
  return [
    '# managed by corral (INFRA): VictoriaMetrics scrape config, targets from /infra/targets/<job>/*.yml',
    'global:',
    `  scrape_interval: ${o.interval}`,
    `  scrape_timeout: ${o.timeout}`,
    '',
    'scrape_configs:',
    ...job('ICMP pings of every node and VIP, through the blackbox exporter', 'ping', '/probe', 'ping', [
      '    params: { module: [ icmp ] }',
      '    relabel_configs:',
      ...relabel('__param_target', '__address__'),
      ...relabel('instance', '__param_target'),
      ...relabel('__address__', undefined, undefined, `127.0.0.1:${o.blackboxPort}`),
    ]),
    ...job('', 'infra', '/metrics', 'infra'),
    ...job('', 'node', o.metricsPath, 'node'),
    ...job('', 'etcd', '/metrics', 'etcd', tls(true)),
    ...job('', 'minio', '/minio/metrics/v3', 'minio', ['    metric_relabel_configs:', '      - source_labels: [ bucket ]', "        regex: '.+'", '        action: drop', ...(o.minioHttps ? tls(true) : ['    scheme: http'])]),
    ...job('', 'pgsql', o.metricsPath, 'pgsql'),
    ...job('Patroni with patroni_ssl_enabled: its targets carry job: pgsql', 'pgsql-patroni', '/metrics', 'patroni', ['    honor_labels: true', ...tls(false)]),
    ...job('remote instances watched by pg_exporters on an infra node', 'pgrds', o.metricsPath, 'pgrds'),
    // Debian's redis exporter dials tcp:// only (Pigsty's targets say redis://): the target is rewritten so.
    ...job("Redis instances through their node's exporter (/scrape?target=tcp://<ip>:<port>)", 'redis', '/scrape', 'redis', [
      '    relabel_configs:',
      ...relabel('__param_target', '__address__', '^redis://(.*)$', 'tcp://$1'),
      ...relabel('ip', '__address__', '^redis://(.*):\\d+$', '$1'),
      ...relabel('__address__', '__address__', '^redis://(.*):\\d+$', `$1:${o.redisExporterPort}`),
    ]),
  ].join('\n');
}

const OF = '{{ $labels.ins }} ({{ $labels.instance }})';
/**
 * An exporter that does not answer, by its port: Pigsty's alert name, category and description.
 * Debian's pgbouncer exporter has no pgbouncer_up: it runs bound to pgbouncer (PGSQL's drop-in), so its
 * port not answering is PgbouncerDown, and there is no separate PgbouncerExporterDown.
 */
const AGENT_ALERTS = [
  { alert: 'NodeDown', ports: 'node', category: 'node', description: `node_exporter of ${OF} does not answer` },
  { alert: 'HaproxyDown', ports: 'haproxy', category: 'node', description: `HAProxy's exporter of ${OF} does not answer` },
  { alert: 'PatroniDown', ports: 'patroni', category: 'pgsql', description: `Patroni's REST API of ${OF} does not answer` },
  { alert: 'PgbouncerDown', ports: 'pgbouncerExporter', category: 'pgsql', description: `pgbouncer of ${OF} does not answer (its exporter runs only while pgbouncer does)` },
  { alert: 'PgExporterDown', ports: 'pgExporter', category: 'pgsql', description: `the PostgreSQL exporter of ${OF} does not answer`, level: 1 },
] as const;

/**
 * /infra/rules/agent.yml: the `*_up` series by exporter port, as Pigsty renders its agent.yml, with
 * every port the inventory uses for each (Pigsty takes the infra node's own); and the alerts on an
 * exporter that does not answer. Those read `up` itself, not the recorded series: a recorded series
 * reaches a query only after vmalert wrote it back, which would delay each alert by an evaluation
 * and a write.
 */
export function agentRules(p: Record<(typeof AGENT_ALERTS)[number]['ports'], number[]>): string {
  const byPort = (ports: number[]): string => {
    const list = [...new Set(ports)].sort((a, b) => a - b);
    return `up{instance=~".*:${list.length === 1 ? list[0]! : `(${list.join('|')})`}"}`;
  };
  const record = (name: string, expr: string): string[] => [`      - record: ${name}`, `        expr: ${expr}`];
  const alert = (a: (typeof AGENT_ALERTS)[number]): string[] => {
    const [level, severity] = 'level' in a ? [1, 'WARN'] : [0, 'CRIT'];
    return [
      `      - alert: ${a.alert}`,
      `        expr: ${byPort(p[a.ports])} < 1`,
      '        for: 1m',
      `        labels: { level: ${level}, severity: ${severity}, category: ${a.category} }`,
      '        annotations:',
      `          summary: "${severity} ${a.alert} {{ $labels.ins }}@{{ $labels.instance }}"`,
      `          description: "${a.description}"`,
    ];
  };
  return [
    RULES_MARKER,
    'groups:',
    '  - name: agent-rules',
    '    rules:',
    ...record('node_up', byPort(p.node)),
    ...record('haproxy_up', byPort(p.haproxy)),
    ...record('etcd_up', 'up{job="etcd"}'),
    ...record('minio_up', 'up{job="minio"}'),
    ...record('pg_exporter_agent_up', byPort(p.pgExporter)),
    ...record('pgbouncer_exporter_agent_up', byPort(p.pgbouncerExporter)),
    ...record('patroni_up', byPort(p.patroni)),
    '',
    '  - name: agent-alert',
    '    rules:',
    ...AGENT_ALERTS.flatMap(alert),
    '',
  ].join('\n');
}

/** /etc/default/prometheus-alertmanager: Pigsty's flags on Debian's unit (its config path; storage in /infra/alertmgr). */
export function alertmanagerDefaults(o: { ip: string; port: number; options: string; ownConfig: boolean }): string {
  const flags = args([
    o.ownConfig ? '' : '--config.file=/etc/prometheus/alertmanager.yml',
    `--web.listen-address=:${o.port}`,
    `--cluster.advertise-address=${o.ip}:${o.port}`,
    '--storage.path=/infra/alertmgr',
    '--web.external-url=http://localhost/alertmgr',
    '--web.route-prefix=/',
    o.options,
  ]);
  return `# managed by corral (INFRA: alertmanager_port, alertmanager_options)\nARGS=${envValue(flags)}\n`;
}

/** /etc/prometheus/alertmanager.yml: Pigsty's default, which sends nowhere: receivers are the operator's to add. */
export const ALERTMANAGER_YML = `# managed by corral (INFRA): Pigsty's default Alertmanager config, which notifies no one.
# Add receivers with your own file: alertmanager_options: '--config.file=/etc/prometheus/alertmanager.local.yml'
global:
  resolve_timeout: 5m
route:
  receiver: default
  group_by: [ alertname ]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 4h
receivers:
  - name: default
inhibit_rules:
  # a node that is down silences the other alerts of that node
  - source_matchers: [ alertname="NodeDown" ]
    target_matchers: [ category="node" ]
    equal: [ ip ]
`;

/** /etc/prometheus/blackbox.yml: Pigsty's probe modules. */
export const BLACKBOX_YML = `# managed by corral (INFRA): Pigsty's blackbox probes
modules:
  icmp:
    prober: icmp
  icmp_ttl5:
    prober: icmp
    timeout: 5s
    icmp:
      ttl: 5
  http_2xx:
    prober: http
  http_post_2xx:
    prober: http
    http:
      method: POST
  tcp_connect:
    prober: tcp
`;

export function blackboxDefaults(o: { port: number; options: string }): string {
  const flags = args(['--config.file=/etc/prometheus/blackbox.yml', `--web.listen-address=:${o.port}`, o.options]);
  return `# managed by corral (INFRA: blackbox_port, blackbox_options)\nARGS=${envValue(flags)}\n`;
}

/**
 * ICMP needs CAP_NET_RAW: Debian's unit runs the exporter as `prometheus` and grants it only if
 * debconf was asked to (it defaults to no); Pigsty runs it as root. A drop-in gives the one capability.
 */
export const BLACKBOX_DROPIN = `# managed by corral (INFRA): ICMP probes need raw sockets
[Service]
AmbientCapabilities=CAP_NET_RAW
`;

export function nginxExporterDefaults(o: { nginxPort: number; port: number }): string {
  const flags = args([`-nginx.scrape-uri=http://127.0.0.1:${o.nginxPort}/nginx`, `-web.listen-address=:${o.port}`]);
  return `# managed by corral (INFRA: nginx_exporter_port)\nARGS=${envValue(flags)}\n`;
}

/** /etc/nginx/nginx.conf: Pigsty's, on Debian's user and modules; only conf.d is read, so Debian's default site is not served. */
export const NGINX_CONF = `# managed by corral (INFRA)
user www-data;
worker_processes auto;
worker_rlimit_nofile 65535;
pid /run/nginx.pid;
error_log /var/log/nginx/error.log warn;
include /etc/nginx/modules-enabled/*.conf;

events {
    worker_connections 2048;
    multi_accept on;
}

http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log /var/log/nginx/access.log combined;
    client_max_body_size 400m;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    gzip on;
    server_tokens off;
    keepalive_timeout 65;
    include /etc/nginx/conf.d/*.conf;
}
`;

/** A portal server (infra_portal entry) as nginx needs it. */
export interface PortalServer {
  name: string;
  domain: string;
  domains: string[];
  /** http and https, or https only (nginx_sslmode enforce or the entry's enforce_https). */
  http: boolean;
  https: boolean;
  cert: string;
  key: string;
  log?: string;
  /** Extra nginx lines (the entry's `config`). */
  config?: string;
}

type Ports = { http: number; https: number };

const serverHead = (s: PortalServer, ports: Ports, defaultServer: boolean): string[] => [
  `    server_name ${[s.domain, ...s.domains].join(' ')};`,
  ...(s.http ? [`    listen ${ports.http}${defaultServer ? ' default_server' : ''};`] : []),
  ...(s.https
    ? [
        `    listen ${ports.https} ssl${defaultServer ? ' default_server' : ''};`,
        `    ssl_certificate ${s.cert};`,
        `    ssl_certificate_key ${s.key};`,
        '    ssl_session_timeout 5m;',
        '    ssl_protocols TLSv1.2 TLSv1.3;',
        '    ssl_prefer_server_ciphers on;',
      ]
    : []),
  ...(s.log ? [`    access_log /var/log/nginx/${s.log};`] : []),
];

/** http → https for a server that takes https only. */
const redirect = (s: PortalServer, port: number): string[] =>
  s.http || !s.https ? [] : ['', 'server {', `    server_name ${[s.domain, ...s.domains].join(' ')};`, `    listen ${port};`, '    return 301 https://$host$request_uri;', '}'];

/** A portal server file: Corral's marker, what stands before the server (an upstream), the server with `body`, its https redirect. */
function serverFile(s: PortalServer, ports: Ports, o: { defaultServer?: boolean; before?: readonly string[]; body: readonly string[] }): string {
  return [`${PORTAL_MARKER}: ${s.name}`, ...(o.before ?? []), 'server {', ...serverHead(s, ports, o.defaultServer ?? false), ...o.body, ...(s.config ? [s.config] : []), '}', ...redirect(s, ports.http), ''].join('\n');
}

/** The home server: Pigsty's proxies to each component by path, stub_status for the exporter, and nginx_home (the portal page, ca.crt, the repo). */
export function homeServer(s: PortalServer, o: { ports: Ports; root: string; proxies: readonly [string, number][]; stubStatus: boolean }): string {
  return serverFile(s, o.ports, {
    defaultServer: true,
    body: [
      '    proxy_buffering off;',
      '    proxy_request_buffering off;',
      '',
      ...o.proxies.flatMap(([path, port]) => [`    location /${path}/ {`, `        proxy_pass http://127.0.0.1:${port}/;`, '    }']),
      ...(o.stubStatus ? ['    location /nginx {', '        stub_status on;', '        access_log off;', '    }'] : []),
      '    location / {',
      `        root ${o.root};`,
      '        index index.html;',
      '        autoindex on;',
      '        autoindex_exact_size off;',
      '        autoindex_localtime on;',
      '    }',
    ],
  });
}

/** An `endpoint` entry: a reverse proxy to another service (Pigsty's endpoint.conf). */
export function endpointServer(s: PortalServer, o: { ports: Ports; endpoint: string; scheme: string; websocket: boolean }): string {
  const upstream = s.name.replace(/[^A-Za-z0-9_]/g, '_');
  return serverFile(s, o.ports, {
    before: [`upstream ${upstream} {`, `    server ${o.endpoint} max_fails=0;`, '}', ''],
    body: [
      '    location / {',
      `        proxy_pass ${o.scheme}://${upstream}/;`,
      '        proxy_set_header Host $host;',
      '        proxy_set_header X-Real-IP $remote_addr;',
      '        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;',
      '        proxy_set_header X-Forwarded-Proto $scheme;',
      '        proxy_connect_timeout 5;',
      '        proxy_read_timeout 120s;',
      ...(o.websocket ? ['        proxy_http_version 1.1;', '        proxy_set_header Upgrade $http_upgrade;', '        proxy_set_header Connection "upgrade";'] : []),
      '    }',
    ],
  });
}

/** A `path` entry: a local folder served as it is (Pigsty's path.conf). */
export function pathServer(s: PortalServer, o: { ports: Ports; path: string; index: boolean }): string {
  return serverFile(s, o.ports, { body: ['    location / {', `        root ${o.path};`, '        index index.html;', `        autoindex ${o.index ? 'on' : 'off'};`, '    }'] });
}

const escapeHtml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** The portal page (nginx_home/index.html): a link to each component the node serves and to each portal domain. */
export function portalPage(o: { title: string; links: readonly { name: string; url: string; desc: string }[]; domains: readonly { name: string; url: string }[] }): string {
  const item = (l: { name: string; url: string; desc?: string }): string => `    <li><a href="${escapeHtml(l.url)}">${escapeHtml(l.name)}</a>${l.desc ? ` <span>${escapeHtml(l.desc)}</span>` : ''}</li>`;
  return [
    '<!DOCTYPE html>',
    '<!-- managed by corral (INFRA: infra_services, infra_extra_services, infra_portal) -->',
    '<html lang="en">',
    '<head><meta charset="utf-8"><title>' + escapeHtml(o.title) + '</title>',
    '<style>body{font-family:sans-serif;margin:2em auto;max-width:48em}li{margin:.4em 0}span{color:#666}</style></head>',
    '<body>',
    `  <h1>${escapeHtml(o.title)}</h1>`,
    '  <ul>',
    ...o.links.map(item),
    '  </ul>',
    ...(o.domains.length ? ['  <h2>Portal</h2>', '  <ul>', ...o.domains.map(item), '  </ul>'] : []),
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

/** The first line of every pg_exporters unit: what the retirement of one the inventory dropped looks for. */
export const PG_EXPORTER_MARKER = '# managed by corral (INFRA pg_exporters)';

/** The unit of one pg_exporters entry: Debian's prometheus-postgres-exporter, one process per remote instance. */
export function pgExporterUnit(r: RemoteInstance, envFile: string): string {
  return `${PG_EXPORTER_MARKER}
[Unit]
Description=PostgreSQL exporter @ ${r.port} for ${r.ins}@${r.host}:${r.pgPort}
After=network.target

[Service]
User=prometheus
EnvironmentFile=${envFile}
ExecStart=/usr/bin/prometheus-postgres-exporter $ARGS
Restart=on-failure
RestartSec=5
CPUQuota=10%

[Install]
WantedBy=multi-user.target
`;
}

/** Its environment: the connection string (a secret) and the flags of Debian's exporter for Pigsty's settings. */
export function pgExporterEnv(o: { url: string; port: number; metricsPath: string; autoDiscovery: boolean; exclude: string; include: string }): string {
  const flags = args([
    `--web.listen-address=:${o.port}`,
    `--web.telemetry-path=${o.metricsPath}`,
    o.autoDiscovery ? '--auto-discover-databases' : '',
    o.autoDiscovery && o.exclude ? `--exclude-databases=${o.exclude}` : '',
    o.autoDiscovery && o.include ? `--include-databases=${o.include}` : '',
  ]);
  return `# managed by corral (INFRA pg_exporters)\nDATA_SOURCE_NAME=${envValue(o.url)}\nARGS=${envValue(flags)}\n`;
}

/** Pigsty's connection string for a remote instance: the monitor user, `postgres` database, pg_exporter_params. */
export function pgExporterUrl(o: { user: string; password: string; host: string; port: number; params: string }): string {
  const enc = (s: string): string => encodeURIComponent(s).replace(/'/g, '%27');
  return `postgres://${enc(o.user)}:${enc(o.password)}@${o.host}:${o.port}/postgres${o.params ? `?${o.params}` : ''}`;
}

