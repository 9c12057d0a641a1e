/**
 * Pigsty writes `${name}` placeholders into some parameters and fills them in where it uses them.
 * Corral fills in the same names in the same parameters, and nowhere else: a `${x}` in a user's
 * own variable stays as written. Placeholders that need node facts (the OS codename, the arch)
 * stay until the engine knows the node.
 */
export const PLACEHOLDERS_BY_PARAM: Readonly<Record<string, readonly string[]>> = {
  dns_records: ['admin_ip'],
  infra_portal: ['admin_ip'],
  node_default_etc_hosts: ['admin_ip'],
  node_etc_hosts: ['admin_ip'],
  node_dns_servers: ['admin_ip'],
  node_ntp_servers: ['admin_ip'],
  repo_endpoint: ['admin_ip'],
  repo_upstream: ['admin_ip', 'distro_codename', 'distro_name', 'arch'],
  pg_default_hba_rules: ['dbsu', 'repl', 'monitor', 'admin'],
  pg_hba_rules: ['dbsu', 'repl', 'monitor', 'admin'],
  pgb_default_hba_rules: ['dbsu', 'repl', 'monitor', 'admin'],
  pgb_hba_rules: ['dbsu', 'repl', 'monitor', 'admin'],
  pg_listen: ['ip', 'vip', 'lo'],
  pgbackrest_repo: ['pg_cluster'],
  minio_node: ['minio_cluster', 'minio_seq'],
  cache_pkg_dir: ['version'],
  cache_pkg_name: ['version', 'os', 'arch'],
};

/** Where each placeholder's value comes from, given a lookup of the host's effective variables. */
export function placeholderValues(host: string, get: (key: string) => unknown): Record<string, string | undefined> {
  const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '') || typeof v === 'number' ? String(v) : undefined;
  const vip = str(get('pg_vip_address'));
  return {
    admin_ip: str(get('admin_ip')),
    ip: host,
    lo: '127.0.0.1',
    vip: vip?.split('/')[0],
    pg_cluster: str(get('pg_cluster')),
    minio_cluster: str(get('minio_cluster')),
    minio_seq: str(get('minio_seq')),
    version: str(get('version')),
    dbsu: str(get('pg_dbsu')),
    repl: str(get('pg_replication_username')),
    monitor: str(get('pg_monitor_username')),
    admin: str(get('pg_admin_username')),
  };
}

const PLACEHOLDER = /\$\{([a-z_]+)\}/g;

export function hasPlaceholder(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('${');
  if (Array.isArray(value)) return value.some(hasPlaceholder);
  if (value && typeof value === 'object') return Object.values(value).some(hasPlaceholder);
  return false;
}

/** Filled copies of shared values (a role default read by every host), by the values filled in. */
const filled = new WeakMap<object, Map<string, unknown>>();

/** A copy of the value with the placeholders this parameter takes filled in; unknown ones are kept. */
export function fillPlaceholders(param: string, value: unknown, values: Record<string, string | undefined>): unknown {
  const allowed = PLACEHOLDERS_BY_PARAM[param];
  if (!allowed) return value;
  if (value === null || typeof value !== 'object') return hasPlaceholder(value) ? fillAll(allowed, value, values) : value;
  const key = allowed.map((n) => values[n] ?? '').join('\u0000');
  let byValues = filled.get(value);
  if (!byValues) filled.set(value, (byValues = new Map<string, unknown>()));
  if (!byValues.has(key)) byValues.set(key, hasPlaceholder(value) ? fillAll(allowed, value, values) : value);
  return byValues.get(key);
}

function fillAll(allowed: readonly string[], value: unknown, values: Record<string, string | undefined>): unknown {
  const fill = (v: unknown): unknown => {
    if (typeof v === 'string') return v.replace(PLACEHOLDER, (whole, name: string) => (allowed.includes(name) ? values[name] ?? whole : whole));
    if (Array.isArray(v)) return v.map(fill);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fill(x)]));
    return v;
  };
  return fill(value);
}
