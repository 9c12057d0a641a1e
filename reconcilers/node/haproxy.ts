/**
 * HAProxy as Pigsty's haproxy role (part of NODE) lays it out, on Debian's package: haproxy.cfg (global,
 * defaults, the admin page) loaded first, then every file of /etc/haproxy/conf.d, where each service is
 * one listener: NODE's `haproxy_services` as `<name>.cfg`, PGSQL's as `<pg_cluster>-<service>.cfg`.
 * NODE owns the package, the unit's settings, haproxy.cfg and its own services; PGSQL owns its files
 * and reloads HAProxy after them under a record of its own (reload's `record`), so neither writes,
 * removes or reloads for the other's files.
 */
import { membership } from '../../src/config/clusters.js';
import type { HostView } from '../../src/config/hosts.js';
import type { Note } from '../../src/engine/model.js';
import type { ResourceList } from '../../src/engine/reconciler.js';
import { directory, file } from '../../src/engine/resources/file.js';
import type { GenericKindName } from '../../src/engine/resources/index.js';
import type { Ref } from '../../src/engine/resources/kind.js';
import { readHash, reload } from '../../src/engine/resources/reload.js';
import { service } from '../../src/engine/resources/service.js';
import { staleFiles } from '../../src/engine/resources/stale-files.js';
import type { HaproxyService } from '../../src/types/inventory.gen.js';

export const HAPROXY = { dir: '/etc/haproxy', main: '/etc/haproxy/haproxy.cfg', confD: '/etc/haproxy/conf.d', defaults: '/etc/default/haproxy' };

/**
 * Debian's unit runs `haproxy -Ws -f $CONFIG -p $PIDFILE $EXTRAOPTS`: haproxy.cfg, then conf.d (Pigsty's
 * own unit passes the same two `-f`). Its reload checks the same files (`-f $CONFIG -c -q $EXTRAOPTS`).
 */
export const haproxyDefaults = `# managed by corral (NODE): haproxy.cfg first, then every file of conf.d
CONFIG="${HAPROXY.main}"
EXTRAOPTS="-f ${HAPROXY.confD} -S /run/haproxy-master.sock"
`;

/** HAProxy runs where haproxy_enabled (Pigsty's NODE), and on every PGSQL member, whose services it serves whatever haproxy_enabled says (as Corral always did). */
export const runsHaproxy = (h: HostView): boolean => h.param('haproxy_enabled') || membership(h, 'pgsql') !== undefined;

/** The first line of every service file in conf.d, up to the service's name: `owner` is the module that writes it. */
export const haproxyServiceMarker = (owner: 'NODE' | 'PGSQL', name = ''): string => `# managed by corral (${owner}): service ${name}`;

/** The reload after NODE's files change (haproxy.cfg, its services): other modules' reloads come after it. */
export const haproxyReloadId = reload.id({ name: 'haproxy', sha256: '', action: 'reload', firstTime: 'restart' });

const TIME_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60000, min: 60000, h: 3600000, d: 86400000, w: 604800000, y: 31536000000 };

/** HAProxy takes whole numbers in us, ms, s, m, h or d: Pigsty's `0.5s` is written `500ms`, `1w` `604800000ms`. */
export function haproxyTime(t: string): string {
  const m = /^(\d+(?:\.\d+)?)(us|ms|s|min|m|h|d|w|y)?$/.exec(t.trim());
  if (!m) return t.trim();
  const [, value, unit = 'ms'] = m;
  if (/^\d+$/.test(value!) && ['us', 'ms', 's', 'm', 'h', 'd'].includes(unit)) return `${value}${unit}`;
  return `${Math.round(Number(value) * TIME_MS[unit]!)}ms`;
}

/** HAProxy reads a quoted word as the shell does: nothing is special inside single quotes, `'\\''` puts one in. */
const haproxyWord = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** haproxy.cfg holds the admin password: Pigsty's admin page, with its login. */
export const haproxyHoldsPassword = (h: HostView): boolean => h.param('haproxy_enabled') && h.param('haproxy_auth_enabled');

/**
 * Pigsty's admin page on haproxy_exporter_port (with haproxy_enabled): HAProxy's stats page at
 * /haproxy/<nodename>/, behind the admin login with haproxy_auth_enabled, and HAProxy's built-in
 * Prometheus exporter on exporter_metrics_path, open as in Pigsty. Pigsty's second, read-only login
 * (haproxy/haproxy, a password everyone knows) is left out.
 */
function haproxyAdmin(h: HostView, nodeName: string): string {
  if (!h.param('haproxy_enabled')) return '';
  const auth = h.param('haproxy_auth_enabled');
  const user = h.str('haproxy_admin_username');
  return [
    ...(auth ? ['userlist stats-auth', `    group admin users ${user}`, `    user ${user} insecure-password ${haproxyWord(h.str('haproxy_admin_password'))}`, ''] : []),
    'listen stats',
    `    bind *:${h.int('haproxy_exporter_port')}`,
    '    mode http',
    '    stats enable',
    '    stats hide-version',
    `    stats uri /haproxy/${nodeName}/`,
    '    stats refresh 30s',
    '    stats show-node',
    ...(auth ? ['    acl AUTH       http_auth(stats-auth)', '    acl AUTH_ADMIN http_auth_group(stats-auth) admin', '    stats http-request auth unless AUTH', '    stats admin if AUTH_ADMIN'] : []),
    `    http-request use-service prometheus-exporter if { path ${h.str('exporter_metrics_path')} }`,
    '',
  ].join('\n');
}

