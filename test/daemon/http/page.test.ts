import { afterEach, describe, expect, test } from 'vitest';
import { esc, renderPage } from '../../../src/daemon/http/page.js';
import { FakeApi, REV_A } from './fake-api.js';
import { harness, type Harness } from './helpers.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.app.close();
  h = undefined;
});

/** The opening tag of the element with this attribute, e.g. the row of a cluster. */
const tagWith = (html: string, attr: string): string | undefined => new RegExp(`<[a-z]+ [^>]*${attr}[^>]*>`).exec(html)?.[0];

describe('GET /', () => {
  test('an HTML page with a strict CSP: its own script only (live), a refresh without it, no outside asset', async () => {
    h = harness();
    const res = await h.app.inject('/');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.headers['content-security-policy']).toBe("default-src 'none'; style-src 'unsafe-inline'; script-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.body).toMatch(/^<!doctype html>/);
    expect(res.body).toContain('<noscript><meta http-equiv="refresh" content="10"></noscript>');
    expect(res.body).toContain('<title>Corral: 3 clusters, 2 not synced</title>');
    // One script, by path on this origin; nothing inline, nothing from elsewhere.
    expect([...res.body.matchAll(/<script[^>]*>/g)].map((m) => m[0])).toEqual(['<script src="/assets/page.js" defer>']);
    expect(res.body).not.toMatch(/<link|<img|@import|url\(|\son[a-z]+=/i);
    const script = await h.app.inject('/assets/page.js');
    expect(script.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(script.body).toContain("new EventSource('/events')");
  });

  test('one row per cluster with its sync and health in data attributes and badges', async () => {
    h = harness();
    const html = (await h.app.inject('/')).body;
    expect(tagWith(html, 'data-cluster="etcd"')).toBe('<tr data-cluster="etcd" data-sync="Synced" data-health="Healthy">');
    expect(tagWith(html, 'data-cluster="pg-test"')).toBe('<tr data-cluster="pg-test" data-sync="OutOfSync" data-health="Degraded">');
    expect(tagWith(html, 'data-cluster="redis-test"')).toBe('<tr data-cluster="redis-test" data-sync="Failed" data-health="Unreachable">');
    const row = /<tr data-cluster="pg-test"[^]*?<\/tr>/.exec(html)?.[0] ?? '';
    expect(row).toContain('<td>pgsql</td>');
    expect(row).toContain('<span class="badge warn">OutOfSync</span><span class="policy">manual</span>');
    expect(row).toContain('<span class="badge warn">Degraded</span>');
    expect(row).toContain(`<code title="${REV_A}">3f1c2a9b8d7e</code>`);
    expect(row).toContain('<time datetime="2026-11-25T19:20:40.000Z">2026-11-25 19:20:40 UTC</time>');
    expect(row).toContain('<td class="num">3</td>');
    expect(row).toContain('3 changes to apply (manual sync)');
  });

  test('the git state: source, revision in force, last fetch, and a fetch error when there is one', async () => {
    h = harness();
    let html = (await h.app.inject('/')).body;
    expect(html).toContain('<code>https://git.example.test/ops/fleet.git</code>');
    expect(html).toContain('<dd id="last-good-revision"><code title="a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9">a0b1c2d3e4f5</code></dd>');
    expect(html).toMatch(/<dd id="fetched-revision"><code [^>]*>a0b1c2d3e4f5<\/code> at <time [^>]*>2026-11-25 19:30:00 UTC<\/time> <span class="badge good">ok<\/span><\/dd>/);
    expect(html).not.toContain('id="git-error"');
    h.api.git = { ...h.api.git, lastFetchOk: false, lastError: 'git.example.test: connection refused', invalidAt: 'clusters/pg-test.yml:7:44 two primaries' };
    html = (await h.app.inject('/')).body;
    expect(html).toContain('<div class="alert" id="git-error" role="alert"><strong>Last fetch failed:</strong> git.example.test: connection refused</div>');
    expect(html).toContain('clusters/pg-test.yml:7:44 two primaries');
    expect(html).toContain('<span class="badge bad">failed</span>');
  });

  test('each last plan in a <details>, the most recent open, its text rendering in a <pre>', async () => {
    h = harness();
    const html = (await h.app.inject('/')).body;
    expect(tagWith(html, 'id="last-plan-pg-test"')).toBe('<details id="last-plan-pg-test" open>');
    expect(tagWith(html, 'id="last-plan-etcd"')).toBe('<details id="last-plan-etcd">');
    expect(html).not.toContain('id="last-plan-redis-test"');
    // The plan text, escaped: the file diff, the restart mark, and the secret field as the renderer redacted it.
    const block = /<details id="last-plan-pg-test"[^]*?<\/details>/.exec(html)?.[0] ?? '';
    expect(block).toContain('Plan for revision a0b1c2d3e4f5');
    expect(block).toContain('~ file:/etc/pgbouncer/pgbouncer.ini');
    expect(block).toContain('-pool_mode = session');
    expect(block).toContain('+pool_mode = transaction');
    expect(block).toContain('password: changed (redacted)');
    expect(block).toContain('3 changes');
    expect(html.indexOf('id="last-plan-pg-test"')).toBeLessThan(html.indexOf('id="last-plan-etcd"'));
  });

  test('not ready yet, and no clusters: says so', async () => {
    const api = new FakeApi();
    api.ready = false;
    api.clusters = [];
    api.git = { lastFetchOk: false };
    h = harness({ api });
    const html = (await h.app.inject('/')).body;
    expect(html).toContain('<span class="badge warn">starting</span>');
    expect(html).toContain('No clusters yet.');
    expect(html).toContain('<dd id="fetched-revision"><span class="dim">not yet</span></dd>');
    expect(html).not.toContain('<details');
  });
});

describe('escaping', () => {
  test('esc() escapes the five HTML specials', () => {
    expect(esc(`<a href="x" title='y'>&</a>`)).toBe('&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;');
    expect(esc(undefined)).toBe('');
    expect(esc(3)).toBe('3');
  });

  test('everything the daemon says is escaped: names, messages, errors, plan text', async () => {
    const api = new FakeApi();
    const evil = `<script>alert(1)</script>"'><img src=x onerror=alert(2)>`;
    api.version = evil;
    api.source = evil;
    api.git = { ...api.git, lastError: evil, invalidAt: evil };
    api.clusters[1]!.message = evil;
    api.clusters[2]!.name = `x" onmouseover="alert(3)`;
    api.clusters[2]!.lastSyncAt = evil;
    const rec = api.plans.get('plan-pg-test-2')!;
    rec.text += evil;
    h = harness({ api });
    const html = (await h.app.inject('/')).body;
    expect(html.replace('<script src="/assets/page.js" defer></script>', '')).not.toContain('<script');
    expect(html).not.toContain('<img');
    expect(html).not.toContain('" onmouseover="');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&gt;&lt;img src=x onerror=alert(2)&gt;');
    expect(html).toContain('data-cluster="x&quot; onmouseover=&quot;alert(3)"');
  });

  test('renderPage is a pure function of its data', () => {
    const api = new FakeApi();
    const page = renderPage(api.status(), [...api.plans.values()]);
    expect(renderPage(api.status(), [...api.plans.values()])).toBe(page);
  });
});
