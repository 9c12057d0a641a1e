/**
 * The daemon decrypts a revision after its child process validated it: one that does not decrypt (a
 * broken MAC, no identity) is refused like an invalid one, and the last good revision stays in
 * force, also across a restart.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { beforeAll, describe, expect, it } from 'vitest';
import { Daemon, type Revision, type RevisionSource } from '../../src/daemon/daemon.js';
import { CorralMetrics } from '../../src/daemon/metrics.js';
import { createTransport } from '../../src/transport/index.js';
import { previewAuthority } from '../../src/pki/authority.js';
import type { SecretOptions } from '../../src/config/decrypt.js';
import { tmpRepo } from '../helpers/tmp.js';
import { ageKeygen, sopsEncrypt, type AgeKey } from '../helpers/sops.js';

const ADMIN = 'Daemon-Canary-Pa55-2b7d';

describe('the daemon and SOPS-encrypted revisions', () => {
  let key: AgeKey;
  let good: Revision;
  let tampered: Revision;

  beforeAll(async () => {
    key = await ageKeygen();
    // This machine on a port nothing listens on: each sync finds the node unreachable at once.
    const tree = { all: { hosts: { '127.0.0.1': { ansible_port: 1 } }, vars: { haproxy_admin_password: ADMIN } } };
    const { text } = await sopsEncrypt(tree, { recipients: [key.recipient], encryptedRegex: '^.*password.*$' });
    good = { revision: 'a'.repeat(40), author: 't', subject: 'encrypted', dir: tmpRepo({ 'pigsty.yml': text }) };
    tampered = { revision: 'b'.repeat(40), author: 't', subject: 'tampered', dir: tmpRepo({ 'pigsty.yml': text.replace('ansible_port: 1', 'ansible_port: 2') }) };
  });

  const daemon = async (stateDir: string, revisions: () => Revision, secrets: SecretOptions): Promise<Daemon> => {
    const source: RevisionSource = { describe: 'test', latest: () => Promise.resolve(revisions()), at: (rev) => Promise.resolve([good, tampered].find((r) => r.revision === rev)!) };
    const metrics = new CorralMetrics();
    const transport = createTransport({ hostKeys: { knownHostsFile: join(stateDir, 'known_hosts'), mode: 'strict' }, connectTimeoutMs: 2000 });
    return new Daemon({ source, stateDir, transport, metrics, logger: pino({ level: 'silent' }), ssh: {}, pki: await previewAuthority(join(stateDir, 'pki')), version: 'test', secrets });
  };

  it('takes a revision that decrypts, then refuses one whose MAC breaks and keeps the last good one', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'corral-daemon-'));
    let latest = good;
    const d = await daemon(stateDir, () => latest, { ageIdentityFile: key.file });
    await d.fetchAndSync('startup');
    expect(d.status().git.lastGoodRevision).toBe(good.revision);
    expect(d.inForce()!.hosts[0]!.get('haproxy_admin_password')).toBe(ADMIN);

    latest = tampered;
    await d.fetchAndSync('poll');
    const status = d.status();
    expect(status.git.lastGoodRevision).toBe(good.revision);
    expect(status.git.invalidAt).toMatch(/^pigsty\.yml:\d+:3 pigsty\.yml fails its MAC check/);
    expect(status.clusters.map((c) => c.sync)).toEqual(['Invalid']);
    expect(d.inForce()!.hosts[0]!.get('ansible_port')).toBe(1);
    await d.stop();

    // After a restart the last good revision is decrypted again and stays in force.
    const again = await daemon(stateDir, () => tampered, { ageIdentityFile: key.file });
    await again.fetchAndSync('startup');
    expect(again.inForce()!.hosts[0]!.get('haproxy_admin_password')).toBe(ADMIN);
    expect(again.status().git.invalidAt).toContain('fails its MAC check');
    await again.stop();
  });

  it('without an identity, says the revision cannot be decrypted and adopts nothing', async () => {
    const d = await daemon(mkdtempSync(join(tmpdir(), 'corral-daemon-')), () => good, {});
    await d.fetchAndSync('startup');
    expect(d.inForce()).toBeUndefined();
    expect(d.status().git.invalidAt).toMatch(/^pigsty\.yml:\d+:1 pigsty\.yml holds SOPS-encrypted values and no age identity was given/);
    await d.stop();
  });
});