/** /etc/haproxy/haproxy.cfg: Pigsty's global and defaults sections and the admin page; the services are files of conf.d. */
export function haproxyMain(h: HostView, nodeName: string): string {
  const admin = haproxyAdmin(h, nodeName);
  return `# managed by corral (NODE)
global
    user haproxy
    group haproxy
    node ${nodeName}
    # Pigsty's maxconn takes about 131000 open files, which HAProxy asks of the hard limit: where that is
    # lower (20000 in some containers) it runs with what it gets rather than refuse to start.
    maxconn 65535
    no strict-limits
    log /dev/log local0 warning
    stats socket /run/haproxy/admin.sock mode 660 level admin expose-fd listeners

defaults
    log global
    mode tcp
    retries 3
    timeout queue 3s
    timeout connect 3s
    timeout client ${haproxyTime(h.str('haproxy_client_timeout'))}
    timeout server ${haproxyTime(h.str('haproxy_server_timeout'))}
    timeout check 3s
${admin ? `\n${admin}` : ''}`;
}

const DEFAULT_SERVER = 'inter 3s fastinter 1s downinter 5s rise 3 fall 3 on-marked-down shutdown-sessions slowstart 30s maxconn 3000 maxqueue 128 weight 100';

/** One of haproxy_services as Pigsty's service.j2 renders it; `options` as a string is one line each. */
export function haproxyNodeService(svc: HaproxyService): string {
  const options = typeof svc.options === 'string' ? svc.options.split('\n') : (svc.options ?? []);
  const server = (s: NonNullable<HaproxyService['servers']>[number]): string => {
    const weight = typeof s.weight === 'number' && s.weight >= 0 && s.weight < 256 ? `weight ${s.weight}` : '';
    return ['    server', s.name, `${s.ip}:${s.port}`, s.backup ? 'backup' : '', weight, s.options ?? ''].filter(Boolean).join(' ');
  };
  return [
    `${haproxyServiceMarker('NODE', svc.name)}`,
    `listen ${svc.name}`,
    `    bind ${svc.ip ?? '*'}:${svc.port}`,
    `    mode ${svc.protocol ?? 'tcp'}`,
    `    maxconn ${svc.maxconn ?? 10000}`,
    `    balance ${svc.balance ?? 'roundrobin'}`,
    ...options.map((o) => o.trim()).filter(Boolean).map((o) => `    ${o}`),
    `    default-server ${svc.default ?? DEFAULT_SERVER}`,
    ...(svc.servers ?? []).map(server),
    '',
  ].join('\n');
}

/** What no line of haproxy.cfg can hold as written. */
const CONTROL = /\p{Cc}/u;

/** An admin password haproxy.cfg cannot hold (a newline in it) blocks the node's plan. */
export function haproxyNotes(h: HostView): Note[] {
  if (!runsHaproxy(h) || !haproxyHoldsPassword(h) || !CONTROL.test(h.str('haproxy_admin_password'))) return [];
  const message = `haproxy_admin_password holds a control character (a newline?), which ${HAPROXY.main} cannot hold; choose a value without one`;
  return [{ host: h.name, resource: file.id({ path: HAPROXY.main, content: '', mode: 0 }), message, blocking: true }];
}

/**
 * NODE's HAProxy on one host: the package is in NODE's list (`pkg`). The unit reads the folder in a new
 * order, which only a restart takes: service files Corral wrote in /etc/haproxy itself (PGSQL's, before
 * conf.d) move to conf.d first, so the restart keeps their listeners. haproxy_reload: false writes the
 * files without reloading (they take effect at HAProxy's next start); haproxy_clean removes from conf.d
 * every file Corral did not write.
 */
export function haproxyResources(r: ResourceList<GenericKindName>, h: HostView, pkg: Ref | undefined, nodeName: string): void {
  const defaults = r.add(file, { path: HAPROXY.defaults, content: haproxyDefaults, mode: 0o644 }, [pkg]);
  const confD = r.add(directory, { path: HAPROXY.confD, mode: 0o755 }, [pkg]);
  const moved = r.add(staleFiles, { dir: HAPROXY.dir, set: 'services before conf.d', marker: haproxyServiceMarker('PGSQL'), keep: [], glob: '*.cfg', moveTo: HAPROXY.confD }, [confD]);
  const main = haproxyMain(h, nodeName);
  // haproxy.cfg holds the admin page's password when it has a login.
  const secret = haproxyHoldsPassword(h) ? { mode: 0o600, secret: true } : { mode: 0o644 };
  const written: Ref[] = [r.add(file, { path: HAPROXY.main, content: main, ...secret }, [pkg])];
  const services = h.param('haproxy_enabled') ? h.param('haproxy_services') : [];
  const files = services.map((svc) => ({ path: `${HAPROXY.confD}/${svc.name}.cfg`, content: haproxyNodeService(svc) }));
  for (const f of files) written.push(r.add(file, { ...f, mode: 0o644 }, [confD]));
  written.push(r.add(staleFiles, { dir: HAPROXY.confD, set: 'node services', marker: haproxyServiceMarker('NODE'), keep: services.map((s) => `${s.name}.cfg`) }, [confD]));
  if (h.param('haproxy_clean')) written.push(r.add(staleFiles, { dir: HAPROXY.confD, set: 'files Corral did not write', marker: '# managed by corral (', keep: [], glob: '*.cfg', unmarked: true }, [confD]));
  // A changed /etc/default/haproxy restarts HAProxy (the -f list is read at start only), after the move.
  const haproxy = r.add(service, { name: 'haproxy', enabled: true, running: true }, [pkg, defaults, moved]);
  // Debian's package starts HAProxy on its own haproxy.cfg: Corral's first load is a restart, later ones reloads.
  const action = h.param('haproxy_reload') ? 'reload' : 'record';
  r.add(reload, { name: 'haproxy', sha256: readHash([main, ...files.map((f) => f.content)]), action, firstTime: 'restart' }, [haproxy, ...written]);
}
