/** `corral serve` refuses a forge or notifier set up halfway, before it starts anything, and says what is missing. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { run } from '../../src/cli/main.js';
import type { Output } from '../../src/cli/output.js';

const state = mkdtempSync(join(tmpdir(), 'corral-serve-flags-'));
afterAll(() => rmSync(state, { recursive: true, force: true }));

async function serve(...flags: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  const o: Output = { print: (s) => (out += s), error: (s) => (out += s), color: false };
  const saved = { ...process.env };
  delete process.env.CORRAL_FORGE_TOKEN;
  delete process.env.CORRAL_NOTIFY_SECRET;
  try {
    const code = await run(['serve', '--watch', join(import.meta.dirname, '../../examples/local'), '--state-dir', state, '--listen', '127.0.0.1:0', ...flags], o);
    return { code, out };
  } finally {
    process.env = saved;
  }
}

function expectRefused(r: { code: number; out: string }, text: string): void {
  expect(r.code).toBe(2);
  expect(r.out).toContain(text);
}

describe('corral serve: forge and notifier flags', () => {
  it('a forge without a token, a repository or (for GitLab and Gitea) an API URL', async () => {
    expect(await serve('--forge', 'github', '--forge-repo', 'acme/fleet')).toEqual({ code: 2, out: 'corral serve: --forge github needs a token: CORRAL_FORGE_TOKEN or --forge-token-file\n' });
    expectRefused(await serve('--forge', 'github'), '--forge github needs --forge-repo owner/name');
    expectRefused(await serve('--forge', 'gitlab', '--forge-repo', 'acme/fleet'), '--forge gitlab needs --forge-api');
  });

  it('a webhook secret file not given as PROVIDER=FILE', async () => {
    expectRefused(await serve('--webhook-secret-file', '/etc/corral/github.secret'), '--webhook-secret-file takes PROVIDER=FILE with a provider of github, gitlab, gitea, generic');
    expectRefused(await serve('--webhook-secret-file', 'bitbucket=/x'), 'got "bitbucket=/x"');
  });

  it('a generic webhook without a signing secret', async () => {
    expectRefused(await serve('--notify-webhook', 'http://127.0.0.1:9/hook'), '--notify-webhook needs a signing secret: CORRAL_NOTIFY_SECRET');
  });
});
