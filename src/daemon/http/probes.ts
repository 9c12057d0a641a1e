/**
 * Liveness and readiness, as Kubernetes and systemd watchdogs expect them. /healthz answers 200 as
 * long as the process serves requests; /readyz answers 200 only once the daemon is ready (a revision
 * loaded and the first statuses known), else 503 with the reason.
 */
import type { FastifyPluginCallback } from 'fastify';
import type { DaemonApi, DaemonStatus } from '../types.js';
import { sanitizeText } from './redact.js';

export interface ProbeOptions {
  api: DaemonApi;
}

function notReadyReason(s: DaemonStatus): string {
  if (!s.git.lastFetchOk && !s.git.fetchedRevision) return `no revision fetched yet${s.git.lastError ? `: ${sanitizeText(s.git.lastError)}` : ''}`;
  if (!s.git.lastGoodRevision) return s.git.invalidAt ? `no valid revision yet: ${s.git.invalidAt}` : 'no valid revision yet';
  return 'the daemon is starting: cluster statuses are not known yet';
}

export const probeRoutes: FastifyPluginCallback<ProbeOptions> = (app, { api }, done) => {
  // Probes come every few seconds: keep them out of the info log.
  app.get('/healthz', { logLevel: 'warn' }, () => ({ status: 'ok' }));

  app.get('/readyz', { logLevel: 'warn' }, (_req, reply) => {
    const s = api.status();
    if (s.ready) return { ready: true };
    return reply.code(503).send({ ready: false, reason: notReadyReason(s) });
  });

  done();
};
