/** Shared bits of the HTTP tests: a server over a FakeApi, with its log lines captured. */
import { Writable } from 'node:stream';
import pino from 'pino';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../../../src/daemon/http/server.js';
import { CorralMetrics } from '../../../src/daemon/metrics.js';
import { FakeApi } from './fake-api.js';

export const TOKEN = 'c0rral-test-token-0123456789abcdef';

export interface Harness {
  app: FastifyInstance;
  api: FakeApi;
  metrics: CorralMetrics;
  /** Every log line, parsed. */
  logs: Record<string, unknown>[];
  /** The raw log text, to search for what must never be there. */
  logText(): string;
}

export function harness(opts: { token?: string; api?: FakeApi; metrics?: CorralMetrics; eventStreamMs?: number } = { token: TOKEN }): Harness {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString('utf8'));
      cb();
    },
  });
  const api = opts.api ?? new FakeApi();
  const metrics = opts.metrics ?? new CorralMetrics();
  const app = buildServer({ api, metrics, logger: pino({ level: 'debug' }, sink), ...(opts.token === undefined ? {} : { token: opts.token }), ...(opts.eventStreamMs ? { eventStreamMs: opts.eventStreamMs } : {}) });
  return {
    app,
    api,
    metrics,
    get logs() {
      return lines.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    },
    logText: () => lines.join(''),
  };
}
