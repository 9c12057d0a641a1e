/** Cross-field rules of the PGSQL module, after Pigsty's own (roles/pg_id). */
import { problem, type Problem } from '../../src/config/problems.js';
import type { HostView } from '../../src/config/hosts.js';
import { isAddressOrCidr, isIPv4, parseCidr4, sameNetwork } from '../../src/util/net.js';
import { clustersOfModule, duplicates, isObject, listOf, type Check } from '../../src/config/checks/context.js';
import { membership } from '../../src/config/clusters.js';
import { hbaAllowsReplication, renderHba } from './hba.js';

export const pgIdentity: Check = (ctx) => {
  const out: Problem[] = [];
  for (const c of clustersOfModule(ctx, 'pgsql')) {
    for (const m of c.members) {
      const missing = ['pg_seq', 'pg_role'].filter((k) => !m.has(k) || m.get(k) === null);
      if (missing.length) out.push(problem('pgsql/missing-identity', m.def.at, `${m.name} in cluster ${c.name} has no ${missing.join(' and no ')}`));
    }
    for (const [dup, first] of duplicates(c.members, (m) => m.str('pg_seq'))) {
      out.push(problem('pgsql/duplicate-seq', dup.origin('pg_seq'), `pg_seq ${dup.str('pg_seq')} is used by both ${first.name} and ${dup.name} in cluster ${c.name}`, { related: first.origin('pg_seq') }));
    }
  }
  return out;
};

/** Exactly one primary per cluster. A standby cluster's primary follows `pg_upstream`; it is still its cluster's one primary. */
export const pgPrimary: Check = (ctx) => {
  const out: Problem[] = [];
  for (const c of clustersOfModule(ctx, 'pgsql')) {
    const primaries = c.members.filter((m) => m.get('pg_role') === 'primary');
    if (!primaries.length) {
      out.push(problem('pgsql/no-primary', c.members[0]!.origin('pg_cluster'), `cluster ${c.name} has no primary (pg_role: primary) among ${c.members.map((m) => m.name).join(', ')}`));
    }
    for (const extra of primaries.slice(1)) {
      out.push(problem('pgsql/many-primaries', extra.origin('pg_role'), `cluster ${c.name} has more than one primary: ${primaries[0]!.name} and ${extra.name}`, { related: primaries[0]!.origin('pg_role') }));
    }
  }
  return out;
};

/** Citus: every shard cluster has a `pg_group`, one per cluster, unique within its `pg_shard`. */
export const pgCitus: Check = (ctx) => {
  const out: Problem[] = [];
  const groupOfShard = new Map<string, Map<string, { cluster: string; host: HostView }>>();
  for (const c of clustersOfModule(ctx, 'pgsql')) {
    const citus = c.members.filter((m) => m.get('pg_mode') === 'citus');
    if (!citus.length) continue;
    const groups = new Set<string>();
    for (const m of citus) {
      const group = m.str('pg_group');
      const shard = m.str('pg_shard');
      if (group === undefined || shard === undefined) {
        out.push(problem('pgsql/citus', m.origin('pg_mode'), `${m.name} in Citus cluster ${c.name} needs ${group === undefined ? 'pg_group' : 'pg_shard'}`));
        continue;
      }
      groups.add(group);
      const seen = groupOfShard.get(shard) ?? new Map<string, { cluster: string; host: HostView }>();
      groupOfShard.set(shard, seen);
      const other = seen.get(group);
      if (other && other.cluster !== c.name) {
        out.push(problem('pgsql/citus', m.origin('pg_group'), `pg_group ${group} of shard ${shard} is used by both cluster ${other.cluster} and cluster ${c.name}`, { related: other.host.origin('pg_group') }));
      } else if (!other) seen.set(group, { cluster: c.name, host: m });
    }
    if (groups.size > 1) {
      out.push(problem('pgsql/citus', citus[0]!.origin('pg_group'), `members of cluster ${c.name} disagree on pg_group (${[...groups].join(', ')})`));
    }
  }
  return out;
};

