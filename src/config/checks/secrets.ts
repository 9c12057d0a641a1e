/** Under `secrets: { requireEncrypted: true }` (or corral serve --require-encrypted-secrets), a secret written in plaintext is an error. */
import { problem, type Problem } from '../problems.js';
import { isSecretPath } from '../secrets.js';
import { varName } from '../schema-problems.js';
import { locate, type PathSegment } from '../source.js';
import { looksEncrypted } from '../sops/format.js';
import { varsBlocks, type Check } from './context.js';

/** A value someone could read: a non-empty string that is not SOPS ciphertext, or a number. */
const readable = (v: unknown): boolean => (typeof v === 'string' && v !== '' && !looksEncrypted(v)) || typeof v === 'number';

export const plaintextSecrets: Check = (ctx) => {
  if (!ctx.inventory.settings.secrets.requireEncrypted) return [];
  const out: Problem[] = [];
  for (const block of varsBlocks(ctx.inventory)) {
    const stack: [unknown, PathSegment[]][] = Object.entries(block.vars).map(([k, v]) => [v, [k]]);
    while (stack.length) {
      const [value, path] = stack.pop()!;
      if (value && typeof value === 'object') {
        for (const [k, v] of Object.entries(value)) stack.push([v, [...path, Array.isArray(value) ? Number(k) : k]]);
      } else if (readable(value) && isSecretPath(path)) {
        out.push(problem('secret/plaintext', locate(block.file, [...block.path, ...path]), `${varName(path)} is a secret written in plaintext, and this repository requires secrets encrypted with SOPS`));
      }
    }
  }
  return out;
};
