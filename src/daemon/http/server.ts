/**
 * The daemon's HTTP face: one fastify instance with an encapsulated plugin per area (probes, api,
 * metrics, page), request ids, redacted logs, deadlines for slow clients and one error handler.
 *
 *   GET  /healthz  /readyz  /metrics  /
 *   GET  /api/status  /api/clusters  /api/clusters/:name  /api/plans/:id[?format=json|markdown|text]
 *   POST /api/clusters/:name/{sync,suspend,resume}   (Authorization: Bearer <token>)
 *
 * More areas (webhooks) register on the returned instance before listen(), in their own scope.
 * A known path asked with a method it does not take is 405 with `Allow`; an unknown path is 404.
 */
import { randomUUID } from 'node:crypto';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { REDACTED } from '../../config/secrets.js';
import type { CorralMetrics } from '../metrics.js';
import type { DaemonApi } from '../types.js';
import { apiRoutes } from './api.js';
import { toResponse } from './errors.js';
import { metricsRoutes } from './metrics.js';
import { eventRoutes } from './events.js';
import { pageRoutes } from './page.js';
import { probeRoutes } from './probes.js';

export interface ServerOptions {
  api: DaemonApi;
  metrics: CorralMetrics;
  logger: Logger;
  /** Bearer token for the changing endpoints (CORRAL_API_TOKEN); without one they answer 403. */
  token?: string;
  /** Deadlines for clients (defaults: DEFAULT_TIMEOUTS); a client that stalls is cut, and what it sent is freed. */
  timeouts?: Partial<HttpTimeouts>;
  /** How long one /events stream lasts before the server ends it (the browser reconnects); default EVENT_STREAM_MS. */
  eventStreamMs?: number;
}

export interface HttpTimeouts {
  /** The request line and headers must arrive within this (node's headersTimeout). */
  headersMs: number;
  /** The whole request, headers and body (fastify's requestTimeout): 408, then the connection is closed. */
  requestMs: number;
  /** A connection without any traffic for this long is closed (fastify's connectionTimeout). */
  idleMs: number;
}

export const DEFAULT_TIMEOUTS: HttpTimeouts = { headersMs: 10_000, requestMs: 60_000, idleMs: 60_000 };

export const REQUEST_ID_HEADER = 'x-request-id';
/** An incoming id is reused only when it is short and plain, so it is safe in a header and a log line. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Whatever a log line holds, these never reach the log (they show as `(redacted)`). pino's redaction
 * is set on the http child logger, so it replaces, for the HTTP lines, any redaction the given
 * logger has: keep this list a superset of the daemon's.
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["proxy-authorization"]',
  'req.headers["x-gitlab-token"]',
  'headers.authorization',
  'headers.cookie',
  'headers["x-gitlab-token"]',
  ...['password', 'token', 'secret'].flatMap((k) => [k, `*.${k}`, `*.*.${k}`]),
];

const MIN_TOKEN_LENGTH = 16;

/** Query parameters whose values are credentials: token, access_token, private_token, key, api-key, secret, password, sig, signature... */
const SECRET_QUERY_PARAM = /^(?:.*[_-])?(?:token|key|secret|password|sig|signature)$/i;

const decodedName = (name: string): string => {
  try {
    return decodeURIComponent(name.replace(/\+/g, ' '));
  } catch {
    return name;
  }
};

/** The URL with the values of credential-like query parameters replaced, so a token sent in a query string is never logged. */
export function redactQuery(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const params = url
    .slice(q + 1)
    .split('&')
    .map((param) => {
      const eq = param.indexOf('=');
      return eq >= 0 && SECRET_QUERY_PARAM.test(decodedName(param.slice(0, eq))) ? `${param.slice(0, eq)}=${REDACTED}` : param;
    });
  return `${url.slice(0, q)}?${params.join('&')}`;
}

/**
 * A request as its log lines show it: fastify's fields, with the query's secrets redacted. Typed
 * loosely, since anything logged under `req` comes through here.
 */
function requestForLog(req: Partial<Pick<FastifyRequest, 'method' | 'url' | 'host' | 'ip' | 'socket'>>): Record<string, unknown> {
  return { method: req.method, url: typeof req.url === 'string' ? redactQuery(req.url) : undefined, host: req.host, remoteAddress: req.ip, remotePort: req.socket?.remotePort };
}

