/** GET /metrics: the Prometheus text exposition. State gauges are refreshed from the daemon at each scrape. */
import type { FastifyPluginCallback } from 'fastify';
import type { CorralMetrics } from '../metrics.js';
import type { DaemonApi } from '../types.js';

export interface MetricsOptions {
  api: DaemonApi;
  metrics: CorralMetrics;
}

export const metricsRoutes: FastifyPluginCallback<MetricsOptions> = (app, { api, metrics }, done) => {
  app.get('/metrics', { logLevel: 'warn' }, async (_req, reply) => {
    metrics.setStatus(api.status());
    const text = await metrics.metricsText();
    return reply.type(metrics.contentType).send(text);
  });
  done();
};
