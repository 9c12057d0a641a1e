// sshd dies under a pooled connection: in-flight execs fail 'disconnected', later ones reconnect.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureTestUsers, startSshd } from '../helpers/sshd.js';
import type { Sshd } from '../helpers/sshd.js';
import { createTransport, TransportError } from '../../src/transport/index.js';
import type { Transport } from '../../src/transport/index.js';
import { SETUP_TIMEOUT_MS, knownHostsFile, sshTarget } from './setup.js';

let sshd: Sshd;
let transport: Transport;

beforeAll(async () => {
  ensureTestUsers();
  sshd = await startSshd();
  transport = createTransport({ hostKeys: { knownHostsFile: knownHostsFile(sshd.hostKeyLines), mode: 'strict' } });
}, SETUP_TIMEOUT_MS);

afterAll(async () => {
  await transport?.close();
  await sshd?.dispose();
});

describe('a dropped connection', () => {
  it("fails the exec in flight with 'disconnected', and reconnects once sshd is back", async () => {
    const target = sshTarget(sshd);
    expect((await transport.exec(target, 'echo 1')).stdout).toBe('1\n');

    const inFlight = transport.exec(target, 'sleep 5; echo late').catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 500));
    await sshd.stop();
    const err = await inFlight;
    expect(err).toBeInstanceOf(TransportError);
    expect(err).toMatchObject({ kind: 'disconnected', host: 'node1', mayHaveRun: true, transient: true });

    // Down: a new connection is refused.
    await expect(transport.exec(target, 'true')).rejects.toMatchObject({ kind: 'unreachable' });

    await sshd.restart();
    expect((await transport.exec(target, 'echo 2')).stdout).toBe('2\n');
    expect(transport.stats().connects).toEqual({ node1: 2 });
  });

  it('reconnects on the next exec when the pooled idle connection died', async () => {
    const target = sshTarget(sshd);
    await transport.exec(target, 'true');
    const before = transport.stats().connects.node1!;
    await sshd.restart();
    expect((await transport.exec(target, 'echo again')).stdout).toBe('again\n');
    expect(transport.stats().connects.node1).toBe(before + 1);
  });

  it("notices a host that stopped answering: keepalives fail the exec in flight, a new connect times out", async () => {
    const t = createTransport({ hostKeys: { knownHostsFile: knownHostsFile(sshd.hostKeyLines), mode: 'strict' }, keepaliveIntervalMs: 200 });
    try {
      await t.exec(sshTarget(sshd), 'true');
      const inFlight = t.exec(sshTarget(sshd), 'sleep 3').catch((e: unknown) => e);
      await new Promise((r) => setTimeout(r, 300));
      const paused = Date.now();
      sshd.pause();
      try {
        expect(await inFlight).toMatchObject({ kind: 'disconnected', mayHaveRun: true });
        // 3 unanswered keepalives at 200 ms, well before the script would have ended.
        expect(Date.now() - paused).toBeLessThan(2500);
        // A new connection gets its TCP handshake from the kernel, then no SSH answer.
        const fresh = createTransport({ hostKeys: { knownHostsFile: knownHostsFile(sshd.hostKeyLines), mode: 'strict' }, connectTimeoutMs: 500 });
        const started = Date.now();
        await expect(fresh.exec(sshTarget(sshd), 'true')).rejects.toMatchObject({ kind: 'unreachable', message: expect.stringContaining('no SSH handshake within 500 ms') as unknown });
        expect(Date.now() - started).toBeLessThan(1500);
        await fresh.close();
      } finally {
        sshd.resume();
      }
    } finally {
      await t.close();
    }
  });
});
