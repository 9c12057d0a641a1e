/**
 * The forge loop end to end: a real git HTTP server serving refs/pull/N/head, the lab's nodes, the
 * daemon with its webhook endpoints, and a fake GitHub held to GitHub's REST description. Polling
 * is set to an hour, so every sync here is started by a webhook. A PR is opened and pushed to twice
 * (one comment, updated), an invalid PR is explained, the merge moves corral/sync from pending to
 * success, notifications that could not be delivered are delivered once after a restart, and a
 * canary password never shows in a comment, a status, the outbox or the log.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { sign } from '@octokit/webhooks-methods';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Daemon } from '../../src/daemon/daemon.js';
import { CorralMetrics } from '../../src/daemon/metrics.js';
import { buildServer } from '../../src/daemon/http/server.js';
import { gitRevisions } from '../../src/daemon/sources.js';
import { createGitSource } from '../../src/git/source.js';
import { createTransport } from '../../src/transport/index.js';
import { forgeIntegration } from '../../webhooks/index.js';
import { webhookRoutes } from '../../webhooks/routes.js';
import { COMMENT_MARKER } from '../../webhooks/notifiers/types.js';
import { startFakeForge, type FakeForge } from '../helpers/fake-forge.js';
import { startGitServer, type GitServer, type TestRepo } from '../helpers/git-server.js';
import { lab, LAB_KEY, LAB_KNOWN_HOSTS, LAB_PKI_DIR, onNode } from '../helpers/lab.js';
import { until } from '../helpers/until.js';
import { openAuthority, previewAuthority } from '../../src/pki/authority.js';

const ROOT = join(import.meta.dirname, '../..');
const FLEET = readFileSync(join(ROOT, 'test/fixtures/lab-fleet/pigsty.yml'), 'utf8');
const CANARY = 'Canary-Pa55-9c41e7';
// pg_users at the top level, with no PostgreSQL cluster: the canary is in the inventory, nothing installs PostgreSQL.
const WITH_CANARY = FLEET.replace('  vars:\n', `  vars:\n    pg_users: [ { name: dbuser_canary, password: '${CANARY}', pgbouncer: true } ]\n`);
const SECRET = 'webhook-secret-for-the-e2e-test';
const TOKEN = 'ghs_fake_token_0123456789';
const BOT = 'corral-bot[bot]';

interface Example {
  name: string;
  examples: Record<string, unknown>[];
}
const EXAMPLES = createRequire(import.meta.url)('@octokit/webhooks-examples/api.github.com/index.json') as Example[];
const example = (name: string, action?: string): Record<string, unknown> => structuredClone(EXAMPLES.find((e) => e.name === name)!.examples.find((x) => !action || x.action === action)!);

function pullRequestEvent(action: string, number: number, sha: string): Record<string, unknown> {
  const e = example('pull_request', 'opened');
  const pr = e.pull_request as { number: number; head: { sha: string; ref: string; repo: { full_name: string } }; base: { ref: string; repo: { full_name: string } } };
  e.action = action;
  e.number = number;
  pr.number = number;
  pr.head.sha = sha;
  pr.head.ref = `change-${number}`;
  pr.base.ref = 'main';
  pr.head.repo.full_name = pr.base.repo.full_name;
  return e;
}

function pushEvent(sha: string): Record<string, unknown> {
  const e = example('push');
  return { ...e, ref: 'refs/heads/main', after: sha, deleted: false, created: false };
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

describe('pull requests, webhooks and statuses, on a git server, the lab and a fake GitHub', () => {
  let server: GitServer;
  let repo: TestRepo;
  let github: FakeForge;
  let stateDir: string;
  let base = '';
  let stop: () => Promise<void> = async () => {};
  const logs: string[] = [];

  async function startCorral(): Promise<void> {
    const metrics = new CorralMetrics();
    const logger = pino({ level: 'debug' }, new Writable({ write: (chunk: Buffer, _enc, done) => (logs.push(chunk.toString()), done()) }));
    const transport = createTransport({ hostKeys: { knownHostsFile: LAB_KNOWN_HOSTS, mode: 'strict' }, events: metrics.transportEvents() });
    const git = (dir: string) => createGitSource({ url: repo.url, branch: 'main', stateDir: join(stateDir, dir) });
    const forge = forgeIntegration({
      stateDir,
      metrics,
      logger,
      notify: { forge: { kind: 'github', apiUrl: github.apiUrl, repository: 'Codertocat/Hello-World', token: TOKEN } },
      previewGit: git('previews'),
      transport,
      ssh: { privateKeyFile: LAB_KEY },
      previewPki: await previewAuthority(LAB_PKI_DIR),
      branch: 'main',
      previewForks: false,
      publicUrl: 'http://corral.test:8080',
      webhookSecretFiles: { github: join(stateDir, 'github-webhook.secret') },
    });
    const daemon = new Daemon({ source: gitRevisions(git('git'), 'fleet'), stateDir, transport, metrics, logger, ssh: { privateKeyFile: LAB_KEY }, version: 'test', pki: await openAuthority(LAB_PKI_DIR, { create: true }), events: forge.events });
    const app = buildServer({ api: daemon, metrics, logger });
    await app.register(webhookRoutes, forge.routes(daemon));
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    stop = async () => {
      await daemon.stop();
      await forge.stop();
      await app.close();
      await transport.close();
    };
    forge.start();
    await daemon.start();
  }

  async function deliver(event: string, payload: unknown): Promise<Response> {
    const body = JSON.stringify(payload);
    return fetch(`${base}/webhooks/github`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-github-event': event, 'x-github-delivery': crypto.randomUUID(), 'x-hub-signature-256': await sign(SECRET, body) },
      body,
    });
  }

  const statusesOf = (sha: string, context: string) => github.statuses.filter((s) => s.sha === sha && s.context === context);
  const last = (sha: string, context: string, state: string) => () => (statusesOf(sha, context).at(-1)?.state === state ? statusesOf(sha, context) : undefined);
  const myComments = (pr: number) => (github.comments.get(pr) ?? []).filter((c) => c.login === BOT);

  beforeAll(async () => {
    await lab('up', '3');
    github = await startFakeForge('github', { login: BOT, token: TOKEN });
    server = await startGitServer();
    repo = await server.createRepo('fleet');
    stateDir = mkdtempSync(join(tmpdir(), 'corral-forge-'));
    const secretFile = join(stateDir, 'github-webhook.secret');
    writeFileSync(secretFile, `${SECRET}\n`, { mode: 0o600 });
    const settings = 'sync:\n  pollInterval: 1h\n  defaults: { sync: auto, driftInterval: 1h }\n';
    await repo.commit({ 'pigsty.yml': WITH_CANARY, 'corral.yml': settings }, 'the lab fleet');
    await repo.push();
    await startCorral();
  }, 10 * 60_000);

  afterAll(async () => {
    await stop();
    await server?.close();
    await github?.close();
    if (stateDir) rmSync(stateDir, { recursive: true, force: true });
  });

  it('reports corral/sync on the first revision: pending, then success', async () => {
    const head = await repo.head();
    const states = await until('corral/sync success', last(head, 'corral/sync', 'success'), 5 * 60_000);
    expect(states[0]!.state).toBe('pending');
    expect(states.at(-1)!.description).toBe('1 cluster in sync');
    expect(states.at(-1)!.target_url).toBe('http://corral.test:8080/');
  }, 6 * 60_000);

  it('a PR opened and pushed to twice: one comment, updated in place, and corral/plan on each head', async () => {
    const main = await repo.head();
    await repo.git('checkout', '-q', '-b', 'change-1');
    const first = await repo.commit({ 'pigsty.yml': WITH_CANARY.replace('net.core.somaxconn: 4096', 'net.core.somaxconn: 2048') }, 'smaller accept queue');
    await repo.pushRef('refs/pull/1/head');
    expect((await deliver('pull_request', pullRequestEvent('opened', 1, first))).status).toBe(202);
    await until('corral/plan on the first head', last(first, 'corral/plan', 'success'));
    expect(myComments(1)).toHaveLength(1);
    expect(myComments(1)[0]!.body).toContain(COMMENT_MARKER);
    expect(myComments(1)[0]!.body).toContain(`at \`${first.slice(0, 12)}\``);
    expect(myComments(1)[0]!.body).toMatch(/sysctl:net\.core\.somaxconn/);
    // The sysctl and its file on each of the three nodes.
    expect(statusesOf(first, 'corral/plan').at(-1)!.description).toBe('6 changes in 1 cluster');

    const second = await repo.commit({ 'pigsty.yml': WITH_CANARY.replace('net.core.somaxconn: 4096', 'net.core.somaxconn: 1024') }, 'even smaller');
    await repo.pushRef('refs/pull/1/head');
    expect((await deliver('pull_request', pullRequestEvent('synchronize', 1, second))).status).toBe(202);
    await until('corral/plan on the second head', last(second, 'corral/plan', 'success'));
    expect(myComments(1)).toHaveLength(1);
    expect(myComments(1)[0]!.body).toContain(`at \`${second.slice(0, 12)}\``);
    expect(myComments(1)[0]!.body).toContain('1024');
    // Nothing was applied by a preview.
    expect((await onNode('n2', 'cat /proc/sys/net/core/somaxconn')).trim()).toBe('4096');
    await repo.git('checkout', '-q', 'main');
    expect(await repo.head()).toBe(main);
  }, 3 * 60_000);

  it('an invalid PR gets the errors with file:line:col and a failing corral/plan, and no secret', async () => {
    await repo.git('checkout', '-q', '-b', 'change-2');
    const bad = await repo.commit({ 'pigsty.yml': WITH_CANARY.replace("pgbouncer: true }", "pgbouncer: true, connlimit: lots }") }, 'a typo');
    await repo.pushRef('refs/pull/2/head');
    expect((await deliver('pull_request', pullRequestEvent('opened', 2, bad))).status).toBe(202);
    const states = await until('corral/plan failure', last(bad, 'corral/plan', 'failure'));
    expect(states.at(-1)!.description).toMatch(/^invalid: pigsty\.yml:\d+:\d+ /);
    expect(myComments(2)[0]!.body).toMatch(/\| `pigsty\.yml:\d+:\d+` \|/);
    expect(myComments(2)[0]!.body).toContain('connlimit');
    await repo.git('checkout', '-q', 'main');
  }, 2 * 60_000);

  it('the merge (a push webhook, no poll) moves corral/sync on the merged commit from pending to success', async () => {
    await repo.git('merge', '-q', '--ff-only', 'change-1');
    const merged = await repo.head();
    await repo.push();
    expect((await deliver('push', pushEvent(merged))).status).toBe(202);
    const states = await until('corral/sync success on the merge', last(merged, 'corral/sync', 'success'), 3 * 60_000);
    expect(states[0]!.state).toBe('pending');
    expect((await onNode('n2', 'cat /proc/sys/net/core/somaxconn')).trim()).toBe('1024');
    // The same status is never posted twice in a row.
    const all = statusesOf(merged, 'corral/sync').map((s) => `${s.state}:${s.description ?? ''}`);
    expect(all.filter((s, i) => s === all[i - 1])).toEqual([]);
  }, 4 * 60_000);

  it('notifications that could not be delivered are delivered after a restart, once', async () => {
    github.failWith(503);
    const sha = await repo.commit({ 'pigsty.yml': WITH_CANARY.replace('net.core.somaxconn: 4096', 'net.core.somaxconn: 3072') }, 'a middle ground');
    await repo.push();
    expect((await deliver('push', pushEvent(sha))).status).toBe(202);
    await until('synced while GitHub is down', async () => ((await onNode('n2', 'cat /proc/sys/net/core/somaxconn')).trim() === '3072' ? true : undefined), 3 * 60_000);
    await until('the outbox holds it', () => (readdirSync(join(stateDir, 'outbox')).some((f) => f.endsWith('.json') && readFileSync(join(stateDir, 'outbox', f), 'utf8').includes(sha)) ? true : undefined));
    await stop();
    expect(statusesOf(sha, 'corral/sync')).toEqual([]);
    github.failWith(undefined);
    await startCorral();
    await until('delivered after the restart', last(sha, 'corral/sync', 'success'), 3 * 60_000);
    await new Promise((r) => setTimeout(r, 3000));
    expect(statusesOf(sha, 'corral/sync').filter((s) => s.state === 'success')).toHaveLength(1);
    expect(readdirSync(join(stateDir, 'outbox')).filter((f) => f.endsWith('.json'))).toEqual([]);
  }, 6 * 60_000);

  it('the canary password is in no comment, status, outbox or state file, log line, and every request kept to GitHub’s contract', () => {
    const said = [...github.comments.values()].flat().map((c) => c.body).join('\n') + JSON.stringify(github.statuses);
    expect(said.length).toBeGreaterThan(1000);
    expect(said).not.toContain(CANARY);
    const stateFiles = ['outbox', 'notify', 'plans', 'history', 'webhooks'].flatMap((d) => filesUnder(join(stateDir, d)).map((f) => readFileSync(f, 'utf8')));
    expect(stateFiles.join('\n')).not.toContain(CANARY);
    expect(logs.length).toBeGreaterThan(20);
    expect(logs.join('')).not.toContain(CANARY);
    expect(github.violations).toEqual([]);
  });
});
