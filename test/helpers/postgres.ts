/**
 * A throwaway PostgreSQL 15 for tests: Debian's initdb and pg_ctl run as the `postgres` OS user,
 * data and socket in a temp dir, a free loopback port. The tests run as root (as CI does).
 */
import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, appendFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './ports.js';

const run = promisify(execFile);
export const PG_BIN = '/usr/lib/postgresql/15/bin';

export interface Postgres {
  dir: string;
  data: string;
  socket: string;
  port: number;
  /** psql as the superuser over the socket: the output of one statement. */
  sql(statement: string, db?: string): Promise<string>;
  stop(): Promise<void>;
}

const asPostgres = (bin: string, args: string[]): Promise<{ stdout: string }> => run('runuser', ['-u', 'postgres', '--', bin, ...args], { timeout: 120_000 });

/**
 * initdb's own pg_hba.conf lets only the OS superuser in over the socket (peer) and rejects TCP, so
 * a password login over TCP proves the HBA rules written since. A standby starts in recovery with
 * no upstream: a replica as far as pg_is_in_recovery() can tell, until promoted.
 */
export async function startPostgres(opts: { standby?: boolean } = {}): Promise<Postgres> {
  if (userInfo().uid !== 0) throw new Error('startPostgres needs root (it runs initdb and pg_ctl as the postgres OS user)');
  const dir = mkdtempSync(join(tmpdir(), 'corral-pg-'));
  chmodSync(dir, 0o755);
  const data = join(dir, 'data');
  const socket = join(dir, 'sock');
  mkdirSync(socket);
  const uid = Number(execFileSync('id', ['-u', 'postgres']).toString());
  const gid = Number(execFileSync('id', ['-g', 'postgres']).toString());
  chownSync(dir, uid, gid);
  chownSync(socket, uid, gid);
  const port = await freePort();
  await asPostgres(`${PG_BIN}/initdb`, ['-D', data, '-U', 'postgres', '--auth-local=peer', '--auth-host=reject', '--no-sync', '-E', 'UTF8', '--locale=C']);
  appendFileSync(data + '/postgresql.conf', `port = ${port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '${socket}'\nfsync = off\n`);
  if (opts.standby) await asPostgres('/usr/bin/touch', [join(data, 'standby.signal')]);
  await asPostgres(`${PG_BIN}/pg_ctl`, ['-D', data, '-l', join(dir, 'log'), '-w', '-t', '60', 'start']);
  const pg: Postgres = {
    dir,
    data,
    socket,
    port,
    sql: async (statement, db = 'postgres') => (await asPostgres('/usr/bin/psql', ['-h', socket, '-p', String(port), '-d', db, '-XAtqc', statement])).stdout.trim(),
    stop: async () => {
      await asPostgres(`${PG_BIN}/pg_ctl`, ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return pg;
}

/** Log in over TCP on 127.0.0.1 with a password: what the user sees, or the error. */
export async function loginWithPassword(pg: Postgres, user: string, password: string, db: string): Promise<string> {
  try {
    const { stdout } = await run('/usr/bin/psql', ['-h', '127.0.0.1', '-p', String(pg.port), '-U', user, '-d', db, '-XAtqc', 'SELECT current_user'], { env: { ...process.env, PGPASSWORD: password, PGCONNECT_TIMEOUT: '10' }, timeout: 30_000 });
    return stdout.trim();
  } catch (e) {
    return `error: ${(e as { stderr?: string }).stderr ?? String(e)}`;
  }
}
