/**
 * The files PGSQL writes, laid out as Pigsty's pgsql role writes them: /pg -> /data/postgres/<cls>-<ver>,
 * patroni.yml in /pg/conf (linked from /etc/patroni), the patroni unit, pgbouncer.ini,
 * pgbackrest.conf and one HAProxy listener file per service in NODE's /etc/haproxy/conf.d.
 */
import { stringify } from 'yaml';
import type { HostView } from '../../src/config/hosts.js';
import type { PgService } from '../../src/types/inventory.gen.js';
import type { DcsValue, StandbyCluster } from './kinds/patroni-dcs.js';

export type { StandbyCluster } from './kinds/patroni-dcs.js';
import { filesystemBytes } from '../../src/engine/facts.js';
import type { Facts } from '../../src/engine/model.js';
import { GUESSED_FS_BYTES, isTemplate, tune, type NodeSpec, type TemplateName, type TuningParams } from './tuning.js';
import { PGBOUNCER_DIR } from './objects.js';
import { dcsClientRecordUnitLine } from './kinds/patroni-dcs-client.js';
import { haproxyServiceMarker, haproxyTime } from '../node/index.js';
import { quote } from '../../src/engine/shell.js';

/** The addresses Pigsty calls `intra`: where replicas and admins connect from. */
const INTRANET = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'];

export const instanceName = (h: HostView): string => `${h.str('pg_cluster')}-${h.str('pg_seq')}`;

/** Where Pigsty puts a member's certificate, used by PostgreSQL, Patroni (REST and its etcd client) and pgbouncer. */
export const PG_TLS = { ca: '/pg/cert/ca.crt', cert: '/pg/cert/server.crt', key: '/pg/cert/server.key' };

export interface RtoPlan {
  ttl: number;
  loopWait: number;
  retryTimeout: number;
  primaryStartTimeout: number;
  /** HAProxy health-check timing, Pigsty's [inter, fastinter, downinter, rise, fall]. */
  check: { inter: string; fastinter: string; downinter: string; rise: number; fall: number };
}

/** pg_rto names a row of pg_rto_plan; a plain number of seconds (older Pigsty) is read as the TTL. */
export function rtoPlan(h: HostView): RtoPlan {
  const key = h.str('pg_rto');
  const row = h.param('pg_rto_plan')[key];
  if (row) {
    const [ttl, loop, retry, start, , inter, fastinter, downinter, rise, fall] = row.map(String);
    const check = { inter: haproxyTime(inter!), fastinter: haproxyTime(fastinter!), downinter: haproxyTime(downinter!), rise: Number(rise), fall: Number(fall) };
    return { ttl: Number(ttl), loopWait: Number(loop), retryTimeout: Number(retry), primaryStartTimeout: Number(start), check };
  }
  const ttl = Number(key) || 30;
  const third = Math.ceil(ttl / 3);
  return { ttl, loopWait: third, retryTimeout: third, primaryStartTimeout: third, check: { inter: '2s', fastinter: '1s', downinter: '2s', rise: 3, fall: 3 } };
}

/** pg_conf as read: one of Pigsty's four templates; a template of the user's own is not read, and OLTP's is used. */
export function pgConf(h: HostView): { template: TemplateName; unread?: string } {
  const name = h.str('pg_conf');
  return isTemplate(name) ? { template: name } : { template: 'oltp.yml', unread: name };
}

/** What Pigsty's templates compute with: the node's memory and CPUs, the filesystem pg_fs_main is on. */
export function nodeSpec(h: HostView, f: Facts): NodeSpec {
  const measured = filesystemBytes(f, h.str('pg_fs_main'));
  return { memMiB: f.memMiB, cpus: f.cpus, fsBytes: measured ?? GUESSED_FS_BYTES };
}

export function tuningParams(h: HostView, f: Facts): TuningParams {
  return {
    maxConn: h.param('pg_max_conn'),
    sharedBufferRatio: h.param('pg_shared_buffer_ratio'),
    libs: h.str('pg_libs'),
    version: Number(h.str('pg_version')),
    defaultServiceDest: h.str('pg_default_service_dest'),
    storageType: h.str('pg_storage_type'),
    ioMethod: h.str('pg_io_method'),
    debLike: f.packageManager === 'apt',
    osMajor: parseInt(f.osVersion, 10) || 0,
    mode: h.str('pg_mode'),
    primaryDb: h.str('pg_primary_db'),
  };
}