/** A replica's upstream is another member (a cascade); a primary's upstream is outside its cluster (a standby cluster). */
export const pgUpstream: Check = (ctx) => {
  const out: Problem[] = [];
  for (const c of clustersOfModule(ctx, 'pgsql')) {
    const addresses = new Set(c.members.map((m) => m.name));
    for (const m of c.members) {
      const upstream = m.str('pg_upstream');
      if (upstream === undefined || upstream === '') continue;
      const at = m.origin('pg_upstream');
      if (!isIPv4(upstream)) out.push(problem('pgsql/bad-upstream', at, `pg_upstream of ${m.name} is "${upstream}", not an IPv4 address`));
      else if (upstream === m.name) out.push(problem('pgsql/bad-upstream', at, `${m.name} names itself as its pg_upstream`));
      else if (m.get('pg_role') === 'primary' && addresses.has(upstream)) {
        out.push(problem('pgsql/bad-upstream', at, `primary ${m.name} replicates from ${upstream}, a member of its own cluster ${c.name}; a standby cluster's upstream is outside the cluster`));
      } else if (m.get('pg_role') !== 'primary' && !addresses.has(upstream)) {
        out.push(problem('pgsql/bad-upstream', at, `replica ${m.name} cascades from ${upstream}, which is not a member of cluster ${c.name}`));
      }
    }
  }
  return out;
};

/** PostgreSQL's time units; Pigsty's schema also lets m, w and y through, which PostgreSQL refuses. */
const PG_TIME = /^\d+(\.\d+)?(us|ms|s|min|h|d)?$/;

/** pg_delay: a unit PostgreSQL reads, and only where Pigsty writes it (the primary of a standby cluster). */
export const pgDelay: Check = (ctx) => {
  const out: Problem[] = [];
  for (const c of clustersOfModule(ctx, 'pgsql')) {
    for (const m of c.members) {
      const raw = m.get('pg_delay');
      const delay = typeof raw === 'string' || typeof raw === 'number' ? String(raw) : '';
      if (!m.has('pg_delay') || delay === '' || delay === '0') continue;
      const at = m.origin('pg_delay');
      if (!PG_TIME.test(delay)) out.push(problem('pgsql/delay', at, `pg_delay of ${m.name} is "${delay}": PostgreSQL's recovery_min_apply_delay takes us, ms, s, min, h or d`, { severity: 'error' }));
      else if (m.get('pg_role') !== 'primary' || !m.str('pg_upstream')) {
        out.push(problem('pgsql/delay', at, `pg_delay of ${m.name} has no effect: it delays a standby cluster, set on its primary with pg_upstream (a replica inside a cluster is not delayed)`));
      }
    }
  }
  return out;
};

/**
 * A standby cluster (pg_upstream on the primary) of a cluster in the inventory: the same major
 * version, the upstream's replication login, and the upstream's HBA lets each member (any may come
 * to lead the standby cluster) replicate. An upstream outside the inventory cannot be checked.
 */
export const pgStandby: Check = (ctx) => {
  const out: Problem[] = [];
  for (const c of clustersOfModule(ctx, 'pgsql')) {
    const primary = c.members.find((m) => m.get('pg_role') === 'primary');
    const address = primary?.str('pg_upstream');
    if (!primary || !address || !isIPv4(address) || c.members.some((m) => m.name === address)) continue;
    const at = primary.origin('pg_upstream');
    const upstream = ctx.hosts.find((h) => h.name === address);
    const upstreamCluster = upstream && membership(upstream, 'pgsql');
    if (!upstream || !upstreamCluster) {
      const what = upstream ? 'a host of the inventory without a PostgreSQL instance' : 'not in the inventory';
      out.push(problem('pgsql/external-upstream', at, `standby cluster ${c.name} replicates from ${address}, ${what}: Corral cannot check that it lets ${c.name} replicate`));
      continue;
    }
    const related = { related: upstream.def.at };
    const [version, upVersion] = [primary.str('pg_version'), upstream.str('pg_version')];
    const unlike = [
      ...(version !== upVersion ? [`it runs PostgreSQL ${version}, the upstream ${upVersion} (a physical replica has the same major version)`] : []),
      ...['pg_replication_username', 'pg_replication_password'].filter((k) => primary.str(k) !== upstream.str(k)).map((k) => `its ${k} differs from the upstream's, which it logs in with`),
    ];
    if (unlike.length) out.push(problem('pgsql/standby-upstream', at, `standby cluster ${c.name} of ${upstreamCluster} (${address}): ${unlike.join('; ')}`, related));
    let rendered: string;
    try {
      const infra = ctx.hosts.filter((h) => h.groups.includes('infra')).map((h) => h.name);
      const members = ctx.hosts.filter((h) => membership(h, 'pgsql') === upstreamCluster).map((h) => h.name);
      rendered = renderHba(upstream, 'postgres', { infra, members });
    } catch {
      continue; // pgsql/hba reports a rule that does not render.
    }
    const user = upstream.str('pg_replication_username');
    const refused = c.members.filter((m) => !hbaAllowsReplication(rendered, user, m.name)).map((m) => m.name);
    if (refused.length) out.push(problem('pgsql/standby-hba', at, `the HBA rules of ${upstreamCluster} (${address}) do not let ${refused.join(', ')} of standby cluster ${c.name} replicate as ${user}`, related));
  }
  return out;
};