/** `/api/clusters/:name` -> a RegExp for the concrete paths the route serves. */
function routePattern(url: string): RegExp {
  const segments = url.split('/').map((s) => (s.startsWith(':') ? '[^/]*' : s === '*' ? '.*' : s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  return new RegExp(`^${segments.join('/')}$`);
}

/** Fastify logs each request at info; here at debug, so the info log says what happened, not who asked. A failed request is still an error. */
class DebugRequestLogs extends LogController {
  override incomingRequest(request: FastifyRequest): void {
    request.log.debug({ req: request }, 'incoming request');
  }

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (error) reply.log.error({ res: reply, err: error, responseTime: reply.elapsedTime }, 'request errored');
    else reply.log.debug({ res: reply, responseTime: reply.elapsedTime }, 'request completed');
  }
}

const noSchemaCompiler = (): never => {
  throw new Error("Corral's HTTP routes declare no schemas: validate the request in the handler");
};

export function buildServer(opts: ServerOptions): FastifyInstance {
  // Typed as fastify's logger, so the instance's type stays the plain FastifyInstance.
  const log: FastifyBaseLogger = opts.logger.child({ component: 'http' }, { redact: { paths: REDACT_PATHS, censor: REDACTED }, serializers: { req: requestForLog } });
  const token = opts.token || undefined;
  if (token && token.length < MIN_TOKEN_LENGTH) log.warn(`the API token is shorter than ${MIN_TOKEN_LENGTH} characters: use a long random one (openssl rand -hex 32)`);
  if (!token) log.info('no API token: sync, suspend and resume over HTTP are off (set CORRAL_API_TOKEN)');

  const timeouts = { ...DEFAULT_TIMEOUTS, ...opts.timeouts };
  const app = Fastify({
    loggerInstance: log,
    requestTimeout: timeouts.requestMs,
    connectionTimeout: timeouts.idleMs,
    // Node checks the headers and request deadlines on a sweep, every 30 s by default, which would let
    // a deadline slip by as much: sweep at a tenth of the headers deadline, at least every second.
    http: { headersTimeout: timeouts.headersMs, connectionsCheckingInterval: Math.max(10, Math.min(1_000, Math.round(timeouts.headersMs / 10))) },
    logController: new DebugRequestLogs(),
    // No route declares a schema (bodies are read and checked by hand, a webhook's over its raw bytes).
    // Without compilers of its own fastify loads ajv twice at start, for its validator and for
    // fast-json-stringify: a few MiB of an idle daemon's memory for nothing.
    schemaController: { compilersFactory: { buildValidator: noSchemaCompiler, buildSerializer: noSchemaCompiler } },
    genReqId: (req) => {
      const given = req.headers[REQUEST_ID_HEADER];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
  });

  app.addHook('onRequest', (req, reply, done) => {
    reply.header(REQUEST_ID_HEADER, req.id);
    done();
  });

  app.setErrorHandler((err, req, reply) => {
    const { status, body, headers } = toResponse(err, req.id);
    if (status >= 500) req.log.error({ err }, 'request failed');
    else req.log.info({ status, error: body.error }, body.message);
    return reply.code(status).headers(headers).type('application/json; charset=utf-8').send(body);
  });

  // Every route, also those of areas registered later, so a known path asked with another method is a 405.
  const routes: { method: string; path: RegExp }[] = [];
  app.addHook('onRoute', (r) => {
    for (const method of [r.method].flat()) routes.push({ method, path: routePattern(r.url) });
  });

  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0] ?? '';
    const allowed = [...new Set(routes.filter((r) => r.path.test(path)).map((r) => r.method))];
    if (allowed.length) {
      return reply.code(405).header('allow', allowed.join(', ')).send({ error: 'method-not-allowed', message: `${req.method} is not allowed on ${path.slice(0, 200)}; use ${allowed.join(', ')}` });
    }
    return reply.code(404).send({ error: 'not-found', message: `no route for ${req.method} ${path.slice(0, 200)}` });
  });

  app.register(probeRoutes, { api: opts.api });
  app.register(metricsRoutes, { api: opts.api, metrics: opts.metrics });
  app.register(apiRoutes, { api: opts.api, token });
  app.register(pageRoutes, { api: opts.api });
  app.register(eventRoutes, { api: opts.api, ...(opts.eventStreamMs ? { streamMs: opts.eventStreamMs } : {}) });
  return app;
}