export interface DcsConfig {
  settings: Record<string, DcsValue>;
  parameters: Record<string, DcsValue>;
  standby?: StandbyCluster;
}

/** pg_delay as PostgreSQL reads it, or undefined for none (Pigsty's 0, '' or unset). A bare number is milliseconds, as for the GUC. */
export function applyDelay(h: HostView): string | undefined {
  const d = h.param('pg_delay');
  if (d === undefined || d === '' || d === 0 || d === '0') return undefined;
  return String(d);
}

/**
 * The standby cluster a primary with pg_upstream makes of its cluster, as Pigsty's templates write
 * it: the upstream's address, its port (the upstream's own pg_port when the inventory has it, this
 * member's otherwise, as Pigsty assumes), base backups to clone, and pg_delay.
 */
export function standbyCluster(primary: HostView, upstream: HostView | undefined): StandbyCluster | undefined {
  const host = primary.str('pg_upstream');
  if (!host || primary.str('pg_role') !== 'primary') return undefined;
  const delay = applyDelay(primary);
  return {
    host,
    port: (upstream ?? primary).int('pg_port'),
    create_replica_methods: ['basebackup'],
    ...(delay !== undefined ? { recovery_min_apply_delay: delay } : {}),
  };
}

/**
 * Patroni's cluster-wide settings and PostgreSQL parameters: written once by the bootstrap section,
 * kept in the DCS afterwards (patroni-dcs patches a running cluster's). Corral's own (TLS, archive,
 * log files), then the pg_conf template's for node `f`, then pg_parameters, which win.
 */
export function dcsConfig(h: HostView, f: Facts, standby?: StandbyCluster): DcsConfig {
  const rto = rtoPlan(h);
  const rpo = h.int('pg_rpo');
  const cluster = h.str('pg_cluster')!;
  const { template } = pgConf(h);
  const crit = template === 'crit.yml';
  const parameters: Record<string, DcsValue> = {
    password_encryption: h.str('pg_pwd_enc'),
    shared_preload_libraries: h.str('pg_libs'),
    logging_collector: 'on',
    log_destination: 'csvlog',
    log_directory: h.str('pg_log_dir'),
    log_filename: 'postgresql-%a.log',
    log_truncate_on_rotation: 'on',
    // So Pigsty's `hostssl` HBA rules can match; a reload (not a restart) turns it on in a running cluster.
    ssl: 'on',
    ssl_cert_file: PG_TLS.cert,
    ssl_key_file: PG_TLS.key,
    ssl_ca_file: PG_TLS.ca,
    ...(h.param('pgbackrest_enabled') ? { archive_mode: 'on', archive_timeout: 300, archive_command: `pgbackrest --stanza=${cluster} archive-push %p` } : {}),
    ...tune(template, nodeSpec(h, f), tuningParams(h, f)),
  };
  for (const [k, v] of Object.entries(h.param('pg_parameters'))) if (v !== undefined) parameters[k] = v;
  return {
    settings: {
      ttl: rto.ttl,
      loop_wait: rto.loopWait,
      retry_timeout: rto.retryTimeout,
      primary_start_timeout: rto.primaryStartTimeout,
      maximum_lag_on_failover: rpo,
      // crit.yml: synchronous replication, and writes wait when no synchronous replica is left.
      synchronous_mode: crit || rpo === 0,
      synchronous_mode_strict: crit,
      failsafe_mode: true,
    },
    parameters,
    ...(standby ? { standby } : {}),
  };
}

