/** Cross-field rules of the MINIO module. */
import { problem, type Problem } from '../../src/config/problems.js';
import { clustersOfModule, duplicates, isObject, listOf, type Check } from '../../src/config/checks/context.js';
import type { HostView } from '../../src/config/hosts.js';
import { byName } from './params.js';

/** What every member of a distributed cluster must agree on: each builds MINIO_VOLUMES (and its drives) from them. */
const SHARED = ['minio_data', 'minio_port', 'minio_https', 'minio_node', 'minio_volumes'] as const;
/** MinIO's built-in policies, which a user may be given without a bucket of that name. */
const BUILTIN_POLICIES = ['readwrite', 'readonly', 'writeonly', 'diagnostics', 'consoleAdmin'];
/** S3's bucket names: 3 to 63 lower-case letters, digits, dots and hyphens, a letter or digit at each end. */
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const ELLIPSIS = /\{(\d+)\.\.\.(\d+)\}/g;

const seqOf = (m: HostView): number | undefined => m.int('minio_seq');

function distributed(members: readonly HostView[], out: Problem[]): void {
  const first = members[0]!;
  for (const key of SHARED) {
    const value = JSON.stringify(first.raw(key));
    for (const m of members.slice(1).filter((x) => JSON.stringify(x.raw(key)) !== value)) {
      out.push(problem('minio/cluster-mismatch', m.origin(key), `${key} of ${m.name} differs from ${first.name}'s: the members of a distributed MinIO cluster share one MINIO_VOLUMES`, { related: first.origin(key) }));
    }
  }
  if (!String(first.raw('minio_node')).includes('${minio_seq}') && !first.str('minio_volumes')) {
    out.push(problem('minio/node-name', first.origin('minio_node'), `minio_node "${String(first.raw('minio_node'))}" has no \${minio_seq}: the ${members.length} members of cluster ${first.str('minio_cluster')} would share one name, and MINIO_VOLUMES could not list them`));
  }
  const seqs = members.map(seqOf).filter((s): s is number => s !== undefined);
  const missing: number[] = [];
  for (let s = Math.min(...seqs); s <= Math.max(...seqs) && missing.length < 10; s++) if (!seqs.includes(s)) missing.push(s);
  if (missing.length && !first.str('minio_volumes')) {
    const last = members.find((m) => seqOf(m) === Math.max(...seqs))!;
    out.push(problem('minio/seq-gap', last.origin('minio_seq'), `MINIO_VOLUMES spans minio_seq {${Math.min(...seqs)}...${Math.max(...seqs)}} of cluster ${first.str('minio_cluster')}, but no member has minio_seq ${missing.join(', ')}: the servers would wait for it forever`));
  }
}

function provisioned(m: HostView, out: Problem[]): void {
  const buckets = listOf(m.get('minio_buckets')).filter(isObject);
  const names = buckets.map((b) => String(b.name));
  buckets.forEach((b, i) => {
    if (!BUCKET_NAME.test(String(b.name)) || String(b.name).includes('..')) out.push(problem('minio/bucket-name', m.origin('minio_buckets', i, 'name'), `bucket name "${String(b.name)}" is not one S3 takes: 3 to 63 lower-case letters, digits, dots and hyphens`));
  });
  for (const [dup] of duplicates(buckets.map((b, i) => ({ name: String(b.name), i })), (b) => b.name)) {
    out.push(problem('minio/duplicate-entry', m.origin('minio_buckets', dup.i, 'name'), `bucket ${dup.name} is listed twice in minio_buckets`));
  }
  const users = listOf(m.get('minio_users')).filter(isObject);
  for (const [dup] of duplicates(users.map((u, i) => ({ key: String(u.access_key), i })), (u) => u.key)) {
    out.push(problem('minio/duplicate-entry', m.origin('minio_users', dup.i, 'access_key'), `user ${dup.key} is listed twice in minio_users`));
  }
  users.forEach((u, i) => {
    const policy = typeof u.policy === 'string' ? u.policy : '';
    if (policy && !names.includes(policy) && !BUILTIN_POLICIES.includes(policy)) {
      out.push(problem('minio/unknown-policy', m.origin('minio_users', i, 'policy'), `user ${String(u.access_key)} is given policy "${policy}", which is neither a bucket of minio_buckets (Pigsty makes a policy per bucket) nor one of MinIO's (${BUILTIN_POLICIES.join(', ')})`));
    }
  });
}

export const minioMembers: Check = (ctx) => {
  const out: Problem[] = [];
  for (const h of ctx.hosts) {
    if (h.has('minio_seq') && !h.str('minio_cluster')) out.push(problem('minio/missing-identity', h.origin('minio_seq'), `${h.name} has minio_seq but no minio_cluster: it is in no MinIO cluster`));
    for (const m of h.str('minio_data').matchAll(ELLIPSIS)) {
      if (h.has('minio_seq') && Number(m[1]) > Number(m[2])) out.push(problem('minio/bad-drives', h.origin('minio_data'), `minio_data ${m[0]} counts down: MinIO's ellipsis is {low...high}`));
    }
  }
  for (const c of clustersOfModule(ctx, 'minio')) {
    for (const [dup, first] of duplicates(c.members, (m) => m.str('minio_seq'))) {
      out.push(problem('minio/duplicate-seq', dup.origin('minio_seq'), `minio_seq ${dup.str('minio_seq')} is used by both ${first.name} and ${dup.name}`, { related: first.origin('minio_seq') }));
    }
    const members = [...c.members].sort(byName);
    if (members.length > 1) distributed(members, out);
    if (members[0]?.get('minio_provision') !== false) provisioned(members[0]!, out);
  }
  return out;
};
