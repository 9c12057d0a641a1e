/**
 * The few etcd v3 calls the daemons share work with, over etcd's JSON gateway (`/v3/...`, in every
 * etcd since 3.4): leases, one-key transactions and prefix reads. No gRPC stack for five calls.
 * Each call has a deadline and tries the next endpoint when one fails; keys and values are
 * base64 on the wire, strings here.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

export interface EtcdOptions {
  endpoints: string[];
  /** PEM of the CA that signed the endpoints' certificates (https endpoints). */
  ca?: string;
  /** Per call, per endpoint. */
  timeoutMs?: number;
  /** An etcd with users and roles (`auth enable`): a user with read and write on /corral/. */
  auth?: { user: string; password: string };
}

export interface KeyValue {
  key: string;
  value: string;
  createRevision: string;
  modRevision: string;
  lease?: string;
}

export type Compare =
  | { key: string; target: 'CREATE'; createRevision: string }
  | { key: string; target: 'VALUE'; value: string };

export type Operation = { put: { key: string; value: string; lease?: string } } | { delete: { key: string } } | { range: { key: string } };

export class EtcdError extends Error {}

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
const unb64 = (s: string | undefined): string => Buffer.from(s ?? '', 'base64').toString('utf8');
/** etcd's range end for "every key starting with prefix": the prefix with its last byte plus one. */
const prefixEnd = (prefix: string): string => {
  const bytes = Buffer.from(prefix, 'utf8');
  bytes.writeUInt8(bytes.readUInt8(bytes.length - 1) + 1, bytes.length - 1);
  return bytes.toString('base64');
};
/** Replies are small; a bigger one is a wrong endpoint, not something to buffer. */
const MAX_REPLY = 8 * 1024 * 1024;

interface RawKv {
  key: string;
  value?: string;
  create_revision: string;
  mod_revision: string;
  lease?: string;
}

/** What etcd answers when a call needs a token it lacks or that expired (simple tokens are one member's). */
const NEEDS_TOKEN = /user name is empty|invalid auth token/;

export class Etcd {
  private next = 0;
  private readonly tokens = new Map<string, string>();

  constructor(private readonly opts: EtcdOptions) {
    if (!opts.endpoints.length) throw new EtcdError('no etcd endpoint');
  }

  async grant(ttlSeconds: number): Promise<string> {
    const r = await this.call<{ ID: string; TTL: string }>('/v3/lease/grant', { TTL: ttlSeconds });
    return r.ID;
  }

  /** The lease's remaining seconds; 0 when etcd no longer has it. */
  async keepAlive(lease: string): Promise<number> {
    const r = await this.call<{ result?: { TTL?: string } }>('/v3/lease/keepalive', { ID: lease });
    return Number(r.result?.TTL ?? 0);
  }

  async revoke(lease: string): Promise<void> {
    await this.call('/v3/lease/revoke', { ID: lease });
  }

  /** Every key under `prefix` (or from it up to `end`); with keysOnly, their revisions without the values. */
  async range(prefix: string, keysOnly = false, end?: string): Promise<KeyValue[]> {
    const r = await this.call<{ kvs?: RawKv[] }>('/v3/kv/range', { key: b64(prefix), range_end: end === undefined ? prefixEnd(prefix) : b64(end), ...(keysOnly ? { keys_only: true } : {}) });
    return (r.kvs ?? []).map(toKeyValue);
  }

  async get(key: string): Promise<KeyValue | undefined> {
    const r = await this.call<{ kvs?: RawKv[] }>('/v3/kv/range', { key: b64(key) });
    return r.kvs?.[0] && toKeyValue(r.kvs[0]);
  }

  async put(key: string, value: string, lease?: string): Promise<void> {
    await this.call('/v3/kv/put', { key: b64(key), value: b64(value), ...(lease ? { lease } : {}) });
  }

  /** All of `compare` hold: runs `success`; else `failure`. Returns which, and what the ranges read. */
  async txn(compare: Compare[], success: Operation[], failure: Operation[] = []): Promise<{ succeeded: boolean; revision: string; read: KeyValue[] }> {
    const r = await this.call<{ header: { revision: string }; succeeded?: boolean; responses?: { response_range?: { kvs?: RawKv[] } }[] }>('/v3/kv/txn', {
      compare: compare.map((c) =>
        c.target === 'CREATE' ? { key: b64(c.key), target: 'CREATE', result: 'EQUAL', create_revision: c.createRevision } : { key: b64(c.key), target: 'VALUE', result: 'EQUAL', value: b64(c.value) },
      ),
      success: success.map(operation),
      failure: failure.map(operation),
    });
    return { succeeded: r.succeeded === true, revision: r.header.revision, read: (r.responses ?? []).flatMap((x) => x.response_range?.kvs ?? []).map(toKeyValue) };
  }

  private async call<T>(path: string, body: unknown): Promise<T> {
    const errors: string[] = [];
    for (let i = 0; i < this.opts.endpoints.length; i++) {
      const endpoint = this.opts.endpoints[(this.next + i) % this.opts.endpoints.length]!;
      try {
        const reply = await this.authorized(endpoint, path, JSON.stringify(body));
        this.next = (this.next + i) % this.opts.endpoints.length;
        return reply as T;
      } catch (e) {
        errors.push(`${endpoint}: ${(e as Error).message}`);
      }
    }
    throw new EtcdError(`etcd ${path}: ${errors.join('; ')}`);
  }

  private async authorized(endpoint: string, path: string, body: string): Promise<unknown> {
    const { auth } = this.opts;
    if (!auth) return this.post(endpoint, path, body);
    for (let attempt = 0; ; attempt++) {
      if (!this.tokens.has(endpoint)) {
        const r = (await this.post(endpoint, '/v3/auth/authenticate', JSON.stringify({ name: auth.user, password: auth.password }))) as { token: string };
        this.tokens.set(endpoint, r.token);
      }
      try {
        return await this.post(endpoint, path, body, this.tokens.get(endpoint));
      } catch (e) {
        if (attempt || !NEEDS_TOKEN.test((e as Error).message)) throw e;
        this.tokens.delete(endpoint);
      }
    }
  }

  private post(endpoint: string, path: string, body: string, token?: string): Promise<unknown> {
    const url = new URL(path, endpoint);
    const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = request(url, { method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: token } : {}) }, timeout: this.opts.timeoutMs ?? 2000, ...(this.opts.ca ? { ca: this.opts.ca } : {}) }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_REPLY) req.destroy(new Error('reply too large'));
          else chunks.push(c);
        });
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode !== 200) return reject(new Error(`HTTP ${res.statusCode}: ${text.slice(0, 200)}`));
          try {
            resolve(JSON.parse(text));
          } catch {
            reject(new Error('reply is not JSON'));
          }
        });
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`no answer in ${this.opts.timeoutMs ?? 2000} ms`)));
      req.on('error', reject);
      req.end(body);
    });
  }
}

function operation(op: Operation): unknown {
  if ('put' in op) return { request_put: { key: b64(op.put.key), value: b64(op.put.value), ...(op.put.lease ? { lease: op.put.lease } : {}) } };
  if ('delete' in op) return { request_delete_range: { key: b64(op.delete.key) } };
  return { request_range: { key: b64(op.range.key) } };
}

function toKeyValue(kv: RawKv): KeyValue {
  return { key: unb64(kv.key), value: unb64(kv.value), createRevision: kv.create_revision, modRevision: kv.mod_revision, ...(kv.lease && kv.lease !== '0' ? { lease: kv.lease } : {}) };
}
