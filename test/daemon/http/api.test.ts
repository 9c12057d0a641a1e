import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import type { ClusterStatus, DaemonStatus, PlanRecord } from '../../../src/daemon/types.js';
import { REV_B, change, planRecord } from './fake-api.js';
import { harness, type Harness } from './helpers.js';

let h: Harness;
beforeEach(() => {
  h = harness();
});
afterEach(async () => {
  await h.app.close();
});

describe('reading state', () => {
  test('GET /api/status: the whole status', async () => {
    const res = await h.app.inject('/api/status');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    const body = res.json<DaemonStatus>();
    expect(body).toEqual(h.api.status());
  });

  test('GET /api/clusters: every ClusterStatus', async () => {
    const res = await h.app.inject('/api/clusters');
    expect(res.statusCode).toBe(200);
    const body = res.json<ClusterStatus[]>();
    expect(body.map((c) => [c.name, c.sync, c.health])).toEqual([
      ['etcd', 'Synced', 'Healthy'],
      ['pg-test', 'OutOfSync', 'Degraded'],
      ['redis-test', 'Failed', 'Unreachable'],
    ]);
    expect(body[1]).toEqual(h.api.clusters[1]);
  });

  test('GET /api/clusters/:name: status, last plan and history', async () => {
    const res = await h.app.inject('/api/clusters/pg-test');
    expect(res.statusCode).toBe(200);
    const body = res.json<{ status: ClusterStatus; lastPlan: PlanRecord | null; history: unknown[] }>();
    expect(body.status.name).toBe('pg-test');
    expect(body.lastPlan?.id).toBe('plan-pg-test-2');
    expect(body.lastPlan?.plan.changes).toHaveLength(3);
    expect(body.history).toEqual(h.api.history.get('pg-test'));
  });

  test('GET /api/clusters/:name: a cluster with no plan yet has lastPlan null', async () => {
    const res = await h.app.inject('/api/clusters/redis-test');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ lastPlan: null, history: [] });
  });

  test('GET /api/clusters/:name: 404 JSON for an unknown cluster', async () => {
    const res = await h.app.inject('/api/clusters/pg-nope');
    expect(res.statusCode).toBe(404);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.json()).toEqual({ error: 'not-found', message: 'no cluster named "pg-nope"' });
  });
});

describe('GET /api/plans/:id', () => {
  test('JSON by default and with ?format=json', async () => {
    for (const url of ['/api/plans/plan-pg-test-2', '/api/plans/plan-pg-test-2?format=json']) {
      const res = await h.app.inject(url);
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.json<PlanRecord>()).toEqual(h.api.plans.get('plan-pg-test-2'));
    }
  });

  test('?format=markdown: the Markdown rendering as text/markdown', async () => {
    const res = await h.app.inject('/api/plans/plan-pg-test-2?format=markdown');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/markdown; charset=utf-8');
    expect(res.body).toBe(h.api.plans.get('plan-pg-test-2')?.markdown);
    expect(res.body).toContain('### Corral plan for `a0b1c2d3e4f5`');
  });

  test('?format=text: the text rendering as text/plain', async () => {
    const res = await h.app.inject('/api/plans/plan-pg-test-2?format=text');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(res.body).toBe(h.api.plans.get('plan-pg-test-2')?.text);
    expect(res.body).toContain('~ file:/etc/pgbouncer/pgbouncer.ini');
  });

  test('400 for an unknown format, 404 for an unknown plan', async () => {
    let res = await h.app.inject('/api/plans/plan-pg-test-2?format=html');
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ error: 'bad-request', message: 'format must be one of json, markdown, text, not "html"' });
    res = await h.app.inject('/api/plans/plan-nope?format=text');
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ error: 'not-found', message: 'no plan with id "plan-nope"' });
  });
});

describe('secrets', () => {
  const SECRET = 'Hunter2-very-secret';

  test('a plan with a secret field is served with the field redacted, in every format', async () => {
    for (const format of ['json', 'markdown', 'text']) {
      const res = await h.app.inject(`/api/plans/plan-pg-test-2?format=${format}`);
      expect(res.statusCode).toBe(200);
      expect(res.body).toContain('(redacted)');
    }
    const plan = (await h.app.inject('/api/plans/plan-pg-test-2')).json<PlanRecord>();
    const field = plan.plan.changes.find((c) => c.resource === 'pg_user:dbuser_meta')?.fields[0];
    expect(field).toEqual({ field: 'password', from: '(redacted)', to: '(redacted)', secret: true });
  });

  test('a secret value that reached the server by mistake is cut out of the record and its renderings, and logged without it', async () => {
    // A daemon bug: the stored plan kept the value of a secret field, and its renderings quote it.
    const rec = planRecord(
      'plan-leaky',
      'pg-test',
      {
        revision: REV_B,
        fingerprint: 'a'.repeat(64),
        hosts: ['10.213.0.11'],
        unreachable: [],
        notes: [],
        changes: [change({ host: '10.213.0.11', resource: 'pg_user:dbuser_dba', fields: [{ field: 'password', from: 'old-one-1234', to: SECRET, secret: true }] })],
      },
      '2026-11-25T19:40:00.000Z',
    );
    rec.text += `\npassword: ${SECRET}\n`;
    rec.markdown += `\n- password: ${SECRET}\n`;
    h.api.plans.set(rec.id, rec);
    h.api.clusters[1]!.lastPlanId = rec.id;

    for (const url of ['/api/plans/plan-leaky', '/api/plans/plan-leaky?format=text', '/api/plans/plan-leaky?format=markdown', '/api/clusters/pg-test', '/']) {
      const res = await h.app.inject(url);
      expect(res.statusCode, url).toBe(200);
      expect(res.body, url).not.toContain(SECRET);
      expect(res.body, url).not.toContain('old-one-1234');
    }
    const field = (await h.app.inject('/api/plans/plan-leaky')).json<PlanRecord>().plan.changes[0]?.fields[0];
    expect(field).toEqual({ field: 'password', from: '(redacted)', to: '(redacted)', secret: true });
    expect(h.logs.some((l) => l.plan === 'plan-leaky' && String(l.msg).includes('redacted before serving'))).toBe(true);
    expect(h.logText()).not.toContain(SECRET);
  });

  test('credentials in URLs are cut out of the source, fetch errors and messages', async () => {
    h.api.source = 'https://x-access-token:ghp_abcdef123456@github.com/ops/fleet.git';
    h.api.git = { ...h.api.git, lastFetchOk: false, lastError: 'fetch https://bot:s3cr3t-pass@git.example.test/ops/fleet.git?private_token=glpat-999&ref=main: 401' };
    h.api.clusters[2]!.message = 'pull from https://user:pw-1234@mirror.test/x failed';
    for (const url of ['/api/status', '/api/clusters', '/api/clusters/redis-test', '/', '/readyz']) {
      const body = (await h.app.inject(url)).body;
      for (const secret of ['ghp_abcdef123456', 's3cr3t-pass', 'glpat-999', 'pw-1234']) expect(body, `${url} ${secret}`).not.toContain(secret);
    }
    const status = (await h.app.inject('/api/status')).json<DaemonStatus>();
    expect(status.source).toBe('https://x-access-token:***@github.com/ops/fleet.git');
    expect(status.git.lastError).toBe('fetch https://bot:***@git.example.test/ops/fleet.git?private_token=(redacted)&ref=main: 401');
  });
});
