/**
 * Secrets are marked in the schema with `x-secret: true`. A mask per parameter is built from the
 * schema once; redaction happens at rendering, for every output. Values under names that look
 * like secrets (a user's own `app_password`, an app's `PGADMIN_DEFAULT_PASSWORD`) are redacted
 * too: a false positive costs a hidden value, a false negative a leaked one. So is the password
 * of any URL in any string (`postgres://app:***@10.0.0.1/db`), whatever the name it sits under.
 */
import { deref, schemas, type JsonSchema, type Located } from './schema.js';

export const REDACTED = '(redacted)';

const SECRET_NAME = /passw|secret|token|private_?key|cipher_pass|credential|api_?key|_pass$|^pass$/i;

/**
 * `scheme://userinfo@`. The userinfo runs to the last `@` before the path, so an unencoded `@` in
 * a password (`app:p@ss@host`) is cut out whole; whitespace, quotes and backticks end a URL in text.
 * The scheme's length is bounded so a long run of letters (a hex blob in a diff) stays linear.
 */
const URL_USERINFO = /([a-z][a-z0-9+.-]{0,30}:\/\/)([^\s/"`]+)@/gi;

/** Text with the password of every URL in it hidden: `https://user:***@host/`, or `https://***@host/` for a bare token. */
export function redactUrlCredentials(text: string): string {
  return text.replace(URL_USERINFO, (_match, scheme: string, userinfo: string) => {
    const colon = userinfo.indexOf(':');
    return `${scheme}${colon < 0 ? '' : userinfo.slice(0, colon + 1)}***@`;
  });
}

/** Text with each of these values (decrypted secrets) replaced by `(redacted)`, the longest first so none shows in part. */
export function concealValues(text: string, values: readonly string[]): string {
  let out = text;
  for (const v of [...values].sort((a, b) => b.length - a.length)) if (v) out = out.split(v).join(REDACTED);
  return out;
}

/** A copy with URL credentials hidden in every string it holds, however deep. */
export function withoutUrlCredentials<T>(value: T): T {
  if (typeof value === 'string') return redactUrlCredentials(value) as T;
  if (Array.isArray(value)) return value.map(withoutUrlCredentials) as T;
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withoutUrlCredentials(v)])) as T;
  return value;
}

interface Mask {
  secret?: boolean;
  props?: Map<string, Mask>;
  items?: Mask;
  rest?: Mask;
}

const masks = new Map<string, Mask | null>();

function maskOf(at: Located, depth = 0): Mask | null {
  if (depth > 12) return null;
  const { schema, base } = deref(at);
  if (schema['x-secret'] === true) return { secret: true };
  const mask: Mask = {};
  const child = (s: unknown): Mask | null => (s && typeof s === 'object' ? maskOf({ schema: s as JsonSchema, base }, depth + 1) : null);
  const merge = (into: Mask, m: Mask | null): void => {
    if (!m) return;
    if (m.secret) into.secret = true;
    for (const [k, v] of m.props ?? []) (into.props ??= new Map()).set(k, v);
    if (m.items) into.items = m.items;
    if (m.rest) into.rest = m.rest;
  };
  for (const [k, v] of Object.entries((schema.properties as Record<string, unknown>) ?? {})) {
    const m = child(v);
    if (m) (mask.props ??= new Map()).set(k, m);
  }
  const items = child(schema.items);
  if (items) mask.items = items;
  const rest = child(schema.additionalProperties);
  if (rest) mask.rest = rest;
  for (const key of ['anyOf', 'oneOf', 'allOf'] as const) {
    for (const branch of (schema[key] as unknown[] | undefined) ?? []) merge(mask, child(branch));
  }
  return mask.secret || mask.props || mask.items || mask.rest ? mask : null;
}

function maskFor(param: string): Mask | null {
  if (!masks.has(param)) {
    const at = schemas().params.get(param);
    masks.set(param, at ? maskOf(at) : null);
  }
  return masks.get(param)!;
}

function redactValue(value: unknown, mask: Mask | null, name: string): unknown {
  if (value === null || value === undefined || value === '') return value;
  if (mask?.secret || (typeof value !== 'object' && SECRET_NAME.test(name))) return REDACTED;
  if (Array.isArray(value)) return value.map((v) => redactValue(v, mask?.items ?? null, name));
  if (typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = redactValue(v, mask?.props?.get(k) ?? mask?.rest ?? null, k);
    return out;
  }
  return typeof value === 'string' ? redactUrlCredentials(value) : value;
}

/** A copy of one variable's value with every secret replaced by `(redacted)`. */
export function redactVar(name: string, value: unknown): unknown {
  return redactValue(value, maskFor(name), name);
}

export function redactVars(vars: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(vars)) out[k] = redactVar(k, v);
  return out;
}

/** Whether a value at this path (a parameter, then keys and indexes) is a secret. */
export function isSecretPath(path: readonly (string | number)[]): boolean {
  const [param, ...rest] = path;
  if (typeof param !== 'string') return false;
  let mask = maskFor(param);
  let name = param;
  for (const seg of rest) {
    if (mask?.secret) return true;
    mask = typeof seg === 'number' ? mask?.items ?? null : mask?.props?.get(seg) ?? mask?.rest ?? null;
    if (typeof seg === 'string') name = seg;
  }
  return Boolean(mask?.secret) || SECRET_NAME.test(name);
}

let secretKeys: Set<string> | undefined;

/** Key names the schema marks secret anywhere (`pg_admin_password`, pg_users' `password`), or whose every member is (`nginx_users`). */
function schemaSecretKeys(): Set<string> {
  if (!secretKeys) {
    const keys = new Set<string>();
    const visit = (name: string, mask: Mask | null): void => {
      if (!mask) return;
      if (mask.secret) keys.add(name);
      for (const [k, m] of mask.props ?? []) visit(k, m);
      visit(name, mask.items ?? null);
      visit(name, mask.rest ?? null);
    };
    for (const param of schemas().params.keys()) visit(param, maskFor(param));
    secretKeys = keys;
  }
  return secretKeys;
}

/** Whether a key holds a secret wherever it is written, judged by its name alone (for source text, where no path is known). */
export function isSecretKey(name: string): boolean {
  return SECRET_NAME.test(name) || schemaSecretKeys().has(name);
}
