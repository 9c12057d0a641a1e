/**
 * The SOPS file format, as far as Corral reads it: `ENC[AES256_GCM,...]` values and the top-level
 * `sops:` metadata of a YAML file (getsops/sops aes/cipher.go, stores/stores.go). Reading it needs
 * no key: validation checks the shape here, decryption (open.ts) uses what it returns.
 */
import type { PathSegment } from '../source.js';

export const METADATA_KEY = 'sops';

export type EncType = 'str' | 'int' | 'float' | 'bool' | 'bytes' | 'time' | 'comment';

export interface EncValue {
  data: Buffer;
  iv: Buffer;
  tag: Buffer;
  type: EncType;
}

const BASE64 = '((?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?)';
const ENC = new RegExp(`^ENC\\[AES256_GCM,data:${BASE64},iv:${BASE64},tag:${BASE64},type:(str|int|float|bool|bytes|time|comment)\\]$`);
const GCM_TAG_BYTES = 16;

/** Whether a value is meant as a SOPS-encrypted one (well formed or not). */
export const looksEncrypted = (v: unknown): v is string => typeof v === 'string' && v.startsWith('ENC[');

/** An encrypted value's parts, or undefined when it is not one SOPS wrote. */
export function parseEnc(text: string): EncValue | undefined {
  const m = ENC.exec(text);
  if (!m) return undefined;
  const [data, iv, tag] = [m[1]!, m[2]!, m[3]!].map((b) => Buffer.from(b, 'base64'));
  if (!data!.length || !iv!.length || tag!.length !== GCM_TAG_BYTES) return undefined;
  return { data: data!, iv: iv!, tag: tag!, type: m[4] as EncType };
}

/** The rule of a file that says which values SOPS encrypted; SOPS allows one, `unencrypted_suffix: _unencrypted` by default. */
export interface EncryptionRule {
  name: RuleName;
  value: string;
}

const RULES = ['unencrypted_suffix', 'encrypted_suffix', 'unencrypted_regex', 'encrypted_regex', 'unencrypted_comment_regex', 'encrypted_comment_regex'] as const;
export type RuleName = (typeof RULES)[number];

export interface AgeStanza {
  recipient: string;
  /** The data key, age-encrypted and armored. */
  enc: string;
}

export interface SopsMetadata {
  age: AgeStanza[];
  /** `lastmodified` as SOPS formats it (time.RFC3339) for the additional data of the MAC. */
  macData: string;
  /** The MAC, encrypted with the data key. */
  mac: string;
  macOnlyEncrypted: boolean;
  rule: EncryptionRule;
}

/** What is wrong with the metadata, and where under `sops:`. */
export interface MetadataError {
  path: PathSegment[];
  message: string;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const RFC3339 = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** time.Parse(time.RFC3339, s).Format(time.RFC3339): fractions dropped, a zero offset written Z. */
function rfc3339(text: string): string | undefined {
  const m = RFC3339.exec(text);
  if (!m) return undefined;
  return m[1]! + (/^[+-]00:00$/.test(m[2]!) ? 'Z' : m[2]!);
}

/** The data key's age stanzas: of the top-level key group, or of the one group in key_groups (several mean Shamir, not supported). */
function ageStanzas(meta: Record<string, unknown>): AgeStanza[] | MetadataError {
  const lists = ['age', 'pgp', 'kms', 'gcp_kms', 'hckms', 'azure_kv', 'hc_vault'];
  const topLevel = lists.some((k) => Array.isArray(meta[k]) && meta[k].length);
  let age: unknown = meta.age;
  let at: PathSegment[] = ['age'];
  if (!topLevel && Array.isArray(meta.key_groups)) {
    if (meta.key_groups.length > 1) return { path: ['key_groups'], message: 'the data key is split between several key groups (Shamir); Corral decrypts files encrypted for age recipients in one group' };
    age = isObject(meta.key_groups[0]) ? meta.key_groups[0].age : undefined;
    at = ['key_groups', 0, 'age'];
  }
  const stanzas: AgeStanza[] = [];
  for (const [i, s] of (Array.isArray(age) ? (age as unknown[]) : []).entries()) {
    if (!isObject(s) || typeof s.recipient !== 'string' || typeof s.enc !== 'string' || !s.enc.includes('-----BEGIN AGE ENCRYPTED FILE-----')) {
      return { path: [...at, i], message: 'an age entry has a recipient and an armored enc (-----BEGIN AGE ENCRYPTED FILE-----)' };
    }
    stanzas.push({ recipient: s.recipient, enc: s.enc });
  }
  if (!stanzas.length) return { path: at, message: 'the file is encrypted for no age recipient; Corral decrypts with age (sops --age age1...)' };
  return stanzas;
}

function ruleOf(meta: Record<string, unknown>): EncryptionRule | MetadataError {
  const set = RULES.filter((name) => meta[name] !== undefined && meta[name] !== null && meta[name] !== '');
  if (set.length > 1) return { path: [set[1]!], message: `${set.join(' and ')} are both set; SOPS allows one of ${RULES.join(', ')}` };
  const name = set[0] ?? 'unencrypted_suffix';
  const value = meta[name] ?? '_unencrypted';
  if (typeof value !== 'string') return { path: [name], message: `${name} is a string` };
  return { name, value };
}

/** The `sops:` metadata of a file, checked; or the first thing wrong with it. */
export function readMetadata(meta: unknown): SopsMetadata | MetadataError {
  if (!isObject(meta)) return { path: [], message: 'the top-level sops: key holds the metadata of a SOPS-encrypted file, a mapping' };
  const macData = typeof meta.lastmodified === 'string' ? rfc3339(meta.lastmodified) : undefined;
  if (!macData) return { path: ['lastmodified'], message: 'lastmodified is an RFC 3339 time, as SOPS writes it' };
  if (typeof meta.mac !== 'string' || parseEnc(meta.mac)?.type !== 'str') return { path: ['mac'], message: 'mac is the encrypted MAC SOPS writes: ENC[AES256_GCM,data:...,iv:...,tag:...,type:str]' };
  if (meta.mac_only_encrypted !== undefined && typeof meta.mac_only_encrypted !== 'boolean') return { path: ['mac_only_encrypted'], message: 'mac_only_encrypted is true or false' };
  const age = ageStanzas(meta);
  if (!Array.isArray(age)) return age;
  const rule = ruleOf(meta);
  if ('path' in rule) return rule;
  return { age, macData, mac: meta.mac, macOnlyEncrypted: meta.mac_only_encrypted === true, rule };
}
