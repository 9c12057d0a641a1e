/**
 * The webhook endpoints, with GitHub's own sample payloads (@octokit/webhooks-examples) signed by
 * an independent signer (@octokit/webhooks-methods), and GitLab's and Gitea's documented shapes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sign } from '@octokit/webhooks-methods';
import Fastify, { type FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { CorralMetrics } from '../../src/daemon/metrics.js';
import { StateStore } from '../../src/daemon/store.js';
import { SeenDeliveries } from '../../webhooks/deliveries.js';
import { dispatcher } from '../../webhooks/dispatch.js';
import { buildNotifiers } from '../../webhooks/notifiers/index.js';
import { Outbox } from '../../webhooks/outbox.js';
import type { PullRequest } from '../../webhooks/receivers/types.js';
import { webhookRoutes } from '../../webhooks/routes.js';
import { startFakeForge } from '../helpers/fake-forge.js';
import { until } from '../helpers/until.js';

interface Example {
  name: string;
  examples: Record<string, unknown>[];
}
const EXAMPLES = createRequire(import.meta.url)('@octokit/webhooks-examples/api.github.com/index.json') as Example[];
const examplesOf = (name: string): Record<string, unknown>[] => EXAMPLES.find((e) => e.name === name)!.examples;

const SECRET = 'It’s a Secret to Everybody';

interface Harness {
  app: FastifyInstance;
  metrics: CorralMetrics;
  nudges: number;
  previews: PullRequest[];
  stateDir: string;
}

const dirs: string[] = [];
let apps: FastifyInstance[] = [];
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
  await Promise.all(apps.map((a) => a.close()));
  apps = [];
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function harness(o: { branch?: string; secret?: string | undefined; stateDir?: string; bodyLimit?: number; perMinute?: number; previewForks?: boolean } = {}): Promise<Harness> {
  const stateDir = o.stateDir ?? mkdtempSync(join(tmpdir(), 'corral-webhooks-'));
  if (!o.stateDir) dirs.push(stateDir);
  const metrics = new CorralMetrics({ defaultMetrics: false });
  const h: Harness = { app: Fastify(), metrics, nudges: 0, previews: [], stateDir };
  const dispatch = dispatcher({ branch: o.branch ?? 'main', nudge: () => h.nudges++, preview: (pr) => h.previews.push(pr), previewForks: o.previewForks ?? false });
  const secret = 'secret' in o ? o.secret : SECRET;
  await h.app.register(webhookRoutes, {
    secretFor: () => secret,
    seen: new SeenDeliveries(new StateStore(stateDir)),
    metrics,
    dispatch: (_p, e) => dispatch(e),
    ...(o.bodyLimit ? { bodyLimit: o.bodyLimit } : {}),
    ...(o.perMinute ? { perMinute: o.perMinute } : {}),
  });
  apps.push(h.app);
  return h;
}

let deliveries = 0;
async function github(h: Harness, event: string, payload: unknown, o: { delivery?: string; signature?: string | null; body?: string } = {}) {
  const body = o.body ?? JSON.stringify(payload);
  const signature = o.signature === undefined ? await sign(SECRET, body) : o.signature;
  return h.app.inject({
    method: 'POST',
    url: '/webhooks/github',
    headers: {
      'content-type': 'application/json',
      'x-github-event': event,
      'x-github-delivery': o.delivery ?? `delivery-${++deliveries}`,
      'user-agent': 'GitHub-Hookshot/test',
      ...(signature === null ? {} : { 'x-hub-signature-256': signature }),
    },
    payload: body,
  });
}

async function counter(m: CorralMetrics, labels: string): Promise<number> {
  const line = (await m.metricsText()).split('\n').find((l) => l.startsWith(`corral_webhook_requests_total{${labels}}`));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

describe('GitHub webhooks with GitHub’s sample payloads', () => {
  it('every push sample: the tracked branch nudges a fetch, other branches and tags are ignored', async () => {
    const pushes = examplesOf('push');
    expect(pushes.length).toBeGreaterThan(3);
    for (const p of pushes) {
      const ref = p.ref as string;
      const branch = ref.startsWith('refs/heads/') ? ref.slice(11) : 'main';
      const h = await harness({ branch });
      const res = await github(h, 'push', p);
      const deleted = p.deleted === true;
      if (ref.startsWith('refs/heads/') && !deleted) {
        expect(res.statusCode, ref).toBe(202);
        expect(res.json()).toMatchObject({ result: 'accepted' });
        expect(h.nudges).toBe(1);
      } else {
        expect(res.statusCode, ref).toBe(200);
        expect(res.json()).toMatchObject({ result: 'ignored' });
        expect(h.nudges).toBe(0);
      }
      // The same push to a branch Corral does not follow is ignored.
      const other = await harness({ branch: 'not-this-one' });
      expect((await github(other, 'push', p)).json()).toMatchObject({ result: 'ignored' });
      expect(other.nudges).toBe(0);
    }
  });

  it('every pull_request action: opened, synchronize, reopened and ready_for_review preview; a merge nudges; the rest is ignored', async () => {
    const samples = examplesOf('pull_request');
    const actions = new Set(samples.map((s) => s.action as string));
    for (const a of ['opened', 'synchronize', 'reopened', 'closed', 'labeled', 'assigned']) expect(actions, a).toContain(a);
    for (const p of samples) {
      const pr = p.pull_request as { base: { ref: string }; head: { sha: string }; merged: boolean };
      const h = await harness({ branch: pr.base.ref, previewForks: true });
      const res = await github(h, 'pull_request', p);
      const action = p.action as string;
      if (['opened', 'synchronize', 'reopened', 'ready_for_review'].includes(action)) {
        expect(res.statusCode, action).toBe(202);
        expect(h.previews).toEqual([expect.objectContaining({ number: p.number, headSha: pr.head.sha, ref: `refs/pull/${p.number as number}/head`, baseBranch: pr.base.ref })]);
      } else if (action === 'closed' && pr.merged) {
        expect(res.statusCode).toBe(202);
        expect(h.nudges).toBe(1);
        expect(h.previews).toEqual([]);
      } else {
        expect(res.statusCode, action).toBe(200);
        expect(res.json()).toMatchObject({ result: 'ignored' });
        expect(h.previews.length + h.nudges).toBe(0);
      }
    }
  });

  it('a pull request against another branch, or from a fork with fork previews off, is not previewed', async () => {
    const opened = examplesOf('pull_request').find((s) => s.action === 'opened')!;
    const h = await harness({ branch: 'release' });
    expect((await github(h, 'pull_request', opened)).json<{ message: string }>().message).toMatch(/targets .*; Corral follows release/);
    const fork = structuredClone(opened) as { pull_request: { head: { repo: { full_name: string } }; base: { ref: string } } };
    fork.pull_request.head.repo.full_name = 'someone-else/fork';
    const h2 = await harness({ branch: fork.pull_request.base.ref });
    const res = await github(h2, 'pull_request', fork);
    expect(res.json<{ message: string }>().message).toMatch(/from a fork; previews of forks are off/);
    expect(h2.previews).toEqual([]);
  });

  it('ping answers 200 and changes nothing', async () => {
    for (const p of examplesOf('ping')) {
      const h = await harness();
      const res = await github(h, 'ping', p);
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({ result: 'ignored' });
      expect(h.nudges).toBe(0);
    }
  });

  it('bad, missing, sha1-only and other-secret signatures get 401, and nothing syncs', async () => {
    const push = examplesOf('push').find((p) => (p.ref as string).startsWith('refs/heads/'))!;
    const branch = (push.ref as string).slice(11);
    const h = await harness({ branch });
    const body = JSON.stringify(push);
    const wrongSecret = await sign('another secret', body);
    const good = await sign(SECRET, body);
    const cases: (string | null)[] = [null, '', 'sha256=', wrongSecret, good.replace('sha256=', 'sha1='), good.slice(0, -2) + (good.endsWith('00') ? '11' : '00'), good.replace('sha256=', '')];
    for (const signature of cases) {
      const res = await github(h, 'push', push, { signature });
      expect(res.statusCode, String(signature)).toBe(401);
      expect(res.json()).toMatchObject({ error: 'unauthorized' });
    }
    // A body changed after signing, with the original signature.
    const res = await github(h, 'push', push, { signature: good, body: body.replace(branch, `${branch}x`) });
    expect(res.statusCode).toBe(401);
    expect(h.nudges).toBe(0);
    expect(await counter(h.metrics, 'provider="github",event="other",result="rejected"')).toBe(cases.length + 1);
  });

  it('replays are dropped: the same delivery id, or the same signed body under a new id, also after a restart', async () => {
    const push = examplesOf('push').find((p) => (p.ref as string).startsWith('refs/heads/') && !p.deleted)!;
    const branch = (push.ref as string).slice(11);
    const h = await harness({ branch });
    expect((await github(h, 'push', push, { delivery: 'guid-1' })).statusCode).toBe(202);
    const again = await github(h, 'push', push, { delivery: 'guid-1' });
    expect(again.statusCode).toBe(200);
    expect(again.json()).toMatchObject({ result: 'duplicate' });
    expect((await github(h, 'push', push, { delivery: 'guid-made-up' })).json()).toMatchObject({ result: 'duplicate' });
    expect(h.nudges).toBe(1);
    expect(await counter(h.metrics, 'provider="github",event="push",result="duplicate"')).toBe(2);
    await h.app.close();
    // A new daemon on the same state directory still knows it.
    const restarted = await harness({ branch, stateDir: h.stateDir });
    expect((await github(restarted, 'push', push, { delivery: 'guid-1' })).json()).toMatchObject({ result: 'duplicate' });
    expect(restarted.nudges).toBe(0);
  });

  it('an oversized body is 413, malformed JSON 400, a form body 415, and none of them syncs', async () => {
    const h = await harness({ bodyLimit: 1024 });
    const big = JSON.stringify({ ref: 'refs/heads/main', pad: 'x'.repeat(2048) });
    expect((await github(h, 'push', undefined, { body: big })).statusCode).toBe(413);
    const malformed = '{"ref": "refs/heads/main",';
    const res = await github(h, 'push', undefined, { body: malformed, signature: await sign(SECRET, malformed) });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: 'bad-request' });
    const form = await h.app.inject({ method: 'POST', url: '/webhooks/github', headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-github-event': 'push' }, payload: 'payload=%7B%7D' });
    expect(form.statusCode).toBe(415);
    expect(h.nudges).toBe(0);
    expect(await counter(h.metrics, 'provider="github",event="other",result="rejected"')).toBe(3);
  });

  it('a body that is not JSON is 415 before any signature is checked, however it is signed', async () => {
    const h = await harness();
    const body = '{"ref": "refs/heads/main"}';
    const signature = await sign(SECRET, body);
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/jsonp', 'text/json', undefined]) {
      const res = await h.app.inject({ method: 'POST', url: '/webhooks/github', headers: { ...(type ? { 'content-type': type } : {}), 'x-github-event': 'push', 'x-hub-signature-256': signature }, payload: body });
      expect(res.statusCode, String(type)).toBe(415);
      expect(res.json()).toMatchObject({ error: 'unsupported-media-type' });
      expect(res.json<{ message: string }>().message).toMatch(/set the webhook's content type to application\/json/);
    }
    // Unsigned too: the content type is looked at first.
    expect((await h.app.inject({ method: 'POST', url: '/webhooks/github', headers: { 'content-type': 'text/plain', 'x-github-event': 'push' }, payload: body })).statusCode).toBe(415);
    // JSON with parameters is JSON.
    expect((await h.app.inject({ method: 'POST', url: '/webhooks/github', headers: { 'content-type': 'Application/JSON; charset=utf-8', 'x-github-event': 'push', 'x-hub-signature-256': signature }, payload: body })).statusCode).toBe(202);
    expect(h.nudges).toBe(1);
  });

  it('a commit id that is not one (head.sha "../../user/keys") is refused with 400 and never reaches the forge', async () => {
    const opened = structuredClone(examplesOf('pull_request').find((s) => s.action === 'opened')!) as { pull_request: { head: { sha: string }; base: { ref: string } } };
    const h = await harness({ branch: opened.pull_request.base.ref, previewForks: true });
    const f = await startFakeForge('github', { login: 'corral-bot', token: 'forge-token-0123456789' });
    const outbox = new Outbox({ store: new StateStore(h.stateDir), notifiers: buildNotifiers({ forge: { kind: 'github', apiUrl: f.apiUrl, repository: 'acme/fleet', token: 'forge-token-0123456789' } }), metrics: h.metrics, logger: pino({ level: 'silent' }), baseDelayMs: 10 });
    outbox.start();
    closers.push(() => outbox.stop(), () => f.close());
    // What a preview does first: a pending status on the head it was given.
    const previewed = (): void => void h.previews.splice(0).forEach((pr) => outbox.enqueue({ kind: 'status', sha: pr.headSha, context: 'corral/plan', state: 'pending', description: 'planning' }));

    for (const sha of ['../../user/keys', 'a'.repeat(39), 'g'.repeat(40), `${'a'.repeat(40)}/../../x`]) {
      opened.pull_request.head.sha = sha;
      const res = await github(h, 'pull_request', opened);
      previewed();
      expect(res.statusCode, sha).toBe(400);
      expect(res.json()).toMatchObject({ error: 'bad-request', message: `the pull request's head commit ${JSON.stringify(sha)} is not a commit id (40 or 64 hex characters)` });
    }
    // A refused delivery is not remembered: sent again with a good sha, it is taken.
    opened.pull_request.head.sha = 'c0ffee'.padEnd(40, '0');
    expect((await github(h, 'pull_request', opened)).statusCode).toBe(202);
    previewed();
    await until('the good head’s status', () => f.statuses.length === 1 || undefined, 5_000, 20);
    expect(f.requests).toEqual([`POST /repos/acme/fleet/statuses/${'c0ffee'.padEnd(40, '0')}`]);
  });

  it('GitLab and generic deliveries with a commit id that is not one are refused too', async () => {
    const h = await harness();
    const mr = { object_kind: 'merge_request', object_attributes: { iid: 7, action: 'open', target_branch: 'main', source_project_id: 1, target_project_id: 1, last_commit: { id: '../../user/keys' } } };
    const res = await h.app.inject({ method: 'POST', url: '/webhooks/gitlab', headers: { 'content-type': 'application/json', 'x-gitlab-event': 'Merge Request Hook', 'x-gitlab-token': SECRET }, payload: JSON.stringify(mr) });
    expect(res.statusCode).toBe(400);
    const merged = { object_kind: 'merge_request', object_attributes: { ...mr.object_attributes, action: 'merge', last_commit: { id: 'a'.repeat(40) }, merge_commit_sha: '../x' } };
    expect((await h.app.inject({ method: 'POST', url: '/webhooks/gitlab', headers: { 'content-type': 'application/json', 'x-gitlab-event': 'Merge Request Hook', 'x-gitlab-token': SECRET }, payload: JSON.stringify(merged) })).json<{ message: string }>().message).toMatch(/merge commit "\.\.\/x" is not a commit id/);
    const push = JSON.stringify({ ref: 'refs/heads/main', after: 'HEAD~1' });
    const generic = await h.app.inject({ method: 'POST', url: '/webhooks/generic', headers: { 'content-type': 'application/json', 'x-corral-signature-256': await sign(SECRET, push) }, payload: push });
    expect(generic.statusCode).toBe(400);
    expect(h.nudges + h.previews.length).toBe(0);
  });

  it('with no secret configured, every delivery is refused and the answer says why', async () => {
    const h = await harness({ secret: undefined });
    const res = await github(h, 'push', { ref: 'refs/heads/main', after: 'a'.repeat(40) });
    expect(res.statusCode).toBe(401);
    expect(res.json<{ message: string }>().message).toMatch(/no webhook secret is configured for github: set CORRAL_WEBHOOK_SECRET/);
    expect(h.nudges).toBe(0);
  });

  it('deliveries are rate limited per client address (429)', async () => {
    const h = await harness({ perMinute: 3 });
    const codes: number[] = [];
    for (let i = 0; i < 5; i++) codes.push((await github(h, 'ping', { zen: `z${i}` })).statusCode);
    expect(codes).toEqual([200, 200, 200, 429, 429]);
    expect(await counter(h.metrics, 'provider="github",event="other",result="rejected"')).toBe(2);
  });

  it('GET /api/webhooks lists the last deliveries, newest first, with what became of each', async () => {
    const h = await harness({ branch: 'main' });
    await github(h, 'push', { ref: 'refs/heads/main', after: 'a'.repeat(40) }, { signature: 'sha256=00' });
    await github(h, 'push', { ref: 'refs/heads/feature', after: 'b'.repeat(40) }, { delivery: 'd-2' });
    await github(h, 'push', { ref: 'refs/heads/main', after: 'c'.repeat(40) }, { delivery: 'd-3' });
    const list = (await h.app.inject('/api/webhooks')).json<{ deliveries: { provider: string; event: string; delivery?: string; status: number; result: string; message: string }[] }>().deliveries;
    expect(list.map((d) => [d.status, d.result, d.delivery])).toEqual([
      [202, 'accepted', 'd-3'],
      [200, 'ignored', 'd-2'],
      [401, 'rejected', undefined],
    ]);
    expect(list[1]!.message).toBe('push to feature; Corral follows main');
    expect(list[2]!.message).toBe('missing or invalid signature for this body');
    expect(list[2]!.event).toBe('push');
  });

  it('an unknown provider is 404 and names the ones there are', async () => {
    const h = await harness();
    const res = await h.app.inject({ method: 'POST', url: '/webhooks/bitbucket', headers: { 'content-type': 'application/json' }, payload: '{}' });
    expect(res.statusCode).toBe(404);
    expect(res.json<{ message: string }>().message).toContain('github, gitlab, gitea, generic');
  });
});

describe('GitLab, Gitea and generic webhooks', () => {
  // Shapes from GitLab's webhook events documentation (trimmed to the fields any receiver reads).
  const gitlabPush = { object_kind: 'push', event_name: 'push', before: '95790bf891e76fee5e1747ab589903a6a1f80f22', after: 'da1560886d4f094c3e6c9ef40349f7d38b5d27d7', ref: 'refs/heads/main', checkout_sha: 'da1560886d4f094c3e6c9ef40349f7d38b5d27d7', project_id: 15, commits: [] };
  const gitlabMr = (action: string) => ({
    object_kind: 'merge_request',
    event_type: 'merge_request',
    object_attributes: { iid: 7, action, source_branch: 'ms-viewport', target_branch: 'main', source_project_id: 14, target_project_id: 14, state: action === 'merge' ? 'merged' : 'opened', merge_commit_sha: action === 'merge' ? 'f'.repeat(40) : null, last_commit: { id: 'da1560886d4f094c3e6c9ef40349f7d38b5d27d7' } },
  });
  const gitlab = (h: Harness, event: string, payload: unknown, token: string | null = SECRET, uuid = `uuid-${++deliveries}`) =>
    h.app.inject({ method: 'POST', url: '/webhooks/gitlab', headers: { 'content-type': 'application/json', 'x-gitlab-event': event, 'x-gitlab-event-uuid': uuid, ...(token === null ? {} : { 'x-gitlab-token': token }) }, payload: JSON.stringify(payload) });

  it('GitLab: the X-Gitlab-Token must match; a push nudges, an MR opened or updated previews refs/merge-requests/N/head, a merge nudges', async () => {
    const h = await harness();
    expect((await gitlab(h, 'Push Hook', gitlabPush, null)).statusCode).toBe(401);
    expect((await gitlab(h, 'Push Hook', gitlabPush, 'wrong')).statusCode).toBe(401);
    expect((await gitlab(h, 'Push Hook', gitlabPush)).statusCode).toBe(202);
    expect(h.nudges).toBe(1);
    for (const action of ['open', 'update', 'reopen']) expect((await gitlab(h, 'Merge Request Hook', gitlabMr(action))).statusCode).toBe(202);
    expect(h.previews.map((p) => p.ref)).toEqual(Array(3).fill('refs/merge-requests/7/head'));
    expect((await gitlab(h, 'Merge Request Hook', gitlabMr('merge'))).statusCode).toBe(202);
    expect(h.nudges).toBe(2);
    expect((await gitlab(h, 'Merge Request Hook', gitlabMr('approved'))).json()).toMatchObject({ result: 'ignored' });
    const dup = await gitlab(h, 'Push Hook', { ...gitlabPush, after: 'b'.repeat(40) }, SECRET, 'same-uuid');
    expect(dup.statusCode).toBe(202);
    expect((await gitlab(h, 'Push Hook', { ...gitlabPush, after: 'c'.repeat(40) }, SECRET, 'same-uuid')).json()).toMatchObject({ result: 'duplicate' });
  });

  it('Gitea/Forgejo: X-Gitea-Signature (hex HMAC, no prefix); `synchronized` previews', async () => {
    const h = await harness();
    const pr = { action: 'synchronized', number: 3, pull_request: { number: 3, merged: false, head: { sha: 'a'.repeat(40), ref: 'feature', repo: { full_name: 'org/fleet' } }, base: { ref: 'main', repo: { full_name: 'org/fleet' } } } };
    const body = JSON.stringify(pr);
    const hex = (await sign(SECRET, body)).slice('sha256='.length);
    const send = (headers: Record<string, string>) => h.app.inject({ method: 'POST', url: '/webhooks/gitea', headers: { 'content-type': 'application/json', 'x-gitea-event': 'pull_request', 'x-gitea-delivery': `g-${++deliveries}`, ...headers }, payload: body });
    expect((await send({ 'x-gitea-signature': 'f'.repeat(64) })).statusCode).toBe(401);
    expect((await send({ 'x-gitea-signature': hex })).statusCode).toBe(202);
    expect(h.previews).toEqual([expect.objectContaining({ number: 3, ref: 'refs/pull/3/head', fromFork: false })]);
  });

  it('generic: sha256= HMAC in X-Corral-Signature-256; a body without a ref nudges, another branch is ignored', async () => {
    const h = await harness();
    const send = async (payload: unknown) => {
      const body = JSON.stringify(payload);
      return h.app.inject({ method: 'POST', url: '/webhooks/generic', headers: { 'content-type': 'application/json', 'x-corral-signature-256': await sign(SECRET, body) }, payload: body });
    };
    expect((await send({ from: 'ci' })).statusCode).toBe(202);
    expect((await send({ ref: 'refs/heads/other' })).json()).toMatchObject({ result: 'ignored' });
    expect(h.nudges).toBe(1);
  });
});
