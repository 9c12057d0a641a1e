// Non-root users: sudo to root (or not), sudo refusals, timeouts under sudo; and the global connection cap.
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PLAIN_USER, SUDO_USER } from '../helpers/sshd.js';
import { longScript, longScriptGone, scratchDir, sshTarget, rejection, useSshd } from './setup.js';

const env = useSshd();

describe('non-root users', () => {
  it('runs the script as root through sudo -n for a user with NOPASSWD sudo, stdout and stderr apart', async () => {
    const r = await env.transport().exec(sshTarget(env.sshd, { user: SUDO_USER }), 'id -u; echo "$SUDO_USER"; echo err >&2');
    expect(r).toMatchObject({ stdout: `0\n${SUDO_USER}\n`, stderr: 'err\n', code: 0 });
  });

  it('runs as the user itself with sudo: false', async () => {
    const r = await env.transport().exec(sshTarget(env.sshd, { user: SUDO_USER }), 'id -un', { sudo: false });
    expect(r.stdout).toBe(`${SUDO_USER}\n`);
  });

  it("throws 'sudo' for a user without sudo rights, and runs nothing", async () => {
    const t = env.transport();
    const err = await rejection(t.exec(sshTarget(env.sshd, { user: PLAIN_USER }), 'echo ran'));
    expect(err.kind).toBe('sudo');
    expect(err.mayHaveRun).toBe(false);
    expect(err.transient).toBe(false);
    expect(err.message).toContain('NOPASSWD');
    expect(err.message).toContain('a password is required');
    // The same user without sudo is fine.
    expect((await t.exec(sshTarget(env.sshd, { user: PLAIN_USER }), 'id -un', { sudo: false })).stdout).toBe(`${PLAIN_USER}\n`);
  });

  it('does not mistake a script that prints sudo-like words for a refusal', async () => {
    const r = await env.transport().exec(sshTarget(env.sshd), "echo 'sudo: a password is required' >&2; exit 1");
    expect(r.code).toBe(1);
  });

  it("kills a timed-out script and its children under sudo (root-owned), throwing 'timeout'", async () => {
    const dir = scratchDir('sudo-timeout');
    const err = await rejection(env.transport().exec(sshTarget(env.sshd), longScript(dir), { timeoutMs: 800 }));
    expect(err.kind).toBe('timeout');
    expect(await longScriptGone(dir)).toBe(true);
  }, 60_000);
});

describe('global connection caps', () => {
  it('keeps idle connections open up to maxIdleConnections, closing the least recently used', async () => {
    const t = env.transport({ maxIdleConnections: 1 });
    const a = sshTarget(env.sshd, { name: 'a', user: SUDO_USER });
    const b = sshTarget(env.sshd, { name: 'b', user: PLAIN_USER });
    await t.exec(a, 'true');
    await t.exec(b, 'true', { sudo: false });
    await t.exec(a, 'true');
    expect(t.stats().connects).toEqual({ a: 2, b: 1 });
  });

  it('makes an exec wait while every connection is busy, then runs it', async () => {
    const t = env.transport({ maxConnections: 1 });
    const a = sshTarget(env.sshd, { name: 'a', user: SUDO_USER });
    const b = sshTarget(env.sshd, { name: 'b', user: PLAIN_USER });
    const dir = scratchDir('cap');
    writeFileSync(join(dir, 'log'), '');
    chmodSync(join(dir, 'log'), 0o666); // b writes as the plain user
    const results = await Promise.all([
      t.exec(a, `echo "$(date +%s%N) a-start" >> ${dir}/log; sleep 0.4; echo "$(date +%s%N) a-end" >> ${dir}/log`),
      t.exec(b, `echo "$(date +%s%N) b-start" >> ${dir}/log`, { sudo: false }),
    ]);
    expect(results.map((r) => r.code)).toEqual([0, 0]);
    const order = readFileSync(join(dir, 'log'), 'utf8').trim().split('\n').map((l) => l.split(' ')[1]);
    expect(order).toEqual(['a-start', 'a-end', 'b-start']);
    expect(t.stats().connects).toEqual({ a: 1, b: 1 });
  });
});
