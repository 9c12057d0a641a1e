/** A known path asked with a method it does not take is 405 with Allow; only an unknown path is 404. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { StateStore } from '../../../src/daemon/store.js';
import { SeenDeliveries } from '../../../webhooks/deliveries.js';
import { webhookRoutes } from '../../../webhooks/routes.js';
import { harness, type Harness } from './helpers.js';

let h: Harness | undefined;
let dir: string | undefined;
afterEach(async () => {
  await h?.app.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  h = dir = undefined;
});

async function withWebhooks(): Promise<Harness> {
  h = harness();
  dir = mkdtempSync(join(tmpdir(), 'corral-methods-'));
  await h.app.register(webhookRoutes, { secretFor: () => 'secret', seen: new SeenDeliveries(new StateStore(dir)), metrics: h.metrics, dispatch: () => ({ result: 'ignored', message: '' }) });
  return h;
}

test.each([
  ['POST', '/healthz', 'GET, HEAD'],
  ['DELETE', '/readyz', 'GET, HEAD'],
  ['PUT', '/metrics', 'GET, HEAD'],
  ['POST', '/', 'GET, HEAD'],
  ['DELETE', '/api/clusters/pg-test', 'GET, HEAD'],
  ['PATCH', '/api/status', 'GET, HEAD'],
  ['GET', '/api/clusters/pg-test/sync', 'POST'],
  ['PUT', '/api/clusters/pg-test/resume', 'POST'],
  ['GET', '/webhooks/github', 'POST'],
  ['OPTIONS', '/webhooks/gitlab', 'POST'],
  ['POST', '/api/webhooks', 'GET, HEAD'],
])('%s %s: 405, Allow: %s', async (method, url, allow) => {
  const { app, api } = await withWebhooks();
  const res = await app.inject({ method: method as 'GET', url: `${url}?x=1` });
  expect(res.statusCode).toBe(405);
  expect(res.headers.allow).toBe(allow);
  expect(res.json()).toEqual({ error: 'method-not-allowed', message: `${method} is not allowed on ${url}; use ${allow}` });
  expect(api.calls.sync).toEqual([]);
});

test.each([
  ['GET', '/nope'],
  ['POST', '/api/clusters/pg-test/sync/more'],
  ['DELETE', '/api/clusters/pg-test/history'],
  ['DELETE', '/webhooks'],
])('%s %s: 404, no Allow', async (method, url) => {
  const { app } = await withWebhooks();
  const res = await app.inject({ method: method as 'GET', url });
  expect(res.statusCode).toBe(404);
  expect(res.headers.allow).toBeUndefined();
  expect(res.json()).toEqual({ error: 'not-found', message: `no route for ${method} ${url}` });
});
