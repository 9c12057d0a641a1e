/**
 * The scrape targets INFRA nodes read (VictoriaMetrics' file service discovery in /infra/targets),
 * from the whole inventory, as Pigsty's roles write them: `node/<ip>.yml` and `ping/<ip>.yml` for
 * every host, `pgsql/<cls>-<seq>.yml` (and `patroni/` when Patroni's API is https), `etcd/<cls>-<seq>.yml`,
 * `redis/<cls>-<node>.yml`, `minio/<cls>-<seq>.yml`, `infra/infra-<seq>.yml`, VIP pings, and
 * `pgrds/<cls>.yml` for the remote instances an infra node's own pg_exporters watch. Same names,
 * labels (`cls`, `ins`, `ip`) and switches as Pigsty; each file's first line marks it as Corral's,
 * so one the inventory no longer asks for is removed (stale-files), and nothing else in the folder.
 * Pure: the inventory in, file texts out.
 */
import { membership } from '../../src/config/clusters.js';
import type { HostView } from '../../src/config/hosts.js';
import { nodename } from '../node/index.js';

/** The folders under /infra/targets Corral writes, one scrape job (or more) each. */
export const TARGET_DIRS = ['node', 'ping', 'infra', 'etcd', 'pgsql', 'patroni', 'pgrds', 'redis', 'minio'] as const;
export type TargetDir = (typeof TARGET_DIRS)[number];

export interface TargetFile {
  dir: TargetDir;
  /** The file name in its folder: `10.10.10.10.yml`. */
  name: string;
  content: string;
}

/** The first line of every target file Corral writes: what stale-files looks for. */
export const TARGET_MARKER = '# managed by corral (INFRA targets)';

/** Words YAML 1.1 (Prometheus' parser) reads as something other than a string. */
const NOT_A_STRING = /^(?:y|n|yes|no|true|false|on|off|null|~|[-+]?(?:[0-9][0-9_]*|[0-9_]*\.[0-9_]*(?:e[-+]?[0-9]+)?|[0-9][0-9_]*(?::[0-5]?[0-9])+|0x[0-9a-f_]+|0b[01_]+|\.inf)|\.nan)$/i;

/** A YAML scalar: plain when it reads back as the same string (an address, `ip:port`), else double-quoted. */
export function scalar(value: string | number): string {
  const s = String(value);
  if (typeof value === 'number') return s;
  return /^[A-Za-z0-9_./@-][A-Za-z0-9_./@:-]*$/.test(s) && !NOT_A_STRING.test(s) ? s : JSON.stringify(s);
}

const labels = (pairs: readonly [string, string | number][]): string => `{ ${pairs.map(([k, v]) => `${k}: ${scalar(v)}`).join(', ')} }`;

const fileOf = (dir: TargetDir, name: string, lines: readonly string[]): TargetFile => ({ dir, name: `${name}.yml`, content: [TARGET_MARKER, ...lines, ''].join('\n') });

/** One target group: its labels and its targets, as a YAML list item. */
const group = (pairs: readonly [string, string | number][], targets: readonly string[]): string[] => [
  `- labels: ${labels(pairs)}`,
  targets.length ? '  targets:' : '  targets: []',
  ...targets.map((t) => `    - ${scalar(t)}`),
];

/** A node's identity as Pigsty's node_id gives it: nodename (else the inventory name), node_cluster. */
export const nodeIns = (h: HostView): string => nodename(h) ?? h.name;
const nodeCls = (h: HostView): string => h.param('node_cluster');

/** An exporter whose targets Pigsty writes but no Corral module runs (PGSQL runs pg_exporter's, pgbouncer's and HAProxy's). */
export type UnservedExporter = 'keepalived';

export interface Targets {
  files: TargetFile[];
  /** Exporters listed (as Pigsty lists them) that no Corral module runs yet, with the hosts: said in a plan note. */
  unserved: Map<UnservedExporter, string[]>;
  /** Targets Pigsty lists that never run on Debian (vector, pgbackrest_exporter): left out, said in a plan note. */
  leftOut: Set<string>;
}

/** pg_vip_address without its mask: `10.0.0.10/24` → `10.0.0.10`. */
const vipIp = (cidr: string): string => cidr.split('/')[0]!;

