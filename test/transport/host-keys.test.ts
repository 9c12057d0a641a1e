// Host key checks against a real sshd: unknown, changed, hashed, revoked, accept-new.
import { execFileSync } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureTestUsers, startSshd } from '../helpers/sshd.js';
import type { Sshd } from '../helpers/sshd.js';
import { createTransport, TransportError } from '../../src/transport/index.js';
import type { HostKeyPolicy, Transport } from '../../src/transport/index.js';
import { knownHostsFile, publicKeyBlob, scratchDir, SETUP_TIMEOUT_MS, sshTarget } from './setup.js';

let sshd: Sshd;
let other: Sshd;
const transports: Transport[] = [];

function transport(hostKeys: HostKeyPolicy): Transport {
  const t = createTransport({ hostKeys });
  transports.push(t);
  return t;
}

async function refusal(t: Transport, script = 'true'): Promise<TransportError> {
  const err = await t.exec(sshTarget(sshd), script).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TransportError);
  return err as TransportError;
}

/** A line for the first server with the second server's ed25519 key. */
function wrongKeyLine(): string {
  return other.hostKeyLines[0]!.replace(`]:${other.port} `, `]:${sshd.port} `);
}

/** The fingerprint field of `ssh-keygen -lf FILE`: "256 SHA256:... comment (ED25519)". */
function keygenFingerprint(pubFile: string): string {
  return execFileSync('ssh-keygen', ['-lf', pubFile], { encoding: 'utf8' }).split(' ')[1]!;
}

beforeAll(async () => {
  ensureTestUsers();
  // A second server only for its host keys: the "wrong" keys for the first one.
  [sshd, other] = await Promise.all([startSshd(), startSshd()]);
}, SETUP_TIMEOUT_MS);

afterAll(async () => {
  await Promise.all(transports.map((t) => t.close()));
  await Promise.all([sshd?.dispose(), other?.dispose()]);
});

describe('host keys', () => {
  it("refuses an unknown host with 'hostkey-unknown', runs nothing, and says how to add the key", async () => {
    const file = knownHostsFile([]);
    const marker = join(scratchDir('hk'), 'ran');
    const t = transport({ knownHostsFile: file, mode: 'strict' });
    const err = await refusal(t, `touch ${marker}`);
    expect(err.kind).toBe('hostkey-unknown');
    expect(err.host).toBe('node1');
    expect(err.mayHaveRun).toBe(false);
    expect(err.message).toContain(keygenFingerprint(sshd.hostPublicKeyFiles.ed25519));
    expect(err.message).toContain(`ssh-keyscan -p ${sshd.port} 127.0.0.1 >> ${file}`);
    expect(err.message).toContain('accept-new');
    expect(existsSync(marker)).toBe(false);
    expect(t.stats()).toEqual({ connects: {}, execs: {} });
  });

  it('treats a missing known_hosts file as empty', async () => {
    const err = await refusal(transport({ knownHostsFile: knownHostsFile(), mode: 'strict' }));
    expect(err.kind).toBe('hostkey-unknown');
  });

  it("refuses a changed key with 'hostkey-changed', naming the fingerprint seen and the known key's line", async () => {
    const wrong = wrongKeyLine();
    const file = knownHostsFile(['# fleet', `[10.9.9.9]:22 ${sshd.hostKeyLines[0]!.split(' ').slice(1).join(' ')}`, wrong]);
    const err = await refusal(transport({ knownHostsFile: file, mode: 'strict' }));
    expect(err.kind).toBe('hostkey-changed');
    expect(err.transient).toBe(false);
    expect(err.message).toContain('man-in-the-middle');
    expect(err.message).toContain(keygenFingerprint(sshd.hostPublicKeyFiles.ed25519));
    expect(err.message).toContain(`${file}:3`);
  });

  it('accepts a hashed entry (|1|salt|HMAC-SHA1)', async () => {
    const salt = randomBytes(20);
    const name = `[127.0.0.1]:${sshd.port}`;
    const hashed = `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(name).digest('base64')}`;
    const [, type, blob] = sshd.hostKeyLines[0]!.split(' ');
    const t = transport({ knownHostsFile: knownHostsFile([`${hashed} ${type} ${blob}`]), mode: 'strict' });
    expect((await t.exec(sshTarget(sshd), 'echo ok')).stdout).toBe('ok\n');
  });

  it('asks for the key type it knows: a host known only by its RSA key is checked against that key', async () => {
    const t = transport({ knownHostsFile: knownHostsFile([sshd.hostKeyLines[1]!]), mode: 'strict' });
    expect((await t.exec(sshTarget(sshd), 'echo ok')).stdout).toBe('ok\n');
  });

  it('refuses a key marked @revoked even when another line trusts it', async () => {
    const [, type, blob] = sshd.hostKeyLines[0]!.split(' ');
    const t = transport({ knownHostsFile: knownHostsFile([sshd.hostKeyLines[0]!, `@revoked * ${type} ${blob}`]), mode: 'strict' });
    const err = await refusal(t);
    expect(err.kind).toBe('hostkey-changed');
    expect(err.message).toContain('@revoked');
  });

  it('accept-new records a new host (plain line) and a strict transport trusts it afterwards', async () => {
    const file = knownHostsFile(['# no newline at the end follows']);
    const first = transport({ knownHostsFile: file, mode: 'accept-new' });
    expect((await first.exec(sshTarget(sshd), 'echo first')).stdout).toBe('first\n');
    const lines = readFileSync(file, 'utf8').split('\n');
    const [, type, blob] = sshd.hostKeyLines[0]!.split(' ');
    expect(lines).toEqual(['# no newline at the end follows', `[127.0.0.1]:${sshd.port} ${type} ${blob}`, '']);
    expect(publicKeyBlob(sshd.hostPublicKeyFiles.ed25519).toString('base64')).toBe(blob);

    const strict = transport({ knownHostsFile: file, mode: 'strict' });
    expect((await strict.exec(sshTarget(sshd), 'echo second')).stdout).toBe('second\n');
    // Known now: a second connection under accept-new adds nothing.
    await transport({ knownHostsFile: file, mode: 'accept-new' }).exec(sshTarget(sshd), 'true');
    expect(readFileSync(file, 'utf8').split('\n')).toHaveLength(3);
  });

  it('accept-new still refuses a changed key', async () => {
    const wrong = wrongKeyLine();
    const file = knownHostsFile([wrong]);
    const err = await refusal(transport({ knownHostsFile: file, mode: 'accept-new' }));
    expect(err.kind).toBe('hostkey-changed');
    expect(readFileSync(file, 'utf8')).toBe(`${wrong}\n`);
  });
});