export interface PatroniYmlInput {
  h: HostView;
  /** etcd client URLs, `https://10.213.0.11:2379`. */
  etcd: string[];
  /** Patroni's etcd login (Pigsty: user `<pg_cluster>`, password pg_etcd_password or the cluster's name). */
  etcdLogin: { username: string; password: string };
  binDir: string;
  /** Where pg_hba.conf lives; outside the data dir it is passed to PostgreSQL as hba_file. */
  hbaFile: string;
  /** The cluster's DCS settings (worked out on its primary's node), for the bootstrap section. */
  dcs: DcsConfig;
  /** Who may call the REST API's unsafe endpoints (restApiAllowlist). */
  allowlist: string[];
  /** The member's node, for the `spec` tag. */
  node: NodeSpec;
  /** A cascading replica: the member (of its own cluster) it replicates from, Patroni's `replicatefrom` tag. */
  replicateFrom?: string;
  /** The script Patroni runs on start, stop and role change (the VIP without vip-manager, PG_VIP.callback). */
  callback?: string;
}

/**
 * Pigsty's REST allowlist: admin_ip, the cluster's members and the infra nodes, sorted. Corral's own
 * calls come from the members themselves (their own address, or the leader's from a member).
 */
export function restApiAllowlist(h: HostView, members: readonly HostView[], infra: readonly HostView[]): string[] {
  return [...new Set([h.str('admin_ip'), ...members.map((m) => m.name), ...infra.map((i) => i.name)])].sort();
}

/** Pigsty's `spec` tag: `<cpus>C.<memory GiB>G.<pg_fs_main's filesystem GiB>G`. */
export const specTag = (n: NodeSpec): string => `${n.cpus}C.${Math.ceil(n.memMiB / 1024)}G.${Math.max(Math.ceil(n.fsBytes / 1073741824), 1)}G`;

