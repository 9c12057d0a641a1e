/**
 * Problems are values: every check returns them, nothing throws for bad input.
 * Codes are stable and never reused; each has a default severity and a fix hint.
 */
export type Severity = 'error' | 'warning';

export interface Location {
  file: string;
  line: number;
  col: number;
  /** JSON pointer into the file's YAML document ('' for the whole file). */
  pointer: string;
}

/** `file:line:col`, as editors and compilers name a place. */
export const position = (at: Pick<Location, 'file' | 'line' | 'col'>): string => `${at.file}:${at.line}:${at.col}`;

export interface Problem extends Location {
  code: ProblemCode;
  severity: Severity;
  message: string;
  /** A second place involved (the other definition of a duplicate, say). */
  related?: Location;
}

interface CodeInfo {
  severity: Severity;
  hint: string;
}

export const PROBLEM_CODES = {
  'io/unreadable': { severity: 'error', hint: 'check the path and its permissions' },
  'io/too-large': { severity: 'error', hint: 'split the inventory into smaller files, or raise limits.maxFileBytes in corral.yml' },
  'io/not-a-file': { severity: 'error', hint: 'inventory files are regular files (not FIFOs, devices or sockets)' },
  'io/outside-repo': { severity: 'error', hint: 'every file an inventory reads stays inside its repository; symlinks are not followed out of it' },
  'io/symlink': { severity: 'error', hint: 'inventory files are read without following symlinks: commit the file itself' },
  'io/too-many': { severity: 'error', hint: 'the inventory has too many files or bytes in all to be read; split the repository' },
  'limit/exceeded': { severity: 'error', hint: 'the daemon validates a revision within a time (30 s) and memory (512 MiB) limit; an inventory that needs more is refused' },
  'io/binary': { severity: 'error', hint: 'inventory files must be UTF-8 text' },
  'io/no-inventory': { severity: 'error', hint: 'add a pigsty.yml, or list the inventory files under `inventory:` in corral.yml' },
  'yaml/syntax': { severity: 'error', hint: 'fix the YAML syntax at this place' },
  'yaml/duplicate-key': { severity: 'error', hint: 'a key may appear once per mapping; remove or rename one of them' },
  'yaml/too-deep': { severity: 'error', hint: 'the document nests too deeply to be an inventory' },
  'yaml/recursive-alias': { severity: 'error', hint: 'an anchor cannot contain an alias to itself; write the value out' },
  'yaml/alias-bomb': { severity: 'error', hint: 'too many alias expansions; expand the anchors by hand' },
  'yaml/too-many-anchors': { severity: 'error', hint: 'split the file, or write values out instead of anchoring and aliasing them' },
  'yaml/multi-document': { severity: 'error', hint: 'an inventory file holds one YAML document' },
  'inventory/duplicate-group': { severity: 'error', hint: 'define each group in one file only' },
  'inventory/duplicate-var': { severity: 'error', hint: 'define each variable of a group or host in one place only' },
  'inventory/conflicting-host-var': { severity: 'warning', hint: 'the same host sets this variable differently in two groups; the later group wins, as in Ansible' },
  'inventory/group-cycle': { severity: 'error', hint: 'a group cannot be its own descendant' },
  'config/unsafe-path': { severity: 'error', hint: 'inventory patterns are relative to the repository: no leading /, no ~, no .. segments' },
  'config/invalid': { severity: 'error', hint: 'see schema/corral.schema.json for the settings corral.yml takes' },
  'sops/metadata': { severity: 'error', hint: 'the top-level sops: mapping is what sops writes when it encrypts a file; encrypt the file again with sops instead of editing it by hand' },
  'sops/value': { severity: 'error', hint: "encrypted values are written by sops (sops --encrypt --age age1... --encrypted-regex '^(.*password.*|.*secret.*)$' -i FILE); edit them with sops edit" },
  'sops/type': { severity: 'error', hint: "Corral decrypts strings only: encrypt just the secrets, with sops --encrypted-regex '^(.*password.*|.*secret.*)$'" },
  'sops/key': { severity: 'error', hint: 'give the age identity the file is encrypted for: --age-identity FILE, or CORRAL_AGE_IDENTITY_FILE or SOPS_AGE_KEY_FILE; never a file of the repository' },
  'sops/integrity': { severity: 'error', hint: 'encrypted values only decrypt where sops put them, and the MAC covers the whole file: change the file with sops edit, never by hand' },
  'secret/plaintext': { severity: 'error', hint: "secrets.requireEncrypted is on (corral.yml or corral serve --require-encrypted-secrets): encrypt the file with sops --encrypted-regex '^(.*password.*|.*secret.*)$'" },
  'schema/type': { severity: 'error', hint: 'see the parameter in schema/params/' },
  'schema/enum': { severity: 'error', hint: 'use one of the listed values' },
  'schema/pattern': { severity: 'error', hint: 'see the parameter in schema/params/' },
  'schema/range': { severity: 'error', hint: 'see the parameter in schema/params/' },
  'schema/required': { severity: 'error', hint: 'add the missing field' },
  'schema/unknown-field': { severity: 'error', hint: 'remove the field or fix its spelling' },
  'schema/invalid': { severity: 'error', hint: 'see the parameter in schema/params/' },
  'vars/unknown': { severity: 'warning', hint: 'a variable no module reads; fine for your own vars, or set `strict: true` in corral.yml to forbid them' },
  'pgsql/no-primary': { severity: 'error', hint: 'give exactly one instance `pg_role: primary` (a standby cluster has one primary that follows pg_upstream)' },
  'pgsql/many-primaries': { severity: 'error', hint: 'a cluster has exactly one primary; make the others replicas' },
  'pgsql/duplicate-seq': { severity: 'error', hint: 'pg_seq is unique inside a cluster' },
  'pgsql/missing-identity': { severity: 'error', hint: 'every PGSQL instance needs pg_cluster, pg_seq and pg_role' },
  'pgsql/unknown-owner': { severity: 'error', hint: 'define the owner in pg_users (or use a default role such as dbsu)' },
  'pgsql/bad-upstream': { severity: 'error', hint: 'pg_upstream names an IP that is not the instance itself' },
  'pgsql/external-upstream': { severity: 'warning', hint: 'a standby cluster of a server outside the inventory: Corral cannot check its version, replication login or HBA; make sure they let this cluster replicate' },
  'pgsql/standby-upstream': { severity: 'error', hint: "a standby cluster replicates from a PostgreSQL instance of the same major version, logging in with the upstream's replication user and password" },
  'pgsql/standby-hba': { severity: 'warning', hint: "add an HBA rule on the upstream cluster (pg_hba_rules) that lets the standby cluster's members replicate as the replication user" },
  'pgsql/delay': { severity: 'warning', hint: "pg_delay takes effect on a standby cluster's primary (pg_role: primary with pg_upstream), as Pigsty writes it; give it a unit PostgreSQL knows (ms, s, min, h, d)" },
  'pgsql/vip': { severity: 'error', hint: 'pg_vip_address is an IPv4 CIDR inside the cluster network, and pg_vip_interface is set' },
  'pgsql/hba': { severity: 'error', hint: 'see the HBA rule aliases in schema/params/pgsql.schema.json' },
  'pgsql/pgbackrest-repo': { severity: 'error', hint: 'pgbackrest_method names a key of pgbackrest_repo (local, minio or one of your own), whose type has the options pgBackRest needs: s3_bucket, s3_endpoint and s3_region for s3; azure_account and azure_container for azure; gcs_bucket for gcs' },
  'pgsql/pgbackrest-retention': { severity: 'warning', hint: 'give the repository retention_full (and retention_full_type: count or time): pgBackRest expires backups after each backup by it, as Pigsty sets for local (2 backups) and minio (14 days)' },
  'pgsql/citus': { severity: 'error', hint: 'a Citus group needs pg_group on every member and one primary per group' },
  'module/host-in-two-clusters': { severity: 'error', hint: 'a host belongs to at most one cluster of each module' },
  'etcd/group-name': { severity: 'error', hint: 'name the etcd group after etcd_cluster, as Pigsty does' },
  'etcd/duplicate-seq': { severity: 'error', hint: 'etcd_seq is unique inside the etcd cluster' },
  'etcd/missing-seq': { severity: 'error', hint: 'each etcd member needs etcd_seq' },
  'etcd/even-members': { severity: 'warning', hint: 'an even number of etcd members tolerates no more failures than one member less' },
  'infra/duplicate-seq': { severity: 'error', hint: 'infra_seq is unique among the infra nodes (it names their targets and components: infra-<seq>)' },
  'infra/pg-exporters': { severity: 'error', hint: 'each pg_exporters entry of a node watches one remote instance (<pg_cluster>-<pg_seq>), whose name is a plain word; pg_exporters run on infra nodes (infra_seq)' },
  'redis/bad-replica-of': { severity: 'error', hint: 'replica_of names `<ip> <port>` of a redis instance defined in the inventory' },
  'redis/missing-identity': { severity: 'error', hint: 'every redis node needs redis_cluster, redis_node and redis_instances' },
  'minio/duplicate-seq': { severity: 'error', hint: 'minio_seq is unique inside a minio cluster' },
  'minio/missing-identity': { severity: 'error', hint: 'a MinIO member needs minio_cluster (in its group vars) and minio_seq' },
  'minio/node-name': { severity: 'error', hint: 'put ${minio_seq} in minio_node (Pigsty\'s default is ${minio_cluster}-${minio_seq}.pigsty), or set minio_volumes' },
  'minio/seq-gap': { severity: 'error', hint: 'number the members of a distributed cluster without gaps (MINIO_VOLUMES spans {first...last}), or set minio_volumes' },
  'minio/cluster-mismatch': { severity: 'error', hint: 'set this parameter once for the cluster (its group vars), not per host' },
  'minio/bad-drives': { severity: 'error', hint: 'write the drive range low to high: /data{1...4}' },
  'minio/bucket-name': { severity: 'error', hint: 'S3 bucket names are 3 to 63 lower-case letters, digits, dots and hyphens, starting and ending with a letter or digit' },
  'minio/duplicate-entry': { severity: 'error', hint: 'list each bucket name and user access_key once' },
  'minio/unknown-policy': { severity: 'warning', hint: 'give a bucket name of minio_buckets or a MinIO built-in policy; a policy made by hand works if it exists' },
  'host/port-clash': { severity: 'error', hint: 'two services on one host listen on the same port; move one of them' },
  'host/duplicate-ip': { severity: 'error', hint: 'two hosts are reached at the same address; one machine is one host' },
  'host/bad-address': { severity: 'error', hint: "name the host by its IPv4 address, as Pigsty does; put an SSH alias in ansible_host" },
} as const satisfies Record<string, CodeInfo>;

export type ProblemCode = keyof typeof PROBLEM_CODES;

export function hintFor(code: ProblemCode): string {
  return PROBLEM_CODES[code].hint;
}

export function problem(
  code: ProblemCode,
  at: Location,
  message: string,
  extra: { severity?: Severity; related?: Location } = {},
): Problem {
  const p: Problem = { ...at, code, severity: extra.severity ?? PROBLEM_CODES[code].severity, message };
  if (extra.related) p.related = extra.related;
  return p;
}

export function byPosition(a: Problem, b: Problem): number {
  return a.file.localeCompare(b.file) || a.line - b.line || a.col - b.col || a.code.localeCompare(b.code);
}

export const hasErrors = (problems: readonly Problem[]): boolean => problems.some((p) => p.severity === 'error');
