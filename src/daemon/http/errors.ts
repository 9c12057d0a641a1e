/**
 * Errors the HTTP face answers with: one shape, `{ error, message }`, where `error` is a stable code
 * (kebab-case, never reused) and `message` says what to do. Nothing else reaches a client: no stack,
 * no cause, no text of an unexpected error (that goes to the log, under the request id).
 */
export type ErrorCode =
  | 'bad-request'
  | 'unauthorized'
  | 'forbidden'
  | 'not-found'
  | 'method-not-allowed'
  | 'request-timeout'
  | 'conflict'
  | 'payload-too-large'
  | 'unsupported-media-type'
  | 'too-many-requests'
  | 'not-ready'
  | 'overloaded'
  | 'internal';

export interface ErrorBody {
  error: ErrorCode;
  message: string;
}

/** An error meant for the client: its message is shown as it is. */
export class HttpError extends Error {
  override readonly name = 'HttpError';

  constructor(
    readonly statusCode: number,
    readonly code: ErrorCode,
    message: string,
    /** Response headers that go with it (WWW-Authenticate on a 401, Retry-After on a 503). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export const notFound = (message: string): HttpError => new HttpError(404, 'not-found', message);

const BY_STATUS: Record<number, ErrorCode> = {
  400: 'bad-request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not-found',
  405: 'method-not-allowed',
  408: 'request-timeout',
  409: 'conflict',
  413: 'payload-too-large',
  415: 'unsupported-media-type',
  429: 'too-many-requests',
  503: 'not-ready',
};

/**
 * The status and body for any error a route or fastify raised. A 4xx from fastify (a bad body, a
 * too-large payload) keeps its message, which describes the request; anything else is a 500 whose
 * message only points at the log.
 */
export function toResponse(err: unknown, requestId: string): { status: number; body: ErrorBody; headers: Record<string, string> } {
  if (err instanceof HttpError) return { status: err.statusCode, body: { error: err.code, message: err.message }, headers: err.headers };
  const status = (err as { statusCode?: unknown } | null)?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const message = err instanceof Error ? err.message : 'bad request';
    return { status, body: { error: BY_STATUS[status] ?? 'bad-request', message }, headers: {} };
  }
  return { status: 500, body: { error: 'internal', message: `internal error; the daemon log has the details under request id ${requestId}` }, headers: {} };
}
