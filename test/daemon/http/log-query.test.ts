/** A credential in a query string never reaches a log line: the request log shows the parameter, not its value. */
import { afterEach, describe, expect, test } from 'vitest';
import { redactQuery } from '../../../src/daemon/http/server.js';
import { harness, type Harness } from './helpers.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.app.close();
  h = undefined;
});

const SECRETS: Record<string, string> = {
  token: 'tok-value-1',
  access_token: 'tok-value-2',
  private_token: 'tok-value-3',
  key: 'tok-value-4',
  secret: 'tok-value-5',
  password: 'tok-value-6',
  sig: 'tok-value-7',
  signature: 'tok-value-8',
  'X-Amz-Signature': 'tok-value-9',
  'api-key': 'tok-value-10',
  'ACCESS%5FTOKEN': 'tok-value-11',
  client_secret: 'tok-value-12',
};
const query = Object.entries(SECRETS)
  .map(([k, v]) => `${k}=${v}`)
  .join('&');

describe('request logs', () => {
  test.each(['/api/status', '/api/clusters/pg-test', '/nope', '/healthz', '/webhooks/github', '/api/plans/p1'])('%s: no query secret in any line, the rest kept', async (path) => {
    h = harness();
    for (const method of ['GET', 'POST'] as const) await h.app.inject({ method, url: `${path}?format=text&${query}&page=2` });
    const text = h.logText();
    expect(h.logs.some((l) => (l.req as { url?: string } | undefined)?.url?.startsWith(path))).toBe(true);
    for (const value of Object.values(SECRETS)) expect(text, value).not.toContain(value);
    expect(text).toContain('format=text');
    expect(text).toContain('page=2');
    expect(text).toContain('access_token=(redacted)');
  });
});

describe('redactQuery', () => {
  test('only the values of credential-like names go, everything else stays as it was', () => {
    expect(redactQuery('/a?token=x&tokens=y&monkey=z&sort=asc&page=2')).toBe('/a?token=(redacted)&tokens=y&monkey=z&sort=asc&page=2');
    expect(redactQuery('/a?private_token=x&flag&=v&key=')).toBe('/a?private_token=(redacted)&flag&=v&key=(redacted)');
    expect(redactQuery('/a?access%5Ftoken=x&bad%ZZ=1')).toBe('/a?access%5Ftoken=(redacted)&bad%ZZ=1');
    expect(redactQuery('/a/b')).toBe('/a/b');
  });
});
