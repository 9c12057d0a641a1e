/**
 * The JSON API under /api: read the daemon's state, and (with the bearer token) ask for a sync,
 * suspend or resume a cluster. Reads are open: they show what the status page shows, with secrets
 * and credentials already out.
 */
import type { FastifyInstance, FastifyPluginCallback, FastifyReply } from 'fastify';
import type { DaemonApi, PlanRecord } from '../types.js';
import { requireToken } from './auth.js';
import { HttpError, notFound } from './errors.js';
import { redactPlanRecord, sanitizeCluster, sanitizeHistory, sanitizeStatus } from './redact.js';

export interface ApiOptions {
  api: DaemonApi;
  token?: string;
}

interface NameParams {
  name: string;
}

/** The changing endpoints take no body; one sent (of any type) is read up to this size and ignored. */
const BODY_LIMIT = 16 * 1024;

const PLAN_FORMATS = ['json', 'markdown', 'text'] as const;
type PlanFormat = (typeof PLAN_FORMATS)[number];

/** A plan record, redacted again; a secret that had got this far is logged (without its value). */
function servedPlan(app: FastifyInstance, rec: PlanRecord): PlanRecord {
  const { record, leaked } = redactPlanRecord(rec);
  if (leaked) app.log.warn({ plan: rec.id, cluster: rec.cluster }, 'a plan record held a secret value; it was redacted before serving (a bug upstream)');
  return record;
}

function mustExist(api: DaemonApi, name: string): void {
  if (!api.cluster(name)) throw notFound(`no cluster named ${JSON.stringify(name)}`);
}

export const apiRoutes: FastifyPluginCallback<ApiOptions> = (app, { api, token }, done) => {
  app.get('/api/status', () => sanitizeStatus(api.status()));

  app.get('/api/clusters', () => api.status().clusters.map(sanitizeCluster));

  app.get<{ Params: NameParams }>('/api/clusters/:name', (req) => {
    const found = api.cluster(req.params.name);
    if (!found) throw notFound(`no cluster named ${JSON.stringify(req.params.name)}`);
    return {
      status: sanitizeCluster(found.status),
      lastPlan: found.lastPlan ? servedPlan(app, found.lastPlan) : null,
      history: found.history.map(sanitizeHistory),
    };
  });

  app.get<{ Params: { id: string }; Querystring: { format?: string } }>('/api/plans/:id', (req, reply: FastifyReply) => {
    const format = req.query.format ?? 'json';
    if (!(PLAN_FORMATS as readonly string[]).includes(format)) {
      throw new HttpError(400, 'bad-request', `format must be one of ${PLAN_FORMATS.join(', ')}, not ${JSON.stringify(format)}`);
    }
    const rec = api.plan(req.params.id);
    if (!rec) throw notFound(`no plan with id ${JSON.stringify(req.params.id)}`);
    const plan = servedPlan(app, rec);
    switch (format as PlanFormat) {
      case 'markdown':
        return reply.type('text/markdown; charset=utf-8').send(plan.markdown);
      case 'text':
        return reply.type('text/plain; charset=utf-8').send(plan.text);
      default:
        return plan;
    }
  });

  // The changing endpoints: their own scope, so the token check and the body handling stay here.
  app.register((changing, _opts, registered) => {
    changing.removeAllContentTypeParsers();
    changing.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: BODY_LIMIT }, (_req, _body, parsed) => parsed(null, undefined));
    changing.addHook('preHandler', requireToken(token));

    changing.post<{ Params: NameParams }>('/api/clusters/:name/sync', { bodyLimit: BODY_LIMIT }, (req, reply) => {
      mustExist(api, req.params.name);
      const { accepted, message } = api.sync(req.params.name, 'api');
      if (!accepted) throw new HttpError(409, 'conflict', message || `sync of ${req.params.name} not accepted`);
      return reply.code(202).send({ cluster: req.params.name, accepted, message });
    });

    for (const action of ['suspend', 'resume'] as const) {
      changing.post<{ Params: NameParams }>(`/api/clusters/:name/${action}`, { bodyLimit: BODY_LIMIT }, (req) => {
        const { name } = req.params;
        mustExist(api, name);
        const ok = action === 'suspend' ? api.suspend(name) : api.resume(name);
        if (!ok) throw new HttpError(409, 'conflict', `could not ${action} ${name}`);
        const after = api.cluster(name)?.status;
        return { cluster: name, suspended: after?.policy.suspend ?? action === 'suspend', status: after ? sanitizeCluster(after) : null };
      });
    }
    registered();
  });

  done();
};
