/**
 * pg_hba.conf and pgbouncer's pgb_hba.conf from Pigsty's rule lists (pg_default_hba_rules +
 * pg_hba_rules, pgb_default_hba_rules + pgb_hba_rules), with Pigsty's semantics: address aliases,
 * user aliases, auth aliases, rules for another pg_role written but commented out, raw `rules`.
 */
import type { HostView } from '../../src/config/hosts.js';
import type { HbaRule } from '../../src/types/inventory.gen.js';

/** Where pg_hba.conf lives with Pigsty's default pg_data; Patroni must point hba_file here and not manage pg_hba itself. */
export const PG_HBA_PATH = '/pg/data/pg_hba.conf';
/** The same for a host's own pg_data. */
export const pgHbaPath = (h: HostView): string => {
  const data = h.param('pg_data');
  return data ? `${data}/pg_hba.conf` : PG_HBA_PATH;
};
export const PGB_HBA_PATH = '/etc/pgbouncer/pgb_hba.conf';

/** Addresses an alias needs from outside the host: the infra nodes and the cluster's members. */
export interface HbaPeers {
  infra: string[];
  members: string[];
}

export type HbaFlavor = 'postgres' | 'pgbouncer';

const ROLES = ['default', 'common', 'primary', 'replica', 'offline', 'standby', 'delayed'];
const IPV4 = /^(\d{1,3}\.){3}\d{1,3}(\/([0-9]|[1-2][0-9]|3[0-2]))?$/;
/** Rules without `order` come after the defaults (which go up to 650), in the order written. */
const DEFAULT_ORDER = 1000;

function authMethod(auth: string | undefined, flavor: HbaFlavor, pwdenc: string): string {
  const os = flavor === 'pgbouncer' ? 'peer' : 'ident';
  const map: Record<string, string> = {
    deny: 'reject', reject: 'reject', pwd: pwdenc, ssl: pwdenc, sha: 'scram-sha-256', 'scram-sha-256': 'scram-sha-256', md5: 'md5',
    'ssl-md5': 'md5', 'ssl-sha': 'scram-sha-256', cert: 'cert', os, ident: os, peer: 'peer', trust: 'trust',
  };
  const method = map[auth ?? 'pwd'];
  if (!method) throw new Error(`unsupported hba auth ${auth}: use raw rules instead`);
  return method;
}

const pad = (s: string, n: number): string => s.padEnd(n);

/** The addresses an alias stands for; `local` lines have none. */
function addresses(h: HostView, addr: string, peers: HbaPeers): (string | null)[] {
  switch (addr) {
    case 'local':
      return [null];
    case 'localhost':
      return [null, '127.0.0.1/32', '::1/128'];
    case 'admin':
      return h.str('admin_ip') ? [`${h.str('admin_ip')}/32`] : [];
    case 'infra':
      return [...peers.infra].sort().map((ip) => `${ip}/32`);
    case 'cluster':
      return peers.members.map((ip) => `${ip}/32`);
    case 'intra':
    case 'intranet':
      return h.param('node_firewall_intranet');
    case 'world':
    case 'all':
      return ['0.0.0.0/0', '::/0'];
    default:
      if (!IPV4.test(addr)) throw new Error(`invalid hba addr ${addr}`);
      return [addr];
  }
}

/** The rule lines of one flavor for this host, ordered by `order` (stable). */
export function renderHba(h: HostView, flavor: HbaFlavor, peers: HbaPeers): string {
  const rules: HbaRule[] =
    flavor === 'postgres' ? [...h.param('pg_default_hba_rules'), ...h.param('pg_hba_rules')] : [...h.param('pgb_default_hba_rules'), ...h.param('pgb_hba_rules')];
  const sorted = rules.map((r, i) => ({ r, i })).sort((a, b) => (a.r.order ?? DEFAULT_ORDER) - (b.r.order ?? DEFAULT_ORDER) || a.i - b.i).map((x) => x.r);
  const pwdenc = h.param('pg_pwd_enc') === 'md5' ? 'md5' : 'scram-sha-256';
  const users: Record<string, string | undefined> = {
    '${dbsu}': h.param('pg_dbsu'),
    '${repl}': h.param('pg_replication_username'),
    '${monitor}': h.param('pg_monitor_username'),
    '${admin}': h.param('pg_admin_username'),
  };
  const pgRole = h.str('pg_role');
  const offlineQuery = h.param('pg_offline_query');
  const file = flavor === 'postgres' ? 'pg_hba.conf' : 'pgb_hba.conf';
  // pg_cluster and pg_seq have no role default (every member has them): '' only satisfies the type.
  const out = [`# ${file} for ${h.str('pg_cluster') ?? ''}-${h.str('pg_seq') ?? ''} [${pgRole}]: managed by corral, changes here are overwritten`, ''];
  for (const rule of sorted) {
    const role = rule.role || 'default';
    if (!ROLES.includes(role)) throw new Error(`invalid hba role ${role}`);
    const on = role === 'default' || role === 'common' || role === pgRole || (role === 'offline' && offlineQuery) ? '' : '#';
    out.push(`# ${rule.title ?? ''} [${role}]${on ? ' [DISABLED]' : ''}`);
    if (rule.rules?.length) {
      out.push(...rule.rules.map((line) => on + line), '');
      continue;
    }
    const addr = rule.addr ?? '';
    const user = users[rule.user ?? ''] ?? (rule.user || 'all');
    const db = rule.db || 'all';
    if (flavor === 'pgbouncer' && db === 'replication') throw new Error('db: replication is not allowed in pgbouncer hba rules');
    const method = authMethod(rule.auth, flavor, pwdenc);
    // Pigsty's localhost lines stay plain `host`, whatever the auth.
    const type = addr !== 'localhost' && ['ssl', 'ssl-md5', 'ssl-sha', 'cert'].includes(rule.auth ?? '') ? 'hostssl' : 'host';
    for (const ip of addresses(h, addr, peers)) {
      out.push(ip === null ? `${on}local    ${pad(db, 18)} ${pad(user, 18)} ${pad('', 18)} ${method}` : `${on}${pad(type, 8)} ${pad(db, 18)} ${pad(user, 18)} ${pad(ip, 18)} ${method}`);
    }
    out.push('');
  }
  return out.join('\n');
}

/** `ip` is `cidr` or inside it (IPv4; an IPv6 network holds no IPv4 address). */
function covers(cidr: string, ip: string): boolean {
  const [net, prefix] = cidr.split('/');
  if (!net || !IPV4.test(net)) return false;
  const bits = prefix === undefined ? 32 : Number(prefix);
  const toInt = (a: string): number => a.split('.').reduce((n, part) => n * 256 + Number(part), 0);
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return ((toInt(net) & mask) >>> 0) === ((toInt(ip) & mask) >>> 0);
}

/**
 * Whether a rendered pg_hba.conf lets `user` open a replication connection from `ip` over TCP, as
 * PostgreSQL reads it: the first `host`/`hostssl` line that matches decides (a `reject` refuses).
 */
export function hbaAllowsReplication(rendered: string, user: string, ip: string): boolean {
  for (const line of rendered.split('\n')) {
    const [type, db, who, addr, method] = line.trim().split(/\s+/);
    if ((type !== 'host' && type !== 'hostssl') || !addr || !method) continue;
    if (db !== 'replication' || (who !== user && who !== 'all') || !covers(addr, ip)) continue;
    return method !== 'reject';
  }
  return false;
}
