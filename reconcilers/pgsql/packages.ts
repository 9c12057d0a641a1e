/**
 * pg_packages and pg_extensions on Debian: Pigsty's names are its package aliases (pgsql-main,
 * pgsql-common, postgis, pg_cron...) or package names with `${pg_version}` / `$v` in them. Corral maps
 * the aliases it knows to Debian's (PGDG's) names; a name it cannot map is left out and noted.
 * Which extension a package brings is known for PostgreSQL's own (contrib, in postgresql-<v>) and
 * for the packages named after their extension (postgresql-<v>-cron brings pg_cron).
 */
import type { HostView } from '../../src/config/hosts.js';
import { packageNames } from '../node/index.js';

/** Pigsty's kernel and tool aliases, as Corral installs them: PostgreSQL's server and client; the tools Corral runs are its own list. */
const KERNEL = ['postgresql-$v', 'postgresql-client-$v'];
const ALIASES: Record<string, string[]> = {
  postgresql: ['postgresql-$v'],
  pgsql: KERNEL,
  'pgsql-main': KERNEL,
  'pgsql-core': KERNEL,
  'pgsql-mini': KERNEL,
  'pgsql-server': ['postgresql-$v'],
  'pgsql-client': ['postgresql-client-$v'],
  'pgsql-devel': ['postgresql-server-dev-$v'],
  // Patroni, pgbouncer, pgBackRest and the exporters are installed by Corral itself (Debian's exporters, no vip-manager).
  'pgsql-common': [],
  patroni: ['patroni', 'python3-etcd'],
  pgbouncer: ['pgbouncer'],
  pgbackrest: ['pgbackrest'],
  pgbadger: ['pgbadger'],
};

/** Pigsty's extension aliases whose Debian package is not postgresql-<v>-<alias>: alias → package suffix. */
const EXTENSION_PACKAGES: Record<string, string> = {
  pg_cron: 'cron',
  pg_repack: 'repack',
  postgis: 'postgis-3',
  pgvector: 'pgvector',
  vector: 'pgvector',
  timescaledb: 'timescaledb',
  pg_partman: 'partman',
  hypopg: 'hypopg',
  orafce: 'orafce',
  pglogical: 'pglogical',
  pgrouting: 'pgrouting',
  pgtap: 'pgtap',
  pg_squeeze: 'squeeze',
  pg_hint_plan: 'pg-hint-plan',
  pg_wait_sampling: 'pg-wait-sampling',
  pg_qualstats: 'pg-qualstats',
  pg_stat_kcache: 'pg-stat-kcache',
  pgaudit: 'pgaudit',
};

/** Procedural languages: Debian's packages put the major last (postgresql-plpython3-15). */
const PL_PACKAGES: Record<string, string> = { plperl: 'plperl', plperlu: 'plperl', plpython3u: 'plpython3', pltcl: 'pltcl', pltclu: 'pltcl' };

/** Extensions whose control files come with postgresql-<v> itself (contrib and PL/pgSQL). */
export const CONTRIB = new Set([
  'adminpack', 'amcheck', 'autoinc', 'bloom', 'btree_gin', 'btree_gist', 'citext', 'cube', 'dblink', 'dict_int', 'dict_xsyn', 'earthdistance',
  'file_fdw', 'fuzzystrmatch', 'hstore', 'insert_username', 'intagg', 'intarray', 'isn', 'lo', 'ltree', 'moddatetime', 'old_snapshot', 'pageinspect',
  'pg_buffercache', 'pg_freespacemap', 'pg_prewarm', 'pg_stat_statements', 'pg_surgery', 'pg_trgm', 'pg_visibility', 'pg_walinspect', 'pgcrypto',
  'pgrowlocks', 'pgstattuple', 'plpgsql', 'postgres_fdw', 'refint', 'seg', 'sslinfo', 'tablefunc', 'tcn', 'tsm_system_rows', 'tsm_system_time',
  'unaccent', 'uuid-ossp', 'xml2',
]);

const versioned = (name: string, version: string): string => name.replace(/\$\{pg_version\}|\$v\b/g, version);

/** A Debian package name: what apt-get takes as it is. */
const DEBIAN_NAME = /^[a-z0-9][a-z0-9+.-]+$/;

/** Debian packages of one Pigsty name, or undefined when Corral cannot map it. */
function debianPackages(name: string, version: string): string[] | undefined {
  const alias = ALIASES[name];
  if (alias) return alias.map((p) => versioned(p, version));
  const suffix = EXTENSION_PACKAGES[name];
  if (suffix) return [`postgresql-${version}-${suffix}`];
  const raw = versioned(name, version);
  // postgresql-15-hypopg, postgresql-${pg_version}-cron, postgresql-plpython3-15: Debian's own names.
  if (raw.startsWith('postgresql') && DEBIAN_NAME.test(raw)) return [raw];
  return undefined;
}

/** The Debian packages pg_packages then pg_extensions name, and the names Corral could not map (Jinja expressions among them). */
export function pgPackages(h: HostView): { packages: string[]; unmapped: string[] } {
  const version = h.str('pg_version');
  const packages: string[] = [];
  const unmapped: string[] = [];
  for (const param of ['pg_packages', 'pg_extensions'] as const) {
    const list: unknown = h.param(param);
    const entries = Array.isArray(list) ? list.map(String) : typeof list === 'string' ? [list] : [];
    unmapped.push(...entries.filter((e) => e.includes('{{')));
    for (const name of packageNames(entries)) {
      const mapped = debianPackages(name, version);
      if (mapped) packages.push(...mapped);
      else unmapped.push(name);
    }
  }
  return { packages: [...new Set(packages)], unmapped: [...new Set(unmapped)] };
}

/** The package among `packages` expected to bring extension `name`'s control file for PostgreSQL `version`, if one is. */
export function providerOf(name: string, version: string, packages: readonly string[]): string | undefined {
  if (CONTRIB.has(name)) return `postgresql-${version}`;
  const pl = PL_PACKAGES[name];
  if (pl) return packages.find((p) => p === `postgresql-${pl}-${version}`);
  const candidates = [EXTENSION_PACKAGES[name], name, name.replace(/_/g, '-'), name.replace(/^pg_/, ''), name.replace(/^pg_/, '').replace(/_/g, '-')];
  return candidates.filter((c): c is string => c !== undefined).map((c) => `postgresql-${version}-${c}`).find((p) => packages.includes(p));
}
