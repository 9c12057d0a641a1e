/**
 * The daemon's logs and start-up as an operator meets them: pretty lines on a terminal and JSON
 * otherwise, request lines only at debug, a state repeated by every drift check or poll logged once,
 * and a port in use said in one line with the fix (also when it came from CORRAL_LISTEN).
 */
import { mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Daemon, type Revision, type RevisionSource } from '../../src/daemon/daemon.js';
import { CorralMetrics } from '../../src/daemon/metrics.js';
import { buildServer } from '../../src/daemon/http/server.js';
import { createTransport } from '../../src/transport/index.js';
import { createLogger, prettyLine, wantsPretty } from '../../src/util/log.js';
import { run } from '../../src/cli/main.js';
import type { Output } from '../../src/cli/output.js';
import { packageRoot } from '../../src/util/package-root.js';
import { testAuthority } from '../helpers/pki.js';
import { tmpRepo } from '../helpers/tmp.js';
import { FakeApi } from './http/fake-api.js';

/** A logger whose lines the test reads back, parsed. */
function captured(level: string): { logger: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level }, sink), lines };
}

describe('log format', () => {
  it('pretty: time, level, message, then the fields as key=value', () => {
    const line = JSON.stringify({ level: 40, time: Date.UTC(2026, 11, 7, 12, 3, 4, 123), pid: 1, hostname: 'h', msg: 'fetch failed', kind: 'auth', err: 'HTTP 401 from "git"', n: 3, nested: { a: 1 } });
    expect(prettyLine(line, false)).toBe('12:03:04.123 WARN  fetch failed kind=auth err="HTTP 401 from \\"git\\"" n=3 nested={"a":1}');
    expect(prettyLine(line, true)).toContain('\u001b[33mWARN \u001b[39m');
    expect(prettyLine('not json', false)).toBe('not json');
  });

  it('auto is pretty on a terminal and JSON otherwise; pretty and json say which', async () => {
    expect(wantsPretty('auto', true)).toBe(true);
    expect(wantsPretty('auto', false)).toBe(false);
    expect(wantsPretty('json', true)).toBe(false);
    expect(wantsPretty('pretty', false)).toBe(true);
    let written = '';
    const out = { isTTY: false, write: (s: string) => ((written += s), true) } as unknown as NodeJS.WriteStream;
    const logger = createLogger({ level: 'info' }, 'pretty', out);
    logger.info({ cluster: 'pg-test' }, 'pg-test is Synced');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(written).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO {2}pg-test is Synced cluster=pg-test\n$/);
  });
});

describe('request logs', () => {
  it('are at debug: an info log holds no line per request, a debug log does', async () => {
    for (const [level, expected] of [
      ['info', []],
      ['debug', ['incoming request', 'request completed']],
    ] as const) {
      const { logger, lines } = captured(level);
      const app = buildServer({ api: new FakeApi(), metrics: new CorralMetrics(), logger });
      expect((await app.inject('/api/status')).statusCode).toBe(200);
      await app.close();
      expect(lines.filter((l) => typeof l.reqId === 'string').map((l) => l.msg)).toEqual(expected);
    }
  });
});

