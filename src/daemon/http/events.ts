/**
 * GET /events: server-sent events for the status pages. An event `change` whenever the daemon's
 * status may have changed (coalesced to one per 100 ms), a comment every 15 s to keep the connection
 * through proxies and the server's idle timeout. At most MAX_EVENT_CLIENTS at once: more get 503, so
 * open pages cannot hold the daemon's memory or sockets without bound.
 */
import type { FastifyPluginCallback } from 'fastify';
import type { DaemonApi } from '../types.js';

export const MAX_EVENT_CLIENTS = 100;
const COALESCE_MS = 100;
const HEARTBEAT_MS = 15_000;
/** Streams end after this and the browser reconnects: none lives forever behind a proxy that lost it. */
export const EVENT_STREAM_MS = 10 * 60_000;

export const eventRoutes: FastifyPluginCallback<{ api: DaemonApi; maxClients?: number; streamMs?: number }> = (app, { api, maxClients = MAX_EVENT_CLIENTS, streamMs = EVENT_STREAM_MS }, done) => {
  const open = new Set<() => void>();
  // A daemon that stops ends every stream: an open page must not hold its shutdown.
  app.addHook('preClose', (closed) => {
    for (const end of open) end();
    closed();
  });
  app.get('/events', (req, reply) => {
    if (open.size >= maxClients) return reply.code(503).header('retry-after', '10').send({ error: 'busy', message: `${maxClients} clients follow the events already` });
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', connection: 'keep-alive' });
    // A client that reconnects waits 2 s; then a first event, so it reads the state it may have missed.
    res.write('retry: 2000\n\nevent: change\ndata: {}\n\n');
    let pending: NodeJS.Timeout | undefined;
    const unsubscribe = api.onChange(() => {
      pending ??= setTimeout(() => {
        pending = undefined;
        res.write('event: change\ndata: {}\n\n');
      }, COALESCE_MS);
    });
    const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), HEARTBEAT_MS);
    const lifetime = setTimeout(() => end(), streamMs);
    const end = (): void => {
      open.delete(end);
      unsubscribe();
      clearInterval(heartbeat);
      clearTimeout(pending);
      clearTimeout(lifetime);
      res.end();
    };
    open.add(end);
    req.raw.socket.once('close', end);
  });
  done();
};
