/** PGSQL's exporters as data: what each member gets, what stays secret, what turns off (HAProxy's admin page is NODE's: node/haproxy.test.ts). */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { validateInventory } from '../../src/config/validate.js';
import { ASSUMED_FACTS } from '../../src/engine/facts.js';
import { ignoredNotes } from '../../src/engine/ignored.js';
import type { Desired, Observation } from '../../src/engine/model.js';
import { observeScript } from '../../src/engine/observe.js';
import { ordered, plan } from '../../src/engine/plan.js';
import { renderJson, renderMarkdown, renderText } from '../../src/engine/render.js';
import type { Resource } from '../../src/engine/resources/kind.js';
import { tmpRepo } from '../../test/helpers/tmp.js';
import { certificatesFor } from '../../test/helpers/pki.js';
import { pgsql } from './index.js';
import { pgExporterOff } from './kinds/pg-exporter-off.js';
import { PGBOUNCER_EXPORTER_PROGRAM } from './exporters.js';

const MONITOR_PASSWORD = `Mon:it@r/P%s'"$x\\y`;
const ADMIN_PASSWORD = `Hap'Admin #$1`;

const INVENTORY = (vars = '', hostVars = '', monitor = MONITOR_PASSWORD) => `
all:
  children:
    etcd:
      hosts: { 10.0.0.11: { etcd_seq: 1 } }
      vars: { etcd_cluster: etcd }
    pg-test:
      hosts:
        10.0.0.11: { pg_seq: 1, pg_role: primary }
        10.0.0.12: { pg_seq: 2, pg_role: replica${hostVars} }
      vars:
        pg_cluster: pg-test
        pg_version: 15
        pg_monitor_password: ${JSON.stringify(monitor)}
        haproxy_admin_password: ${JSON.stringify(ADMIN_PASSWORD)}
${vars
  .split('\n')
  .filter(Boolean)
  .map((l) => `        ${l}`)
  .join('\n')}
`;

async function load(vars = '', hostVars = '', monitor?: string) {
  const v = await validateInventory(tmpRepo({ 'pigsty.yml': INVENTORY(vars, hostVars, monitor) }));
  const errors = v.problems.filter((p) => p.severity === 'error');
  const cluster = v.clusters.find((c) => c.module === 'pgsql')!;
  const out = pgsql.desired({ cluster, hosts: v.hosts, facts: () => ASSUMED_FACTS, certificates: await certificatesFor(v), together: () => true });
  return { out, errors, problems: v.problems, ignored: ignoredNotes(cluster) };
}

type Want = { path?: string; name?: string; content?: string; mode?: number; owner?: string; group?: string; secret?: boolean; packages?: string[] };
const on = (out: Awaited<ReturnType<typeof load>>['out'], host: string): Resource<Want>[] => out.resources.get(host) as Resource<Want>[];
const find = (list: Resource<Want>[], kind: string, key: string): Resource<Want> | undefined => list.find((r) => r.kind === kind && (r.want.path ?? r.want.name) === key);
const content = (list: Resource<Want>[], path: string): string => find(list, 'file', path)!.want.content!;