function nodeFiles(h: HostView, out: Targets): void {
  const ip = h.name;
  const ident: [string, string][] = [
    ['ip', ip],
    ['ins', nodeIns(h)],
    ['cls', nodeCls(h)],
  ];
  const targets: string[] = [];
  if (h.param('node_exporter_enabled')) targets.push(`${ip}:${h.int('node_exporter_port')}`);
  // NODE runs HAProxy's admin page on every node with haproxy_enabled, as Pigsty does.
  if (h.param('haproxy_enabled')) targets.push(`${ip}:${h.int('haproxy_exporter_port')}`);
  if (h.param('vector_enabled')) out.leftOut.add('vector');
  const lines = [`# ${ip}`, '# node, haproxy, vector', ...group(ident, targets)];
  const vip = h.param('vip_enabled') ? (h.str('vip_address') ?? '') : '';
  if (vip) {
    lines.push('# keepalived', ...group([...ident, ['vip', vip]], [`${ip}:${h.int('vip_exporter_port')}`]));
    unserved(out, 'keepalived', ip);
  }
  out.files.push(fileOf('node', ip, lines));
  out.files.push(fileOf('ping', ip, [`# ${ip}`, ...group(ident, [ip])]));
  if (vip) out.files.push(fileOf('ping', `${vip}---${ip}`, [`# ${vip}@${ip}`, ...group([...ident, ['vip', vip], ['job', 'node-vip']], [vip])]));
}

function pgsqlFiles(h: HostView, cls: string, out: Targets): void {
  const ip = h.name;
  const seq = h.str('pg_seq') ?? '';
  const ins = `${cls}-${seq}`;
  const ident: [string, string][] = [
    ['cls', cls],
    ['ins', ins],
    ['ip', ip],
  ];
  const patroni = h.param('patroni_enabled') && h.param('patroni_mode') !== 'remove';
  const targets: string[] = [];
  if (h.param('pg_exporter_enabled')) targets.push(`${ip}:${h.int('pg_exporter_port')}`);
  if (h.param('pgbouncer_enabled') && h.param('pgbouncer_exporter_enabled')) targets.push(`${ip}:${h.int('pgbouncer_exporter_port')}`);
  if (patroni && !h.param('patroni_ssl_enabled')) targets.push(`${ip}:${h.int('patroni_port')}`);
  if (h.param('pgbackrest_enabled') && h.param('pgbackrest_exporter_enabled')) out.leftOut.add('pgbackrest_exporter');
  const head = `# ${ins} [${h.str('pg_role')}] @ ${ip}`;
  if (targets.length) out.files.push(fileOf('pgsql', ins, [head, ...group(ident, targets)]));
  if (patroni && h.param('patroni_ssl_enabled')) out.files.push(fileOf('patroni', ins, [head, ...group([['job', 'pgsql'], ...ident], [`${ip}:${h.int('patroni_port')}`])]));
  const vip = h.param('pg_vip_enabled') ? vipIp(h.str('pg_vip_address')) : '';
  if (vip) out.files.push(fileOf('ping', `${vip}---${ip}`, [`# ${vip}@${ip}`, ...group([...ident, ['vip', vip], ['job', 'pgsql-vip']], [vip])]));
}

function unserved(out: Targets, what: UnservedExporter, where: string): void {
  out.unserved.set(what, [...(out.unserved.get(what) ?? []), where]);
}

/** `infra/infra-<seq>.yml`: the components an infra node runs (Grafana, VictoriaLogs and VictoriaTraces are not built). */
function infraFile(h: HostView): TargetFile {
  const ip = h.name;
  const seq = h.str('infra_seq') ?? '';
  const lines: string[] = [];
  const add = (what: string, enabled: boolean, port: number): void => {
    if (enabled) lines.push(...group([['ip', ip], ['ins', `${what}-${seq}`], ['cls', what]], [`${ip}:${port}`]));
  };
  add('nginx', h.param('nginx_enabled') && h.param('nginx_exporter_enabled'), h.int('nginx_exporter_port'));
  add('vmetrics', h.param('vmetrics_enabled'), h.int('vmetrics_port'));
  add('vmalert', h.param('vmalert_enabled') && h.param('vmetrics_enabled'), h.int('vmalert_port'));
  add('alertmanager', h.param('alertmanager_enabled'), h.int('alertmanager_port'));
  add('blackbox', h.param('blackbox_enabled'), h.int('blackbox_port'));
  return fileOf('infra', `infra-${seq}`, lines.length ? lines : ['[]']);
}

