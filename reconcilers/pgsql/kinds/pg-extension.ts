/**
 * One extension in one database (pg_databases[].extensions; pg_default_extensions in template1 and
 * postgres), created on the current primary only where the node has its control file. The probe
 * looks for `<name>.control` on every member: when it is not there and no package Corral installs
 * in this run is to bring it, no script creates it, and the note blocks the plan for an extension a
 * database asks for (pg_databases); one of pg_default_extensions is only noted (Pigsty's list has
 * pg_repack, which Debian's postgresql package does not bring). A database that goes away takes its extensions with it.
 */
import { refTo, type FieldChange, type Kind, type Ref, type Unsupported } from '../../../src/engine/resources/kind.js';
import { sh } from '../../../src/engine/shell.js';
import { applySql, connectTo, ident, literal, probeSql, primaryRows, type PgConn } from './pg-psql.js';

export interface PgExtensionWant {
  conn: PgConn;
  database: string;
  name: string;
  schema?: string;
  version?: string;
  state: 'create' | 'absent';
  /** Where the server's major looks for control files: /usr/share/postgresql/<pg_version>/extension. */
  controlDir: string;
  /** The package Corral installs that is expected to bring the control file, while it is not installed yet. */
  from?: string;
  /** Asked for by a database (blocks the plan when missing); pg_default_extensions are only noted. */
  required: boolean;
}

export type PgExtensionHave = { pg: 'replica' } | { pg: 'primary'; installed: { version: string } | null };

const extensionSql = (w: PgExtensionWant): string => `SELECT EXISTS (SELECT FROM pg_database WHERE datname = ${literal(w.database)} AND datallowconn) AS corral_inside \\gset
\\if :corral_inside
${connectTo(w.database)}
SELECT coalesce((SELECT json_build_object('version', extversion) FROM pg_extension WHERE extname = ${literal(w.name)})::text, 'null');
\\endif`;

/** `control=yes|no`, `package=yes|no|none`, then the catalog. */
const probe = (w: PgExtensionWant): string =>
  [
    `if [ -f ${sh`${`${w.controlDir}/${w.name}.control`}`} ]; then echo control=yes; else echo control=no; fi`,
    w.from ? `if dpkg-query -W -f='\${Status}\\n' ${sh`${w.from}`} 2>/dev/null | grep -q ' installed$' || rpm -q ${sh`${w.from}`} >/dev/null 2>&1; then echo package=yes; else echo package=no; fi` : 'echo package=none',
    probeSql(w.conn, extensionSql(w)),
  ].join('\n');

const line = (out: string, key: string): string | undefined => out.split('\n').find((l) => l.startsWith(`${key}=`))?.slice(key.length + 1).trim();

/** Why the extension cannot be created on this node, if it cannot. */
function missing(w: PgExtensionWant, out: string): string | undefined {
  if (w.state !== 'create' || line(out, 'control') !== 'no') return undefined;
  const pkg = line(out, 'package');
  if (pkg === 'no') return undefined; // its package is installed by this run, before the extension is created
  const why = pkg === 'yes' ? `${w.from} is installed but has no ${w.name}.control for this major` : `no package Corral installs brings it`;
  return `extension ${w.name} of database ${w.database}: ${w.controlDir}/${w.name}.control is not on this node and ${why}; add its package to pg_extensions (postgresql-<pg_version>-<name>) or take the extension out`;
}

export const pgExtensionId = (database: string, name: string): Ref<PgExtensionHave> => refTo(pgExtension, `${database}/${name}`);

const createSql = (w: PgExtensionWant): string =>
  `CREATE EXTENSION IF NOT EXISTS ${ident(w.name)}${w.schema ? ` WITH SCHEMA ${ident(w.schema)}` : ''}${w.version ? ` VERSION ${literal(w.version)}` : ''} CASCADE;`;

export const pgExtension: Kind<PgExtensionWant, PgExtensionHave, 'pg-extension'> = {
  name: 'pg-extension',
  id: (w) => pgExtensionId(w.database, w.name),
  probe,
  parse: (out, w): PgExtensionHave | null | Unsupported => {
    const why = missing(w, out);
    if (why) return w.required ? { unsupported: why, blocking: true } : { unsupported: `${why} (of pg_default_extensions: not created)` };
    const p = primaryRows(out, `extension ${w.name} of database ${w.database}`);
    if (!p || !('rows' in p)) return p;
    return { pg: 'primary', installed: p.rows[0] ? (JSON.parse(p.rows[0]) as { version: string } | null) : null };
  },
  diff: (w, h) => {
    if (h?.pg === 'replica') return [];
    const installed = h?.installed ?? null;
    if (w.state === 'absent') return installed ? [{ field: 'extension', from: w.name, to: null }] : [];
    if (!installed) return [{ field: 'extension', from: null, to: w.version ? `${w.name} ${w.version}` : w.name }];
    const out: FieldChange[] = [];
    if (w.version && installed.version !== w.version) out.push({ field: 'version', from: installed.version, to: w.version });
    return out;
  },
  apply: (w, h) => {
    const inside = [connectTo(w.database)];
    if (w.state === 'absent') return applySql(w.conn, [...inside, `DROP EXTENSION IF EXISTS ${ident(w.name)};`].join('\n'));
    const installed = h?.pg === 'primary' ? h.installed : null;
    const update = installed && w.version && installed.version !== w.version ? [`ALTER EXTENSION ${ident(w.name)} UPDATE TO ${literal(w.version)};`] : [];
    return applySql(w.conn, [...inside, createSql(w), ...update].join('\n'));
  },
  effects: (w, h) => ({ destructive: w.state === 'absent' && h?.pg === 'primary' && h.installed !== null }),
};