describe('PGSQL exporters on every member, as Pigsty runs them, on Debian’s packages', async () => {
  const { out, errors } = await load();

  it('validates, and installs both exporters with the PGSQL packages', () => {
    expect(errors).toEqual([]);
    for (const host of ['10.0.0.11', '10.0.0.12']) {
      expect(find(on(out, host), 'packages', 'pgsql')!.want.packages).toEqual(expect.arrayContaining(['prometheus-postgres-exporter', 'prometheus-pgbouncer-exporter']));
    }
  });

  it('runs prometheus-postgres-exporter on pg_exporter_port as the monitor user, over the local socket on pg_port, from a secret env file', () => {
    for (const [host, name] of [['10.0.0.11', 'pg-test-1'], ['10.0.0.12', 'pg-test-2']] as const) {
      const list = on(out, host);
      const env = find(list, 'file', '/etc/default/prometheus-postgres-exporter')!.want;
      // Debian's postinst makes the file prometheus:prometheus 0640: it holds the DSN's password.
      expect(env).toMatchObject({ mode: 0o640, owner: 'prometheus', group: 'prometheus', secret: true });
      expect(env.content).toContain(`# managed by corral (PGSQL): prometheus-postgres-exporter for ${name}\n`);
      expect(env.content).toContain('ARGS="--web.listen-address=:9630 --web.telemetry-path=/metrics --auto-discover-databases --exclude-databases=template0,template1,postgres"\n');
      const dsn = /^DATA_SOURCE_NAME="(.*)"$/m.exec(env.content!)![1]!;
      expect(dsn).toMatch(/^postgresql:\/\/dbuser_monitor:[^@]+@:5432\/postgres\?host=\/var\/run\/postgresql&sslmode=disable&connect_timeout=1$/);
      // The password is percent-encoded: nothing in it ends the URL part, the quotes or the env line.
      expect(decodeURIComponent(new URL(dsn.replace(/^postgresql:/, 'http:').replace('@:', '@h:')).password)).toBe(MONITOR_PASSWORD);
      expect(dsn).not.toMatch(/[\s'"$\\]/);
      expect(find(list, 'service', 'prometheus-postgres-exporter')!.want).toEqual({ name: 'prometheus-postgres-exporter', enabled: true, running: true });
      // Debian's package starts the exporter at install with its own defaults: Corral's first load of the file is a restart, and so is each change.
      expect(find(list, 'reload', 'prometheus-postgres-exporter')).toMatchObject({
        want: { action: 'restart', firstTime: 'restart' },
        deps: ['service:prometheus-postgres-exporter', 'file:/etc/default/prometheus-postgres-exporter'],
      });
    }
  });

  it('runs prometheus-pgbouncer-exporter on pgbouncer_exporter_port, logging in to the admin console as the monitor user with a pgpass file', () => {
    const list = on(out, '10.0.0.12');
    expect(content(list, '/etc/prometheus-pgbouncer-exporter.conf')).toBe(
      '# managed by corral (PGSQL): prometheus-pgbouncer-exporter for pg-test-2; the password is in /etc/prometheus-pgbouncer-exporter.pgpass\n' +
        'host = 0.0.0.0\nport = 9631\npgbouncer-host = /var/run/postgresql\npgbouncer-port = 6432\npgbouncer-user = dbuser_monitor\n',
    );
    const pgpass = find(list, 'file', '/etc/prometheus-pgbouncer-exporter.pgpass')!.want;
    // Debian's unit runs the exporter as postgres; libpq ignores a pgpass file others may read.
    expect(pgpass).toMatchObject({ mode: 0o600, owner: 'postgres', group: 'postgres', secret: true });
    expect(pgpass.content!.split('\n')[1]).toBe(`*:6432:pgbouncer:dbuser_monitor:Mon\\:it@r/P%s'"$x\\\\y`);
    expect(content(list, '/etc/systemd/system/prometheus-pgbouncer-exporter.service.d/corral.conf')).toContain(
      `[Service]\nEnvironment=PGPASSFILE=/etc/prometheus-pgbouncer-exporter.pgpass\nExecStart=\nExecStart=/usr/bin/python3 -c "${PGBOUNCER_EXPORTER_PROGRAM}"\nRestart=on-failure\n`,
    );
    // A changed drop-in restarts the service through the engine (daemon-reload first); the config and pgpass file through the reload.
    expect(find(list, 'service', 'prometheus-pgbouncer-exporter')!.deps).toEqual(['packages:pgsql', 'file:/etc/systemd/system/prometheus-pgbouncer-exporter.service.d/corral.conf']);
    expect(find(list, 'reload', 'prometheus-pgbouncer-exporter')!.deps).toEqual(['service:prometheus-pgbouncer-exporter', 'file:/etc/prometheus-pgbouncer-exporter.conf', 'file:/etc/prometheus-pgbouncer-exporter.pgpass']);
  });

  it("starts Debian's exporter reading SHOW STATS as pgbouncer >= 1.8 answers it (no total_requests), and an exporter that has moved on unchanged", () => {
    // Stand-ins for the package's modules, with the 1.7 metric table; main() prints what the collector would read.
    const pkg = (metrics: string): string => {
      const dir = tmpRepo({
        'prometheus_pgbouncer_exporter/__init__.py': '',
        'prometheus_pgbouncer_exporter/collectors.py': `class StatsCollector:\n    metrics = ${metrics}\n`,
        'prometheus_pgbouncer_exporter/cli.py': 'import json\nfrom . import collectors\ndef main():\n    print(json.dumps(collectors.StatsCollector.metrics, sort_keys=True))\n',
      });
      return execFileSync('python3', ['-c', PGBOUNCER_EXPORTER_PROGRAM], { encoding: 'utf8', env: { ...process.env, PYTHONPATH: dir } });
    };
    const v17 = "{'total_requests': ('requests_total', 'SQL requests'), 'total_sent': ('sent_bytes_total', 'sent')}";
    expect(JSON.parse(pkg(v17))).toEqual({ total_query_count: ['requests_total', 'SQL requests'], total_sent: ['sent_bytes_total', 'sent'] });
    expect(JSON.parse(pkg("{'total_query_count': ('queries_total', 'q')}"))).toEqual({ total_query_count: ['queries_total', 'q'] });
    // systemd takes it as one double-quoted argument: no double quote, backslash, $ or % specifier inside.
    expect(PGBOUNCER_EXPORTER_PROGRAM).not.toMatch(/["\\$%]/);
  });

  it('starts the pgbouncer exporter after pgbouncer has its lists and runs (it logs in once, at start)', () => {
    const ids = (ordered(on(out, '10.0.0.12')) as Resource<Want>[]).map((r) => `${r.kind}:${r.want.path ?? r.want.name}`);
    const at = (id: string): number => ids.indexOf(id);
    expect(at('service:prometheus-pgbouncer-exporter')).toBeGreaterThan(at('reload:pgbouncer'));
    expect(at('service:prometheus-pgbouncer-exporter')).toBeGreaterThan(at('file:/etc/pgbouncer/userlist.txt'));
    expect(at('reload:pgbouncer')).toBeGreaterThan(-1);
  });

  it("leaves Patroni's and etcd's own /metrics open: the REST allowlist guards only unsafe endpoints, no client certificate asked of Prometheus", () => {
    const yml = parse(content(on(out, '10.0.0.11'), '/pg/conf/pg-test-1.yml')) as { restapi: Record<string, unknown> };
    expect(yml.restapi.listen).toBe('10.0.0.11:8008');
    // Patroni checks its allowlist on the endpoints that change things (POST, PATCH...), not on GET /metrics.
    expect(yml.restapi.allowlist).toEqual(['10.0.0.11', '10.0.0.12', '10.10.10.10']);
    expect(yml.restapi).not.toHaveProperty('verify_client');
  });

  it('notes nothing for an inventory that keeps Pigsty’s defaults', () => {
    expect(out.notes).toEqual([]);
  });
});

describe('PGSQL exporter settings', () => {
  it("passes Pigsty's settings that Debian's exporter takes: port, path, discovery, databases, DSN params, options, URL", async () => {
    const { out, errors } = await load(
      [
        'pg_exporter_port: 9640',
        'pg_monitor_username: mon',
        'pg_port: 5433',
        'pg_exporter_params: "sslmode=require&application_name=exp"',
        'pg_exporter_connect_timeout: 2500',
        'pg_exporter_auto_discovery: false',
        'pg_exporter_options: "--log.level=warn"',
        'exporter_metrics_path: /prom',
        'pgbouncer_exporter_port: 9641',
        'pgbouncer_port: 6433',
        'pg_default_services: []',
      ].join('\n'),
      ', pg_exporter_url: "postgres://other:pw@10.9.9.9:5432/postgres"',
    );
    expect(errors).toEqual([]);
    const env = content(on(out, '10.0.0.11'), '/etc/default/prometheus-postgres-exporter');
    expect(env).toMatch(/^DATA_SOURCE_NAME="postgresql:\/\/mon:[^@]+@:5433\/postgres\?host=\/var\/run\/postgresql&sslmode=require&application_name=exp&connect_timeout=3"$/m);
    expect(env).toContain('ARGS="--web.listen-address=:9640 --web.telemetry-path=/prom --log.level=warn"\n');
    expect(content(on(out, '10.0.0.12'), '/etc/default/prometheus-postgres-exporter')).toContain('DATA_SOURCE_NAME="postgres://other:pw@10.9.9.9:5432/postgres"\n');
    expect(content(on(out, '10.0.0.11'), '/etc/prometheus-pgbouncer-exporter.conf')).toContain('port = 9641\npgbouncer-host = /var/run/postgresql\npgbouncer-port = 6433\npgbouncer-user = mon\n');
    // Debian's pgbouncer exporter has one path: said once, on the primary.
    expect(out.notes).toEqual([{ host: '10.0.0.11', resource: 'service:prometheus-pgbouncer-exporter', message: "Debian's prometheus-pgbouncer-exporter serves /metrics only, not exporter_metrics_path /prom" }]);
  });

  it('includes and excludes databases only with auto-discovery, as the flags say', async () => {
    const { out } = await load("pg_exporter_include_database: 'app,meta'\npg_exporter_exclude_database: ''");
    expect(content(on(out, '10.0.0.11'), '/etc/default/prometheus-postgres-exporter')).toContain('--auto-discover-databases --include-databases=app,meta"\n');
  });

  it("notes once per cluster the settings of Pigsty's own exporter that Debian's do not read", async () => {
    const { out, ignored } = await load("pg_exporter_config: pg_exporter_full.yml\npg_exporter_cache_ttls: '1,10,60,600'\npgbouncer_exporter_url: 'postgres://mon:x@:6432/pgbouncer'\npgbouncer_exporter_options: '--log.level=info'\npgbackrest_exporter_enabled: true");
    // The settings Debian's exporters never read are the schema's (x-corral): noted once for the cluster, on its first member.
    expect(ignored.map((n) => `${n.host} ${n.resource} ${n.message.split(':')[0]}`)).toEqual([
      '10.0.0.11 pgsql:pg-test pg_exporter_config',
      '10.0.0.11 pgsql:pg-test pg_exporter_cache_ttls',
      '10.0.0.11 pgsql:pg-test pgbouncer_exporter_url',
      '10.0.0.11 pgsql:pg-test pgbouncer_exporter_options',
    ]);
    expect(ignored[0]!.message).toContain("pg_exporter_config: the collector config of Pigsty's own pg_exporter, whose format Debian's prometheus-postgres-exporter does not read");
    // pgbackrest_exporter_enabled is honoured when off: the module says it is not run when the inventory turns it on.
    expect(out.notes.map((n) => `${n.host} ${n.resource}`)).toEqual(['10.0.0.11 pgbackrest-exporter']);
    expect([...ignored, ...out.notes].some((n) => n.blocking)).toBe(false);
    expect(JSON.stringify([...ignored, ...out.notes])).not.toContain('mon:x');
  });

  it("says when Debian's exporter 0.11 could not read the monitor password from its DSN (a blank)", async () => {
    const { out } = await load('', '', 'two words');
    expect(out.notes.map((n) => [n.host, n.resource, n.blocking])).toEqual([['10.0.0.11', 'service:prometheus-postgres-exporter', undefined]]);
    expect(out.notes[0]!.message).toContain('cannot take in a DSN ("malformed dsn")');
  });

  it('blocks the plan for a value its file cannot hold, naming the setting and the file', async () => {
    const { out } = await load('', ', pg_monitor_password: "line\\nbreak"');
    expect(out.notes.filter((n) => n.blocking).map((n) => [n.host, n.resource, n.message])).toEqual([
      ['10.0.0.12', 'file:/etc/prometheus-pgbouncer-exporter.pgpass', 'pg_monitor_password holds a control character (a newline?), which /etc/prometheus-pgbouncer-exporter.pgpass cannot hold; choose a value without one'],
    ]);
  });
});

describe('an exporter turned off', () => {
  it('is stopped and disabled, its package and files left alone; the pgbouncer exporter goes with pgbouncer', async () => {
    const { out } = await load('pg_exporter_enabled: false', ', pgbouncer_enabled: false');
    const primary = on(out, '10.0.0.11');
    expect(find(primary, 'pg-exporter-off', 'prometheus-postgres-exporter')).toBeDefined();
    expect(find(primary, 'file', '/etc/default/prometheus-postgres-exporter')).toBeUndefined();
    expect(find(primary, 'service', 'prometheus-postgres-exporter')).toBeUndefined();
    expect(find(primary, 'packages', 'pgsql')!.want.packages).not.toContain('prometheus-postgres-exporter');
    expect(find(primary, 'service', 'prometheus-pgbouncer-exporter')).toBeDefined();
    const replica = on(out, '10.0.0.12');
    expect(find(replica, 'pg-exporter-off', 'prometheus-pgbouncer-exporter')).toBeDefined();
    expect(find(replica, 'file', '/etc/prometheus-pgbouncer-exporter.conf')).toBeUndefined();
    expect(find(replica, 'packages', 'pgsql')!.want.packages).not.toContain('prometheus-pgbouncer-exporter');
  });

  it('pg-exporter-off: a unit that is not there is off; a running one is stopped and disabled', () => {
    const w = { name: 'prometheus-postgres-exporter' };
    const missing = pgExporterOff.parse('LoadState=not-found\nActiveState=inactive\nUnitFileState=\n', w);
    expect(pgExporterOff.diff(w, missing as never)).toEqual([]);
    const running = pgExporterOff.parse('LoadState=loaded\nActiveState=active\nUnitFileState=enabled\n', w) as never;
    expect(pgExporterOff.diff(w, running)).toEqual([{ field: 'enabled', from: true, to: false }, { field: 'running', from: true, to: false }]);
    expect(pgExporterOff.apply(w, running)).toBe('systemctl disable --now prometheus-postgres-exporter.service');
    expect(pgExporterOff.effects!(w, running)).toEqual({ restarts: true });
    expect(pgExporterOff.diff(w, pgExporterOff.parse('LoadState=loaded\nActiveState=failed\nUnitFileState=disabled\n', w) as never)).toEqual([]);
  });
});

describe('PGSQL exporter secrets', async () => {
  const { out } = await load();
  const d: Desired = { hosts: [...out.resources].map(([host, resources]) => ({ host, target: { host } as never, resources })), edges: out.edges };
  const p = plan(d, d.hosts.map((h): Observation => ({ host: h.host, ok: true, facts: ASSUMED_FACTS, states: {}, durationMs: 1 })), 'r1');
  // The passwords as the files hold them: plain, percent-encoded (the DSN), pgpass-escaped, HAProxy-quoted.
  const pct = (x: string): string => encodeURIComponent(x).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  const forms = (x: string): string[] => [x, pct(x), x.replace(/[\\:]/g, '\\$&'), x.replace(/'/g, `'\\''`)];

  it('puts the monitor password in secret files only, and no HAProxy file (haproxy.cfg is NODE’s)', () => {
    const carriers: string[] = [];
    for (const h of d.hosts) {
      // pg-role keeps the plain password to check a verifier on Corral's side; its scripts never carry it (below).
      for (const r of (h.resources as Resource<Want>[]).filter((x) => x.kind !== 'pg-role')) {
        const text = JSON.stringify(r.want);
        if (![MONITOR_PASSWORD, ADMIN_PASSWORD].some((x) => forms(x).some((f) => text.includes(JSON.stringify(f).slice(1, -1))))) continue;
        expect(r.want, `${h.host} ${r.kind}`).toMatchObject({ secret: true });
        carriers.push(`${h.host} ${r.want.path}`);
      }
    }
    expect(carriers.sort()).toEqual(
      ['10.0.0.11', '10.0.0.12'].flatMap((host) => ['/etc/default/prometheus-postgres-exporter', '/etc/prometheus-pgbouncer-exporter.pgpass'].map((path) => `${host} ${path}`)).sort(),
    );
  });

  it('never shows them in a plan (text, JSON, Markdown), a probe, or a script but the secret files’ writes', () => {
    expect(p.plan.changes.length).toBeGreaterThan(0);
    const shown = [renderText(p.plan), renderJson(p.plan), renderMarkdown(p.plan)];
    for (const text of shown) for (const secret of [MONITOR_PASSWORD, ADMIN_PASSWORD]) for (const f of forms(secret)) expect(text).not.toContain(f);
    const secretFiles = new Set(d.hosts.flatMap((h) => (h.resources as Resource<Want>[]).filter((r) => r.kind === 'file' && r.want.secret).map((r) => `${h.host}|file:${r.want.path}`)));
    for (const [id, script] of p.scripts) {
      if (secretFiles.has(id)) continue;
      for (const secret of [MONITOR_PASSWORD, ADMIN_PASSWORD]) for (const f of [...forms(secret), Buffer.from(secret).toString('base64').slice(0, 12)]) expect(script, id).not.toContain(f);
    }
    for (const h of d.hosts) for (const secret of [MONITOR_PASSWORD, ADMIN_PASSWORD]) expect(observeScript(h.resources, 'n0nce')).not.toContain(secret);
  });
});

describe('port clashes of the exporters', () => {
  it('counts the pgbouncer exporter only beside a pgbouncer', async () => {
    const clash = (await load('pgbouncer_exporter_port: 9630')).problems.filter((p) => p.code === 'host/port-clash');
    expect(clash.map((p) => p.message)).toContain('port 9630 on 10.0.0.11 is taken by both pg_exporter_port and pgbouncer_exporter_port');
    expect((await load('pgbouncer_exporter_port: 9630\npgbouncer_enabled: false')).problems.filter((p) => p.code === 'host/port-clash')).toEqual([]);
    const haproxy = (await load('pg_exporter_port: 9101')).problems.filter((p) => p.code === 'host/port-clash').map((p) => p.message);
    expect(haproxy).toContain('port 9101 on 10.0.0.11 is taken by both haproxy_exporter_port and pg_exporter_port');
  });
});
