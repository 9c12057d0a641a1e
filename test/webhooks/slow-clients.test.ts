/**
 * Clients that stall, against the real server on loopback through raw sockets: an upload that
 * sends its headers and part of its body and then nothing is cut at the deadline (and what it sent
 * is freed); beyond the bodies read at once the answer is 503 without reading; a client stalled in
 * its headers, or in an API body, is cut too; /healthz answers throughout.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { sign } from '@octokit/webhooks-methods';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { buildServer, type HttpTimeouts } from '../../src/daemon/http/server.js';
import { CorralMetrics } from '../../src/daemon/metrics.js';
import { StateStore } from '../../src/daemon/store.js';
import { SeenDeliveries } from '../../webhooks/deliveries.js';
import { webhookRoutes } from '../../webhooks/routes.js';
import { FakeApi } from '../daemon/http/fake-api.js';
import { until } from '../helpers/until.js';

const SECRET = 'slow-clients-secret';
const TIMEOUTS: HttpTimeouts = { headersMs: 400, requestMs: 2_500, idleMs: 10_000 };
const BODY_TIMEOUT_MS = 1_200;
const MAX_BODIES = 4;
const MiB = 1024 * 1024;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function server(): Promise<{ port: number; app: FastifyInstance }> {
  const dir = mkdtempSync(join(tmpdir(), 'corral-slow-'));
  const metrics = new CorralMetrics({ defaultMetrics: false });
  const app = buildServer({ api: new FakeApi(), metrics, logger: pino({ level: 'silent' }), token: 'slow-clients-api-token-0123456789', timeouts: TIMEOUTS });
  await app.register(webhookRoutes, {
    secretFor: () => SECRET,
    seen: new SeenDeliveries(new StateStore(dir)),
    metrics,
    dispatch: () => ({ result: 'ignored', message: 'test' }),
    bodyTimeoutMs: BODY_TIMEOUT_MS,
    maxBodiesInFlight: MAX_BODIES,
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  cleanups.push(() => app.close());
  return { port: (app.server.address() as { port: number }).port, app };
}

interface RawClient {
  socket: Socket;
  /** Everything the server answered so far. */
  answer(): string;
  /** Milliseconds from the open to the server closing the connection. */
  closed: Promise<number>;
  isClosed(): boolean;
}

/** Sends `head` and `bodyBytes` bytes of body, then nothing: the connection stays open until the server closes it. */
function stall(port: number, head: string, bodyBytes = 0): RawClient {
  const opened = Date.now();
  let answer = '';
  let closed = false;
  const socket = connect(port, '127.0.0.1', () => {
    socket.write(head);
    if (bodyBytes) socket.write(Buffer.alloc(bodyBytes, 0x20));
  });
  socket.on('data', (d: Buffer) => (answer += d.toString('latin1')));
  socket.on('error', () => {});
  cleanups.push(() => void socket.destroy());
  return {
    socket,
    answer: () => answer,
    closed: new Promise<number>((resolve) =>
      socket.on('close', () => {
        closed = true;
        resolve(Date.now() - opened);
      }),
    ),
    isClosed: () => closed,
  };
}

const webhookHead = (contentLength: number): string =>
  `POST /webhooks/github HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nX-GitHub-Event: push\r\nContent-Length: ${contentLength}\r\n\r\n`;

/** A whole, signed delivery: 200 once a body can be read. */
async function ping(port: number): Promise<number> {
  const body = JSON.stringify({ zen: `ping ${Math.random()}` });
  const headers = { 'content-type': 'application/json', 'x-github-event': 'ping', 'x-hub-signature-256': await sign(SECRET, body) };
  return (await fetch(`http://127.0.0.1:${port}/webhooks/github`, { method: 'POST', headers, body })).status;
}

const healthz = async (port: number): Promise<number> => (await fetch(`http://127.0.0.1:${port}/healthz`)).status;

