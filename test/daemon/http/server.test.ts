import { afterEach, describe, expect, test } from 'vitest';
import { REDACT_PATHS } from '../../../src/daemon/http/server.js';
import { harness, TOKEN, type Harness } from './helpers.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

let h: Harness | undefined;
const start = (opts?: Parameters<typeof harness>[0]): Harness => (h = harness(opts));
afterEach(async () => {
  await h?.app.close();
  h = undefined;
});

describe('probes', () => {
  test('GET /healthz: 200 while the process serves, ready or not', async () => {
    const { app, api } = start();
    expect((await app.inject('/healthz')).json()).toEqual({ status: 'ok' });
    api.ready = false;
    const res = await app.inject('/healthz');
    expect(res.statusCode).toBe(200);
  });

  test('GET /readyz flips with the daemon: 503 with a reason, then 200', async () => {
    const { app, api } = start();
    api.ready = false;
    api.git = { lastFetchOk: false, lastError: 'connect ECONNREFUSED 127.0.0.1:3000' };
    let res = await app.inject('/readyz');
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({ ready: false, reason: 'no revision fetched yet: connect ECONNREFUSED 127.0.0.1:3000' });

    api.git = { fetchedRevision: 'abc', lastFetchOk: true, invalidAt: 'clusters/pg-test.yml:7:44 cluster pg-test has more than one primary' };
    res = await app.inject('/readyz');
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({ ready: false, reason: 'no valid revision yet: clusters/pg-test.yml:7:44 cluster pg-test has more than one primary' });

    api.git = { fetchedRevision: 'abc', lastGoodRevision: 'abc', lastFetchOk: true };
    res = await app.inject('/readyz');
    expect(res.statusCode).toBe(503);
    expect(res.json<{ reason: string }>().reason).toMatch(/starting/);

    api.ready = true;
    res = await app.inject('/readyz');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ ready: true });
  });

  test('probes and scrapes stay out of the info log', async () => {
    const hh = start();
    await hh.app.inject('/healthz');
    await hh.app.inject('/readyz');
    await hh.app.inject('/metrics');
    expect(hh.logs.filter((l) => typeof l.reqId === 'string')).toEqual([]);
    await hh.app.inject('/api/status');
    expect(hh.logs.filter((l) => typeof l.reqId === 'string').map((l) => l.msg)).toEqual(['incoming request', 'request completed']);
  });
});

describe('request ids', () => {
  test('a new UUID per request, echoed in x-request-id', async () => {
    const { app } = start();
    const a = await app.inject('/healthz');
    const b = await app.inject('/api/clusters/nope');
    expect(a.headers['x-request-id']).toMatch(UUID);
    expect(b.headers['x-request-id']).toMatch(UUID);
    expect(a.headers['x-request-id']).not.toBe(b.headers['x-request-id']);
  });

  test('an incoming x-request-id is reused, on success and on errors alike, and tags the log lines', async () => {
    const hh = start();
    for (const [url, status] of [
      ['/api/status', 200],
      ['/api/clusters/nope', 404],
      ['/no/such/route', 404],
    ] as const) {
      const res = await hh.app.inject({ url, headers: { 'x-request-id': `trace-${status}-abc.1:2` } });
      expect(res.statusCode).toBe(status);
      expect(res.headers['x-request-id']).toBe(`trace-${status}-abc.1:2`);
    }
    const res = await hh.app.inject({ method: 'POST', url: '/api/clusters/pg-test/sync', headers: { 'x-request-id': 'from-the-proxy' } });
    expect(res.statusCode).toBe(401);
    expect(res.headers['x-request-id']).toBe('from-the-proxy');
    expect(hh.logs.filter((l) => l.reqId === 'trace-200-abc.1:2').map((l) => l.msg)).toEqual(['incoming request', 'request completed']);
  });

  test('an incoming id that is too long or not plain is replaced', async () => {
    const { app } = start();
    for (const given of ['x'.repeat(129), 'has space', 'semi;colon', '<script>', '']) {
      const res = await app.inject({ url: '/healthz', headers: { 'x-request-id': given } });
      expect(res.headers['x-request-id'], given).toMatch(UUID);
    }
  });
});

