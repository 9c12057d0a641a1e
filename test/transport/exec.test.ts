// exec over SSH against a real OpenSSH sshd on 127.0.0.1: output, bytes, pooling, auth, timeouts, limits.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createClientKeys, startAgent } from '../helpers/sshd.js';
import { freePort } from '../helpers/ports.js';
import type { TransportError } from '../../src/transport/index.js';
import { longScript, longScriptGone, scratchDir, sshTarget, rejection, useSshd } from './setup.js';

const env = useSshd();

describe('exec over ssh', () => {
  it('returns stdout, stderr and the exit code; a non-zero exit is a result', async () => {
    const t = env.transport();
    const root = sshTarget(env.sshd, { name: 'root-login', user: 'root' });
    const r = await t.exec(root, 'echo out; echo err >&2; exit 3');
    expect(r).toMatchObject({ stdout: 'out\n', stderr: 'err\n', code: 3 });
    expect(r.durationMs).toBeGreaterThanOrEqual(0);
    expect((await t.exec(root, 'id -un; echo "$SUDO_USER"')).stdout).toBe('root\n\n');
  }, 60_000);

  it('passes quotes, $vars, backslashes, heredocs and non-ASCII through byte for byte', async () => {
    const script = [
      `a='single "double" $HOME \`x\` \\ back'`,
      `printf '%s\\n' "$a"`,
      `x=42; echo "x=$x" 'lit=$x'`,
      `printf '%s\\n' "héllo wörld — 日本語 🐄"`,
      "cat <<'EOF'",
      `heredoc $x "q" 'q' \\n`,
      'EOF',
    ].join('\n');
    const r = await env.transport().exec(sshTarget(env.sshd), script);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`single "double" $HOME \`x\` \\ back\nx=42 lit=$x\nhéllo wörld — 日本語 🐄\nheredoc $x "q" 'q' \\n\n`);
  });

  it('gives the script exactly the stdin bytes, and never runs them as commands', async () => {
    const t = env.transport();
    const stdin = 'line 1\nünïcödé $x `y` "z"\nno newline at the end';
    expect((await t.exec(sshTarget(env.sshd), 'cat', { stdin })).stdout).toBe(stdin);
    const marker = join(scratchDir('stdin'), 'ran');
    const r = await t.exec(sshTarget(env.sshd), 'read -r first; echo "$first"', { stdin: `one\ntouch ${marker}\n` });
    expect(r).toMatchObject({ stdout: 'one\n', code: 0 });
    expect(existsSync(marker)).toBe(false);
  });

  it('runs nothing of a script with a syntax error (it is parsed whole first)', async () => {
    const r = await env.transport().exec(sshTarget(env.sshd), 'echo before\nif then fi');
    expect(r.stdout).toBe('');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('syntax error');
  });

  it('keeps bash line numbers, and runs an empty or comment-only script', async () => {
    const t = env.transport();
    expect((await t.exec(sshTarget(env.sshd), '#!/bin/bash\necho $LINENO')).stdout).toBe('2\n');
    expect(await t.exec(sshTarget(env.sshd), '')).toMatchObject({ code: 0, stdout: '' });
    expect(await t.exec(sshTarget(env.sshd), '# nothing')).toMatchObject({ code: 0, stdout: '' });
  });

  it('reuses one connection for several execs on a host', async () => {
    const t = env.transport();
    for (let i = 0; i < 3; i++) expect((await t.exec(sshTarget(env.sshd), `echo ${i}`)).stdout).toBe(`${i}\n`);
    expect(t.stats()).toEqual({ connects: { node1: 1 }, execs: { node1: 3 } });
  });

  it('opens one connection for concurrent first execs on a host', async () => {
    const t = env.transport();
    await Promise.all([1, 2, 3].map((i) => t.exec(sshTarget(env.sshd), `echo ${i}`)));
    expect(t.stats().connects).toEqual({ node1: 1 });
  });

  it('logs in with an RSA key and with an ed25519 key', async () => {
    const t = env.transport();
    const rsa = await t.exec(sshTarget(env.sshd, { name: 'rsa', privateKeyFile: env.sshd.clientKeys.rsaFile }), 'echo rsa');
    expect(rsa.stdout).toBe('rsa\n');
    // A separate transport, as the pool would reuse the first connection (same user, address and port).
    const ed = await env.transport().exec(sshTarget(env.sshd, { name: 'ed', privateKeyFile: env.sshd.clientKeys.ed25519File }), 'echo ed');
    expect(ed.stdout).toBe('ed\n');
    expect(env.sshd.logs()).toMatch(/Accepted publickey for corral-test-sudo .* RSA SHA256:/);
    expect(env.sshd.logs()).toMatch(/Accepted publickey for corral-test-sudo .* ED25519 SHA256:/);
  });

  it('logs in with a key held by an ssh-agent', async () => {
    const agent = await startAgent([env.sshd.clientKeys.rsaFile]);
    try {
      const r = await env.transport().exec({ ...sshTarget(env.sshd), privateKeyFile: undefined, agent: agent.socket }, 'echo agent');
      expect(r.stdout).toBe('agent\n');
    } finally {
      await agent.stop();
    }
  });

  it("refuses a key the host does not accept with 'auth', without the key in the message", async () => {
    const other = createClientKeys(scratchDir('keys'));
    const t = env.transport();
    const err = await rejection(t.exec(sshTarget(env.sshd, { privateKeyFile: other.ed25519File }), 'echo no'));
    expect(err.kind).toBe('auth');
    expect(err.transient).toBe(false);
    expect(err.mayHaveRun).toBe(false);
    expect(err.message).toContain('authorized_keys');
    const secret = readFileSync(other.ed25519File, 'utf8').split('\n')[1]!;
    expect(err.message).not.toContain(secret.slice(0, 20));
    expect((await rejection(t.exec(sshTarget(env.sshd, { privateKeyFile: '/nonexistent/key' }), 'true'))).kind).toBe('auth');
    const notAKey = await rejection(t.exec(sshTarget(env.sshd, { privateKeyFile: '/etc/hostname' }), 'true'));
    expect(notAKey.kind).toBe('auth');
    expect(notAKey.message).toContain('/etc/hostname');
  });

  it("reports a refused port as 'unreachable', fast", async () => {
    const port = await freePort();
    const started = Date.now();
    const err = await rejection(env.transport().exec(sshTarget(env.sshd, { port }), 'echo no'));
    expect(err.kind).toBe('unreachable');
    expect(err.message).toContain('connection refused');
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it("kills a script that runs too long, with everything it started, and throws 'timeout'", async () => {
    const dir = scratchDir('timeout');
    const t = env.transport();
    // As root: OpenSSH ignores signal requests for root sessions, so this needs the host's `timeout`.
    const root = sshTarget(env.sshd, { name: 'root-login', user: 'root' });
    await t.exec(root, 'true');
    const started = Date.now();
    const err = await rejection(t.exec(root, longScript(dir), { timeoutMs: 1000 }));
    expect(err.kind).toBe('timeout');
    expect(err.mayHaveRun).toBe(true);
    // At the deadline, far before the script's own end; loose, as sshd's login shell (~/.bashrc) starts first.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(await longScriptGone(dir)).toBe(true);
    // The connection survives a timed-out script.
    expect((await t.exec(root, 'echo still')).stdout).toBe('still\n');
    expect(t.stats().connects).toEqual({ 'root-login': 1 });
  }, 90_000);

  it('runs at most maxPerHost execs at once on a host', async () => {
    const dir = scratchDir('overlap');
    const t = env.transport({ maxPerHost: 4 });
    // Each holds its slot 1 s, so a slow start on a loaded machine cannot hide the overlap.
    const script = `echo "$(date +%s%N) +1" >> ${dir}/log; sleep 1; echo "$(date +%s%N) -1" >> ${dir}/log`;
    const started = Date.now();
    await Promise.all(Array.from({ length: 8 }, () => t.exec(sshTarget(env.sshd), script)));
    const elapsed = Date.now() - started;
    const events = readFileSync(join(dir, 'log'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.split(' '))
      .sort((a, b) => (BigInt(a[0]!) < BigInt(b[0]!) ? -1 : 1));
    let running = 0;
    let most = 0;
    for (const [, delta] of events) most = Math.max(most, (running += Number(delta)));
    expect(events).toHaveLength(16);
    expect(most).toBeLessThanOrEqual(4);
    expect(most).toBeGreaterThanOrEqual(2);
    // Two rounds of 1 s at least; no upper bound, as a loaded machine stretches it (the overlap count shows concurrency).
    expect(elapsed).toBeGreaterThanOrEqual(2000);
    expect(t.stats()).toEqual({ connects: { node1: 1 }, execs: { node1: 8 } });
  });

  it("fails only the execs beyond sshd's MaxSessions, keeping the connection for the others", async () => {
    const t = env.transport({ maxPerHost: 25 });
    // The test env.sshd allows 20 sessions per connection.
    const outcomes = await Promise.all(
      Array.from({ length: 24 }, () =>
        t.exec(sshTarget(env.sshd), 'sleep 3; echo done', { sudo: false }).then(
          (r) => r.stdout,
          (e: TransportError) => e.kind + (e.message.includes('MaxSessions') ? ' MaxSessions' : ''),
        ),
      ),
    );
    expect(outcomes.filter((o) => o === 'done\n')).toHaveLength(20);
    expect(outcomes.filter((o) => o === 'disconnected MaxSessions')).toHaveLength(4);
    expect(t.stats().connects).toEqual({ node1: 1 });
  });

  it('reports connects and execs to the event listeners', async () => {
    const seen: string[] = [];
    const t = env.transport({
      events: {
        onConnect: (host, ok, kind) => seen.push(`connect ${host} ${ok} ${kind ?? ''}`.trim()),
        onExec: (host, result) => seen.push(`exec ${host} ${result}`),
      },
    });
    await t.exec(sshTarget(env.sshd), 'true');
    await t.exec(sshTarget(env.sshd), 'false');
    await rejection(t.exec(sshTarget(env.sshd, { name: 'down', port: await freePort() }), 'true'));
    expect(seen).toEqual(['connect node1 true', 'exec node1 ok', 'exec node1 failed', 'connect down false unreachable', 'exec down error']);
  });

  it("fails execs after close() with 'disconnected', running nothing", async () => {
    const t = env.transport();
    await t.exec(sshTarget(env.sshd), 'true');
    await t.close();
    const err = await rejection(t.exec(sshTarget(env.sshd), 'true'));
    expect(err.kind).toBe('disconnected');
    expect(err.mayHaveRun).toBe(false);
  });

  it('measures connect time and exec round trip (printed, not asserted)', async () => {
    for (const [label, opts] of [
      ['sudo user, sudo', {}],
      ['sudo user, no sudo', { sudo: false }],
    ] as const) {
      const t = env.transport();
      let started = performance.now();
      await t.exec(sshTarget(env.sshd), 'true', opts);
      const first = performance.now() - started;
      const rounds = 10;
      started = performance.now();
      for (let i = 0; i < rounds; i++) await t.exec(sshTarget(env.sshd), 'true', opts);
      const each = (performance.now() - started) / rounds;
      console.log(`loopback, ${label}: first exec (connect + run) ${first.toFixed(1)} ms, pooled exec round trip ${each.toFixed(1)} ms`);
      expect(each).toBeGreaterThan(0);
    }
  });
});
