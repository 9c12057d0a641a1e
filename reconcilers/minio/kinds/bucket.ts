/**
 * A bucket of minio_buckets, as Pigsty's provisioning makes it on the cluster's first member: made
 * with versioning and object lock as asked (`mcli mb --ignore-existing`), and Pigsty's policy of the
 * same name (everything on the bucket) created or put back. Versioning is turned on where it is
 * asked for and never suspended; object lock can only be chosen when a bucket is made, so an
 * existing bucket without it is reported, not changed.
 */
import { sh } from '../../../src/engine/shell.js';
import { refTo, type FieldChange, type Kind, type Ref, type Unsupported } from '../../../src/engine/resources/kind.js';
import { jsonSection, LOCAL_ALIAS, mcli, section, success, text } from './mcli.js';

export interface MinioBucketWant {
  cluster: string;
  name: string;
  versioning: boolean;
  lock: boolean;
  /** Pigsty's policy named after the bucket, as JSON text. */
  policy: string;
}

export interface MinioBucketHave {
  /** `Enabled`, `Suspended`, or '' never turned on. */
  versioning: string;
  lock: boolean;
  /** The statements of the policy named after the bucket, normalized (policyStatements); null when there is none. */
  policy: string | null;
}

type Json = Record<string, unknown>;

/** The first `Statement` list anywhere in a value (mcli's answer nests the policy document in policyInfo). */
function statementsIn(v: unknown): unknown[] | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  if (!Array.isArray(v) && Array.isArray((v as Json).Statement)) return (v as Json).Statement as unknown[];
  for (const x of Object.values(v)) {
    const found = statementsIn(x);
    if (found) return found;
  }
  return undefined;
}

const sorted = (x: unknown): string[] => (Array.isArray(x) ? x : x === undefined ? [] : [x]).map(String).sort();

/** A policy's statements in a form two equal policies share: actions and resources as sorted lists (MinIO may give back a string for a list of one). */
export function policyStatements(doc: unknown): string {
  const statements = (statementsIn(doc) ?? []).map((s) => {
    const x = (s ?? {}) as Json;
    return JSON.stringify({ Effect: x.Effect, Action: sorted(x.Action), Resource: sorted(x.Resource) });
  });
  return `[${statements.sort().join(',')}]`;
}

/** Bucket `name`, on the provisioning member: what the other members' servers run before. */
export const minioBucketId = (name: string): Ref<MinioBucketHave> => refTo(minioBucket, name);

const target = (w: MinioBucketWant): string => `${LOCAL_ALIAS}/${w.name}`;

export const minioBucket: Kind<MinioBucketWant, MinioBucketHave, 'minio-bucket'> = {
  name: 'minio-bucket',
  id: (w) => minioBucketId(w.name),
  probe: (w) => [jsonSection('stat', sh`stat ${target(w)}`), jsonSection('policy', sh`admin policy info ${LOCAL_ALIAS} ${w.name}`)].join('\n'),
  parse: (out, w): MinioBucketHave | null | Unsupported => {
    const stat = success(section(out, 'stat'));
    if (!stat) return null;
    const lock = ((stat.ObjectLock ?? {}) as Json).enabled === 'Enabled';
    if (w.lock && !lock) {
      return { unsupported: `bucket ${w.name} exists without object lock, which MinIO turns on only when a bucket is made: make a new bucket with lock and move the objects, or drop lock` };
    }
    const policy = success(section(out, 'policy'));
    return { versioning: text(((stat.Versioning ?? {}) as Json).status), lock, policy: policy ? policyStatements(policy) : null };
  },
  diff: (w, h) => {
    const out: FieldChange[] = [];
    if (!h) out.push({ field: 'bucket', from: null, to: [w.name, ...(w.versioning ? ['versioning'] : []), ...(w.lock ? ['lock'] : [])].join(' ') });
    else if (w.versioning && h.versioning !== 'Enabled') out.push({ field: 'versioning', from: h.versioning || 'off', to: 'Enabled' });
    const policy = policyStatements(JSON.parse(w.policy));
    if (h?.policy !== policy) out.push({ field: 'policy', from: h?.policy ?? null, to: policy });
    return out;
  },
  apply: (w, h) => {
    const lines: string[] = [];
    if (!h) lines.push(mcli(sh`mb ${['--ignore-existing', ...(w.lock ? ['--with-lock'] : []), ...(w.versioning ? ['--with-versioning'] : []), target(w)]}`) + ' >/dev/null');
    // Also after mb: a bucket that was there already (unseen while the server was down) gets versioning too.
    if (w.versioning && h?.versioning !== 'Enabled') lines.push(mcli(sh`version enable ${target(w)}`) + ' >/dev/null');
    if (h?.policy !== policyStatements(JSON.parse(w.policy))) lines.push(sh`printf '%s' ${w.policy} | ` + mcli(sh`admin policy create ${LOCAL_ALIAS} ${w.name} /dev/stdin`) + ' >/dev/null');
    return lines.join('\n');
  },
};
