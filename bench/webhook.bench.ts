// bench/webhook: push to sync start, 100 pushes announced by a signed GitHub push webhook, beside
// 100 pushes found by polling (every 1 s) in the same run. Sync start is the moment a cluster's
// sync of the pushed revision begins: fetched, validated, and about to plan and apply.
// Printed, not asserted, except that every push was synced. Run: npm run bench:daemon
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sign } from '@octokit/webhooks-methods';
import { pino } from 'pino';
import { afterAll, expect, it } from 'vitest';
import { Daemon } from '../src/daemon/daemon.js';
import { CorralMetrics } from '../src/daemon/metrics.js';
import { buildServer } from '../src/daemon/http/server.js';
import { gitRevisions } from '../src/daemon/sources.js';
import { createGitSource } from '../src/git/source.js';
import { createTransport } from '../src/transport/index.js';
import { forgeIntegration } from '../webhooks/index.js';
import { webhookRoutes } from '../webhooks/routes.js';
import { startGitServer, type GitServer } from '../test/helpers/git-server.js';
import { testAuthority } from '../test/helpers/pki.js';

const PUSHES = 100;
const SECRET = 'bench-webhook-secret';
const rows: string[] = [];
afterAll(() => console.log(`\nbench/webhook\n${rows.map((r) => `  ${r}`).join('\n')}\n`));

const quantile = (xs: number[], q: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil(q * xs.length) - 1)]!;
const describe = (xs: number[]): string => `p50 ${quantile(xs, 0.5).toFixed(0)} ms, p99 ${quantile(xs, 0.99).toFixed(0)} ms`;

async function measure(server: GitServer, name: string, pollInterval: string, announce: (sha: string, base: string) => Promise<void>): Promise<number[]> {
  const repo = await server.createRepo(name);
  // One local host with nothing to manage: the sync is all Corral's own work.
  const inventory = `all:\n  children:\n    nodes:\n      hosts:\n        127.0.0.1: { ansible_connection: local }\n  vars:\n    nodename_overwrite: false\n    node_write_etc_hosts: false\n    node_repo_modules: ''\n    node_default_packages: []\n    node_packages: []\n    node_sysctl_params: {}\n    node_kernel_modules: []\n    node_data: ''\n    node_admin_enabled: false\n    node_ntp_enabled: false\n    node_exporter_enabled: false\n`;
  await repo.commit({ 'pigsty.yml': inventory, 'corral.yml': `sync:\n  pollInterval: ${pollInterval}\n  defaults: { sync: auto, driftInterval: 1h }\n` }, 'first');
  await repo.push();
  const stateDir = mkdtempSync(join(tmpdir(), `corral-bench-${name}-`));
  const logger = pino({ level: 'silent' });
  const metrics = new CorralMetrics();
  const transport = createTransport({ hostKeys: { knownHostsFile: '/dev/null', mode: 'strict' } });
  const started = new Map<string, number>();
  const forge = forgeIntegration({ stateDir, metrics, logger, notify: {}, transport, ssh: {}, previewPki: await testAuthority(), branch: 'main', previewForks: false });
  const events = { ...forge.events, syncing: (_c: string, rev: string) => void (started.has(rev) || started.set(rev, performance.now())) };
  const daemon = new Daemon({ source: gitRevisions(createGitSource({ url: repo.url, branch: 'main', stateDir: join(stateDir, 'git') }), name), stateDir, transport, metrics, logger, ssh: {}, version: 'bench', pki: await testAuthority(), events });
  const app = buildServer({ api: daemon, metrics, logger });
  process.env.CORRAL_WEBHOOK_SECRET = SECRET;
  await app.register(webhookRoutes, forge.routes(daemon));
  await app.listen({ host: '127.0.0.1', port: 0 });
  const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  await daemon.start();
  const latencies: number[] = [];
  for (let i = 0; i < PUSHES; i++) {
    const sha = await repo.commit({ 'pigsty.yml': `${inventory}# ${name} ${i}\n` }, `${name} ${i}`);
    await repo.push();
    const t0 = performance.now();
    await announce(sha, base);
    while (!started.has(sha)) await new Promise((r) => setTimeout(r, 2));
    latencies.push(started.get(sha)! - t0);
  }
  await daemon.stop();
  await forge.stop();
  await app.close();
  await transport.close();
  return latencies;
}

it('push to sync start: webhook vs poll', async () => {
  const server = await startGitServer();
  try {
    const hook = await measure(server, 'webhook', '1h', async (sha, base) => {
      const body = JSON.stringify({ ref: 'refs/heads/main', after: sha, deleted: false });
      const res = await fetch(`${base}/webhooks/github`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-github-delivery': crypto.randomUUID(), 'x-hub-signature-256': await sign(SECRET, body) }, body });
      expect(res.status).toBe(202);
    });
    const poll = await measure(server, 'poll', '1s', async () => {});
    rows.push(`${PUSHES} pushes announced by a webhook: ${describe(hook)} (target p50 < 500 ms)`);
    rows.push(`${PUSHES} pushes found by polling every 1 s: ${describe(poll)} (webhook p50 is ${(quantile(poll, 0.5) / quantile(hook, 0.5)).toFixed(1)}x faster)`);
    expect(hook).toHaveLength(PUSHES);
  } finally {
    await server.close();
  }
});