/** Roles Pigsty creates on every cluster, besides `pg_users`. */
function systemRoles(m: HostView): Set<string> {
  const names = new Set<string>(['postgres']);
  for (const key of ['pg_dbsu', 'pg_admin_username', 'pg_monitor_username', 'pg_replication_username']) {
    const v = m.str(key);
    if (v) names.add(v);
  }
  for (const key of ['pg_default_roles', 'pg_users']) {
    for (const u of listOf(m.get(key))) if (isObject(u) && typeof u.name === 'string') names.add(u.name);
  }
  return names;
}

export const pgDatabaseOwner: Check = (ctx) => {
  const out: Problem[] = [];
  for (const c of clustersOfModule(ctx, 'pgsql')) {
    for (const m of c.members) {
      const roles = systemRoles(m);
      listOf(m.get('pg_databases')).forEach((db, i) => {
        if (!isObject(db) || typeof db.owner !== 'string' || roles.has(db.owner)) return;
        out.push(problem('pgsql/unknown-owner', m.origin('pg_databases', i, 'owner'), `database ${String(db.name)} of cluster ${c.name} is owned by ${db.owner}, which is not in pg_users or pg_default_roles`));
      });
    }
  }
  return out;
};

export const pgVip: Check = (ctx) => {
  const out: Problem[] = [];
  for (const c of clustersOfModule(ctx, 'pgsql')) {
    const enabled = c.members.filter((m) => m.get('pg_vip_enabled') === true);
    const addresses = new Set(c.members.map((m) => m.name));
    const vips = new Set<string>();
    for (const m of enabled) {
      const text = m.str('pg_vip_address');
      const at = m.origin('pg_vip_address');
      const vip = parseCidr4(text);
      if (!vip) {
        out.push(problem('pgsql/vip', at, `pg_vip_address of ${m.name} is "${text}"; a VIP is written as an IPv4 address with its prefix, like 10.10.10.2/24`));
        continue;
      }
      vips.add(text);
      if (addresses.has(vip.ip)) out.push(problem('pgsql/vip', at, `the VIP ${vip.ip} of cluster ${c.name} is the address of a member`));
      else if (isIPv4(m.name) && !sameNetwork(vip.ip, m.name, vip.prefix)) {
        out.push(problem('pgsql/vip', at, `the VIP ${text} is not in the network of ${m.name} (${m.name}); an L2 VIP must share the members' subnet`));
      }
      if (!m.str('pg_vip_interface')) out.push(problem('pgsql/vip', m.origin('pg_vip_interface'), `pg_vip_interface is empty for ${m.name}`));
    }
    if (vips.size > 1) out.push(problem('pgsql/vip', enabled[0]!.origin('pg_vip_address'), `members of cluster ${c.name} disagree on pg_vip_address: ${[...vips].join(', ')}`));
  }
  return out;
};

