/**
 * `POST /webhooks/{github,gitlab,gitea,generic}`: the endpoints users point their forge at.
 *
 * In order: the body is read as raw bytes (413 over the limit, 415 if not JSON); the signature
 * (or GitLab's token) is checked over those bytes in constant time (401; with no secret configured
 * every delivery is refused, there is no unsigned mode); the JSON is parsed (400); a delivery seen
 * before is answered 200 and dropped; the rest is remembered on disk, answered 202 at once, and
 * acted on after the answer. Requests are rate limited per client address (429). `GET /api/webhooks`
 * lists the last deliveries with what became of each.
 */
import type { FastifyError, FastifyPluginAsync } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import type { CorralMetrics, WebhookResult } from '../src/daemon/metrics.js';
import { HttpError, toResponse } from '../src/daemon/http/errors.js';
import { SeenDeliveries } from './deliveries.js';
import { PROVIDERS, RECEIVERS, type ForgeEvent, type Provider } from './receivers/index.js';

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

interface ProviderParams {
  provider: string;
}

const isProvider = (p: string): p is Provider => (PROVIDERS as readonly string[]).includes(p);

export const webhookRoutes: FastifyPluginAsync<WebhookOptions> = async (app, opts) => {
  const { metrics, seen } = opts;
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
    const result = status >= 500 ? 'error' : 'rejected';
    if (status !== 429) count(provider, '', result);
    remember({ provider: provider.slice(0, 40), event: (isProvider(provider) ? RECEIVERS[provider].eventName(req.headers) : '').slice(0, 60), status, result, message: body.message });
    if (status >= 500) req.log.error({ err }, 'webhook failed');
    else req.log.warn({ status, provider, error: body.error }, `webhook refused: ${body.message}`);
    return reply.code(status).headers(headers).send(body);
  });

  app.post<{ Params: ProviderParams; Body: Buffer }>('/webhooks/:provider', async (req, reply) => {
    const { provider } = req.params;
    if (!isProvider(provider)) throw new HttpError(404, 'not-found', `no webhook receiver for ${JSON.stringify(provider.slice(0, 40))}: use one of ${PROVIDERS.join(', ')}`);
    const receiver = RECEIVERS[provider];
    const eventName = receiver.eventName(req.headers);
    const secret = opts.secretFor(provider);
    if (!secret) {
      throw new HttpError(401, 'unauthorized', `no webhook secret is configured for ${provider}: set CORRAL_WEBHOOK_SECRET or webhooks.${provider}.secretFile in corral.yml; unsigned deliveries are never accepted`);
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
    const deliveryId = receiver.deliveryId(req.headers);
    const keys = SeenDeliveries.keysOf(provider, deliveryId, raw);
    if (seen.has(keys)) {
      count(provider, eventName, 'duplicate');
      remember({ provider, event: eventName.slice(0, 60), ...(deliveryId ? { delivery: deliveryId.slice(0, 80) } : {}), status: 200, result: 'duplicate', message: 'received before; dropped' });
      req.log.info({ provider, event: eventName, delivery: deliveryId }, 'webhook: delivery seen before, dropped');
      return reply.code(200).send({ result: 'duplicate', message: 'this delivery was received before; nothing to do' });
    }
    seen.add(keys);
    const { result, message } = opts.dispatch(provider, receiver.parse(eventName, body), deliveryId);
    count(provider, eventName, result);
    remember({ provider, event: eventName.slice(0, 60), ...(deliveryId ? { delivery: deliveryId.slice(0, 80) } : {}), status: result === 'accepted' ? 202 : 200, result, message });
    req.log.info({ provider, event: eventName, delivery: deliveryId, result }, `webhook: ${message}`);
    return reply.code(result === 'accepted' ? 202 : 200).send({ result, message });
  });
};
