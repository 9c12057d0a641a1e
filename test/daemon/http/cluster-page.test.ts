/** The page of one cluster, and the events that keep the pages live. */
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, test } from 'vitest';
import { FakeApi, change } from './fake-api.js';
import { harness, type Harness } from './helpers.js';
import { buildServer } from '../../../src/daemon/http/server.js';
import { CorralMetrics } from '../../../src/daemon/metrics.js';
import pino from 'pino';

let h: Harness | undefined;
afterEach(async () => {
  await h?.app.close();
  h = undefined;
});

describe('GET /clusters/:name', () => {
  test('sync, health, members, every note, the plan coloured by action with its diffs, and the history', async () => {
    const api = new FakeApi();
    const pg = api.clusters[1]!;
    pg.members = [
      { name: 'pg-test-1', role: 'leader', state: 'running' },
      { name: 'pg-test-2', role: 'replica', state: 'streaming', lag: 'no lag' },
    ];
    pg.healthMessage = 'pg-test-3 is stopped';
    const rec = api.plans.get('plan-pg-test-2')!;
    rec.plan.changes.push(change({ host: '10.213.0.12', resource: 'pg-database:old', action: 'update', destructive: true }), change({ host: '10.213.0.12', resource: 'service:patroni', action: 'restart' }));
    rec.plan.notes.push({ host: '10.213.0.11', resource: 'pgsql', message: 'pg_mode: citus is not built' }, { host: '10.213.0.12', resource: 'packages:pgsql', message: 'pg_version 13 is offered by no repository', blocking: true });
    api.git = { ...api.git, problems: ['pigsty.yml:3:5 warning: unknown variable pg_clster (did you mean pg_cluster?)', 'pigsty.yml:9:1 warning: another'] };
    h = harness({ api });
    const res = await h.app.inject('/clusters/pg-test');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-security-policy']).toContain("script-src 'self'");
    const html = res.body;
    expect(html).toContain('<section id="cluster" data-cluster="pg-test" data-sync="OutOfSync" data-health="Degraded">');
    expect(html).toContain('<tr data-member="pg-test-2"><td>pg-test-2</td><td>replica</td><td>streaming</td><td>no lag</td></tr>');
    expect(html).toContain('pg-test-3 is stopped');
    // Each change by its action; the removal marked; every note, the blocking one as such; every problem.
    expect(html).toMatch(/<li class="update" data-action="update">~ <strong>file:\/etc\/pgbouncer\/pgbouncer.ini<\/strong>/);
    expect(html).toMatch(/<li class="restart" data-action="restart">↻ <strong>service:patroni<\/strong>/);
    expect(html).toMatch(/<li class="removes" data-action="update">~ <strong>pg-database:old<\/strong>.*\[REMOVES\]/);
    expect(html).toContain('<li class="warn">! <strong>pgsql</strong> <span class="dim">on 10.213.0.11:</span> pg_mode: citus is not built</li>');
    expect(html).toContain('<li class="bad">✗ <strong>packages:pgsql</strong>');
    expect(html).toContain('unknown variable pg_clster (did you mean pg_cluster?)');
    expect(html).toContain('2 problems in the fetched revision');
    // The diff, with the secret still redacted.
    expect(html).toContain('+pool_mode = transaction');
    expect(html).toContain('password: changed (redacted)');
    expect(html).toContain('<tr data-result="Succeeded">');
    expect(html).toContain('Ada &lt;ada@example.test&gt;');
    expect(html).toContain('pg-test: raise max_connections');
    expect(html).toContain('<button type="button" data-action="sync" data-cluster="pg-test">Sync</button><button type="button" data-action="suspend" data-cluster="pg-test">Suspend</button>');
    expect(html).toContain('<form id="token-form">');
  });

  test('a suspended cluster says it once and offers resume; a never-synced one says how to sync', async () => {
    const api = new FakeApi();
    api.clusters[0] = { ...api.clusters[0]!, sync: 'Suspended', policy: { ...api.clusters[0]!.policy, suspend: true } };
    const redis = api.clusters[2]!;
    delete redis.lastSyncAt;
    h = harness({ api });
    const etcd = (await h.app.inject('/clusters/etcd')).body;
    expect(etcd).toMatch(/>Suspended<\/span> <span class="badge/);
    expect(etcd).toContain('data-action="resume"');
    expect((await h.app.inject('/')).body).not.toMatch(/Suspended<\/span><span class="policy">suspended/);
    expect((await h.app.inject('/clusters/redis-test')).body).toContain('never: <code>corral sync redis-test</code>');
  });

  test('an unknown cluster is a 404 page; names are escaped', async () => {
    h = harness();
    const res = await h.app.inject(`/clusters/${encodeURIComponent('<img src=x>')}`);
    expect(res.statusCode).toBe(404);
    expect(res.body).toContain('No cluster named <code>&lt;img src=x&gt;</code>');
    expect(res.body).not.toContain('<img');
  });

  test('the overview links each cluster to its page', async () => {
    h = harness();
    expect((await h.app.inject('/')).body).toContain('<a href="/clusters/pg-test"><strong>pg-test</strong></a>');
  });
});

/** Opens /events on a real socket; resolves with what arrived once `until` matches. */
function follow(port: number, until: (text: string) => boolean): { done: Promise<{ status: number; headers: Record<string, unknown>; text: string }>; close: () => void } {
  let close = (): void => undefined;
  const done = new Promise<{ status: number; headers: Record<string, unknown>; text: string }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/events' }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => {
        text += d.toString();
        if (until(text)) resolve({ status: res.statusCode!, headers: res.headers, text });
      });
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, text }));
    });
    req.on('error', reject);
    req.end();
    close = () => req.destroy();
  });
  return { done, close };
}

describe('GET /events', () => {
  test('an event at once, then one per change (coalesced); the listener is gone when the client is', async () => {
    const api = new FakeApi();
    h = harness({ api });
    await h.app.listen({ host: '127.0.0.1', port: 0 });
    const port = (h.app.server.address() as AddressInfo).port;
    const count = (t: string) => t.split('event: change\n').length - 1;
    const first = follow(port, (t) => count(t) >= 2);
    await new Promise((r) => setTimeout(r, 200));
    expect(api.listening).toBe(1);
    for (let i = 0; i < 5; i++) api.changed();
    const got = await first.done;
    expect(got.status).toBe(200);
    expect(got.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    await new Promise((r) => setTimeout(r, 300));
    first.close();
    await new Promise((r) => setTimeout(r, 200));
    expect(api.listening).toBe(0);
  });

  test('beyond its cap a client gets 503 and the others keep theirs', async () => {
    const api = new FakeApi();
    const app = buildServer({ api, metrics: new CorralMetrics(), logger: pino({ level: 'silent' }) });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const port = (app.server.address() as AddressInfo).port;
    const open = Array.from({ length: 100 }, () => follow(port, (t) => t.includes('event: change')));
    await Promise.all(open.map((o) => o.done));
    const refused = await follow(port, () => false).done;
    expect(refused.status).toBe(503);
    expect(api.listening).toBe(100);
    for (const o of open) o.close();
    await new Promise((r) => setTimeout(r, 300));
    expect(api.listening).toBe(0);
    // Another takes a freed place; closing the server ends its stream (an open page does not hold a shutdown).
    const again = follow(port, (t) => t.includes('event: change'));
    expect((await again.done).status).toBe(200);
    await app.close();
    expect(api.listening).toBe(0);
  });
});