describe('a repeated state is logged once', () => {
  // This machine on a port nothing listens on: each sync finds it unreachable at once.
  const INVENTORY = 'all:\n  children:\n    local: { hosts: { 127.0.0.1: {} }, vars: { node_cluster: local } }\n  vars: { ansible_port: 1 }\n';

  it("a unit's state, however many syncs find it again", async () => {
    const { logger, lines } = captured('info');
    const stateDir = mkdtempSync(join(tmpdir(), 'corral-logs-'));
    const revision: Revision = { revision: 'd'.repeat(40), author: 't', subject: 'one node', dir: tmpRepo({ 'pigsty.yml': INVENTORY }) };
    const source: RevisionSource = { describe: 'test', latest: () => Promise.resolve(revision) };
    const transport = createTransport({ hostKeys: { knownHostsFile: join(stateDir, 'known_hosts'), mode: 'strict' }, connectTimeoutMs: 2000 });
    const d = new Daemon({ source, stateDir, transport, metrics: new CorralMetrics(), logger, ssh: { user: 'root', privateKeyFile: '/nonexistent' }, pki: await testAuthority(), version: 'test' });
    await d.fetchAndSync('startup');
    for (let i = 0; i < 3; i++) {
      expect(d.sync('local', 'api').accepted).toBe(true);
      for (let n = 0; n < 200 && d.status().clusters[0]?.sync === 'Syncing'; n++) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await d.stop();
    await transport.close();
    expect(d.status().clusters[0]?.sync).toBe('Failed');
    const states = lines.filter((l) => l.msg === 'local is Failed');
    expect(states).toHaveLength(1);
    expect(states[0]).toMatchObject({ level: 40, sync: 'Failed', health: 'Unreachable' });
  });

  it('a fetch that keeps failing the same way, and its recovery', async () => {
    const { logger, lines } = captured('info');
    let failing = true;
    const dir = tmpRepo({ 'pigsty.yml': 'all: {}\n' });
    const source: RevisionSource = {
      describe: 'test',
      latest: () => (failing ? Promise.reject(Object.assign(new Error('git.example.test: connection refused'), { kind: 'unreachable' })) : Promise.resolve({ revision: 'e'.repeat(40), author: 't', subject: 's', dir })),
    };
    const stateDir = mkdtempSync(join(tmpdir(), 'corral-logs-'));
    const transport = createTransport({ hostKeys: { knownHostsFile: join(stateDir, 'known_hosts'), mode: 'strict' } });
    const d = new Daemon({ source, stateDir, transport, metrics: new CorralMetrics(), logger, ssh: {}, pki: await testAuthority(), version: 'test' });
    for (let i = 0; i < 3; i++) await d.fetchAndSync('poll');
    failing = false;
    await d.fetchAndSync('poll');
    await d.stop();
    await transport.close();
    expect(lines.filter((l) => String(l.msg).startsWith('fetch failed'))).toHaveLength(1);
    expect(lines.filter((l) => String(l.msg).startsWith('fetch succeeded again'))).toHaveLength(1);
  });
});

describe('corral serve on a port in use', () => {
  let busy: Server;
  let port = 0;
  const saved = process.env.CORRAL_LISTEN;
  beforeAll(async () => {
    busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    port = (busy.address() as { port: number }).port;
  });
  afterAll(async () => {
    if (saved === undefined) delete process.env.CORRAL_LISTEN;
    else process.env.CORRAL_LISTEN = saved;
    await new Promise((resolve) => busy.close(resolve));
  });

  const serve = async (...flags: string[]): Promise<{ code: number; out: string }> => {
    let out = '';
    const o: Output = { print: (s) => (out += s), error: (s) => (out += s), color: false };
    const state = mkdtempSync(join(tmpdir(), 'corral-busy-'));
    const code = await run(['serve', '--watch', join(packageRoot, 'examples/local'), '--state-dir', state, '--log-level', 'silent', ...flags], o);
    return { code, out };
  };

  it('says so in one line with the fix, and exits 2', async () => {
    const r = await serve('--listen', `127.0.0.1:${port}`);
    expect(r).toEqual({
      code: 2,
      out: `corral serve: cannot listen on 127.0.0.1:${port}: the address is in use (another corral serve, or npm start, running?); stop what holds it, or listen elsewhere: --listen 127.0.0.1:${port + 1} or CORRAL_LISTEN=127.0.0.1:${port + 1}\n`,
    });
  });

  it('CORRAL_LISTEN is the address when --listen is not given', async () => {
    process.env.CORRAL_LISTEN = `127.0.0.1:${port}`;
    const r = await serve();
    expect(r.code).toBe(2);
    expect(r.out).toContain(`cannot listen on 127.0.0.1:${port}:`);
  });
});
