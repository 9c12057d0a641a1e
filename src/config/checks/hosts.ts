/** Rules about hosts as machines: their addresses, and the ports their services listen on. */
import { problem, type Location, type Problem } from '../problems.js';
import type { HostView } from '../hosts.js';
import { membership, type Module } from '../clusters.js';
import { isIPv4 } from '../../util/net.js';
import { isObject, listOf, type Check } from './context.js';

interface Listener {
  port: number;
  what: string;
  at: Location;
}

/** Fixed ports per module: [port parameter, switch that enables it (none: always on)]. */
const PORTS: Record<Module, [string, string | null][]> = {
  node: [
    ['node_exporter_port', 'node_exporter_enabled'],
    ['haproxy_exporter_port', 'haproxy_enabled'],
    ['vector_port', 'vector_enabled'],
    ['vip_exporter_port', 'vip_enabled'],
  ],
  pgsql: [
    ['pg_port', null],
    ['pgbouncer_port', 'pgbouncer_enabled'],
    ['patroni_port', 'patroni_enabled'],
    ['pg_exporter_port', 'pg_exporter_enabled'],
    ['pgbouncer_exporter_port', 'pgbouncer_exporter_enabled'],
    ['pgbackrest_exporter_port', 'pgbackrest_exporter_enabled'],
  ],
  etcd: [
    ['etcd_port', null],
    ['etcd_peer_port', null],
  ],
  redis: [['redis_exporter_port', 'redis_exporter_enabled']],
  minio: [
    ['minio_port', null],
    ['minio_admin_port', null],
  ],
  infra: [
    ['nginx_port', 'nginx_enabled'],
    ['nginx_ssl_port', 'nginx_enabled'],
    ['nginx_exporter_port', 'nginx_exporter_enabled'],
    ['dns_port', 'dns_enabled'],
    ['vmetrics_port', 'vmetrics_enabled'],
    ['vlogs_port', 'vlogs_enabled'],
    ['vtraces_port', 'vtraces_enabled'],
    ['vmalert_port', 'vmalert_enabled'],
    ['blackbox_port', 'blackbox_enabled'],
    ['alertmanager_port', 'alertmanager_enabled'],
    ['grafana_port', 'grafana_enabled'],
  ],
};

function listeners(h: HostView): Listener[] {
  const out: Listener[] = [];
  const add = (port: unknown, what: string, at: Location): void => {
    const n = typeof port === 'string' && /^\d+$/.test(port) ? Number(port) : port;
    if (typeof n === 'number' && Number.isInteger(n)) out.push({ port: n, what, at });
  };
  const services = (key: string): void => {
    listOf(h.get(key)).forEach((s, i) => {
      if (isObject(s)) add(s.port, `${key}[${i}] (${String(s.name)})`, h.origin(key, i, 'port'));
    });
  };
  for (const [module, ports] of Object.entries(PORTS) as [Module, [string, string | null][]][]) {
    if (membership(h, module) === undefined) continue;
    for (const [param, enabled] of ports) {
      if (enabled === null || h.get(enabled) !== false) add(h.get(param), param, h.origin(param));
    }
  }
  if (h.get('haproxy_enabled') !== false) services('haproxy_services');
  if (membership(h, 'pgsql') !== undefined) {
    services('pg_default_services');
    services('pg_services');
  }
  if (membership(h, 'redis') !== undefined) {
    const instances = h.get('redis_instances');
    if (isObject(instances)) for (const port of Object.keys(instances)) add(port, `redis instance ${port}`, h.origin('redis_instances', port));
  }
  return out;
}

export const portClashes: Check = (ctx) => {
  const out: Problem[] = [];
  for (const h of ctx.hosts) {
    const first = new Map<number, Listener>();
    for (const l of listeners(h)) {
      const seen = first.get(l.port);
      if (!seen) first.set(l.port, l);
      else if (seen.what !== l.what) {
        out.push(problem('host/port-clash', l.at, `port ${l.port} on ${h.name} is taken by both ${seen.what} and ${l.what}`, { related: seen.at }));
      }
    }
  }
  return out;
};

/**
 * In Pigsty a host's inventory name is its IPv4 address: the identity written into every config
 * (Patroni, etcd peers, HAProxy backends). `ansible_host` only says how to reach it over SSH.
 */
export const hostAddresses: Check = (ctx) => {
  const out: Problem[] = [];
  const owner = new Map<string, HostView>();
  for (const h of ctx.hosts) {
    const needsIp = (['pgsql', 'etcd', 'redis', 'minio'] as const).some((m) => membership(h, m) !== undefined);
    if (!isIPv4(h.name)) {
      out.push(problem('host/bad-address', h.def.at, `host "${h.name}" is not named by its IPv4 address${needsIp ? '; its modules need one' : ''}`, { severity: needsIp ? 'error' : 'warning' }));
    }
    // Two hosts behind one address on different SSH ports (NAT, a bastion) are two machines.
    const reach = `${h.address}:${h.int('ansible_port') ?? 22}`;
    const other = owner.get(reach);
    const at = h.has('ansible_host') ? h.origin('ansible_host') : h.def.at;
    if (other) out.push(problem('host/duplicate-ip', at, `${h.name} and ${other.name} are both reached at ${h.address}`, { related: other.def.at }));
    else owner.set(reach, h);
  }
  return out;
};
