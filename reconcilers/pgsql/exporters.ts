/**
 * A PGSQL member's exporters, where Pigsty runs them and as whom, on Debian's packages:
 * - `prometheus-postgres-exporter` 0.11 (prometheus-community's postgres_exporter) on pg_exporter_port,
 *   connecting as pg_monitor_username over the pg_localhost socket on pg_port. Debian's unit reads
 *   /etc/default/prometheus-postgres-exporter (DATA_SOURCE_NAME, ARGS), which its postinst makes
 *   prometheus:prometheus 0640 since it holds the password.
 * - `prometheus-pgbouncer-exporter` 1.7 (Christopher Baines' Python exporter) on pgbouncer_exporter_port,
 *   logging in to pgbouncer's admin console as pg_monitor_username. Debian's unit (User=postgres,
 *   BindsTo=pgbouncer) reads /etc/prometheus-pgbouncer-exporter.conf, which has no password setting: libpq
 *   reads it from the pgpass file a drop-in names. The drop-in also starts it reading SHOW STATS as
 *   pgbouncer 1.8 and later answer it (bookworm's 1.7 fails every scrape on pgbouncer 1.18).
 * Pigsty's own pg_exporter serves both from one binary with its collector config (pg_exporter.yml);
 * Debian's exporters have their own flags and metrics, so what maps is passed on and the rest noted.
 */
import type { HostView } from '../../src/config/hosts.js';
import type { ResourceList } from '../../src/engine/reconciler.js';
import type { GenericKindName } from '../../src/engine/resources/index.js';
import type { Note } from '../../src/engine/model.js';
import { file } from '../../src/engine/resources/file.js';
import type { Ref } from '../../src/engine/resources/kind.js';
import { readHash, reload } from '../../src/engine/resources/reload.js';
import { service } from '../../src/engine/resources/service.js';
import type { PGSQL_KINDS } from './kinds/index.js';
import { pgExporterOff } from './kinds/pg-exporter-off.js';
import { instanceName } from './templates.js';

export const PG_EXPORTER = { unit: 'prometheus-postgres-exporter', env: '/etc/default/prometheus-postgres-exporter' };
export const PGBOUNCER_EXPORTER = {
  unit: 'prometheus-pgbouncer-exporter',
  conf: '/etc/prometheus-pgbouncer-exporter.conf',
  pgpass: '/etc/prometheus-pgbouncer-exporter.pgpass',
  dropIn: '/etc/systemd/system/prometheus-pgbouncer-exporter.service.d/corral.conf',
  /** Debian's unit runs the exporter as postgres, whatever pg_dbsu is. */
  user: 'postgres',
};

/** The builder of a PGSQL member's resources. */
export type Resources = ResourceList<GenericKindName | (typeof PGSQL_KINDS)[number]['name']>;

/** What no line of an env or pgpass file can hold as written. */
const CONTROL = /\p{Cc}/u;

export const pgExporterOn = (h: HostView): boolean => h.param('pg_exporter_enabled');
export const pgbouncerExporterOn = (h: HostView): boolean => h.param('pgbouncer_exporter_enabled') && h.param('pgbouncer_enabled');

/** The Debian packages of the exporters this member runs. */
export const exporterPackages = (h: HostView): string[] => [...(pgExporterOn(h) ? [PG_EXPORTER.unit] : []), ...(pgbouncerExporterOn(h) ? [PGBOUNCER_EXPORTER.unit] : [])];

/** A double-quoted value of a systemd EnvironmentFile (and of the shell that sources it under sysvinit). */
const envValue = (s: string): string => `"${s.replace(/[\\"$`]/g, '\\$&')}"`;

