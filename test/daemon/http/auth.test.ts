import * as crypto from 'node:crypto';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { tokenMatches } from '../../../src/daemon/http/auth.js';
import { harness, TOKEN, type Harness } from './helpers.js';

// Wrap timingSafeEqual (same behaviour) to see that the token check goes through it.
vi.mock('node:crypto', async (importOriginal) => {
  const real = await importOriginal<typeof crypto>();
  return { ...real, timingSafeEqual: vi.fn(real.timingSafeEqual) };
});
const timingSafeEqual = vi.mocked(crypto.timingSafeEqual);

const bearer = (t: string): Record<string, string> => ({ authorization: `Bearer ${t}` });
const CHANGING = ['sync', 'suspend', 'resume'] as const;

describe('tokenMatches', () => {
  test('compares SHA-256 digests of both sides with timingSafeEqual', () => {
    timingSafeEqual.mockClear();
    expect(tokenMatches(TOKEN, TOKEN)).toBe(true);
    expect(tokenMatches('short', TOKEN)).toBe(false);
    expect(tokenMatches(TOKEN.slice(0, -1) + 'X', TOKEN)).toBe(false);
    expect(tokenMatches('', TOKEN)).toBe(false);
    expect(timingSafeEqual).toHaveBeenCalledTimes(4);
    // Equal-length buffers whatever the inputs' lengths: 32-byte digests, never the raw tokens.
    for (const [a, b] of timingSafeEqual.mock.calls) {
      expect([a.byteLength, b.byteLength]).toEqual([32, 32]);
      expect(Buffer.from(a as Uint8Array).toString('utf8')).not.toContain('short');
    }
  });
});

