// Connections stay open between execs (and so between syncs), counted on sshd's side: each accepted
// connection logs one "Accepted publickey" line. A dropped one is reopened by the next exec; an idle
// one is closed after the idle timeout.
import { describe, expect, it } from 'vitest';
import { alive, sshTarget, useSshd, waitFor } from './setup.js';

const env = useSshd();
const accepted = (): number => env.sshd.logs().match(/Accepted publickey/g)?.length ?? 0;
const disconnected = (): number => env.sshd.logs().match(/Disconnected from user/g)?.length ?? 0;

describe('persistent connections', () => {
  it('runs a second exec on the same host over the connection the first one opened', async () => {
    const t = env.transport();
    const before = accepted();
    await t.exec(sshTarget(env.sshd), 'true');
    // Well apart, as two syncs are: the connection stayed open in between.
    await new Promise((r) => setTimeout(r, 300));
    expect((await t.exec(sshTarget(env.sshd), 'echo again')).stdout).toBe('again\n');
    expect(accepted() - before).toBe(1);
    expect(t.stats().connects).toEqual({ node1: 1 });
  });

  it('reconnects once when the connection was killed while idle, and the exec succeeds', async () => {
    const t = env.transport();
    const target = sshTarget(env.sshd);
    const before = accepted();
    await t.exec(target, 'true');
    const sessions = env.sshd.killSessions();
    expect(sessions.length).toBeGreaterThan(0);
    await waitFor(() => alive(sessions).length === 0, 5000);
    expect((await t.exec(target, 'echo back')).stdout).toBe('back\n');
    expect(accepted() - before).toBe(2);
    expect(t.stats().connects).toEqual({ node1: 2 });
  });

  it('closes a connection idle for longer than the idle timeout; the next exec opens a new one', async () => {
    const t = env.transport({ idleTimeoutMs: 400 });
    const target = sshTarget(env.sshd);
    const [acc, disc] = [accepted(), disconnected()];
    await t.exec(target, 'true');
    await t.exec(target, 'true');
    expect(accepted() - acc).toBe(1);
    // sshd logs the client's disconnect once the timer closed the connection.
    expect(await waitFor(() => disconnected() - disc === 1, 5000)).toBe(true);
    await t.exec(target, 'true');
    expect(accepted() - acc).toBe(2);
    expect(t.stats().connects).toEqual({ node1: 2 });
  });

  it('keeps a busy connection open past the idle timeout', async () => {
    const t = env.transport({ idleTimeoutMs: 200 });
    const target = sshTarget(env.sshd);
    const acc = accepted();
    await t.exec(target, 'true');
    await t.exec(target, 'sleep 0.6');
    await t.exec(target, 'true');
    expect(accepted() - acc).toBe(1);
  });
});
