/**
 * What validation, with no key, says of a file's SOPS side: an encrypted file's view (tree.ts) and
 * what keeps it from being decrypted; encrypted values the inventory cannot take (only strings:
 * an encrypted int would fail the schema on its ciphertext); and the file's value as the schema
 * judges it, without the `sops:` metadata.
 */
import { pointerOf, type SourceFile } from '../source.js';
import { problem, type Problem } from '../problems.js';
import { METADATA_KEY } from './format.js';
import { encryptedLeaves, sopsView, strayEncrypted, type SopsView } from './tree.js';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The file's value without its top-level `sops:` metadata, which is neither a group nor a setting. */
export function withoutMetadata(value: unknown): unknown {
  if (!isObject(value) || !(METADATA_KEY in value)) return value;
  const { [METADATA_KEY]: _metadata, ...data } = value;
  return data;
}

/** An inventory file's SOPS view, and every problem that keeps Corral from decrypting it. */
export function readEncrypted(file: SourceFile): { view?: SopsView; problems: Problem[] } {
  const { view, problems } = sopsView(file);
  if (!view) return { problems: problems.length ? problems : strayEncrypted(file, 'an encrypted value in a file without SOPS metadata (no top-level sops:): encrypt the file with sops, or write the value out') };
  const typed = encryptedLeaves(view)
    .filter((l) => l.type !== 'str')
    .map((l) => problem('sops/type', l.at, `a value encrypted as ${l.type}: Corral decrypts strings only (type:str); encrypt just the secrets, with sops --encrypted-regex '^(.*password.*|.*secret.*)$'`));
  return { view, problems: typed };
}

/**
 * Schema problems at encrypted values are held back: the schema sees ciphertext, a string, and only
 * the plaintext can be judged (decrypt.ts judges it again). The problems come from all of ajv's
 * errors, so that an anyOf above an encrypted value stays explained by it. `held` says some were.
 */
export function problemsOutsideEncrypted(problems: readonly Problem[], view: SopsView | undefined): { problems: Problem[]; held: boolean } {
  if (!view) return { problems: [...problems], held: false };
  const encrypted = new Set(encryptedLeaves(view).map((l) => pointerOf(l.place)));
  const kept = problems.filter((p) => !encrypted.has(p.pointer));
  return { problems: kept, held: kept.length < problems.length };
}