/** Percent-encoding for a URL part: everything but RFC 3986's unreserved characters (and those in `keep`). */
const pct = (s: string, keep = ''): string => [...s].map((c) => (/[A-Za-z0-9._~-]/.test(c) || keep.includes(c) ? c : encodeURIComponent(c).replace(/[!'()*]/g, (x) => `%${x.charCodeAt(0).toString(16).toUpperCase()}`))).join('');

/**
 * Pigsty's DSN, `postgres://<monitor>:<password>@:<pg_port>/postgres?host=<pg_localhost>&<pg_exporter_params>`, with
 * pg_exporter_connect_timeout (ms) as lib/pq's connect_timeout (whole seconds, at least 1), unless the params set one.
 */
export function pgExporterDsn(h: HostView): string {
  const url = h.str('pg_exporter_url');
  if (url) return url;
  const params = h.str('pg_exporter_params');
  const query = [`host=${pct(h.str('pg_localhost'), '/')}`, ...(params ? [params] : [])];
  const timeout = h.int('pg_exporter_connect_timeout');
  if (timeout > 0 && !/(^|&)connect_timeout=/.test(params)) query.push(`connect_timeout=${Math.max(1, Math.ceil(timeout / 1000))}`);
  return `postgresql://${pct(h.str('pg_monitor_username'))}:${pct(h.str('pg_monitor_password'))}@:${h.int('pg_port')}/postgres?${query.join('&')}`;
}

/** /etc/default/prometheus-postgres-exporter: the DSN (a secret) and the flags that carry Pigsty's settings. */
export function pgExporterEnv(h: HostView): string {
  const args = [`--web.listen-address=:${h.int('pg_exporter_port')}`, `--web.telemetry-path=${h.str('exporter_metrics_path')}`];
  if (h.param('pg_exporter_auto_discovery')) {
    args.push('--auto-discover-databases');
    const exclude = h.str('pg_exporter_exclude_database');
    const include = h.str('pg_exporter_include_database');
    if (exclude) args.push(`--exclude-databases=${exclude}`);
    if (include) args.push(`--include-databases=${include}`);
  }
  const options = h.str('pg_exporter_options');
  if (options) args.push(options);
  return [`# managed by corral (PGSQL): prometheus-postgres-exporter for ${instanceName(h)}`, `DATA_SOURCE_NAME=${envValue(pgExporterDsn(h))}`, `ARGS=${envValue(args.join(' '))}`, ''].join('\n');
}

/** /etc/prometheus-pgbouncer-exporter.conf, in the `key = value` form Debian's example has (ConfigArgParse). */
export function pgbouncerExporterConf(h: HostView): string {
  return [
    `# managed by corral (PGSQL): prometheus-pgbouncer-exporter for ${instanceName(h)}; the password is in ${PGBOUNCER_EXPORTER.pgpass}`,
    'host = 0.0.0.0',
    `port = ${h.int('pgbouncer_exporter_port')}`,
    `pgbouncer-host = ${h.str('pg_localhost')}`,
    `pgbouncer-port = ${h.int('pgbouncer_port')}`,
    `pgbouncer-user = ${h.str('pg_monitor_username')}`,
    '',
  ].join('\n');
}

const pgpassField = (s: string): string => s.replace(/[\\:]/g, '\\$&');

/** The pgpass line libpq finds for the exporter's socket connection to pgbouncer's admin console. */
export function pgbouncerExporterPgpass(h: HostView): string {
  const fields = ['*', String(h.int('pgbouncer_port')), 'pgbouncer', h.str('pg_monitor_username'), h.str('pg_monitor_password')];
  return `# managed by corral (PGSQL): ${PGBOUNCER_EXPORTER.unit} logs in to pgbouncer with this\n${fields.map(pgpassField).join(':')}\n`;
}

/**
 * Debian's exporter 1.7 reads SHOW STATS's `total_requests`, which pgbouncer 1.8 split into
 * `total_xact_count` and `total_query_count` (bookworm has 1.18): every scrape fails on a KeyError. It
 * is started with that one column read from `total_query_count` instead, under its own metric name
 * (pgbouncer_requests_total); an exporter that no longer reads `total_requests` is started unchanged.
 */
export const PGBOUNCER_EXPORTER_PROGRAM =
  "from prometheus_pgbouncer_exporter import cli, collectors; m = collectors.StatsCollector.metrics; m.update(total_query_count=m.pop('total_requests')) if 'total_requests' in m else None; cli.main()";

/** The drop-in: libpq's pgpass file, the exporter started as above, and again if it starts before pgbouncer takes logins. */
export const pgbouncerExporterDropIn = [
  '# managed by corral (PGSQL): the monitor password comes from a pgpass file only the exporter user reads;',
  "# SHOW STATS's total_requests is read from total_query_count (pgbouncer >= 1.8)",
  '[Service]',
  `Environment=PGPASSFILE=${PGBOUNCER_EXPORTER.pgpass}`,
  'ExecStart=',
  `ExecStart=/usr/bin/python3 -c "${PGBOUNCER_EXPORTER_PROGRAM}"`,
  'Restart=on-failure',
  'RestartSec=5s',
  '',
].join('\n');

/**
 * One exporter on: its files, its service enabled and running, and a restart when the files change (Debian's
 * package starts it at install with its own defaults, so Corral's first load of them is a restart too).
 */
function exporterOn(r: Resources, unit: string, files: { path: string; content: string; mode: number; owner?: string; secret?: boolean }[], pkg: Ref, unitDeps: Ref[] = []): void {
  const written = files.map((f) => r.add(file, { ...f, ...(f.owner ? { group: f.owner } : {}) }, [pkg]));
  const svc = r.add(service, { name: unit, enabled: true, running: true }, [pkg, ...unitDeps]);
  r.add(reload, { name: unit, sha256: readHash(files.map((f) => f.content)), action: 'restart', firstTime: 'restart' }, [svc, ...written]);
}

/**
 * The member's exporters, each on or off by its `*_exporter_enabled` (the pgbouncer exporter also needs
 * pgbouncer_enabled). One turned off is stopped and disabled; its package and files stay.
 * Added after pgbouncer's resources, so the pgbouncer exporter starts once pgbouncer takes logins.
 */
export function exporterResources(r: Resources, h: HostView, pkg: Ref): void {
  if (pgExporterOn(h)) exporterOn(r, PG_EXPORTER.unit, [{ path: PG_EXPORTER.env, content: pgExporterEnv(h), mode: 0o640, owner: 'prometheus', secret: true }], pkg);
  else r.add(pgExporterOff, { name: PG_EXPORTER.unit });

  if (pgbouncerExporterOn(h)) {
    // A changed drop-in is loaded by the service's own restart (daemon-reload first), not by the reload below.
    const dropIn = r.add(file, { path: PGBOUNCER_EXPORTER.dropIn, content: pgbouncerExporterDropIn, mode: 0o644 }, [pkg]);
    const files = [
      { path: PGBOUNCER_EXPORTER.conf, content: pgbouncerExporterConf(h), mode: 0o644 },
      { path: PGBOUNCER_EXPORTER.pgpass, content: pgbouncerExporterPgpass(h), mode: 0o600, owner: PGBOUNCER_EXPORTER.user, secret: true },
    ];
    exporterOn(r, PGBOUNCER_EXPORTER.unit, files, pkg, [dropIn]);
  } else r.add(pgExporterOff, { name: PGBOUNCER_EXPORTER.unit });
}

/** Settings of this member that the files Corral writes them to cannot hold (a newline in a password, say): they block the cluster's plan. */
export function unwritable(h: HostView): Note[] {
  const values: [string, string, string][] = [];
  if (pgExporterOn(h)) {
    for (const p of ['pg_exporter_url', 'pg_exporter_params', 'pg_exporter_options', 'pg_exporter_exclude_database', 'pg_exporter_include_database', 'exporter_metrics_path'] as const) values.push([p, h.str(p), PG_EXPORTER.env]);
  }
  if (pgbouncerExporterOn(h)) values.push(['pg_monitor_password', h.str('pg_monitor_password'), PGBOUNCER_EXPORTER.pgpass], ['pg_localhost', h.str('pg_localhost'), PGBOUNCER_EXPORTER.conf]);
  return values
    .filter(([, v]) => CONTROL.test(v))
    .map(([param, , path]) => ({ host: h.name, resource: file.id({ path, content: '', mode: 0 }), message: `${param} holds a control character (a newline?), which ${path} cannot hold; choose a value without one`, blocking: true }));
}

/** Once per cluster, on its primary: values of Pigsty's exporter settings that Debian's exporters cannot take (the settings they never read are the schema's x-corral). */
export function exporterNotes(h: HostView): Note[] {
  const out: Note[] = [];
  const note = (unit: string, message: string): number => out.push({ host: h.name, resource: service.id({ name: unit, enabled: true, running: true }), message });
  if (pgExporterOn(h)) {
    // Its collector turns the DSN into key=value pairs it then splits at every blank, quoted or not.
    if (!h.str('pg_exporter_url') && h.str('pg_monitor_password').includes(' ')) {
      note(PG_EXPORTER.unit, `pg_monitor_password holds a blank, which Debian's prometheus-postgres-exporter 0.11 cannot take in a DSN ("malformed dsn"): it runs without its pg_* metrics; choose a monitor password without blanks`);
    }
  }
  if (pgbouncerExporterOn(h)) {
    if (h.str('exporter_metrics_path') !== '/metrics') note(PGBOUNCER_EXPORTER.unit, `Debian's prometheus-pgbouncer-exporter serves /metrics only, not exporter_metrics_path ${h.str('exporter_metrics_path')}`);
  }
  if (h.param('pgbackrest_exporter_enabled') && h.has('pgbackrest_exporter_enabled')) {
    out.push({ host: h.name, resource: 'pgbackrest-exporter', message: 'pgbackrest_exporter is not run: Debian 12 has no package of it' });
  }
  return out;
}