/** Pigsty's address aliases for HBA rules; anything else is an IP or a CIDR. */
const HBA_ADDR_ALIASES = new Set(['local', 'localhost', 'admin', 'infra', 'cluster', 'intra', 'intranet', 'world', 'all', 'samehost', 'samenet']);
const HBA_PARAMS = ['pg_default_hba_rules', 'pg_hba_rules', 'pgb_default_hba_rules', 'pgb_hba_rules'];
/** Auth methods that need a TCP connection: a `local` (Unix socket) rule cannot use them. */
const TCP_ONLY_AUTH = new Set(['ssl', 'ssl-md5', 'ssl-sha', 'cert']);

export const pgHba: Check = (ctx) => {
  const out: Problem[] = [];
  for (const c of clustersOfModule(ctx, 'pgsql')) {
    for (const m of c.members) {
      for (const param of HBA_PARAMS) {
        listOf(m.get(param)).forEach((rule, i) => {
          if (!isObject(rule) || typeof rule.addr !== 'string') return;
          const addr = rule.addr;
          if (!HBA_ADDR_ALIASES.has(addr) && !isAddressOrCidr(addr)) {
            out.push(problem('pgsql/hba', m.origin(param, i, 'addr'), `${param}[${i}].addr is "${addr}": neither an alias (${[...HBA_ADDR_ALIASES].join(', ')}) nor an IP address or CIDR`));
          } else if (addr === 'local' && typeof rule.auth === 'string' && TCP_ONLY_AUTH.has(rule.auth)) {
            out.push(problem('pgsql/hba', m.origin(param, i, 'auth'), `${param}[${i}] uses auth "${rule.auth}" with addr local; SSL and certificates need a TCP connection`));
          }
        });
      }
    }
  }
  return out;
};

/** The options pgBackRest cannot go without, by repository type (pgbackrest_repo keys). */
const REPO_REQUIRED: Record<string, string[]> = { s3: ['s3_bucket', 's3_endpoint', 's3_region'], azure: ['azure_account', 'azure_container'], gcs: ['gcs_bucket'] };

/** pgbackrest_method names a repository of pgbackrest_repo, with what its type needs, each value on one line, and a retention (a warning). */
export const pgPgbackrest: Check = (ctx) => {
  const out: Problem[] = [];
  const said = new Set<string>();
  const say = (p: Problem): void => {
    const key = `${p.file}:${p.line}:${p.col} ${p.message}`;
    if (!said.has(key)) out.push(p);
    said.add(key);
  };
  for (const c of clustersOfModule(ctx, 'pgsql')) {
    for (const m of c.members) {
      if (m.get('pgbackrest_enabled') === false) continue;
      const method = m.str('pgbackrest_method');
      const repos = m.get('pgbackrest_repo');
      if (method === undefined || !isObject(repos)) continue; // the schema says so
      const repo = repos[method];
      if (!Object.hasOwn(repos, method) || !isObject(repo)) {
        const at = m.has('pgbackrest_method') ? m.origin('pgbackrest_method') : m.origin('pgbackrest_repo');
        say(problem('pgsql/pgbackrest-repo', at, `pgbackrest_method of cluster ${c.name} is "${method}", which is not a key of pgbackrest_repo (${Object.keys(repos).join(', ') || 'none'})`));
        continue;
      }
      const type = typeof repo.type === 'string' ? repo.type : 'posix';
      const missing = (REPO_REQUIRED[type] ?? []).filter((k) => repo[k] === undefined || repo[k] === '');
      if (missing.length) say(problem('pgsql/pgbackrest-repo', m.origin('pgbackrest_repo', method), `pgbackrest_repo.${method} of cluster ${c.name} is of type ${type} but has no ${missing.join(', ')}`));
      if (repo.retention_full === undefined) {
        say(problem('pgsql/pgbackrest-retention', m.origin('pgbackrest_repo', method), `pgbackrest_repo.${method} of cluster ${c.name} has no retention_full: pgBackRest never expires its full backups (nor the WAL they need), the repository only grows`));
      }
      for (const [k, v] of Object.entries(repo)) {
        if (typeof v === 'string' && /[\r\n]/.test(v)) say(problem('pgsql/pgbackrest-repo', m.origin('pgbackrest_repo', method, k), `pgbackrest_repo.${method}.${k} of cluster ${c.name} spans lines; pgbackrest.conf takes a value on one line`));
      }
    }
  }
  return out;
};
