/**
 * A value decrypted from the repository is a secret wherever it lands, whatever key it sits under:
 * a change whose field shows one (in its from, to or file text) is marked secret, so that every
 * rendering of the plan (text, Markdown and PR comments, JSON, the API, saved plan records)
 * redacts that field; messages that reach logs and statuses have the values cut out.
 */
import { concealValues } from '../config/secrets.js';
import type { ChangeResult } from './apply.js';
import type { Plan } from './model.js';
import type { FieldChange } from './resources/kind.js';

/** A value as it shows in text, and as JSON writes it inside a string (a key's newlines as `\n`). */
const formsOf = (values: readonly string[]): string[] => values.filter(Boolean).flatMap((v) => [v, JSON.stringify(v).slice(1, -1)]);

const textOf = (v: unknown): string => (typeof v === 'string' ? v : v === undefined || v === null ? '' : JSON.stringify(v));

function shows(field: FieldChange, forms: readonly string[]): boolean {
  const texts = [field.from, field.to, field.text?.before, field.text?.after].map(textOf);
  return texts.some((t) => forms.some((f) => t.includes(f)));
}

/** The plan with every field that shows a decrypted value marked secret, and the values cut out of its reasons and messages. */
export function concealDecrypted(plan: Plan, decrypted: readonly string[]): Plan {
  const forms = formsOf(decrypted);
  if (!forms.length) return plan;
  const hide = (text: string): string => concealValues(text, forms);
  return {
    ...plan,
    changes: plan.changes.map((c) => ({ ...c, reason: hide(c.reason), fields: c.fields.map((f) => (f.secret || !shows(f, forms) ? f : { ...f, secret: true })) })),
    notes: plan.notes.map((n) => ({ ...n, message: hide(n.message) })),
    unreachable: plan.unreachable.map((u) => ({ ...u, message: hide(u.message) })),
  };
}

/** A change's result with the decrypted values cut out of its error (a command's stderr may echo what it was given). */
export function concealResult(result: ChangeResult, decrypted: readonly string[]): ChangeResult {
  return result.error === undefined || !decrypted.length ? result : { ...result, error: concealValues(result.error, formsOf(decrypted)) };
}