describe('with a token configured', () => {
  let h: Harness;
  beforeEach(() => {
    h = harness({ token: TOKEN });
  });
  afterEach(async () => {
    await h.app.close();
  });

  test.each(CHANGING)('POST %s without Authorization: 401 with a Bearer challenge, nothing done', async (action) => {
    const res = await h.app.inject({ method: 'POST', url: `/api/clusters/pg-test/${action}` });
    expect(res.statusCode).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer realm="corral"');
    expect(res.json()).toEqual({ error: 'unauthorized', message: 'this endpoint needs "Authorization: Bearer <token>"' });
    expect(h.api.calls).toEqual({ sync: [], suspend: [], resume: [], nudge: [] });
  });

  test.each(['nope', TOKEN.slice(0, -1), TOKEN + 'x', TOKEN.toUpperCase()])('a wrong token (%s): 401 through the constant-time check', async (wrong) => {
    timingSafeEqual.mockClear();
    const res = await h.app.inject({ method: 'POST', url: '/api/clusters/pg-test/sync', headers: bearer(wrong) });
    expect(res.statusCode).toBe(401);
    expect(res.headers['www-authenticate']).toContain('error="invalid_token"');
    expect(res.json()).toEqual({ error: 'unauthorized', message: 'the bearer token is not valid' });
    expect(timingSafeEqual).toHaveBeenCalledTimes(1);
    expect(h.api.calls.sync).toEqual([]);
  });

  test('another scheme or a malformed header is no token', async () => {
    for (const authorization of [`Basic ${Buffer.from(`admin:${TOKEN}`).toString('base64')}`, TOKEN, `Bearer`, `Bearer ${TOKEN} extra`]) {
      const res = await h.app.inject({ method: 'POST', url: '/api/clusters/pg-test/sync', headers: { authorization } });
      expect(res.statusCode, authorization).toBe(401);
    }
    expect(h.api.calls.sync).toEqual([]);
  });

  test('the right token: 202 for an accepted sync, with trigger api', async () => {
    timingSafeEqual.mockClear();
    const res = await h.app.inject({ method: 'POST', url: '/api/clusters/pg-test/sync', headers: bearer(TOKEN) });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toEqual({ cluster: 'pg-test', accepted: true, message: 'sync of pg-test queued' });
    expect(h.api.calls.sync).toEqual([{ name: 'pg-test', trigger: 'api' }]);
    expect(timingSafeEqual).toHaveBeenCalledTimes(1);
  });

  test('the scheme is case-insensitive', async () => {
    const res = await h.app.inject({ method: 'POST', url: '/api/clusters/pg-test/sync', headers: { authorization: `bearer ${TOKEN}` } });
    expect(res.statusCode).toBe(202);
  });

  test('409 when the daemon does not accept the sync', async () => {
    h.api.busy.add('pg-test');
    const res = await h.app.inject({ method: 'POST', url: '/api/clusters/pg-test/sync', headers: bearer(TOKEN) });
    expect(res.statusCode).toBe(409);
    expect(res.json()).toEqual({ error: 'conflict', message: 'a sync of pg-test is already running' });
  });

  test('404 for an unknown cluster, once authorized; 401 before that (no probing of names without the token)', async () => {
    for (const action of CHANGING) {
      let res = await h.app.inject({ method: 'POST', url: `/api/clusters/pg-nope/${action}`, headers: bearer(TOKEN) });
      expect(res.statusCode).toBe(404);
      expect(res.json()).toEqual({ error: 'not-found', message: 'no cluster named "pg-nope"' });
      res = await h.app.inject({ method: 'POST', url: `/api/clusters/pg-nope/${action}` });
      expect(res.statusCode).toBe(401);
    }
    expect(h.api.calls).toEqual({ sync: [], suspend: [], resume: [], nudge: [] });
  });

  test('suspend, then resume: 200 with the status after', async () => {
    let res = await h.app.inject({ method: 'POST', url: '/api/clusters/pg-test/suspend', headers: bearer(TOKEN) });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ cluster: 'pg-test', suspended: true, status: { name: 'pg-test', sync: 'Suspended', policy: { suspend: true } } });
    res = await h.app.inject({ method: 'POST', url: '/api/clusters/pg-test/resume', headers: bearer(TOKEN) });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ cluster: 'pg-test', suspended: false, status: { policy: { suspend: false } } });
    expect(h.api.calls.suspend).toEqual(['pg-test']);
    expect(h.api.calls.resume).toEqual(['pg-test']);
  });

  test('409 when the daemon refuses to suspend', async () => {
    h.api.suspend = (): boolean => false;
    const res = await h.app.inject({ method: 'POST', url: '/api/clusters/pg-test/suspend', headers: bearer(TOKEN) });
    expect(res.statusCode).toBe(409);
    expect(res.json()).toEqual({ error: 'conflict', message: 'could not suspend pg-test' });
  });

  test('a body of any type is ignored, an empty JSON body too; over 16 KiB is 413', async () => {
    for (const [type, payload] of [
      ['application/json', ''],
      ['application/json', '{"force": true}'],
      ['application/x-www-form-urlencoded', ''],
      ['text/plain', 'hello'],
    ] as const) {
      const res = await h.app.inject({ method: 'POST', url: '/api/clusters/pg-test/sync', headers: { ...bearer(TOKEN), 'content-type': type }, payload });
      expect(res.statusCode, `${type} ${payload}`).toBe(202);
    }
    const res = await h.app.inject({ method: 'POST', url: '/api/clusters/pg-test/sync', headers: { ...bearer(TOKEN), 'content-type': 'application/json' }, payload: 'x'.repeat(17 * 1024) });
    expect(res.statusCode).toBe(413);
    expect(res.json()).toMatchObject({ error: 'payload-too-large' });
  });

  test('reads need no token', async () => {
    for (const url of ['/api/status', '/api/clusters', '/api/clusters/pg-test', '/api/plans/plan-etcd-1', '/', '/metrics']) {
      expect((await h.app.inject(url)).statusCode, url).toBe(200);
    }
  });

  test('GET on a changing endpoint is 405 and changes nothing', async () => {
    const res = await h.app.inject({ method: 'GET', url: '/api/clusters/pg-test/sync', headers: bearer(TOKEN) });
    expect(res.statusCode).toBe(405);
    expect(res.headers.allow).toBe('POST');
    expect(h.api.calls.sync).toEqual([]);
  });
});

describe('without a token configured', () => {
  test.each([undefined, ''])('token %j: every changing endpoint answers 403 and says how to set one', async (token) => {
    const h = harness(token === undefined ? {} : { token });
    for (const action of CHANGING) {
      for (const headers of [{}, bearer('anything'), bearer('')]) {
        const res = await h.app.inject({ method: 'POST', url: `/api/clusters/pg-test/${action}`, headers });
        expect(res.statusCode).toBe(403);
        const body = res.json<{ error: string; message: string }>();
        expect(body.error).toBe('forbidden');
        expect(body.message).toContain('CORRAL_API_TOKEN');
        expect(body.message).toContain('Authorization: Bearer <token>');
      }
    }
    expect(h.api.calls).toEqual({ sync: [], suspend: [], resume: [], nudge: [] });
    expect(h.logs.some((l) => String(l.msg).includes('set CORRAL_API_TOKEN'))).toBe(true);
    await h.app.close();
  });
});

test('a short token works but is warned about at start', async () => {
  const h = harness({ token: 'abc' });
  expect(h.logs.some((l) => l.level === 40 && String(l.msg).includes('shorter than 16'))).toBe(true);
  const res = await h.app.inject({ method: 'POST', url: '/api/clusters/pg-test/sync', headers: bearer('abc') });
  expect(res.statusCode).toBe(202);
  await h.app.close();
});