/** `infra/corral.yml`: the file the daemon owns, on the infra node of its own machine (the CLI leaves it as it is). */
export const CONTROLLER_FILE = 'corral.yml';

/** The daemon's /metrics, scraped by the infra node it runs on, as one of the stack's components (job infra). */
export const controllerFile = (h: HostView, metrics: string): TargetFile =>
  fileOf('infra', 'corral', [`# the corral daemon on ${h.name}`, ...group([['ip', h.name], ['ins', 'corral'], ['cls', 'corral']], [metrics])]);

/** Every target file of the inventory, the same on every infra node (pgrds aside: see pgrdsFiles). */
export function targetFiles(hosts: readonly HostView[]): Targets {
  const out: Targets = { files: [], unserved: new Map(), leftOut: new Set() };
  for (const h of hosts) {
    nodeFiles(h, out);
    const pg = membership(h, 'pgsql');
    if (pg !== undefined) pgsqlFiles(h, pg, out);
    const etcd = membership(h, 'etcd');
    if (etcd !== undefined) {
      const ins = `${etcd}-${h.str('etcd_seq') ?? ''}`;
      out.files.push(fileOf('etcd', ins, [`# ${ins} @ ${h.name}`, ...group([['ip', h.name], ['ins', ins], ['cls', etcd]], [`${h.name}:${h.int('etcd_port')}`])]));
    }
    const redis = membership(h, 'redis');
    if (redis !== undefined && h.param('redis_exporter_enabled')) {
      const node = `${redis}-${h.str('redis_node') ?? ''}`;
      const ports = Object.keys(h.param('redis_instances') ?? {});
      const lines = [`# ${node} @ ${h.name}`, ...ports.flatMap((port) => group([['cls', redis], ['ins', `${node}-${port}`], ['instance', `${h.name}:${port}`]], [`redis://${h.name}:${port}`]))];
      out.files.push(fileOf('redis', node, ports.length ? lines : [...lines, '[]']));
    }
    const minio = membership(h, 'minio');
    if (minio !== undefined) {
      const ins = `${minio}-${h.str('minio_seq') ?? ''}`;
      const address = `${h.name}:${h.int('minio_port')}`;
      const pairs: [string, string][] = [
        ['ip', h.name],
        ['ins', ins],
        ['cls', minio],
        ['instance', address],
        ['flavor', h.param('minio_type')],
      ];
      out.files.push(fileOf('minio', ins, [`# ${ins} @ ${h.name}`, `- targets: [ ${scalar(address)} ]`, '  labels:', ...pairs.map(([k, v]) => `    ${k}: ${scalar(v)}`)]));
    }
    if (membership(h, 'infra') !== undefined) out.files.push(infraFile(h));
  }
  return out;
}

/** One remote instance an infra node's pg_exporters watch: its exporter listens on `port` there. */
export interface RemoteInstance {
  port: number;
  cls: string;
  seq: number;
  /** `<cls>-<seq>`. */
  ins: string;
  host: string;
  pgPort: number;
}

/** The infra node's pg_exporters entries, by port (Pigsty's `pg_exporters: { <port>: { pg_cluster, pg_seq, pg_host } }`). */
export function remoteInstances(h: HostView): RemoteInstance[] {
  return Object.entries(h.param('pg_exporters'))
    .flatMap(([port, e]) => (e ? [[port, e] as const] : []))
    .map(([port, e]) => ({ port: Number(port), cls: e.pg_cluster, seq: e.pg_seq, ins: `${e.pg_cluster}-${e.pg_seq}`, host: e.pg_host, pgPort: e.pg_port ?? h.int('pg_port') }))
    .sort((a, b) => a.port - b.port);
}

/** `pgrds/<cls>.yml` on the infra node whose pg_exporters watch that cluster's remote instances. */
export function pgrdsFiles(h: HostView): TargetFile[] {
  const byCluster = new Map<string, RemoteInstance[]>();
  for (const r of remoteInstances(h)) byCluster.set(r.cls, [...(byCluster.get(r.cls) ?? []), r]);
  return [...byCluster].map(([cls, list]) =>
    fileOf('pgrds', cls, [
      `# PGRDS: remote postgres service for ${cls}`,
      ...list.flatMap((r) => [`# ${r.ins} @ ${r.host}:${r.pgPort}`, ...group([['cls', cls], ['ins', r.ins], ['ip', r.host]], [`${h.name}:${r.port}`])]),
    ]),
  );
}
