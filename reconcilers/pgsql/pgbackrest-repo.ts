/**
 * The pgBackRest repository of a cluster: `pgbackrest_repo[pgbackrest_method]`, each key written as
 * Pigsty's template writes it (`repo1-<key, _ as ->=<value>`, `${pg_cluster}` filled in), split in two:
 * the options pgBackRest calls secure (keys, tokens, passphrases: it refuses them on a command line),
 * which go to a file of their own in its config-include-path, and the rest, which pgbackrest.conf shows.
 * Its identity (type and where it keeps backups, no secret) tells one repository from another.
 */
import type { HostView } from '../../src/config/hosts.js';
import type { PgbackrestRepo } from '../../src/types/inventory.gen.js';

/** pgBackRest's secure repository options (`secure: true` in its config.yaml), as pgbackrest_repo keys. */
export const SECURE_REPO_KEYS: ReadonlySet<string> = new Set([
  'azure_account',
  'azure_endpoint',
  'azure_key',
  'cipher_pass',
  'gcs_key',
  's3_key',
  's3_key_secret',
  's3_sse_customer_key',
  's3_token',
  'sftp_private_key_passphrase',
]);

/** Lines of a pgbackrest.conf that set a secure option (Pigsty's own has them): a diff redacts their values. */
export const SECURE_LINES = `^(repo[0-9]+-(?:${[...SECURE_REPO_KEYS].map((k) => k.replace(/_/g, '-')).join('|')})\\s*=).*$`;

/** pgBackRest reads every *.conf of its default config-include-path besides pgbackrest.conf. */
export const PGBACKREST_CONF = '/etc/pgbackrest/pgbackrest.conf';
export const PGBACKREST_CONF_D = '/etc/pgbackrest/conf.d';
export const REPO_SECRETS_NAME = 'repo1-secrets.conf';
/** The first line of the secrets file, by which a stale one is found. */
export const REPO_SECRETS_MARKER = '# managed by corral (PGSQL): pgBackRest repository secrets';

/** The options of repository `repo1` an identity is made of (none secure), as pgbackrest_repo keys. */
const IDENTITY_KEYS = ['type', 'path', 's3_bucket', 's3_endpoint', 'azure_container', 'gcs_bucket', 'gcs_endpoint', 'sftp_host'] as const;

export interface BackupRepo {
  /** The key of pgbackrest_repo. */
  method: string;
  /** posix (pgBackRest's default), s3, azure, gcs, sftp or cifs. */
  type: string;
  /** `path`, filled in, when set. */
  path?: string;
  /** `repo1-...=...` lines pgbackrest.conf shows. */
  lines: string[];
  /** `repo1-...=...` lines of secure options: only in the secrets file. */
  secrets: string[];
  /** Type and location, e.g. `s3 pgsql@sss.pigsty/pgbackrest`: readable, no secret. */
  identity: string;
}

/** A value as pgBackRest reads it: y/n for booleans, on one line. */
function optionValue(v: unknown, cluster: string): string {
  const text = typeof v === 'boolean' ? (v ? 'y' : 'n') : String(v);
  return text.replaceAll('${pg_cluster}', cluster).replace(/[\r\n]+/g, ' ');
}

const optionName = (key: string): string => `repo1-${key.replace(/_/g, '-')}`;

/** Where the repository keeps its backups, by its identity options (pgbackrest_repo keys, values filled in). */
export function repoIdentity(o: Readonly<Record<string, string | undefined>>): string {
  const type = o.type ?? 'posix';
  const path = (o.path ?? '/var/lib/pgbackrest').replace(/(.)\/+$/, '$1');
  switch (type) {
    case 's3':
      return `s3 ${o.s3_bucket ?? '?'}@${o.s3_endpoint ?? '?'}${path}`;
    case 'azure':
      // The account is a secure option: the container and path say where.
      return `azure ${o.azure_container ?? '?'}${path}`;
    case 'gcs':
      return `gcs ${o.gcs_bucket ?? '?'}${o.gcs_endpoint ? `@${o.gcs_endpoint}` : ''}${path}`;
    case 'sftp':
      return `sftp ${o.sftp_host ?? '?'}:${path}`;
    default:
      return `${type} ${path}`;
  }
}

/** The identity of the repository `repo1-*` lines name (pgbackrest.conf as found on a node); undefined without any. */
export function identityOfLines(lines: readonly string[]): string | undefined {
  const o: Record<string, string> = {};
  for (const line of lines) {
    const m = /^repo1-([a-z0-9-]+)=(.*)$/.exec(line.trim());
    if (m) o[m[1]!.replace(/-/g, '_')] = m[2]!.trim();
  }
  return Object.keys(o).length ? repoIdentity(o) : undefined;
}

/** A grep pattern for the identity lines of a pgbackrest.conf (no secure option among them). */
export const IDENTITY_LINES = `^repo1-(${IDENTITY_KEYS.map((k) => k.replace(/_/g, '-')).join('|')})=`;

/** The repository of `pgbackrest_method`, or undefined when pgbackrest_repo has no such key (pgsql/pgbackrest-repo). */
export function backupRepo(h: HostView): BackupRepo | undefined {
  const cluster = h.str('pg_cluster')!;
  const method = h.str('pgbackrest_method');
  const repo: PgbackrestRepo | undefined = h.param('pgbackrest_repo')[method];
  if (!repo) return undefined;
  const lines: string[] = [];
  const secrets: string[] = [];
  const ids: Record<string, string> = {};
  for (const [k, v] of Object.entries(repo)) {
    if (v === undefined || v === null) continue;
    const value = optionValue(v, cluster);
    (SECURE_REPO_KEYS.has(k) ? secrets : lines).push(`${optionName(k)}=${value}`);
    if ((IDENTITY_KEYS as readonly string[]).includes(k)) ids[k] = value;
  }
  return { method, type: ids.type ?? 'posix', ...(ids.path !== undefined ? { path: ids.path } : {}), lines, secrets, identity: repoIdentity(ids) };
}

/** The secrets file: the secure options, in [global] as repo1 is. */
export function repoSecretsConf(cluster: string, repo: BackupRepo): string {
  return `${REPO_SECRETS_MARKER} of ${cluster}\n[global]\n${repo.secrets.join('\n')}\n`;
}
