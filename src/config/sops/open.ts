/**
 * Decrypting a SOPS file from its view (tree.ts), as SOPS does it (cmd/sops/common DecryptTree):
 * the data key from an age stanza (age/keysource.go), each value with AES-256-GCM and its key
 * path as additional data (aes/cipher.go), then the MAC: SHA-512 over the values in order, as SOPS
 * prints them, compared with the stored one, which is encrypted with the data key and
 * `lastmodified` as additional data (sops.go Decrypt, ToBytes).
 */
import { createDecipheriv, createHash } from 'node:crypto';
import type { PathSegment } from '../source.js';
import type { Location } from '../problems.js';
import { parseEnc, type AgeStanza, type EncType, type EncValue } from './format.js';
import { goFloat } from './scalars.js';
import type { EncryptedLeaf, SopsView } from './tree.js';

const DATA_KEY_BYTES = 32;
/** A MAC over the encrypted values only starts from sha256("sops"), so it never equals a MAC over all of them (sops.go). */
const MAC_ONLY_ENCRYPTED_START = createHash('sha256').update('sops').digest();
/** Decryption yields to the event loop this often: a file of many values never holds the daemon up for long. */
const VALUES_PER_TURN = 1000;

/** The identities of an age identity file, as age and SOPS read it: one a line, `#` comments and blank lines skipped. */
export const identitiesIn = (text: string): string[] =>
  text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));

/** The data key, from the first age stanza one of the identities opens. */
export async function dataKey(stanzas: readonly AgeStanza[], identities: readonly string[]): Promise<Buffer | undefined> {
  // Loaded on the first decryption: its curves and post-quantum code are start-up time for every command otherwise.
  const { Decrypter, armor } = await import('age-encryption');
  const decrypter = new Decrypter();
  for (const identity of identities) decrypter.addIdentity(identity);
  for (const stanza of stanzas) {
    try {
      const key = Buffer.from(await decrypter.decrypt(armor.decode(stanza.enc)));
      if (key.length === DATA_KEY_BYTES) return key;
    } catch {
      // Not for these identities (or not an age file): the next stanza may be.
    }
  }
  return undefined;
}

/** One value's plaintext bytes; throws when the key, the additional data or the value is not the one it was encrypted with. */
export function decryptValue(enc: EncValue, key: Buffer, additionalData: string): Buffer {
  const decipher = createDecipheriv('aes-256-gcm', key, enc.iv, { authTagLength: enc.tag.length });
  decipher.setAAD(Buffer.from(additionalData, 'utf8'));
  decipher.setAuthTag(enc.tag);
  return Buffer.concat([decipher.update(enc.data), decipher.final()]);
}

const GO_FLOAT = /^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$/;
const GO_FLOAT_WORDS = new Map([['NaN', NaN], ['Inf', Infinity], ['+Inf', Infinity], ['-Inf', -Infinity]]);
/** strconv.ParseBool. */
const GO_BOOL = new Map([...['1', 't', 'T', 'TRUE', 'true', 'True'].map((w) => [w, true] as const), ...['0', 'f', 'F', 'FALSE', 'false', 'False'].map((w) => [w, false] as const)]);

/** A decrypted value as SOPS types it (aes/cipher.go Decrypt), with the bytes its MAC takes (ToBytes). */
export function typedPlaintext(type: EncType, bytes: Buffer): { value: unknown; mac: Buffer | string } {
  const text = bytes.toString('utf8');
  if (type === 'int') {
    if (!/^[+-]?[0-9]+$/.test(text)) throw new Error(`${JSON.stringify(text)} is not an int`);
    return { value: Number(text), mac: BigInt(text.replace(/^\+/, '')).toString() };
  }
  if (type === 'float') {
    const v = GO_FLOAT_WORDS.get(text) ?? (GO_FLOAT.test(text) ? Number(text) : undefined);
    if (v === undefined) throw new Error(`${JSON.stringify(text)} is not a float`);
    return { value: v, mac: goFloat(v) };
  }
  if (type === 'bool') {
    const v = GO_BOOL.get(text);
    if (v === undefined) throw new Error(`${JSON.stringify(text)} is not a bool`);
    return { value: v, mac: v ? 'True' : 'False' };
  }
  return { value: text, mac: bytes };
}

export interface Placed {
  place: PathSegment[];
  value: unknown;
}

export type Opened = { ok: true; values: Placed[] } | { ok: false; code: 'sops/key' | 'sops/integrity'; at: Location; message: string };

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Every encrypted value of the file, decrypted and authenticated by its MAC; or the first reason it is not. */
export async function openView(file: string, view: SopsView, identities: readonly string[]): Promise<Opened> {
  const { metadata } = view;
  const key = await dataKey(metadata.age, identities);
  if (!key) {
    const recipients = metadata.age.map((s) => s.recipient).join(', ');
    return { ok: false, code: 'sops/key', at: view.at, message: `no age identity given opens ${file}: it is encrypted for ${recipients}` };
  }
  const hash = createHash('sha512');
  if (metadata.macOnlyEncrypted) hash.update(MAC_ONLY_ENCRYPTED_START);
  const values: Placed[] = [];
  for (const [i, leaf] of view.leaves.entries()) {
    if (i % VALUES_PER_TURN === VALUES_PER_TURN - 1) await nextTurn();
    if ('plain' in leaf) {
      hash.update(leaf.plain, 'utf8');
      continue;
    }
    const opened = openLeaf(leaf, key);
    if (!opened) return { ok: false, code: 'sops/integrity', at: leaf.at, message: `this value of ${file} does not decrypt under its key path (${leaf.aad}): it was moved from another key or file, or changed, so this revision is not used` };
    hash.update(opened.mac);
    values.push({ place: leaf.place, value: opened.value });
  }
  const computed = hash.digest('hex').toUpperCase();
  const stored = openMac(metadata.mac, key, metadata.macData);
  if (stored !== computed) return { ok: false, code: 'sops/integrity', at: view.macAt, message: `${file} fails its MAC check: a value, a key or their order changed since SOPS encrypted it (or its lastmodified), so this revision is not used` };
  return { ok: true, values };
}

function openLeaf(leaf: EncryptedLeaf, key: Buffer): ReturnType<typeof typedPlaintext> | undefined {
  try {
    return typedPlaintext(leaf.type, decryptValue(parseEnc(leaf.enc)!, key, leaf.aad));
  } catch {
    return undefined;
  }
}

function openMac(mac: string, key: Buffer, macData: string): string | undefined {
  try {
    return decryptValue(parseEnc(mac)!, key, macData).toString('utf8');
  } catch {
    return undefined;
  }
}
