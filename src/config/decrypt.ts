/**
 * Decrypting a validated revision's SOPS-encrypted files with an age identity of the machine Corral
 * runs on: named by a flag or the environment, never by the repository, which is untrusted input.
 * A revision whose encrypted values do not all decrypt and authenticate (wrong key, MAC broken, a
 * value moved to another key) becomes invalid, the reason located in its file: nothing of it is
 * planned or applied. The plaintexts are kept on the inventory, so that every output hides them.
 */
import { readFile } from 'node:fs/promises';
import { mergeInventory } from './load.js';
import { hostViews } from './hosts.js';
import { clustersOf } from './clusters.js';
import { byPosition, problem, type Problem } from './problems.js';
import { schemaProblems } from './schema-problems.js';
import { concealValues } from './secrets.js';
import { validators } from './validators.js';
import type { PathSegment, SourceFile } from './source.js';
import { DEFAULT_ISOLATION, validateIsolated } from './isolated.js';
import { identitiesIn, openView, type Placed } from './sops/open.js';
import { withoutMetadata } from './sops/validate.js';
import type { Validated } from './validate.js';

export interface SecretOptions {
  /** The age identity file: `--age-identity`, else CORRAL_AGE_IDENTITY_FILE, else SOPS's own SOPS_AGE_KEY_FILE. */
  ageIdentityFile?: string;
  /** Plaintext secrets are errors whatever corral.yml says (corral serve --require-encrypted-secrets). */
  requireEncrypted?: boolean;
}

/** Where the age identity comes from: the flag, then Corral's variable, then the one SOPS users already set. */
export const ageIdentityFile = (flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined =>
  flag || env.CORRAL_AGE_IDENTITY_FILE || env.SOPS_AGE_KEY_FILE || undefined;

/** The identities of the file, or why there are none; read at each decryption, so a rotated key needs no restart. */
async function readIdentities(file: string): Promise<string[] | string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    return `cannot read the age identity file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`;
  }
  const identities = identitiesIn(text);
  return identities.length ? identities : `the age identity file ${file} holds no identity (AGE-SECRET-KEY-1...)`;
}

/** The revision refused: the problems join its own, and it is no longer valid. */
const refused = (v: Validated, problems: Problem[]): Validated => ({ ...v, valid: false, problems: [...v.problems, ...problems].sort(byPosition) });

/** A copy of the value with each plaintext at its place. */
function placed(value: unknown, values: readonly Placed[]): unknown {
  const copy = structuredClone(value);
  for (const { place, value: plaintext } of values) {
    let holder = copy as Record<PathSegment, unknown>;
    for (const seg of place.slice(0, -1)) holder = holder[seg] as Record<PathSegment, unknown>;
    holder[place[place.length - 1]!] = plaintext;
  }
  return copy;
}

/** The file as decrypted; it is located and framed as the file it was read from. */
const withValue = (file: SourceFile, value: unknown): SourceFile => ({
  path: file.path,
  text: file.text,
  value,
  get doc() { return file.doc; },
  get lineCounter() { return file.lineCounter; },
});

/** The schema's judgement of plaintexts whose ciphertext it could not judge, with the plaintexts hidden from its messages. */
async function heldSchemaProblems(file: SourceFile, plaintexts: readonly string[]): Promise<Problem[]> {
  const { validateInventory: validate } = await validators();
  if (validate(withoutMetadata(file.value) ?? null)) return [];
  return schemaProblems(file, validate.errors ?? []).map((p) => ({ ...p, message: concealValues(p.message, plaintexts) }));
}

/** The revision with its encrypted values decrypted, or refused with the located reason. A revision with none is returned as it is. */
export async function decryptValidated(v: Validated, identityFile: string | undefined): Promise<Validated> {
  const inventory = v.inventory;
  const sealed = v.valid && inventory ? inventory.files.filter((f) => f.sops) : [];
  if (!inventory || !sealed.length) return v;
  const first = sealed[0]!;
  if (!identityFile) return refused(v, [problem('sops/key', first.sops!.at, `${first.path} holds SOPS-encrypted values and no age identity was given: pass --age-identity FILE, or set CORRAL_AGE_IDENTITY_FILE or SOPS_AGE_KEY_FILE`)]);
  const identities = await readIdentities(identityFile);
  if (typeof identities === 'string') return refused(v, [problem('sops/key', first.sops!.at, identities)]);
  const decrypted: string[] = [];
  const files: SourceFile[] = [];
  for (const file of inventory.files) {
    if (!file.sops) {
      files.push(file);
      continue;
    }
    const opened = await openView(file.path, file.sops, identities);
    if (!opened.ok) return refused(v, [problem(opened.code, opened.at, opened.message)]);
    const plaintexts = opened.values.map((x) => String(x.value));
    const plain = withValue(file, placed(file.value, opened.values));
    const held = file.sops.schemaHeld ? await heldSchemaProblems(plain, plaintexts) : [];
    if (held.length) return refused(v, held);
    files.push(plain);
    decrypted.push(...plaintexts);
  }
  const merged = mergeInventory(inventory.root, inventory.settings, files, false).inventory;
  merged.decrypted = decrypted;
  const hosts = hostViews(merged);
  return { ...v, inventory: merged, hosts, clusters: clustersOf(hosts) };
}

/** A revision as the daemon takes it: validated in a child process (time and heap bounded), then decrypted here. */
export async function admitRevision(dir: string, secrets: SecretOptions = {}): Promise<Validated> {
  const validated = await validateIsolated(dir, DEFAULT_ISOLATION, secrets.requireEncrypted ? { requireEncryptedSecrets: true } : {});
  return decryptValidated(validated, secrets.ageIdentityFile);
}
