/**
 * A user of minio_users, as Pigsty's provisioning makes it on the cluster's first member: added with
 * its secret key and given its policy. MinIO never tells a user's secret key, so Corral keeps on the
 * node a salted hash of the one it last set (/var/lib/corral/minio/users/<access_key>), as REDIS
 * keeps the upstream it acted on: a different hash in the inventory sets the key again. The key
 * itself is read on the node from the secret users file and reaches mcli on its stdin, never in a
 * script or on a command line. A policy attached by hand stays; the inventory's is added.
 */
import { sh, unlessAlready } from '../../../src/engine/shell.js';
import { sha256 } from '../../../src/engine/resources/file.js';
import { keyValues, refTo, type FieldChange, type Kind, type Ref } from '../../../src/engine/resources/kind.js';
import { jsonSection, LOCAL_ALIAS, mcli, section, success, text } from './mcli.js';

export interface MinioUserWant {
  cluster: string;
  accessKey: string;
  /** The policy to attach, '' none. */
  policy: string;
  /** Salted hash of the secret key (secretHash). */
  secretHash: string;
  /** The secret file on the node with a `<access_key><TAB><secret_key>` line per user. */
  secretsFile: string;
}

export interface MinioUserHave {
  /** The policies attached to the user. */
  policies: string[];
  /** The hash Corral recorded when it last set the secret key; null when it never did. */
  recorded: string | null;
}

const STATE_DIR = '/var/lib/corral/minio/users';
const recordOf = (accessKey: string): string => `${STATE_DIR}/${accessKey}`;

/** How a secret key is compared: hashed with the cluster and access key as salt, so equal keys of two users do not hash alike. */
export const secretHash = (cluster: string, accessKey: string, secret: string): string => sha256(`${cluster}/${accessKey}:${secret}`);

/** User `accessKey`, on the provisioning member: what the other members' servers run before. */
export const minioUserId = (accessKey: string): Ref<MinioUserHave> => refTo(minioUser, accessKey);

const setsSecret = (w: MinioUserWant, h: MinioUserHave | null): boolean => h?.recorded !== w.secretHash;
const needsPolicy = (w: MinioUserWant, h: MinioUserHave | null): boolean => w.policy !== '' && !h?.policies.includes(w.policy);

/** `mcli admin user add` with the key read from the users file into a shell variable, then given on stdin. */
const addUser = (w: MinioUserWant): string =>
  [
    sh`sk=$(awk -v k=${w.accessKey} 'index($0, k "\\t") == 1 { print substr($0, length(k) + 2); exit }' ${w.secretsFile})`,
    sh`[ -n "$sk" ] || { echo ${`no secret key for ${w.accessKey} in ${w.secretsFile}`} >&2; exit 1; }`,
    `printf '%s\\n' "$sk" | ` + mcli(sh`admin user add ${LOCAL_ALIAS} ${w.accessKey}`) + ' >/dev/null',
    'unset sk',
  ].join('\n');

export const minioUser: Kind<MinioUserWant, MinioUserHave, 'minio-user'> = {
  name: 'minio-user',
  id: (w) => minioUserId(w.accessKey),
  probe: (w) => [sh`[ -f ${recordOf(w.accessKey)} ] && echo "recorded=$(cat ${recordOf(w.accessKey)})"`, jsonSection('info', sh`admin user info ${LOCAL_ALIAS} ${w.accessKey}`)].join('\n'),
  parse: (out) => {
    const info = success(section(out, 'info'));
    if (!info) return null;
    const policies = text(info.policyName).split(',').map((p) => p.trim()).filter(Boolean);
    return { policies, recorded: keyValues(out.split('@@')[0] ?? '').get('recorded') ?? null };
  },
  diff: (w, h) => {
    const out: FieldChange[] = [];
    if (!h) out.push({ field: 'user', from: null, to: w.accessKey });
    if (setsSecret(w, h)) out.push({ field: 'secret_key', from: h?.recorded ? 'set' : null, to: 'set', secret: true });
    if (needsPolicy(w, h)) out.push({ field: 'policy', from: h?.policies.join(',') || null, to: w.policy });
    return out;
  },
  apply: (w, h) =>
    [
      ...(setsSecret(w, h) ? [addUser(w)] : []),
      ...(needsPolicy(w, h) ? [unlessAlready(mcli(sh`admin policy attach ${LOCAL_ALIAS} ${w.policy} --user ${w.accessKey}`), 'already in effect')] : []),
      ...(setsSecret(w, h) ? [sh`mkdir -p ${STATE_DIR} && printf '%s' ${w.secretHash} > ${recordOf(w.accessKey)}`] : []),
    ].join('\n'),
};
