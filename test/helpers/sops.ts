/**
 * SOPS-encrypted inventories for tests, made as SOPS makes them but by other code than Corral's:
 * keys and the data key's stanza by Debian's `age` and `age-keygen` when they are installed
 * (typage otherwise), values with node:crypto under their key path, the MAC over the values in
 * order (getsops/sops sops.go Encrypt). Trees are plain data: mappings, lists, strings, integers.
 */
import { execFileSync } from 'node:child_process';
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Encrypter, armor, generateIdentity, identityToRecipient } from 'age-encryption';
import { stringify } from 'yaml';

export const REAL_AGE = existsSync('/usr/bin/age') && existsSync('/usr/bin/age-keygen');

export interface AgeKey {
  recipient: string;
  /** An identity file, as age-keygen writes it. */
  file: string;
}

export async function ageKeygen(): Promise<AgeKey> {
  const file = join(mkdtempSync(join(tmpdir(), 'corral-age-')), 'key.txt');
  if (REAL_AGE) {
    execFileSync('/usr/bin/age-keygen', ['-o', file], { stdio: 'ignore' });
    return { file, recipient: execFileSync('/usr/bin/age-keygen', ['-y', file], { encoding: 'utf8' }).trim() };
  }
  const identity = await generateIdentity();
  writeFileSync(file, `# created by typage\n${identity}\n`);
  return { file, recipient: await identityToRecipient(identity) };
}

/** The data key encrypted for a recipient, armored, as SOPS stores it under sops.age[].enc. */
async function ageEncrypt(dataKey: Buffer, recipient: string): Promise<string> {
  if (REAL_AGE) return execFileSync('/usr/bin/age', ['-r', recipient, '-a'], { input: dataKey, encoding: 'utf8' });
  const e = new Encrypter();
  e.addRecipient(recipient);
  return armor.encode(await e.encrypt(dataKey));
}

/** One value as SOPS's cipher writes it (aes/cipher.go Encrypt). */
export function sealValue(plaintext: string, key: Buffer, additionalData: string, type = 'str'): string {
  const iv = randomBytes(32);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(additionalData));
  const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return `ENC[AES256_GCM,data:${data.toString('base64')},iv:${iv.toString('base64')},tag:${cipher.getAuthTag().toString('base64')},type:${type}]`;
}

export interface SopsOptions {
  recipients: string[];
  /** Keys whose values are encrypted (SOPS's --encrypted-regex); by default all but `*_unencrypted`. */
  encryptedRegex?: string;
  macOnlyEncrypted?: boolean;
  lastModified?: string;
}

type Tree = string | number | boolean | null | Tree[] | { [key: string]: Tree };

/** The YAML text of a tree encrypted as `sops --encrypt` would, and the data key (to forge values with in tests). */
export async function sopsEncrypt(tree: { [key: string]: Tree }, o: SopsOptions): Promise<{ text: string; dataKey: Buffer }> {
  const dataKey = randomBytes(32);
  const encrypts = (path: string[]): boolean => (o.encryptedRegex ? path.some((k) => new RegExp(o.encryptedRegex!).test(k)) : !path.some((k) => k.endsWith('_unencrypted')));
  const mac = createHash('sha512');
  if (o.macOnlyEncrypted) mac.update(createHash('sha256').update('sops').digest());
  const walk = (v: Tree, path: string[]): Tree => {
    if (Array.isArray(v)) return v.map((x) => walk(x, path));
    if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x, [...path, k])]));
    if (v === null) return v;
    const encrypted = encrypts(path);
    const bytes = typeof v === 'boolean' ? (v ? 'True' : 'False') : String(v);
    if (!o.macOnlyEncrypted || encrypted) mac.update(bytes);
    if (!encrypted || v === '') return v;
    return sealValue(bytes, dataKey, path.join(':') + ':', typeof v === 'string' ? 'str' : typeof v === 'number' ? 'int' : 'bool');
  };
  const data = walk(tree, []) as { [key: string]: Tree };
  const lastmodified = o.lastModified ?? '2025-06-01T12:00:00Z';
  const age = await Promise.all(o.recipients.map(async (recipient) => ({ recipient, enc: await ageEncrypt(dataKey, recipient) })));
  const sops = {
    age,
    lastmodified,
    mac: sealValue(mac.digest('hex').toUpperCase(), dataKey, lastmodified),
    ...(o.encryptedRegex ? { encrypted_regex: o.encryptedRegex } : { unencrypted_suffix: '_unencrypted' }),
    ...(o.macOnlyEncrypted ? { mac_only_encrypted: true } : {}),
    version: '3.10.2',
  };
  return { text: stringify({ ...data, sops }, { version: '1.1', lineWidth: 0 }), dataKey };
}

/** The data key of an armored stanza, as Debian's `age -d` decrypts it (for comparing with Corral's). */
export function ageDecrypt(armored: string, identityFile: string): Buffer {
  return execFileSync('/usr/bin/age', ['-d', '-i', identityFile], { input: armored });
}
