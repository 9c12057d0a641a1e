/**
 * The inventory's MINIO parameters as the module reads them, with Pigsty's derived values (the
 * node name, the drives of `minio_data`, MINIO_VOLUMES), and what it cannot honour: said once per
 * cluster, on its first member, so nothing is skipped without a word.
 */
import type { HostView } from '../../src/config/hosts.js';
import { fillPlaceholders } from '../../src/config/placeholders.js';
import type { Note } from '../../src/engine/model.js';
import type { MinioBucket, MinioUser } from '../../src/types/inventory.gen.js';
import { LOCAL_ALIAS } from './kinds/mcli.js';

export const typeOf = (h: HostView): string => h.param('minio_type');
export const osUserOf = (h: HostView): string => h.param('minio_user');
export const portOf = (h: HostView): number => h.param('minio_port');
export const httpsOf = (h: HostView): boolean => h.param('minio_https');
export const schemeOf = (h: HostView): string => (httpsOf(h) ? 'https' : 'http');
export const domainOf = (h: HostView): string => h.param('minio_domain');
export const instanceOf = (h: HostView): string => `${h.str('minio_cluster') ?? ''}-${h.str('minio_seq') ?? ''}`;
/** minio_node with this member's `${minio_cluster}` and `${minio_seq}` filled in: `minio-1.pigsty`. */
export const nodeNameOf = (h: HostView): string => h.str('minio_node');
export const homeOf = (h: HostView): string => `/home/${osUserOf(h)}`;
export const accessKeyOf = (h: HostView): string => h.param('minio_access_key');
export const secretKeyOf = (h: HostView): string => h.param('minio_secret_key');
export const bucketsOf = (h: HostView): MinioBucket[] => h.param('minio_buckets');
export const usersOf = (h: HostView): MinioUser[] => h.param('minio_users');

/** The cluster's members in Pigsty's order (minio_cluster_members: sorted by inventory name); the first provisions. */
export const byName = (a: HostView, b: HostView): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

const ELLIPSIS = /\{(\d+)\.\.\.(\d+)\}/;

/**
 * MinIO's ellipsis syntax expanded, as the server expands it: `/data{1...4}` is /data1 ... /data4,
 * a zero-padded start keeps its width (`{01...16}`), and several ellipses multiply.
 */
export function expandEllipses(pattern: string): string[] {
  const m = ELLIPSIS.exec(pattern);
  if (!m) return [pattern];
  const [whole, from, to] = m as unknown as [string, string, string];
  const width = from.startsWith('0') ? from.length : 0;
  const out: string[] = [];
  for (let i = Number(from); i <= Number(to); i++) {
    const head = pattern.slice(0, m.index) + String(i).padStart(width, '0');
    out.push(...expandEllipses(pattern.slice(m.index + whole.length)).map((tail) => head + tail));
  }
  return out;
}

/** The data directories Pigsty creates: minio_data expanded. */
export const drivesOf = (h: HostView): string[] => expandEllipses(h.param('minio_data'));

/** The seq range of the cluster in MinIO's ellipsis syntax: `{1...4}`. */
export function seqRange(members: readonly HostView[]): string {
  const seqs = members.map((m) => m.int('minio_seq') ?? 0);
  return `{${Math.min(...seqs)}...${Math.max(...seqs)}}`;
}

/**
 * MINIO_VOLUMES as Pigsty computes it: minio_volumes when set; else minio_data for one node, and
 * for several `<scheme>://<minio_node with ${minio_seq} as the seq range>:<port><minio_data>`,
 * the ellipses left for the server to expand.
 */
export function volumesOf(h: HostView, members: readonly HostView[]): string {
  const explicit = h.param('minio_volumes');
  if (explicit) return explicit;
  const data = h.param('minio_data');
  if (members.length <= 1) return data;
  const pattern = fillPlaceholders('minio_node', h.raw('minio_node'), { minio_cluster: h.str('minio_cluster'), minio_seq: seqRange(members) });
  return `${schemeOf(h)}://${String(pattern)}:${portOf(h)}${data}`;
}

/** Where the mcli alias points: minio_endpoint, else `<scheme>://<minio_domain>:<minio_port>` (Pigsty's). */
export const endpointOf = (h: HostView): string => h.param('minio_endpoint') || `${schemeOf(h)}://${domainOf(h)}:${portOf(h)}`;

/** MinIO's own bounds (the server refuses a shorter root user or password; `mcli admin user add` a shorter secret). */
const MIN_ACCESS_KEY = 3;
const MIN_SECRET_KEY = 8;
/** What a double-quoted value of the env file (a systemd EnvironmentFile, as Pigsty writes it) cannot hold as written. */
const UNQUOTABLE = /["\\\p{Cc}]/u;

const BUCKET_FIELDS = ['name', 'versioning', 'lock'];
const USER_FIELDS = ['access_key', 'secret_key', 'policy'];

/** Once per cluster, on its first member: values not honoured here, and those that block the cluster (parameters never honoured are the schema's x-corral). */
export function clusterNotes(anchor: HostView): Note[] {
  const out: Note[] = [];
  const note = (message: string, blocking = false): number => out.push({ host: anchor.name, resource: `minio:${anchor.str('minio_cluster') ?? ''}`, message, ...(blocking ? { blocking } : {}) });
  const secret = secretKeyOf(anchor);
  if (accessKeyOf(anchor).length < MIN_ACCESS_KEY) note(`minio_access_key is shorter than ${MIN_ACCESS_KEY} characters, which MinIO refuses as its root user`, true);
  if (secret.length < MIN_SECRET_KEY) note(`minio_secret_key is shorter than ${MIN_SECRET_KEY} characters, which MinIO refuses as its root password`, true);
  if (UNQUOTABLE.test(secret)) note('minio_secret_key holds a double quote, a backslash or a control character, which the env file cannot hold as Pigsty writes it; choose one without them', true);
  for (const u of usersOf(anchor)) {
    if (u.secret_key.length < MIN_SECRET_KEY || /\p{Cc}/u.test(u.secret_key)) note(`minio_users: the secret_key of ${u.access_key} is shorter than ${MIN_SECRET_KEY} characters or holds a control character, which MinIO does not take`, true);
  }
  const bucketExtra = [...new Set(bucketsOf(anchor).flatMap((b) => Object.keys(b).filter((k) => !BUCKET_FIELDS.includes(k))))];
  if (bucketExtra.length) note(`minio_buckets fields ${bucketExtra.join(', ')} are not read (by Pigsty either): only name, versioning and lock are`);
  const userExtra = [...new Set(usersOf(anchor).flatMap((u) => Object.keys(u).filter((k) => !USER_FIELDS.includes(k))))];
  if (userExtra.length) note(`minio_users fields ${userExtra.join(', ')} are not read (by Pigsty either): only access_key, secret_key and policy are`);
  const unversioned = bucketsOf(anchor).filter((b) => b.versioning === false && !b.lock);
  if (unversioned.length) note(`versioning: false (${unversioned.map((b) => b.name).join(', ')}) is not enforced: Corral turns versioning on where it is asked for and never suspends it, as Pigsty`);
  if (anchor.param('minio_alias') === LOCAL_ALIAS) note(`minio_alias ${LOCAL_ALIAS} is the alias Corral's mcli calls use on each member: it points at the member's own server, not at minio_endpoint; choose another name`);
  return out;
}
