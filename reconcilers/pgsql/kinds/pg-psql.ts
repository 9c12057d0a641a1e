/**
 * How the PostgreSQL catalog kinds talk to the server: one psql per probe or change, as the OS
 * superuser over the unix socket. SQL travels base64-encoded inside the script (which itself goes
 * over SSH stdin), so no statement is ever on a command line; `-q` keeps psql from echoing it.
 */
import { sh } from '../../../src/engine/shell.js';
import type { FieldChange, Unsupported } from '../../../src/engine/resources/kind.js';

export interface PgConn {
  /** The OS user that owns the server (pg_dbsu). */
  dbsu: string;
  /** The unix socket directory (pg_localhost). */
  socket: string;
  port: number;
}

/** The psql command line: no statement in it, only where to connect. */
export const psql = (c: PgConn): string => sh`runuser -u ${c.dbsu} -- psql -h ${c.socket} -p ${c.port} -d postgres -XAtq -v ON_ERROR_STOP=1`;

/** Shell that feeds SQL (psql meta-commands allowed) to psql on stdin. */
const feed = (c: PgConn, sql: string): string => `printf '%s' ${Buffer.from(sql, 'utf8').toString('base64')} | base64 -d | ${psql(c)}`;

/** Where the node stands: `down` (no answer), `replica` (in recovery), `primary`, or `failed` (the probe's query failed). */
export type PgState = 'down' | 'replica' | 'primary' | 'failed';

/**
 * A probe: prints `pg=<state>`, then what the SQL prints. Only a primary's answer is read (the
 * kinds count a replica as in sync), so after a failover the new primary takes over by itself.
 * psql exits 3 when a statement failed; any other failure (2: no connection; no psql or no dbsu yet,
 * on a bare node) means no server to read, so the objects are planned to be created once it runs.
 */
export const probeSql = (c: PgConn, sql: string): string =>
  [
    `out=$(${feed(c, `SELECT CASE WHEN pg_is_in_recovery() THEN 'pg=replica' ELSE 'pg=primary' END;\n${sql}\n`)}) && rc=0 || rc=$?`,
    `case $rc in 0) printf '%s\\n' "$out" ;; 3) echo pg=failed ;; *) echo pg=down ;; esac`,
  ].join('\n');

/** The state line of a probe's output, and the lines after it. */
export function splitProbe(out: string): { state: PgState; rest: string[] } {
  const lines = out.split('\n').map((l) => l.trim());
  const i = lines.findIndex((l) => /^pg=(down|replica|primary|failed)$/.test(l));
  if (i < 0) return { state: 'down', rest: [] };
  return { state: lines[i]!.slice(3) as PgState, rest: lines.slice(i + 1).filter(Boolean) };
}

/**
 * A catalog probe's rows as the primary printed them; on a replica, a failed query or a server that is
 * down, what the resource's state is instead (`what` names the object for the failure).
 */
export function primaryRows(out: string, what: string): { rows: string[] } | { pg: 'replica' } | Unsupported | null {
  const { state, rest } = splitProbe(out);
  if (state === 'replica') return { pg: 'replica' };
  if (state === 'failed') return { unsupported: `${what}: the catalog query failed on the primary` };
  if (state === 'down') return null;
  return { rows: rest };
}

/** A change: one psql session that does nothing on a replica (the primary's change reaches it by replication). */
export const applySql = (c: PgConn, sql: string): string =>
  feed(c, ['SELECT pg_is_in_recovery() AS corral_replica \\gset', '\\if :corral_replica', "\\echo 'not the primary: nothing to do here'", '\\quit', '\\endif', sql, ''].join('\n'));

export const ident = (name: string): string => `"${name.replace(/"/g, '""')}"`;
export const literal = (value: string): string => `'${value.replace(/'/g, "''")}'`;
/** psql's \connect takes a quoted name like an identifier. */
export const connectTo = (db: string): string => `\\connect ${literal(db).replace(/\\/g, '\\\\')}`;

/** Settings of a role or a database (ALTER ... SET), as `name=value` lines; the value DEFAULT resets. */
const isReset = (value: string): boolean => value.toUpperCase() === 'DEFAULT';

export function settingsChange(want: Record<string, string>, have: string[] | null): FieldChange[] {
  const set = Object.entries(want).filter(([, v]) => !isReset(v)).map(([k, v]) => `${k}=${v}`);
  const resets = Object.entries(want).filter(([, v]) => isReset(v)).map(([k]) => `${k}=`);
  const stale = set.some((c) => !have?.includes(c)) || resets.some((k) => have?.some((c) => c.startsWith(k)));
  return stale ? [{ field: 'parameters', from: have, to: set }] : [];
}

export const settingsSql = (what: 'ROLE' | 'DATABASE', name: string, want: Record<string, string>): string[] =>
  Object.entries(want).map(([k, v]) => (isReset(v) ? `ALTER ${what} ${ident(name)} RESET ${ident(k)};` : `ALTER ${what} ${ident(name)} SET ${ident(k)} = ${literal(v)};`));
