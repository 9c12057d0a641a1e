/**
 * `POST /webhooks/{github,gitlab,gitea,generic}`: the endpoints users point their forge at.
 *
 * In order: an unknown provider is 404 and a body that is not JSON 415, before a byte of it is
 * read; over the bodies read at once the answer is 503 with Retry-After, also unread; the body is
 * read as raw bytes (413 over the limit, 408 if it does not arrive in time); the signature (or
 * GitLab's token) is checked over those bytes in constant time (401; with no secret configured
 * every delivery is refused, there is no unsigned mode); the JSON is parsed (400), and a commit id
 * in it that is not one is refused (400); a delivery seen before is answered 200 and dropped; the
 * rest is remembered on disk, answered 202 at once, and acted on after the answer. Requests are
 * rate limited per client address (429). `GET /api/webhooks` lists the last deliveries with what
 * became of each.
 */
import { PassThrough, finished, type Readable } from 'node:stream';
import type { FastifyError, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import type { CorralMetrics, WebhookResult } from '../src/daemon/metrics.js';
import { HttpError, toResponse } from '../src/daemon/http/errors.js';
import { SeenDeliveries } from './deliveries.js';
import { PROVIDERS, RECEIVERS, shaProblem, type ForgeEvent, type Provider } from './receivers/index.js';

export interface WebhookOptions {
  /** The shared secret of a provider, asked at each delivery so a rotated secret needs no restart. */
  secretFor(provider: Provider): string | undefined;
  seen: SeenDeliveries;
  metrics: CorralMetrics;
  /** Decides at once whether the event matters; the work it starts must not block the answer. */
  dispatch(provider: Provider, event: ForgeEvent, deliveryId: string | undefined): { result: 'accepted' | 'ignored'; message: string };
  /** Default 5 MiB: GitHub sends up to 25 MB, but a push of inventory changes is far smaller. */
  bodyLimit?: number;
  /** Deliveries per client address per minute; default 300. */
  perMinute?: number;
  /** A body must arrive whole within this once its headers have; default 30 s. Past it: 408, and the connection is closed. */
  bodyTimeoutMs?: number;
  /**
   * Bodies read at once, over all providers; default 16, so stalled uploads hold at most 16 times
   * the body limit. One more is answered 503 with Retry-After, its body never read.
   */
  maxBodiesInFlight?: number;
}

/** A delivery as `GET /api/webhooks` shows it: what came, and what Corral made of it. */
export interface DeliveryRecord {
  at: string;
  provider: string;
  event: string;
  delivery?: string;
  status: number;
  result: WebhookResult;
  message: string;
}

const RECENT_KEPT = 50;
const JSON_TYPE = /^application\/json\s*(?:;|$)/i;
/** Sent with the answers that leave a body unread: the rest of it is not waited for. */
const CLOSE = { connection: 'close' };

/**
 * The request body as a stream that fails with 408 unless it ends within `ms`; `done` is called
 * once, when it ended, failed or was cut. After the 408 the connection is closed, so a stalled
 * client holds neither its socket nor the part of the body it sent.
 */
function bodyWithin(raw: Readable, ms: number, done: () => void): PassThrough {
  const body = new PassThrough();
  const timer = setTimeout(() => body.destroy(new HttpError(408, 'request-timeout', `the body did not arrive within ${ms / 1000} s`, CLOSE)), ms);
  // pipe() does not pass on a client that went away.
  finished(raw, (err) => err && body.destroy(err));
  finished(body, () => {
    clearTimeout(timer);
    raw.unpipe(body);
    done();
  });
  return raw.pipe(body);
}

interface ProviderParams {
  provider: string;
}

const isProvider = (p: string): p is Provider => (PROVIDERS as readonly string[]).includes(p);

export const webhookRoutes: FastifyPluginAsync<WebhookOptions> = async (app, opts) => {
  const { metrics, seen } = opts;
  const bodyTimeoutMs = opts.bodyTimeoutMs ?? 30_000;
  const maxBodiesInFlight = opts.maxBodiesInFlight ?? 16;
  let bodiesInFlight = 0;
  // The last deliveries, newest first: a webhook that "does nothing" is debugged here, not by guessing.
  const recent: DeliveryRecord[] = [];
  const count = (provider: string, event: string, result: WebhookResult): void => metrics.webhookRequest(isProvider(provider) ? provider : 'other', event, result);
  const remember = (r: Omit<DeliveryRecord, 'at'>): void => {
    recent.unshift({ at: new Date().toISOString(), ...r });
    recent.length = Math.min(recent.length, RECENT_KEPT);
  };
  app.get('/api/webhooks', () => ({ deliveries: recent }));

  app.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: opts.bodyLimit ?? 5 * 1024 * 1024 }, (_req, body, done) => done(null, body));
  await app.register(rateLimit, {
    max: opts.perMinute ?? 300,
    timeWindow: 60_000,
    onExceeded: (req) => count((req.params as ProviderParams).provider ?? '', '', 'rejected'),
  });

  app.setErrorHandler((err: FastifyError, req, reply) => {
    const { status, body, headers } = toResponse(err, req.id);
    const provider = (req.params as ProviderParams | undefined)?.provider ?? '';
    // A 503 of ours (too many bodies at once) is a refusal like a 4xx, not a failure of the daemon.
    const refused = status < 500 || err instanceof HttpError;
    const result = refused ? 'rejected' : 'error';
    if (status !== 429) count(provider, '', result);
    remember({ provider: provider.slice(0, 40), event: (isProvider(provider) ? RECEIVERS[provider].eventName(req.headers) : '').slice(0, 60), status, result, message: body.message });
    if (refused) req.log.warn({ status, provider, error: body.error }, `webhook refused: ${body.message}`);
    else req.log.error({ err }, 'webhook failed');
    return reply.code(status).headers(headers).send(body);
  });

  // Before the body is read: what it is, and whether there is room to read it.
  const refusedUnread = (req: FastifyRequest<{ Params: ProviderParams }>): HttpError | undefined => {
    const { provider } = req.params;
    if (!isProvider(provider)) return new HttpError(404, 'not-found', `no webhook receiver for ${JSON.stringify(provider.slice(0, 40))}: use one of ${PROVIDERS.join(', ')}`);
    const type = req.headers['content-type'];
    if (type === undefined || !JSON_TYPE.test(type)) {
      return new HttpError(415, 'unsupported-media-type', `webhook bodies are JSON: set the webhook's content type to application/json (got ${type === undefined ? 'none' : JSON.stringify(type.slice(0, 80))})`, CLOSE);
    }
    if (bodiesInFlight >= maxBodiesInFlight) {
      return new HttpError(503, 'overloaded', `${maxBodiesInFlight} webhook bodies are being read already; retry later`, { 'retry-after': String(Math.ceil(bodyTimeoutMs / 1000)), ...CLOSE });
    }
    return undefined;
  };

  const preParsing = (req: FastifyRequest<{ Params: ProviderParams }>, reply: FastifyReply, payload: Readable, done: (err: Error | null, body?: Readable) => void): void => {
    const refusal = refusedUnread(req);
    if (refusal) return done(refusal);
    bodiesInFlight++;
    const body = bodyWithin(payload, bodyTimeoutMs, () => bodiesInFlight--);
    // An answer can go out before the body is read (413 on its Content-Length): then it is not waited for.
    reply.raw.once('close', () => body.destroy());
    done(null, body);
  };

  app.post<{ Params: ProviderParams; Body: Buffer }>('/webhooks/:provider', { preParsing }, async (req, reply) => {
    // refusedUnread answered any other provider.
    const provider = req.params.provider as Provider;
    const receiver = RECEIVERS[provider];
    const eventName = receiver.eventName(req.headers);
    const secret = opts.secretFor(provider);
    if (!secret) {
      throw new HttpError(401, 'unauthorized', `no webhook secret is configured for ${provider}: set CORRAL_WEBHOOK_SECRET or corral serve --webhook-secret-file ${provider}=FILE; unsigned deliveries are never accepted`);
    }
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    if (!receiver.verify(req.headers, raw, secret)) {
      throw new HttpError(401, 'unauthorized', provider === 'gitlab' ? 'missing or wrong X-Gitlab-Token' : 'missing or invalid signature for this body');
    }
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      throw new HttpError(400, 'bad-request', 'the body is not valid JSON');
    }
    const event = receiver.parse(eventName, body);
    // A commit id goes into forge API paths: anything but one is refused here, before it is remembered or acted on.
    const badSha = shaProblem(event);
    if (badSha) throw new HttpError(400, 'bad-request', badSha);
    const deliveryId = receiver.deliveryId(req.headers);
    const keys = SeenDeliveries.keysOf(provider, deliveryId, raw);
    if (seen.has(keys)) {
      count(provider, eventName, 'duplicate');
      remember({ provider, event: eventName.slice(0, 60), ...(deliveryId ? { delivery: deliveryId.slice(0, 80) } : {}), status: 200, result: 'duplicate', message: 'received before; dropped' });
      req.log.info({ provider, event: eventName, delivery: deliveryId }, 'webhook: delivery seen before, dropped');
      return reply.code(200).send({ result: 'duplicate', message: 'this delivery was received before; nothing to do' });
    }
    seen.add(keys);
    const { result, message } = opts.dispatch(provider, event, deliveryId);
    count(provider, eventName, result);
    remember({ provider, event: eventName.slice(0, 60), ...(deliveryId ? { delivery: deliveryId.slice(0, 80) } : {}), status: result === 'accepted' ? 202 : 200, result, message });
    req.log.info({ provider, event: eventName, delivery: deliveryId, result }, `webhook: ${message}`);
    return reply.code(result === 'accepted' ? 202 : 200).send({ result, message });
  });
};