describe('stalled uploads', () => {
  it('are cut with 408 at the body deadline; beyond the cap 503 with Retry-After, unread; /healthz answers; the slots come back', async () => {
    const { port } = await server();
    const stalled = Array.from({ length: MAX_BODIES }, () => stall(port, webhookHead(MiB), 64 * 1024));
    // The server holds all of them before the next come.
    await new Promise((r) => setTimeout(r, 300));
    const beyond = Array.from({ length: 6 }, () => stall(port, webhookHead(MiB), 64 * 1024));
    const beyondClosed = await Promise.all(beyond.map((c) => c.closed));
    for (const [i, c] of beyond.entries()) {
      expect(c.answer(), `upload ${i} beyond the cap`).toMatch(/^HTTP\/1\.1 503 /);
      expect(c.answer().toLowerCase()).toContain(`retry-after: ${Math.ceil(BODY_TIMEOUT_MS / 1000)}`);
      expect(c.answer()).toContain('"error":"overloaded"');
    }
    // Answered at once, long before a body deadline.
    expect(Math.max(...beyondClosed)).toBeLessThan(BODY_TIMEOUT_MS);
    expect(stalled.some((c) => c.isClosed())).toBe(false);
    expect(await healthz(port)).toBe(200);

    const stalledClosed = await Promise.all(stalled.map((c) => c.closed));
    for (const [i, c] of stalled.entries()) {
      expect(c.answer(), `stalled upload ${i}`).toMatch(/^HTTP\/1\.1 408 /);
      expect(c.answer()).toContain(`the body did not arrive within ${BODY_TIMEOUT_MS / 1000} s`);
      expect(stalledClosed[i]).toBeGreaterThanOrEqual(BODY_TIMEOUT_MS);
      expect(stalledClosed[i]).toBeLessThan(BODY_TIMEOUT_MS + 1_500);
    }
    expect(await healthz(port)).toBe(200);

    // The slots were given back: a whole delivery is read and answered.
    expect(await ping(port)).toBe(200);
  });

  it('a body refused on its Content-Length (413) gives its slot back at once', async () => {
    const { port } = await server();
    for (let i = 0; i < MAX_BODIES + 2; i++) {
      const c = stall(port, webhookHead(6 * MiB), 1024);
      await c.closed;
      expect(c.answer(), `upload ${i}`).toMatch(/^HTTP\/1\.1 413 /);
    }
    expect(await ping(port)).toBe(200);
  });

  it('what a cut client sent is freed', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const { port } = await server();
    gc();
    const base = process.memoryUsage().arrayBuffers;
    const sent = 4 * MiB;
    const stalled = Array.from({ length: MAX_BODIES }, () => stall(port, webhookHead(5 * MiB), sent));
    // Held while they stall: the bodies are buffered until the signature can be checked over them.
    await until('the server holds the stalled bodies', () => (process.memoryUsage().arrayBuffers - base > (MAX_BODIES * sent) / 2 ? true : undefined), 10_000, 50);
    await Promise.all(stalled.map((c) => c.closed));
    // Freed once the answers are out and the collector has run.
    const held = (): number => {
      gc();
      return process.memoryUsage().arrayBuffers - base;
    };
    await until('the stalled bodies are freed', () => (held() < MiB ? true : undefined), 5_000, 100);
  });
});

describe('other slow clients', () => {
  it('a client stalled in its headers is cut at the headers deadline', async () => {
    const { port } = await server();
    const c = stall(port, 'GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Half: ');
    const ms = await c.closed;
    expect(ms).toBeGreaterThanOrEqual(TIMEOUTS.headersMs - 50);
    expect(ms).toBeLessThan(TIMEOUTS.headersMs + 1_000);
    expect(c.answer()).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('an API upload that stalls is cut at the request deadline, and /healthz answers meanwhile', async () => {
    const { port } = await server();
    const c = stall(port, 'POST /api/clusters/pg-test/sync HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer slow-clients-api-token-0123456789\r\nContent-Type: text/plain\r\nContent-Length: 10000\r\n\r\n', 100);
    await new Promise((r) => setTimeout(r, 200));
    expect(await healthz(port)).toBe(200);
    const ms = await c.closed;
    expect(ms).toBeGreaterThanOrEqual(TIMEOUTS.requestMs - 50);
    expect(ms).toBeLessThan(TIMEOUTS.requestMs + 1_500);
    expect(c.answer()).toMatch(/^HTTP\/1\.1 408 /);
  });
});
