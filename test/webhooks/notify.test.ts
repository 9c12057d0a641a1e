/**
 * Notifiers against fake forges held to each forge's contract, and the durable outbox: retries,
 * dedupe, delivery after a restart (once), and giving up on what a receiver refuses.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verify } from '@octokit/webhooks-methods';
import Fastify from 'fastify';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { CorralMetrics } from '../../src/daemon/metrics.js';
import { StateStore } from '../../src/daemon/store.js';
import type { ForgeApi, ForgeSettings } from '../../webhooks/notifiers/forge.js';
import { giteaApi, githubApi } from '../../webhooks/notifiers/github.js';
import { gitlabApi } from '../../webhooks/notifiers/gitlab.js';
import { buildNotifiers, type ForgeKind } from '../../webhooks/notifiers/index.js';
import { COMMENT_MARKER, type Notice } from '../../webhooks/notifiers/types.js';
import { Outbox } from '../../webhooks/outbox.js';
import { startFakeForge, type FakeForge } from '../helpers/fake-forge.js';
import { until as untilValue } from '../helpers/until.js';

const until = (what: string, ok: () => boolean, ms = 10_000): Promise<true> => untilValue(what, () => ok() || undefined, ms, 20);

const TOKEN = 'forge-token-0123456789';
const LOGIN = 'corral-bot[bot]';
const SHA = 'c0ffee'.padEnd(40, '0');
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function stateDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'corral-outbox-'));
  cleanups.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

async function forge(kind: ForgeKind): Promise<FakeForge> {
  const f = await startFakeForge(kind, { login: LOGIN, token: TOKEN });
  cleanups.push(() => f.close());
  return f;
}

function outbox(dir: string, f: FakeForge | undefined, kind: ForgeKind, extra: Parameters<typeof buildNotifiers>[0] = {}, metrics = new CorralMetrics({ defaultMetrics: false })): Outbox {
  const notifiers = buildNotifiers({ ...(f ? { forge: { kind, apiUrl: f.apiUrl, repository: 'acme/fleet', token: TOKEN } } : {}), ...extra });
  const o = new Outbox({ store: new StateStore(dir), notifiers, metrics, logger: pino({ level: 'silent' }), baseDelayMs: 50, maxDelayMs: 200, maxAttempts: 4 });
  cleanups.push(() => o.stop());
  return o;
}

const status = (state: 'pending' | 'success' | 'failure', description: string, sha = SHA): Notice => ({ kind: 'status', sha, context: 'corral/sync', state, description, targetUrl: 'http://127.0.0.1:8080/' });
const comment = (body: string, pr = 7): Notice => ({ kind: 'comment', pr, body: `${COMMENT_MARKER}\n${body}` });

describe.each(['github', 'gitlab', 'gitea'] as const)('%s: statuses and the one PR comment, on contract', (kind) => {
  it('posts statuses, creates the comment once and updates it in place, and leaves a human’s quoted marker alone', async () => {
    const f = await forge(kind);
    f.seedComment(7, 'a-human', `I quote Corral: ${COMMENT_MARKER}`);
    const o = outbox(stateDir(), f, kind);
    o.start();
    o.enqueue(status('pending', 'syncing'));
    o.enqueue(comment('first plan'));
    await until('first comment', () => (f.comments.get(7) ?? []).length === 2 && o.depth === 0);
    o.enqueue(comment('second plan'));
    o.enqueue(status('success', 'x'.repeat(300)));
    await until('update', () => o.depth === 0 && f.statuses.length === 2);
    const list = f.comments.get(7)!;
    expect(list).toHaveLength(2);
    expect(list.find((c) => c.login === 'a-human')!.body).toBe(`I quote Corral: ${COMMENT_MARKER}`);
    expect(list.find((c) => c.login === LOGIN)!.body).toBe(`${COMMENT_MARKER}\nsecond plan`);
    expect(f.statuses.map((s) => s.state)).toEqual(['pending', 'success']);
    expect(f.statuses[1]!.description!.length).toBeLessThanOrEqual(140);
    expect(f.statuses.every((s) => s.context === 'corral/sync')).toBe(true);
    expect(f.violations).toEqual([]);
  });

  it('a failure status uses the forge’s own word for it', async () => {
    const f = await forge(kind);
    const o = outbox(stateDir(), f, kind);
    o.start();
    o.enqueue(status('failure', 'pg-test failed'));
    await until('status', () => f.statuses.length === 1);
    expect(f.statuses[0]!.state).toBe(kind === 'gitlab' ? 'failed' : 'failure');
    expect(f.violations).toEqual([]);
  });
});

describe.each(['github', 'gitlab', 'gitea'] as const)('%s: what comes from outside never leaves the repository’s API prefix', (kind) => {
  const API: Record<ForgeKind, (s: ForgeSettings) => ForgeApi> = { github: githubApi, gitlab: gitlabApi, gitea: giteaApi };
  const PREFIX = kind === 'gitlab' ? '/projects/acme%2Ffleet/' : '/repos/acme/fleet/';
  const settings = (f: FakeForge, repository = 'acme/fleet'): ForgeSettings => ({ apiUrl: f.apiUrl, repository, token: TOKEN, login: LOGIN });

  it('the notifier refuses a sha that is not a commit id and a PR number that is not one, for good and without a request', async () => {
    const f = await forge(kind);
    const [notifier] = buildNotifiers({ forge: { kind, ...settings(f) } });
    for (const sha of ['../../user/keys', '..', `${SHA}/../../../user/keys`, SHA.slice(1), '']) {
      await expect(notifier!.deliver(status('pending', 'x', sha)), sha).rejects.toMatchObject({ name: 'DeliveryError', retryable: false });
    }
    for (const pr of [Number.NaN, -1, 0, 1.5]) await expect(notifier!.deliver(comment('x', pr)), String(pr)).rejects.toMatchObject({ retryable: false });
    expect(f.requests).toEqual([]);
  });

  it('below the notifier, every value is one encoded path segment: shas, PR numbers and comment ids stay inside the prefix', async () => {
    const f = await forge(kind);
    const api = API[kind](settings(f));
    const hostile = ['../../user/keys', '%2e%2e/%2e%2e/user', '..%2F..%2Fuser', 'x?admin=1#', '. .'];
    for (const value of hostile) {
      await api.postStatus(value, { state: 'pending', context: 'c', description: 'd' }).catch(() => undefined);
      await api.createComment(value as unknown as number, 'body').catch(() => undefined);
      await api.updateComment(7, value as unknown as number, 'body').catch(() => undefined);
    }
    expect(f.requests.length).toBe(hostile.length * 3);
    for (const r of f.requests) expect(r.split(' ')[1]!.startsWith(PREFIX), r).toBe(true);
    // Dot segments, which URL parsers resolve even encoded, are refused before any request.
    for (const dots of ['.', '..']) await expect(api.postStatus(dots, { state: 'pending', context: 'c', description: 'd' })).rejects.toMatchObject({ retryable: false });
    expect(f.requests.length).toBe(hostile.length * 3);
  });

  it('a repository that would climb out or add segments is refused when the notifier is built', async () => {
    const f = await forge(kind);
    const bad = ['../..', 'acme/..', '../../user', 'acme//fleet', '/acme/fleet', './fleet', '', ...(kind === 'gitlab' ? [] : ['acme', 'acme/fleet/extra'])];
    for (const repository of bad) expect(() => API[kind](settings(f, repository)), repository).toThrow();
    if (kind === 'gitlab') {
      // A subgroup's project is one segment, its slashes encoded, as GitLab asks.
      await API[kind](settings(f, 'acme/infra/fleet')).postStatus(SHA, { state: 'success', context: 'c', description: 'd' });
      expect(f.requests).toEqual([`POST /projects/acme%2Finfra%2Ffleet/statuses/${SHA}`]);
    }
  });
});

describe('the fake GitHub holds Corral to the contract', () => {
  it('a request off the REST description is reported (the check can fail)', async () => {
    const f = await forge('github');
    await fetch(`${f.apiUrl}/repos/acme/fleet/statuses/${SHA}`, { method: 'POST', headers: { authorization: 'Bearer x', 'content-type': 'application/json' }, body: JSON.stringify({ state: 'done', context: 'c' }) });
    await fetch(`${f.apiUrl}/repos/acme/fleet/issues/7/comments?per_page=100&sort=new`, { headers: { authorization: 'Bearer x' } });
    expect(f.violations.join('\n')).toMatch(/breaks the schema.*state/);
    expect(f.violations.join('\n')).toContain('query parameter sort is not in the description');
  });
});

describe('the outbox', () => {
  it('an identical notice is sent once; a newer status of the same commit replaces a pending older one', async () => {
    const f = await forge('github');
    const o = outbox(stateDir(), f, 'github');
    expect(o.enqueue(status('pending', 'syncing'))).toBe(1);
    expect(o.enqueue(status('pending', 'syncing'))).toBe(0);
    expect(o.enqueue(status('success', 'in sync'))).toBe(1);
    expect(o.depth).toBe(1);
    o.start();
    await until('delivered', () => o.depth === 0);
    expect(f.statuses.map((s) => s.state)).toEqual(['success']);
    // What was delivered last is not posted again.
    expect(o.enqueue(status('success', 'in sync'))).toBe(0);
    expect(f.requests.filter((r) => r.startsWith('POST')).length).toBe(1);
  });

  it('retries with backoff while the forge is down, keeps the notices across a restart, and delivers them once after it', async () => {
    const f = await forge('github');
    f.failWith(503);
    const dir = stateDir();
    const metrics = new CorralMetrics({ defaultMetrics: false });
    const first = outbox(dir, f, 'github', {}, metrics);
    first.start();
    first.enqueue(status('success', 'in sync'));
    first.enqueue(comment('the plan'));
    await until('two failed attempts', () => f.requests.length >= 2);
    await first.stop();
    expect(readdirSync(join(dir, 'outbox')).filter((x) => x.endsWith('.json'))).toHaveLength(2);
    expect(await metrics.metricsText()).toMatch(/corral_notification_deliveries_total\{provider="github",result="failure"\} [1-9]/);
    f.failWith(undefined);
    const second = outbox(dir, f, 'github', {}, metrics);
    expect(second.depth).toBe(2);
    second.start();
    await until('delivered after the restart', () => second.depth === 0);
    await new Promise((r) => setTimeout(r, 300));
    expect(f.statuses).toHaveLength(1);
    expect(f.comments.get(7)).toHaveLength(1);
    expect(readdirSync(join(dir, 'outbox')).filter((x) => x.endsWith('.json'))).toEqual([]);
    expect(await metrics.metricsText()).toMatch(/corral_outbox_depth 0/);
    expect(f.violations).toEqual([]);
  });

  it('gives up on a notice the receiver refuses (422) or after the last attempt, and counts it dropped', async () => {
    const f = await forge('github');
    const metrics = new CorralMetrics({ defaultMetrics: false });
    const o = outbox(stateDir(), f, 'github', {}, metrics);
    o.start();
    f.failWith(422);
    o.enqueue(status('success', 'refused'));
    await until('dropped', () => o.depth === 0);
    expect(f.requests).toHaveLength(1);
    f.failWith(500);
    o.enqueue(status('success', 'keeps failing', 'b'.repeat(40)));
    await until('dropped after 4 attempts', () => o.depth === 0);
    expect(f.requests).toHaveLength(5);
    expect(await metrics.metricsText()).toMatch(/corral_notification_deliveries_total\{provider="github",result="dropped"\} 2/);
  });

  it('Slack gets text; the generic webhook gets JSON whose signature an independent verifier accepts', async () => {
    const got: { path: string; body: string; headers: Record<string, unknown> }[] = [];
    const app = Fastify();
    app.addContentTypeParser('application/json', { parseAs: 'string' }, (_r, b, done) => done(null, b));
    app.post('/*', (req, reply) => {
      got.push({ path: req.url, body: req.body as string, headers: req.headers });
      return reply.code(req.url === '/slack/T000/B000/XXXX' ? 200 : 204).send(req.url.startsWith('/slack') ? 'ok' : undefined);
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    cleanups.push(() => app.close());
    const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    const o = outbox(stateDir(), undefined, 'github', { slackWebhookUrl: `${base}/slack/T000/B000/XXXX`, webhooks: [{ url: `${base}/hook`, secret: 'notify-secret' }] });
    o.start();
    // A status is for forges only: neither chat nor the generic webhook takes it.
    expect(o.enqueue(status('success', 'x'))).toBe(0);
    expect(o.enqueue({ kind: 'event', event: { type: 'sync', ok: false, title: 'pg-test failed to sync to 0123456789ab (1 change applied, 1 failed)', revision: SHA, cluster: 'pg-test' } })).toBe(2);
    await until('both delivered', () => got.length === 2 && o.depth === 0);
    const slack = got.find((g) => g.path.startsWith('/slack'))!;
    expect(JSON.parse(slack.body)).toEqual({ text: ':x: pg-test failed to sync to 0123456789ab (1 change applied, 1 failed)' });
    const hook = got.find((g) => g.path === '/hook')!;
    expect(await verify('notify-secret', hook.body, String(hook.headers['x-corral-signature-256']))).toBe(true);
    expect(await verify('another-secret', hook.body, String(hook.headers['x-corral-signature-256']))).toBe(false);
    expect(JSON.parse(hook.body)).toMatchObject({ type: 'sync', ok: false, cluster: 'pg-test', revision: SHA });
    expect(hook.headers['x-corral-event']).toBe('sync');
  });
});
