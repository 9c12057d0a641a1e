import { describe, expect, it } from 'vitest';
import { isSecretKey, redactUrlCredentials, redactVar, withoutUrlCredentials } from './secrets.js';

const CANARY = 'Canary-Pa55word-7f3a';

describe('redactUrlCredentials', () => {
  it.each([
    [`https://mirror:${CANARY}@repo.example.test/debian`, 'https://mirror:***@repo.example.test/debian'],
    [`postgres://app:${CANARY}@10.0.0.1/db`, 'postgres://app:***@10.0.0.1/db'],
    [`redis://:${CANARY}@10.0.0.2:6379/0`, 'redis://:***@10.0.0.2:6379/0'],
    [`https://${CANARY}@github.com/ops/fleet.git`, 'https://***@github.com/ops/fleet.git'],
    [`s3+https://key:${CANARY}@minio.test`, 's3+https://key:***@minio.test'],
    [`an unencoded @: postgres://app:p@${CANARY}@10.0.0.1/db`, 'an unencoded @: postgres://app:***@10.0.0.1/db'],
    [`deb [trusted=yes] https://u:${CANARY}@repo.test/x bookworm main`, 'deb [trusted=yes] https://u:***@repo.test/x bookworm main'],
    [`"https://u:${CANARY}@a.test","https://b.test/x@y"`, '"https://u:***@a.test","https://b.test/x@y"'],
    [`\u001b[32m+https://u:${CANARY}@a.test\u001b[39m`, '\u001b[32m+https://u:***@a.test\u001b[39m'],
  ])('%s', (text, want) => {
    expect(redactUrlCredentials(text)).toBe(want);
  });

  it('leaves URLs without userinfo, an @ in a path, and mail addresses alone', () => {
    for (const text of ['https://repo.example.test/debian', 'https://registry.test/@scope/pkg', 'ops@example.test', 'see https://a.test and me@b.test']) {
      expect(redactUrlCredentials(text)).toBe(text);
    }
  });

  it('stays linear on a long run of letters, as a hex blob in a file diff is', () => {
    const started = performance.now();
    expect(redactUrlCredentials('a'.repeat(1_000_000))).toHaveLength(1_000_000);
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('is idempotent', () => {
    const once = redactUrlCredentials(`postgres://app:${CANARY}@10.0.0.1/db`);
    expect(redactUrlCredentials(once)).toBe(once);
  });

  it('reaches every string of a value, however deep, and leaves the rest', () => {
    const value = { a: [{ url: `https://u:${CANARY}@h.test` }], n: 1, ok: true, none: null };
    expect(withoutUrlCredentials(value)).toEqual({ a: [{ url: 'https://u:***@h.test' }], n: 1, ok: true, none: null });
  });
});

describe('redactVar', () => {
  it('hides a URL password in a variable no schema or name marks secret', () => {
    expect(redactVar('app_db_url', `postgres://app:${CANARY}@10.0.0.1/db`)).toBe('postgres://app:***@10.0.0.1/db');
    const upstream = redactVar('repo_upstream', [{ name: 'mirror', baseurl: { default: `https://mirror:${CANARY}@repo.example.test/debian` } }]);
    expect(JSON.stringify(upstream)).not.toContain(CANARY);
    expect(JSON.stringify(upstream)).toContain('repo.example.test');
  });
});

describe('isSecretKey', () => {
  it('knows secret keys by the schema and by their names', () => {
    expect(isSecretKey('password')).toBe(true);
    expect(isSecretKey('pg_exporter_url')).toBe(true);
    expect(isSecretKey('pgsodium_key')).toBe(true);
    expect(isSecretKey('nginx_users')).toBe(true);
    expect(isSecretKey('my_api_token')).toBe(true);
    expect(isSecretKey('pg_cluster')).toBe(false);
    expect(isSecretKey('name')).toBe(false);
  });
});
