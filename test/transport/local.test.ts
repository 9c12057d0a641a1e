// The local connector: the same command line and stdin stream as over SSH, run on this machine.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureSudo } from '../helpers/sshd.js';
import { createTransport, TransportError } from '../../src/transport/index.js';
import type { Target } from '../../src/transport/index.js';
import { knownHostsFile, longScript, longScriptGone, scratchDir, SETUP_TIMEOUT_MS } from './setup.js';

const transport = createTransport({ hostKeys: { knownHostsFile: knownHostsFile(), mode: 'strict' } });
const local: Target = { name: 'self', address: 'localhost', port: 22, user: 'root', connection: 'local' };

beforeAll(() => ensureSudo(), SETUP_TIMEOUT_MS);
afterAll(() => transport.close());

describe('local connector', () => {
  it('returns stdout, stderr, the exit code and a duration', async () => {
    const r = await transport.exec(local, 'echo "$((6 * 7))"; echo err >&2; exit 5');
    expect(r).toMatchObject({ stdout: '42\n', stderr: 'err\n', code: 5 });
    expect(r.durationMs).toBeGreaterThanOrEqual(0);
    expect(transport.stats().execs.self).toBeGreaterThanOrEqual(1);
    expect(transport.stats().connects.self).toBeUndefined();
  });

  it('passes the script and stdin byte for byte', async () => {
    const stdin = 'ä "b" $c\nno newline';
    const r = await transport.exec(local, `x='$y "q"'; printf '%s|' "$x" 'héllo 🐄'; cat`, { stdin });
    expect(r.stdout).toBe(`$y "q"|héllo 🐄|${stdin}`);
  });

  it('reports a death by signal as 128 + the signal number', async () => {
    expect((await transport.exec(local, 'kill -KILL $$')).code).toBe(137);
  });

  it("kills a timed-out script with its children and throws 'timeout'", async () => {
    const dir = scratchDir('local-timeout');
    const err = await transport.exec(local, longScript(dir), { timeoutMs: 500 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransportError);
    expect(err).toMatchObject({ kind: 'timeout', host: 'self', mayHaveRun: true });
    expect(await longScriptGone(dir)).toBe(true);
  }, 60_000);

  it('runs through sudo -n when asked', async () => {
    const r = await transport.exec(local, 'id -u', { sudo: true });
    expect(r.stdout).toBe('0\n');
  });
});