describe('errors', () => {
  test('an unknown route: 404 JSON', async () => {
    const { app } = start();
    const res = await app.inject('/nope?x=1');
    expect(res.statusCode).toBe(404);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.json()).toEqual({ error: 'not-found', message: 'no route for GET /nope' });
    const del = await app.inject({ method: 'DELETE', url: '/nope/pg-test' });
    expect(del.json()).toEqual({ error: 'not-found', message: 'no route for DELETE /nope/pg-test' });
  });

  test('a failure inside the daemon: 500 with a generic message and the request id, never the error text or a stack', async () => {
    const hh = start();
    hh.api.status = (): never => {
      throw new Error('boom: cannot read /var/lib/corral/state.json');
    };
    hh.api.plan = (): never => {
      throw new TypeError("Cannot read properties of undefined (reading 'x')");
    };
    for (const url of ['/api/status', '/readyz', '/', '/metrics', '/api/plans/p1?format=text']) {
      const res = await hh.app.inject({ url, headers: { 'x-request-id': 'req-500' } });
      expect(res.statusCode, url).toBe(500);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.json()).toEqual({ error: 'internal', message: 'internal error; the daemon log has the details under request id req-500' });
      expect(res.body).not.toMatch(/boom|state\.json|Cannot read|stack|at .*\.ts/);
    }
    // The log has what the client did not get.
    const failed = hh.logs.filter((l) => l.msg === 'request failed');
    expect(failed.length).toBe(5);
    expect(JSON.stringify(failed[0])).toContain('boom: cannot read /var/lib/corral/state.json');
  });

  test('a 4xx from fastify itself keeps the { error, message } shape', async () => {
    const { app } = start();
    const res = await app.inject({ method: 'POST', url: '/api/clusters/pg-test/sync', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'text/plain' }, payload: 'x'.repeat(20_000) });
    expect(res.statusCode).toBe(413);
    expect(Object.keys(res.json<object>()).sort()).toEqual(['error', 'message']);
  });
});

describe('logs', () => {
  test('authorization headers and password/token/secret fields are redacted', async () => {
    const hh = start();
    // What a route, a hook or a plugin might log; the http logger redacts it wherever it comes from.
    hh.app.log.info({ req: { headers: { authorization: `Bearer ${TOKEN}`, cookie: 'sid=abc123cookie', 'x-gitlab-token': 'gl-secret-hook' } } }, 'headers');
    hh.app.log.info({ headers: { authorization: `Bearer ${TOKEN}` } }, 'raw headers');
    hh.app.log.info({ password: 'pw-top-level', user: { password: 'pw-nested', name: 'dbuser_meta' }, repo: { auth: { token: 'tok-deep' } }, secret: 'hmac-key' }, 'fields');
    await hh.app.inject({ method: 'POST', url: '/api/clusters/pg-test/sync', headers: { authorization: `Bearer ${TOKEN}` } });
    await hh.app.inject({ method: 'POST', url: '/api/clusters/pg-test/sync', headers: { authorization: 'Bearer wrong-token-123' } });
    const text = hh.logText();
    for (const secret of [TOKEN, 'abc123cookie', 'gl-secret-hook', 'pw-top-level', 'pw-nested', 'tok-deep', 'hmac-key', 'wrong-token-123']) expect(text, secret).not.toContain(secret);
    expect(text).toContain('(redacted)');
    expect(text).toContain('dbuser_meta');
    expect(REDACT_PATHS).toContain('req.headers.authorization');
  });

  test('log lines carry the http component', async () => {
    const hh = start();
    await hh.app.inject('/api/status');
    expect(hh.logs.filter((l) => l.reqId).every((l) => l.component === 'http')).toBe(true);
  });
});

test('HEAD works where GET does', async () => {
  const { app } = start();
  const res = await app.inject({ method: 'HEAD', url: '/' });
  expect(res.statusCode).toBe(200);
  expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
});
