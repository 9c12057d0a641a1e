/** corral.yml: Corral's own settings for a config repository. Optional; every field has a safe default. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_LIMITS, locate, readSource, type Limits, type SourceFile } from './source.js';
import { validators } from './validators.js';
import { schemaProblems } from './schema-problems.js';
import { problem, type Problem } from './problems.js';
import { strayEncrypted } from './sops/tree.js';
import { withoutMetadata } from './sops/validate.js';
import type { CorralSettings } from '../types/inventory.gen.js';

export const SETTINGS_FILE = 'corral.yml';

export interface Settings {
  /** Globs of inventory files; undefined means the default discovery. */
  inventory: string[] | undefined;
  strict: boolean;
  limits: Limits;
  /** Whether a corral.yml was read. */
  fromFile: boolean;
  ssh: NonNullable<CorralSettings['ssh']>;
  sync: NonNullable<CorralSettings['sync']>;
  webhooks: NonNullable<CorralSettings['webhooks']>;
  secrets: { requireEncrypted: boolean };
}

export const DEFAULT_SETTINGS: Settings = { inventory: undefined, strict: false, limits: DEFAULT_LIMITS, fromFile: false, ssh: {}, sync: {}, webhooks: {}, secrets: { requireEncrypted: false } };

export async function readSettings(root: string): Promise<{ settings: Settings; problems: Problem[]; text?: string }> {
  const path = join(root, SETTINGS_FILE);
  if (!existsSync(path)) return { settings: DEFAULT_SETTINGS, problems: [] };
  const { file, text, problems } = readSource(path, SETTINGS_FILE);
  if (!file) return { settings: DEFAULT_SETTINGS, problems, ...(text === undefined ? {} : { text }) };
  // corral.yml is never decrypted: what Corral does is no secret, and a file it cannot read unkeyed could not be validated.
  const encrypted = strayEncrypted(file, 'an encrypted value in corral.yml: Corral reads its settings without decrypting them; keep corral.yml in plaintext');
  if (encrypted.length) return { settings: DEFAULT_SETTINGS, text: file.text, problems: encrypted };
  const raw = withoutMetadata(file.value) ?? {};
  const { validateSettings: validate } = await validators();
  if (!validate(raw)) {
    return {
      settings: DEFAULT_SETTINGS,
      text: file.text,
      problems: schemaProblems(file, validate.errors ?? []).map((p) => ({ ...p, code: 'config/invalid' })),
    };
  }
  const s = raw as CorralSettings;
  const unsafe = unsafePatterns(file, s.inventory ?? []);
  if (unsafe.length) return { settings: DEFAULT_SETTINGS, text: file.text, problems: unsafe };
  return {
    settings: {
      inventory: s.inventory,
      strict: s.strict ?? false,
      limits: { ...DEFAULT_LIMITS, maxFileBytes: s.limits?.maxFileBytes ?? DEFAULT_LIMITS.maxFileBytes },
      fromFile: true,
      ssh: s.ssh ?? {},
      sync: s.sync ?? {},
      webhooks: s.webhooks ?? {},
      secrets: { requireEncrypted: s.secrets?.requireEncrypted ?? false },
    },
    text: file.text,
    problems: [],
  };
}

/** A pattern that could leave the checkout: absolute, home-relative, or with a `..` segment, also inside braces and extglobs. */
const LEAVES_CHECKOUT = /^(?:[/\\~]|[A-Za-z]:)|(?:^|[/\\])\.\.(?:[/\\]|$)/;

function unsafePatterns(file: SourceFile, patterns: string[]): Problem[] {
  return patterns.flatMap((pattern, i) =>
    pattern.split(/[{},()|]/).some((part) => LEAVES_CHECKOUT.test(part))
      ? [problem('config/unsafe-path', locate(file, ['inventory', i]), `inventory pattern "${pattern}" reaches outside the repository; patterns are relative to it`)]
      : [],
  );
}
