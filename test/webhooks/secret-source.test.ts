/**
 * A webhook secret comes from the daemon's flags or environment, never from a file the repository
 * names: a commit naming a file of known content (/etc/debian_version) would let anyone sign.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { CorralMetrics } from '../../src/daemon/metrics.js';
import { DEFAULT_SETTINGS, type Settings } from '../../src/config/settings.js';
import { forgeIntegration } from '../../webhooks/index.js';
import type { Transport } from '../../src/transport/types.js';
import { testAuthority } from '../helpers/pki.js';

const pki = await testAuthority();
const saved = process.env.CORRAL_WEBHOOK_SECRET;
afterEach(() => {
  if (saved === undefined) delete process.env.CORRAL_WEBHOOK_SECRET;
  else process.env.CORRAL_WEBHOOK_SECRET = saved;
});

function routesWith(settings: Settings, secretFiles?: Record<string, string>) {
  const logs: string[] = [];
  const logger = pino(new Writable({ write: (chunk: Buffer, _e, done) => (logs.push(chunk.toString()), done()) }));
  const forge = forgeIntegration({
    stateDir: mkdtempSync(join(tmpdir(), 'corral-secret-')),
    metrics: new CorralMetrics(),
    logger,
    notify: {},
    transport: {} as Transport,
    ssh: {},
    previewPki: pki,
    branch: 'main',
    previewForks: false,
    ...(secretFiles ? { webhookSecretFiles: secretFiles } : {}),
  });
  return { routes: forge.routes({ settings: () => settings, nudge: () => undefined }), logs };
}

describe('where a webhook secret comes from', () => {
  const known = mkdtempSync(join(tmpdir(), 'corral-known-'));
  const knownFile = join(known, 'debian_version');
  writeFileSync(knownFile, '12.8\n');
  const fromRepo: Settings = { ...DEFAULT_SETTINGS, webhooks: { github: { secretFile: knownFile }, gitea: { secretFile: knownFile } } };

  it("a file named in the repository's corral.yml is not read, and the daemon says so once", () => {
    delete process.env.CORRAL_WEBHOOK_SECRET;
    const { routes, logs } = routesWith(fromRepo);
    expect(routes.secretFor('github')).toBeUndefined();
    expect(routes.secretFor('github')).toBeUndefined();
    const warnings = logs.filter((l) => l.includes('webhooks.github.secretFile: ignored'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('--webhook-secret-file github=FILE');
    // Each provider that sets one is named, once.
    expect(routes.secretFor('gitea')).toBeUndefined();
    expect(routes.secretFor('gitea')).toBeUndefined();
    expect(logs.filter((l) => l.includes('webhooks.gitea.secretFile: ignored'))).toHaveLength(1);
  });

  it('the file of --webhook-secret-file, else CORRAL_WEBHOOK_SECRET', () => {
    const flagged = join(known, 'github.secret');
    writeFileSync(flagged, 'from-the-flag\n', { mode: 0o600 });
    process.env.CORRAL_WEBHOOK_SECRET = 'from-the-env';
    const { routes } = routesWith(fromRepo, { github: flagged });
    expect(routes.secretFor('github')).toBe('from-the-flag');
    expect(routes.secretFor('gitlab')).toBe('from-the-env');
  });
});
