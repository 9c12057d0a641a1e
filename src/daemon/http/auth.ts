/**
 * Bearer tokens for the endpoints that change something (sync, suspend, resume). Without a
 * configured token they are off (403), so a daemon started without one is read-only, never open.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest, preHandlerHookHandler } from 'fastify';
import { HttpError } from './errors.js';

export const TOKEN_ENV = 'CORRAL_API_TOKEN';

/**
 * Compares in constant time. Both sides are hashed first, so the buffers are always 32 bytes and
 * neither the content nor the length of the token leaks through timing.
 */
export function tokenMatches(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}

/** The token of an `Authorization: Bearer <token>` header (scheme case-insensitive), if there is one. */
export function bearerToken(req: FastifyRequest): string | undefined {
  const header = req.headers.authorization;
  if (typeof header !== 'string') return undefined;
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  return m?.[1];
}

const CHALLENGE = { 'www-authenticate': 'Bearer realm="corral"' };
const INVALID = { 'www-authenticate': 'Bearer realm="corral", error="invalid_token"' };

/** A preHandler that lets a request through only with the right token; `token` empty or undefined: always 403. */
export function requireToken(token: string | undefined): preHandlerHookHandler {
  return (req, _reply, done) => {
    if (!token) {
      done(new HttpError(403, 'forbidden', `this endpoint is disabled: no API token is set. Set ${TOKEN_ENV} in the daemon's environment, then send "Authorization: Bearer <token>"`));
      return;
    }
    const given = bearerToken(req);
    if (given === undefined) done(new HttpError(401, 'unauthorized', 'this endpoint needs "Authorization: Bearer <token>"', CHALLENGE));
    else if (!tokenMatches(given, token)) done(new HttpError(401, 'unauthorized', 'the bearer token is not valid', INVALID));
    else done();
  };
}