/** /pg/conf/<instance>.yml: the member's Patroni configuration. Holds passwords: written as a secret file. */
export function patroniYml({ h, etcd, etcdLogin, binDir, hbaFile, dcs, allowlist, node, replicateFrom, callback }: PatroniYmlInput): string {
  const ip = h.name;
  const port = h.int('pg_port');
  const data = h.str('pg_data');
  const dbsu = h.str('pg_dbsu');
  const repl = { username: h.str('pg_replication_username'), password: h.str('pg_replication_password') };
  const pwdEnc = h.str('pg_pwd_enc');
  const listen = h.str('pg_listen').replace('${ip}', ip).replace('${lo}', '127.0.0.1');
  const { settings, parameters, standby } = dcs;
  const crit = pgConf(h).template === 'crit.yml';
  const dbsuPassword = h.str('pg_dbsu_password');
  const restTls = h.param('patroni_ssl_enabled');
  const config = {
    scope: h.str('pg_cluster'),
    namespace: `${h.str('pg_namespace')}/`,
    name: instanceName(h),
    // To stderr, which journald keeps, as Pigsty 4 logs it: seconds and the level, journald adds the rest.
    log: { level: 'INFO', dateformat: '%Y-%m-%d %H:%M:%S %z', format: '%(asctime)s %(levelname)s: %(message)s' },
    etcd3: { hosts: etcd.map((u) => u.replace(/^https?:\/\//, '')).join(','), protocol: 'https', cacert: PG_TLS.ca, cert: PG_TLS.cert, key: PG_TLS.key, ...etcdLogin },
    restapi: {
      listen: `${ip}:${h.int('patroni_port')}`,
      connect_address: `${ip}:${h.int('patroni_port')}`,
      ...(restTls ? { cafile: PG_TLS.ca, certfile: PG_TLS.cert, keyfile: PG_TLS.key, verify_client: 'none' } : {}),
      authentication: { username: h.str('patroni_username'), password: h.str('patroni_password') },
      allowlist,
    },
    ctl: restTls ? { insecure: false, cacert: PG_TLS.ca, certfile: PG_TLS.cert, keyfile: PG_TLS.key } : { insecure: true },
    // Pigsty tags a member with pg_upstream `replicatefrom: <ip>`; Patroni looks the tag up by member name, so Corral writes the name.
    tags: { nofailover: false, clonefrom: true, noloadbalance: false, nosync: false, ...(replicateFrom ? { replicatefrom: replicateFrom } : {}), version: h.str('pg_version'), spec: specTag(node), conf: pgConf(h).template },
    // An unquoted `off` is YAML's false, which str() does not read: it means off. crit.yml turns off into automatic.
    watchdog: { mode: watchdogMode(h.str('patroni_watchdog_mode'), crit) },
    bootstrap: {
      dcs: { ...(standby ? { standby_cluster: standby } : {}), ...settings, postgresql: { use_pg_rewind: true, use_slots: true, parameters } },
      method: 'initdb',
      initdb: [
        // crit.yml checksums data whatever pg_checksum says.
        ...(h.param('pg_checksum') || crit ? ['data-checksums'] : []),
        { encoding: h.str('pg_encoding') },
        { locale: h.str('pg_locale') },
        { 'auth-local': 'peer' },
        { 'auth-host': pwdEnc },
      ],
      // Appended to initdb's pg_hba.conf, so replicas can clone before the HBA rules are rendered.
      pg_hba: INTRANET.flatMap((net) => [`host replication ${repl.username} ${net} ${pwdEnc}`, `host postgres ${repl.username} ${net} ${pwdEnc}`]),
    },
    postgresql: {
      bin_dir: binDir,
      data_dir: data,
      config_dir: data,
      pgpass: '/pg/tmp/pgpass',
      listen: `${listen}:${port}`,
      connect_address: `${ip}:${port}`,
      use_unix_socket: true,
      parameters: {
        unix_socket_directories: h.str('pg_localhost'),
        ...(hbaFile !== `${data}/pg_hba.conf` ? { hba_file: hbaFile } : {}),
      },
      authentication: {
        superuser: { username: dbsu, ...(dbsuPassword ? { password: dbsuPassword } : {}) },
        replication: repl,
        rewind: repl,
      },
      use_pg_rewind: true,
      remove_data_directory_on_rewind_failure: true,
      create_replica_methods: ['basebackup'],
      basebackup: [{ checkpoint: 'fast' }, { 'max-rate': '1000M' }],
      // Patroni runs each as `<script> <action> <role> <cluster>`.
      ...(callback ? { callbacks: { on_start: callback, on_stop: callback, on_role_change: callback } } : {}),
    },
  };
  // YAML 1.1 output quotes `on`/`off`, which Patroni's PyYAML would read as booleans.
  return `# managed by corral (PGSQL): ${instanceName(h)}\n` + stringify(config, { version: '1.1', aliasDuplicateObjects: false });
}

/** Where vip-manager's files go: Pigsty's config path, a unit of Corral's over Debian's, the launcher beside it. */
export const VIP_MANAGER = { config: '/etc/vip-manager.yml', unit: '/etc/systemd/system/vip-manager.service', launcher: '/usr/local/lib/corral/vip-manager-start' };

export interface VipManagerInput {
  h: HostView;
  /** etcd client URLs, `https://10.213.0.11:2379`: Patroni's. */
  etcd: string[];
  /** Patroni's etcd login, which may read the cluster's keys. */
  etcdLogin: { username: string; password: string };
}

/** The address part and the prefix length of pg_vip_address (`10.213.0.20/24`). */
export function vipAddress(h: HostView): { ip: string; netmask: number } {
  const [ip, bits] = h.str('pg_vip_address').split('/');
  return { ip: ip!, netmask: Number(bits) };
}

/**
 * /etc/vip-manager.yml, in the keys of vip-manager 1.0 and later, as Pigsty writes it: the VIP is
 * bound on this member while etcd's `<pg_namespace>/<cluster>/leader` (Patroni's leader key) names it.
 * etcd as Patroni reaches it: the member's certificate, the cluster's login. Holds that password:
 * written as a secret file. pg_vip_interface `auto` leaves the interface to the launcher.
 */
export function vipManagerYml({ h, etcd, etcdLogin }: VipManagerInput): string {
  const iface = h.str('pg_vip_interface');
  const config = {
    interval: 1000,
    'trigger-key': `${h.str('pg_namespace').replace(/\/+$/, '')}/${h.str('pg_cluster')}/leader`,
    'trigger-value': instanceName(h),
    ...vipAddress(h),
    ...(iface && iface !== 'auto' ? { interface: iface } : {}),
    'manager-type': 'basic',
    'dcs-type': 'etcd',
    'dcs-endpoints': etcd,
    'etcd-ca-file': PG_TLS.ca,
    'etcd-cert-file': PG_TLS.cert,
    'etcd-key-file': PG_TLS.key,
    'etcd-user': etcdLogin.username,
    'etcd-password': etcdLogin.password,
    'retry-num': 2,
    'retry-after': 250,
  };
  return `# managed by corral (PGSQL): the L2 VIP of ${h.str('pg_cluster')} on its leader\n` + stringify(config, { version: '1.1' });
}

/**
 * Starts vip-manager: refuses a vip-manager older than 2.0 (it reads etcd's v2 API, Patroni keeps its
 * leader in v3: the VIP would never be bound), and with pg_vip_interface `auto` binds the VIP on the
 * interface that holds the member's own address.
 */
export function vipManagerLauncher(h: HostView): string {
  const iface = h.str('pg_vip_interface');
  const auto = !iface || iface === 'auto';
  return `#!/bin/sh
# managed by corral (PGSQL): starts vip-manager for ${instanceName(h)}
set -eu
version=$(/usr/bin/vip-manager --version 2>&1 | sed -n 's/^version: *//p')
case "$version" in
  0.*|1.*) echo "vip-manager $version reads etcd's v2 API only; Patroni keeps its leader key in etcd v3: install vip-manager 2 or later (Pigsty's repo)" >&2; exit 1 ;;
esac
${
  auto
    ? `dev=$(ip -o -4 addr show to '${h.name}/32' | awk '{ print $2; exit }')
[ -n "$dev" ] || { echo "no interface holds ${h.name}: set pg_vip_interface" >&2; exit 1; }
exec /usr/bin/vip-manager --config=${VIP_MANAGER.config} --interface="$dev"`
    : `exec /usr/bin/vip-manager --config=${VIP_MANAGER.config}`
}
`;
}

/**
 * The L2 VIP without vip-manager: Patroni's callbacks run `callback` as the dbsu, which runs the
 * root-owned `helper` through `sudo -n`; the dbsu's sudoers allows exactly `helper add` and `helper del`.
 */
export const PG_VIP = { callback: '/pg/bin/pg-vip', helper: '/usr/local/lib/corral/pg-vip-ip' };

/** Patroni's roles that hold the VIP: the leader (`primary`, `master` in older Patroni) and a standby cluster's leader. */
const VIP_ROLES = 'primary|master|standby_leader';

/** /pg/bin/pg-vip `<action> <role> <cluster>`: Patroni's callback. The leader binds the VIP, any other role or a stop unbinds it. */
export function pgVipCallback(h: HostView): string {
  return `#!/bin/bash
# managed by corral (PGSQL): Patroni's callback for the L2 VIP ${h.str('pg_vip_address')} of ${h.str('pg_cluster')}, run as <action> <role> <cluster>
set -u
case "\${1:-}" in
  on_start | on_role_change)
    case "\${2:-}" in
      ${VIP_ROLES}) op=add ;;
      *) op=del ;;
    esac ;;
  on_stop) op=del ;;
  *) exit 0 ;;
esac
exec sudo -n ${PG_VIP.helper} "$op"
`;
}

/**
 * /usr/local/lib/corral/pg-vip-ip add|del, root's: binds the VIP on pg_vip_interface (`auto`: the interface holding
 * the member's address) if no interface holds it, and announces it with a gratuitous ARP (arping, when
 * installed); or unbinds it wherever it is bound. Takes no other argument: the VIP and the interface
 * are written into it, so the dbsu's sudo can do nothing else.
 */
export function pgVipHelper(h: HostView): string {
  const iface = h.str('pg_vip_interface');
  const auto = !iface || iface === 'auto';
  const vip = h.str('pg_vip_address');
  const ip = quote(vipAddress(h).ip);
  const cidr = quote(vip);
  const own = quote(h.name);
  return `#!/bin/bash
# managed by corral (PGSQL): binds (add) or unbinds (del) the L2 VIP ${vip} of ${h.str('pg_cluster')} on ${instanceName(h)}; ${PG_VIP.callback} runs it with sudo
set -u
# The interface holding an IPv4 address and the address with its prefix, as \`ip -o -4 addr show\` lists it.
holder() { ip -o -4 addr show | awk -v a="$1" '{ split($4, p, "/"); if (p[1] == a) { sub(/@.*/, "", $2); print $2, $4; exit } }'; }
case "$#:\${1:-}" in
  1:add)
    ${auto ? `read -r dev _ < <(holder ${own})
    [ -n "\${dev:-}" ] || { echo "pg-vip: no interface holds ${h.name}: set pg_vip_interface" >&2; exit 1; }` : `dev=${quote(iface)}`}
    if [ -z "$(holder ${ip})" ]; then
      ip addr add ${cidr} dev "$dev" || exit 1
      echo "pg-vip: bound ${vip} on $dev"
    fi
    if command -v arping >/dev/null; then arping -U -c 3 -I "$dev" ${ip} >/dev/null || true; fi
    ;;
  1:del)
    read -r dev cidr < <(holder ${ip})
    if [ -n "\${dev:-}" ]; then
      ip addr del "$cidr" dev "$dev" || exit 1
      echo "pg-vip: unbound $cidr from $dev"
    fi
    ;;
  *) echo "usage: $0 add|del" >&2; exit 2 ;;
esac
`;
}

/** Corral's vip-manager unit, in place of Debian's (which passes flags from /etc/default/vip-manager, and flags win over the config). */
export const vipManagerUnit = `# managed by corral (PGSQL)
[Unit]
Description=vip-manager: the L2 VIP of a PostgreSQL cluster, on its Patroni leader
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
ExecStart=${VIP_MANAGER.launcher}
Restart=on-failure
RestartSec=10s

[Install]
WantedBy=multi-user.target
`;

function watchdogMode(mode: string | undefined, crit: boolean): string {
  const off = mode === undefined || mode === 'off';
  return off ? (crit ? 'automatic' : 'off') : mode;
}

export function patroniUnit(dbsu: string): string {
  return `# managed by corral (PGSQL)
[Unit]
Description=Patroni: high-availability PostgreSQL
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
User=${dbsu}
Group=${dbsu}
${dcsClientRecordUnitLine}
ExecStart=/usr/bin/patroni /etc/patroni/patroni.yml
ExecReload=/bin/kill -s HUP $MAINPID
# Stop only Patroni: it stops PostgreSQL itself, cleanly.
KillMode=process
TimeoutSec=30
TimeoutStopSec=120
Restart=no
LimitNOFILE=16777216
OOMScoreAdjust=-1000

[Install]
WantedBy=multi-user.target
`;
}

/** patroni.yml's `etcd3:` section, line by line as the unit's record hashes it: what Patroni reads only at start. */
export function dcsSection(yml: string): string {
  const lines = yml.replace(/\n$/, '').split('\n');
  const start = lines.findIndex((l) => l === 'etcd3:');
  if (start < 0) return '';
  const end = lines.findIndex((l, i) => i > start && /^[^ ]/.test(l));
  return lines.slice(start, end < 0 ? undefined : end).map((l) => l + '\n').join('');
}

/** Debian's postgresql-common creates and starts a `<ver>/main` cluster at install unless told not to. */
export const createclusterConf = '# managed by corral (PGSQL): Patroni creates the cluster\ncreate_main_cluster = false\n';

export function pgbouncerIni(h: HostView): string {
  const listen = h.str('pg_listen');
  const addr = listen === '0.0.0.0' || listen === '*' ? '*' : listen.replace('${ip}', h.name).replace('${lo}', '127.0.0.1');
  const dbsu = h.str('pg_dbsu');
  return `# managed by corral (PGSQL): pgbouncer for ${instanceName(h)}
[users]
%include ${PGBOUNCER_DIR}/useropts.txt

[databases]
%include ${PGBOUNCER_DIR}/database.txt

[pgbouncer]
pool_mode                 = ${h.str('pgbouncer_poolmode')}
listen_addr               = ${addr}
listen_port               = ${h.int('pgbouncer_port')}
auth_type                 = hba
auth_file                 = ${PGBOUNCER_DIR}/userlist.txt
auth_hba_file             = ${PGBOUNCER_DIR}/pgb_hba.conf
admin_users               = ${dbsu}, ${h.str('pg_admin_username')}
stats_users               = ${dbsu}, ${h.str('pg_monitor_username')}
server_reset_query        = DISCARD ALL
unix_socket_dir           = ${h.str('pg_localhost')}
pidfile                   = /var/run/postgresql/pgbouncer.pid
logfile                   = ${h.str('pgbouncer_log_dir')}/pgbouncer.log
max_client_conn           = 20000
default_pool_size         = 50
reserve_pool_size         = 30
reserve_pool_timeout      = 1
server_lifetime           = 600
max_db_connections        = 100
max_user_connections      = 100
ignore_startup_parameters = ${h.param('pgbouncer_ignore_param').join(', ')}
${pgbouncerTls(h.str('pgbouncer_sslmode'))}`;
}

/** Client TLS with the member's certificate, unless pgbouncer_sslmode is disable (Pigsty's default). */
function pgbouncerTls(mode: string): string {
  const lines = [`client_tls_sslmode        = ${mode}`];
  if (mode !== 'disable') lines.push(`client_tls_key_file       = ${PG_TLS.key}`, `client_tls_cert_file      = ${PG_TLS.cert}`, `client_tls_ca_file        = ${PG_TLS.ca}`);
  return lines.join('\n') + '\n';
}

/** pgBackRest's parallel processes for a node of `cpus` CPUs: a quarter of them, 2 to 4; a restore takes them all, at most 8 (Pigsty's rule). */
export function pgbackrestProcesses(cpus: number): { backup: number; restore: number; archive: number } {
  const quarter = Math.min(Math.max(Math.ceil(cpus / 4), 2), 4);
  return { backup: quarter, restore: Math.max(1, Math.min(cpus, 8)), archive: quarter };
}

/**
 * /etc/pgbackrest/pgbackrest.conf, the same on every member but for the process counts: the stanza
 * (the cluster), asynchronous archiving spooled in /pg/spool with at most 4 GiB of WAL queued (past
 * that pgBackRest lets WAL go unarchived rather than fill the disk: a gap until the next backup), zstd, and
 * repo1 from `pgbackrest_repo[pgbackrest_method]`, its keys as `repo1-<key>` but for the secure options
 * (repoSecretsConf, in conf.d). Backups expire after each backup (expire-auto) by the repository's retention keys.
 */
export function pgbackrestConf(h: HostView, cpus: number, repoLines: readonly string[]): string {
  const cluster = h.str('pg_cluster')!;
  const p = pgbackrestProcesses(cpus);
  return `# managed by corral (PGSQL): pgBackRest for ${instanceName(h)}
[${cluster}]
pg1-path=${h.str('pg_data')}
pg1-port=${h.int('pg_port')}
pg1-socket-path=${h.str('pg_localhost')}

[global]
archive-async=y
archive-push-queue-max=4GiB
spool-path=/pg/spool
start-fast=y
expire-auto=y
compress-type=zst
annotation=pg_cluster=${cluster}
log-level-console=info
log-level-file=info
log-path=${h.str('pgbackrest_log_dir')}
${repoLines.join('\n')}
delta=y

[global:backup]
process-max=${p.backup}

[global:restore]
process-max=${p.restore}

[global:archive-get]
process-max=${p.archive}

[global:archive-push]
process-max=${p.archive}
`;
}

/**
 * A member selector, the JMESPath subset Pigsty's services use: `[]` (all members) or
 * `[? <expr> ]` with ||, &&, !, ==, !=, parentheses, `literals`, 'strings' and variable names.
 */
export function selectMembers(selector: string | undefined, members: readonly HostView[]): HostView[] {
  const s = (selector ?? '[]').trim();
  if (s === '[]' || s === '') return [...members];
  const m = /^\[\?(.*)\]$/s.exec(s);
  if (!m) throw new Error(`unsupported member selector ${selector}`);
  const expr = m[1]!;
  return members.filter((h) => truthy(evaluate(expr, h)));
}

const truthy = (v: unknown): boolean => !(v === false || v === null || v === undefined || v === '' || (Array.isArray(v) && !v.length) || (typeof v === 'object' && v !== null && !Object.keys(v).length));

/** A JMESPath literal is JSON; a bare word (`primary`) is the legacy string form. */
function literal(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function evaluate(expr: string, h: HostView): unknown {
  const tokens = expr.match(/\|\||&&|==|!=|!|\(|\)|`[^`]*`|'[^']*'|[A-Za-z_][A-Za-z0-9_]*/g) ?? [];
  let i = 0;
  const value = (): unknown => {
    const t = tokens[i++];
    if (t === undefined) throw new Error(`member selector ends early: ${expr}`);
    if (t === '(') {
      const v = or();
      i++;
      return v;
    }
    if (t === '!') return !truthy(value());
    if (t.startsWith('`')) return literal(t.slice(1, -1).trim());
    if (t.startsWith("'")) return t.slice(1, -1);
    return h.get(t) ?? null;
  };
  const compare = (): unknown => {
    const left = value();
    const op = tokens[i];
    if (op !== '==' && op !== '!=') return left;
    i++;
    const right = value();
    const same = JSON.stringify(left) === JSON.stringify(right);
    return op === '==' ? same : !same;
  };
  const and = (): unknown => {
    let v = compare();
    while (tokens[i] === '&&') {
      i++;
      const r = compare();
      v = truthy(v) ? r : v;
    }
    return v;
  };
  const or = (): unknown => {
    let v = and();
    while (tokens[i] === '||') {
      i++;
      const r = and();
      v = truthy(v) ? v : r;
    }
    return v;
  };
  return or();
}

export interface ServiceContext {
  cluster: string;
  members: readonly HostView[];
  rto: RtoPlan;
  defaultDest: string;
}

function destPort(h: HostView, dest: PgService['dest'], defaultDest: string): number {
  const d = dest === undefined || dest === 'default' ? defaultDest : dest;
  if (typeof d === 'number') return d;
  if (/^\d+$/.test(String(d))) return Number(d);
  return d === 'pgbouncer' ? h.int('pgbouncer_port') : h.int('pg_port');
}

/** The first line of each of a cluster's HAProxy service files, up to the service name. */
export const serviceMarker = (cluster: string): string => haproxyServiceMarker('PGSQL', `${cluster}-`);

/** One HAProxy listener: members picked by `selector`, those picked by `backup` serve only when the others are down. */
export function haproxyService(svc: PgService, ctx: ServiceContext): string {
  const selected = selectMembers(svc.selector, ctx.members);
  const backups = svc.backup ? selectMembers(svc.backup, ctx.members) : [];
  const servers = [...selected, ...backups.filter((b) => !selected.includes(b))];
  const c = ctx.rto.check;
  const options = svc.options ?? `inter ${c.inter} fastinter ${c.fastinter} downinter ${c.downinter} rise ${c.rise} fall ${c.fall} on-marked-down shutdown-sessions slowstart 30s maxconn 3000 maxqueue 128 weight 100`;
  return [
    `${serviceMarker(ctx.cluster)}${svc.name}`,
    `listen ${ctx.cluster}-${svc.name}`,
    `    bind ${svc.ip ?? '*'}:${svc.port}`,
    '    mode tcp',
    `    maxconn ${svc.maxconn ?? 5000}`,
    `    balance ${svc.balance ?? 'roundrobin'}`,
    '    option httpchk',
    '    option http-keep-alive',
    `    http-check send meth OPTIONS uri ${svc.check ?? '/'}`,
    '    http-check expect status 200',
    `    default-server ${options}`,
    ...servers.map(
      (h) => `    server ${instanceName(h)} ${h.name}:${destPort(h, svc.dest, ctx.defaultDest)} check port ${h.int('patroni_port')} weight ${h.int('pg_weight')}${backups.includes(h) ? ' backup' : ''}`,
    ),
    '',
  ].join('\n');
}
