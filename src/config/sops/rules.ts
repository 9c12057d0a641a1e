/**
 * Which values of a file SOPS encrypted: its one rule (sops.go shouldBeEncrypted), over the keys
 * of a value's path or the comments above it. Decryption must ask the same question: a value the
 * rule leaves in plaintext is plaintext even when it looks encrypted, and the MAC of a
 * `mac_only_encrypted` file covers only the values the rule encrypts.
 */
import type { EncryptionRule, MetadataError } from './format.js';

/** The comments before a value, one list per level of its path (SOPS's commentsStack). */
export type CommentStack = readonly (readonly string[])[];

export type EncryptedBy = (path: readonly string[], comments: CommentStack) => boolean;

/**
 * A Go (RE2) pattern as a JavaScript RegExp: a leading `(?ims)` becomes flags, `(?P<name>` a named
 * group, `\A` and `\z` the ends of the text. Searched, not anchored, as regexp.Match does.
 */
export function goRegExp(pattern: string): RegExp {
  const flags = /^\(\?([ims]+)\)/.exec(pattern);
  const body = (flags ? pattern.slice(flags[0].length) : pattern).replace(/\(\?P</g, '(?<').replace(/\\A/g, '^').replace(/\\z/g, '$');
  return new RegExp(body, flags?.[1] ?? '');
}

/** The rule as a function of a value's key path and the comments above it; or why its pattern cannot be read. */
export function encryptedBy(rule: EncryptionRule): EncryptedBy | MetadataError {
  const { name, value } = rule;
  if (name === 'unencrypted_suffix') return (path) => !path.some((k) => k.endsWith(value));
  if (name === 'encrypted_suffix') return (path) => path.some((k) => k.endsWith(value));
  let re: RegExp;
  try {
    re = goRegExp(value);
    // V8 compiles a pattern at its first use: one too large to compile fails here, not mid-decryption.
    re.test('');
  } catch (e) {
    return { path: [name], message: `${name} is not a pattern Corral can read: ${(e as Error).message}` };
  }
  const matches = (s: string): boolean => re.test(s);
  if (name === 'unencrypted_regex') return (path) => !path.some(matches);
  if (name === 'encrypted_regex') return (path) => path.some(matches);
  if (name === 'unencrypted_comment_regex') return (_path, comments) => !comments.some((level) => level.some(matches));
  return (_path, comments) => comments.some((level) => level.some(matches));
}
