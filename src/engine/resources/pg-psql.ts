/**
 * How the PostgreSQL catalog kinds talk to the server: psql as the OS superuser over the unix
 * socket. SQL travels base64-encoded inside the script (which itself goes over SSH stdin), so no
 * statement is ever on a command line; `-q` keeps psql from echoing anything.
 */
import { sh } from '../shell.js';

export interface PgConn {
  /** The OS user that owns the server (pg_dbsu). */
  dbsu: string;
  /** The unix socket directory (pg_localhost). */
  socket: string;
  port: number;
}

/** The psql command line: no statement in it, only where to connect. */
export const psql = (c: PgConn, db = 'postgres'): string => sh`runuser -u ${c.dbsu} -- psql -h ${c.socket} -p ${c.port} -d ${db} -XAtq -v ON_ERROR_STOP=1`;

/** Shell that runs SQL fed on stdin. */
export const runSql = (c: PgConn, sql: string, db = 'postgres'): string => `printf '%s' ${Buffer.from(sql, 'utf8').toString('base64')} | base64 -d | ${psql(c, db)}`;

/** Where the node stands: `down` (no answer), `replica` (in recovery), `primary`, or `failed` (the primary did not answer the probe's query). */
export type PgState = 'down' | 'replica' | 'primary' | 'failed';

/**
 * Probe prefix: prints `pg=<state>` and goes on only on the primary, so the catalog is read (and
 * later written) only where it can change; after a failover the new primary takes over by itself.
 */
export const probeOnPrimary = (c: PgConn, body: string): string =>
  [
    `r=$(echo 'SELECT pg_is_in_recovery()' | ${psql(c)} 2>/dev/null) || { echo pg=down; exit 0; }`,
    `if [ "$r" = f ]; then echo pg=primary; else echo pg=replica; exit 0; fi`,
    `{\n${body}\n} || echo pg=failed`,
  ].join('\n');

/** The state line of a probe's output, and the rest. */
export function splitProbe(out: string): { state: PgState; rest: string } {
  const lines = out.split('\n');
  const i = lines.findIndex((l) => l.startsWith('pg='));
  if (lines.includes('pg=failed')) return { state: 'failed', rest: '' };
  const state = (i >= 0 ? lines[i]!.slice(3).trim() : 'down') as PgState;
  return { state, rest: i >= 0 ? lines.slice(i + 1).join('\n').trim() : '' };
}

/** Apply prefix: a replica does nothing (the primary's change reaches it by replication). */
export const applyOnPrimary = (c: PgConn, body: string): string =>
  [`r=$(echo 'SELECT pg_is_in_recovery()' | ${psql(c)})`, `if [ "$r" != f ]; then echo 'not the primary: nothing to do here'; exit 0; fi`, body].join('\n');

export const ident = (name: string): string => `"${name.replace(/"/g, '""')}"`;
export const literal = (value: string): string => `'${value.replace(/'/g, "''")}'`;
