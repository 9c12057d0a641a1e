// Fetch failures, classed by what the caller does next: 'unreachable' and 'timeout' retry later,
// 'auth' and 'not-found' wait for a person (a new token, a pushed branch), 'corrupt' means the
// local clone was bad (GitSource has already dropped it; the next fetch clones again).
// Messages never carry credentials: URLs lose their userinfo and query string, and the secret
// values themselves are masked wherever they appear.

export type FetchErrorKind = 'unreachable' | 'auth' | 'not-found' | 'timeout' | 'corrupt';

export class FetchError extends Error {
  override readonly name = 'FetchError';
  readonly kind: FetchErrorKind;

  constructor(kind: FetchErrorKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.kind = kind;
  }
}

/** The URL without userinfo, query string and fragment; a non-URL (a path) is returned as is. */
export function redactUrl(url: string): string {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) return url;
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    u.search = '';
    u.hash = '';
    return u.toString();
  } catch {
    return url.replace(/\/\/[^/@]*@/, '//').replace(/[?#].*$/, '');
  }
}

/** Strips credentials from free text: userinfo and query strings of URLs, and each secret value. */
export function sanitize(text: string, secrets: readonly string[] = []): string {
  let out = text.replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^\s/@]*@/gi, '$1').replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^\s?#]*)[?#][^\s'"]*/gi, '$1');
  for (const secret of secrets) {
    if (secret.length >= 3) out = out.split(secret).join('***');
  }
  return out;
}

interface ErrorLike {
  code?: unknown;
  name?: unknown;
  message?: unknown;
  data?: { statusCode?: unknown; what?: unknown };
  cause?: unknown;
}

function codeOf(err: unknown): string {
  const e = err as ErrorLike | undefined;
  const code = e?.code;
  if (typeof code === 'string') return code;
  const cause = e?.cause as ErrorLike | undefined;
  if (typeof cause?.code === 'string') return cause.code;
  return typeof e?.name === 'string' ? e.name : '';
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'ETIMEDOUT',
  'ECONNABORTED',
  'EPROTO',
  'CERT_HAS_EXPIRED',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** isomorphic-git's errors for objects or packs it cannot parse. */
const CORRUPT_CODES = new Set(['InternalError', 'ObjectTypeError', 'InvalidOidError', 'ParseError', 'UnsafeFilepathError']);

/** An error of the local file system (ENOSPC, EACCES...), not of the repository's contents. */
export function isSystemError(err: unknown): boolean {
  const e = err as { code?: unknown; syscall?: unknown } | undefined;
  return typeof e?.code === 'string' && typeof e.syscall === 'string' && !NETWORK_CODES.has(e.code);
}

/**
 * Turns whatever isomorphic-git or node threw into a FetchError. `where` is the redacted URL (or
 * path) and the ref, for the message. `phase` says what failed: an unknown error while talking to
 * the server is taken as a network problem (retry), while reading objects already on disk as a
 * corrupt repository.
 */
export function classifyFetchError(err: unknown, where: string, secrets: readonly string[], phase: 'fetch' | 'read' = 'fetch'): FetchError {
  if (err instanceof FetchError) return err;
  const code = codeOf(err);
  const raw = err instanceof Error ? err.message : String(err);
  const detail = sanitize(raw, secrets);
  const make = (kind: FetchErrorKind, message: string): FetchError => new FetchError(kind, sanitize(message, secrets));
  if (code === 'HttpError') {
    const status = Number((err as ErrorLike).data?.statusCode);
    if (status === 401 || status === 403) return make('auth', `${where}: the server refused the credentials (HTTP ${status})`);
    if (status === 404) return make('not-found', `${where}: repository not found (HTTP 404)`);
    return make('unreachable', `${where}: the server answered HTTP ${status}`);
  }
  if (code === 'UserCanceledError') return make('auth', `${where}: the server refused the credentials (HTTP 401)`);
  if (code === 'AmbiguousError') return make('not-found', `${where}: ${detail}`);
  if (code === 'NotFoundError') return make('not-found', `${where}: ${phase === 'read' ? 'not in the repository' : 'not found on the server'} (${detail})`);
  if (code === 'AbortError' || code === 'ABORT_ERR') return make('timeout', `${where}: timed out`);
  if (NETWORK_CODES.has(code)) return make('unreachable', `${where}: cannot reach the server (${code})`);
  if (code === 'SmartHttpError') return make('not-found', `${where}: not a git smart-HTTP endpoint`);
  if (phase === 'read' || err instanceof RangeError || CORRUPT_CODES.has(code)) {
    return make('corrupt', `${where}: bad data in the repository (${detail || code})`);
  }
  return make('unreachable', `${where}: ${detail || code || 'fetch failed'}`);
}
