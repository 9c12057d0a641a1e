/**
 * SOPS-encrypted inventories (age): a file real SOPS encrypted (getsops/sops, test/fixtures/sops),
 * and inventories encrypted here with Debian's age for the data key (test/helpers/sops.ts):
 * validation needs no key; decryption checks each value's key path and the MAC; a wrong or missing
 * identity, a broken MAC or a moved value refuse the revision with a located problem.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseSource } from '../../src/config/source.js';
import { sopsView, type SopsView } from '../../src/config/sops/tree.js';
import { dataKey, identitiesIn, openView } from '../../src/config/sops/open.js';
import { validateInventory, type Validated } from '../../src/config/validate.js';
import { admitRevision, decryptValidated } from '../../src/config/decrypt.js';
import { pointerOf } from '../../src/config/source.js';
import { tmpRepo } from '../helpers/tmp.js';
import { corral } from '../helpers/cli.js';
import { REAL_AGE, ageDecrypt, ageKeygen, sopsEncrypt, type AgeKey } from '../helpers/sops.js';

const FIXTURES = join(import.meta.dirname, '../fixtures/sops');
const EXAMPLE = readFileSync(join(FIXTURES, 'example.yaml'), 'utf8');
const EXAMPLE_KEYS = join(FIXTURES, 'keys.txt');

function viewOf(text: string, path = 'example.yaml'): SopsView {
  const parsed = parseSource(path, text);
  const { view, problems } = sopsView(parsed.file!);
  expect(problems).toEqual([]);
  return view!;
}

const where = (p: { file: string; line: number; col: number }): string => `${p.file}:${p.line}:${p.col}`;
const errors = (v: Validated): string[] => v.problems.filter((p) => p.severity === 'error').map((p) => `${p.code} ${where(p)}`);

describe('the file SOPS 3.7.1 encrypted for an age recipient (getsops/sops example.yaml)', () => {
  const identities = identitiesIn(readFileSync(EXAMPLE_KEYS, 'utf8'));

  it('decrypts every value, typed as SOPS types it, and the MAC SOPS computed over them matches', async () => {
    const opened = await openView('example.yaml', viewOf(EXAMPLE), identities);
    expect(opened.ok).toBe(true);
    const { '/app2/key': rsaKey, ...values } = Object.fromEntries(opened.ok ? opened.values.map((v) => [pointerOf(v.place), v.value]) : []);
    expect(rsaKey).toMatch(/^-----BEGIN RSA PRIVATE KEY-----\nMIIBPAIBAAJBAPTMNIyHuZtpLYc7VsHQtwOkWYobkUblmHWRmbXzlAX6K8tMf3Wf\n[\s\S]*\n-----END RSA PRIVATE KEY-----\n$/);
    expect(values).toEqual({
      '/myapp1': 't00m4nys3cr3tzupdated',
      '/app2/db/user': 'eve',
      '/app2/db/password': 'c4r1b0u',
      '/number': 1234568000,
      '/an_array/0': 'secretuser1',
      '/an_array/1': 'secretuser2',
      '/an_array/2': 'somelongvalueAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
      '/an_array/3': 'some other value',
      '/somebooleans/0': true,
      '/somebooleans/1': false,
      '/this/is/a/nested/value': 'with something secret in it',
    });
  });

  it.skipIf(!REAL_AGE)("opens the data key Debian's age opens", async () => {
    const stanzas = viewOf(EXAMPLE).metadata.age;
    expect(await dataKey(stanzas, identities)).toEqual(ageDecrypt(stanzas[0]!.enc, EXAMPLE_KEYS));
  });

  it('fails the MAC when a plaintext value changes (the typo fix that broke this very file in getsops/sops)', async () => {
    const fixed = EXAMPLE.replace('because of the _encrypted suffix', 'because of the _unencrypted suffix');
    expect(fixed).not.toBe(EXAMPLE);
    const opened = await openView('example.yaml', viewOf(fixed), identities);
    expect(opened).toMatchObject({ ok: false, code: 'sops/integrity', at: { file: 'example.yaml', line: 58, col: 5, pointer: '/sops/mac' } });
  });

  it('fails when an encrypted value moves to another key', async () => {
    const moved = EXAMPLE.replace('        password: ENC[', '        passw0rd: ENC[');
    const opened = await openView('example.yaml', viewOf(moved), identities);
    expect(opened).toMatchObject({ ok: false, code: 'sops/integrity', at: { line: 5, col: 19, pointer: '/app2/db/passw0rd' } });
    expect(opened.ok || opened.message).toContain('(app2:db:passw0rd:)');
  });

  it('does not open for another identity', async () => {
    const other = await ageKeygen();
    const opened = await openView('example.yaml', viewOf(EXAMPLE), identitiesIn(readFileSync(other.file, 'utf8')));
    expect(opened).toMatchObject({ ok: false, code: 'sops/key' });
    expect(opened.ok || opened.message).toContain('age1yt3tfqlfrwdwx0z0ynwplcr6qxcxfaqycuprpmy89nr83ltx74tqdpszlw');
  });
});

const ADMIN = 'Canary-Admin-Pa55-9d1e';
const APP = 'Canary-App-Pa55-41c7';
const SECRETS = '^(.*password.*|.*secret.*)$';

const inventory = (vars: Record<string, unknown> = {}) => ({
  all: {
    children: {
      'pg-test': {
        hosts: { '10.10.10.11': { pg_seq: 1, pg_role: 'primary' } },
        vars: { pg_cluster: 'pg-test', pg_admin_password: ADMIN, pg_users: [{ name: 'dbuser_app', password: APP, pgbouncer: true }], ...vars },
      },
    },
  },
});

describe('an inventory encrypted with sops --age ... --encrypted-regex', () => {
  let key: AgeKey;
  let text: string;
  const repo = (pigsty: string, more: Record<string, string> = {}): string => tmpRepo({ 'pigsty.yml': pigsty, ...more });
  const decrypted = async (pigsty: string, identity = key.file): Promise<Validated> => decryptValidated(await validateInventory(repo(pigsty)), identity);

  beforeAll(async () => {
    key = await ageKeygen();
    ({ text } = await sopsEncrypt(inventory(), { recipients: [key.recipient], encryptedRegex: SECRETS }));
  });

  it('validates without a key: sops: is metadata, not a group, and the ciphertexts are strings', async () => {
    expect(text).toContain('pg_admin_password: ENC[AES256_GCM,data:');
    const v = await validateInventory(repo(text));
    expect(v.problems).toEqual([]);
    expect(v.valid).toBe(true);
    expect([...v.inventory!.groups.keys()]).toEqual(['all', 'pg-test']);
    const r = await corral('validate', repo(text));
    expect(r.code, r.stdout).toBe(0);
  });

  it('decrypts with the identity: the plaintexts are the values, and are listed as secrets', async () => {
    const v = await decrypted(text);
    expect(errors(v)).toEqual([]);
    const host = v.hosts.find((h) => h.name === '10.10.10.11')!;
    expect(host.get('pg_admin_password')).toBe(ADMIN);
    expect(host.get('pg_users')).toEqual([{ name: 'dbuser_app', password: APP, pgbouncer: true }]);
    expect(host.get('pg_cluster')).toBe('pg-test');
    expect([...v.inventory!.decrypted!].sort()).toEqual([ADMIN, APP].sort());
  });

  it('refuses a file whose plaintext changed: the MAC fails, located at sops.mac', async () => {
    const changed = text.replace('pg_seq: 1', 'pg_seq: 2');
    const v = await decrypted(changed);
    expect(v.valid).toBe(false);
    const macLine = changed.split('\n').findIndex((l) => l.startsWith('  mac: ')) + 1;
    expect(errors(v)).toEqual([`sops/integrity pigsty.yml:${macLine}:3`]);
    expect(v.problems[0]!.message).toContain('pigsty.yml fails its MAC check');
  });

  it('refuses a value moved to another key, even one its rule encrypts: it decrypts only under its own key path', async () => {
    const moved = text.replace('pg_admin_password:', 'pg_monitor_password:');
    const v = await decrypted(moved);
    const line = moved.split('\n').findIndex((l) => l.includes('pg_monitor_password:')) + 1;
    expect(errors(v)).toEqual([`sops/integrity pigsty.yml:${line}:30`]);
    expect(v.problems.find((p) => p.code === 'sops/integrity')!.message).toContain('(all:children:pg-test:vars:pg_monitor_password:)');
  });

  it('refuses a secret moved under a key that is shown, with the rule widened to cover it', async () => {
    const cipher = /pg_admin_password: (ENC\[[^\]]+\])/.exec(text)![1]!;
    const shown = text.replace(SECRETS, '^(.*password.*|.*secret.*|nodename)$').replace('pg_cluster: pg-test', `pg_cluster: pg-test\n        nodename: ${cipher}`);
    const v = await decrypted(shown);
    expect(v.valid).toBe(false);
    expect(v.problems.map((p) => p.code)).toEqual(['sops/integrity']);
  });

  it('refuses another identity, no identity, and an identity file that cannot be read', async () => {
    const other = await ageKeygen();
    const wrong = await decrypted(text, other.file);
    expect(errors(wrong)).toEqual([`sops/key pigsty.yml:${text.split('\n').indexOf('sops:') + 1}:1`]);
    expect(wrong.problems[0]!.message).toBe(`no age identity given opens pigsty.yml: it is encrypted for ${key.recipient}`);
    const none = await decryptValidated(await validateInventory(repo(text)), undefined);
    expect(none.problems.map((p) => p.message)).toEqual(['pigsty.yml holds SOPS-encrypted values and no age identity was given: pass --age-identity FILE, or set CORRAL_AGE_IDENTITY_FILE or SOPS_AGE_KEY_FILE']);
    const missing = await decrypted(text, join(other.file, 'nope'));
    expect(missing.problems[0]!.message).toMatch(/^cannot read the age identity file .*nope: ENOTDIR$/);
  });

  it('honours mac_only_encrypted: the MAC covers the encrypted values only, and starts apart from a full one', async () => {
    const { text: onlyEncrypted } = await sopsEncrypt(inventory(), { recipients: [key.recipient], encryptedRegex: SECRETS, macOnlyEncrypted: true });
    expect(errors(await decrypted(onlyEncrypted.replace('pg_seq: 1', 'pg_seq: 2')))).toEqual([]);
    expect(errors(await decrypted(onlyEncrypted.replace('mac_only_encrypted: true', 'mac_only_encrypted: false')))[0]).toMatch(/^sops\/integrity /);
  });

  it('encrypts by unencrypted_suffix when the file names no rule: all but *_unencrypted', async () => {
    const tree = { all: { hosts: { '10.10.10.12': null }, vars: { haproxy_admin_password: ADMIN, node_timezone_unencrypted: 'UTC' } } };
    const { text: whole } = await sopsEncrypt(tree, { recipients: [key.recipient] });
    expect(whole).toContain('node_timezone_unencrypted: UTC');
    const v = await decrypted(whole);
    expect(errors(v)).toEqual([]);
    expect(v.hosts[0]!.get('haproxy_admin_password')).toBe(ADMIN);
  });

  it('judges a schema rule at an encrypted value on its plaintext, without showing it', async () => {
    const rules = '^(.*password.*|pgsodium_key)$';
    const { text: good } = await sopsEncrypt(inventory({ pgsodium_key: 'ab'.repeat(32) }), { recipients: [key.recipient], encryptedRegex: rules });
    const { text: bad } = await sopsEncrypt(inventory({ pgsodium_key: 'Canary-Not-Hex-Key' }), { recipients: [key.recipient], encryptedRegex: rules });
    // Without a key, the ciphertext is a string the pattern cannot judge.
    expect(errors(await validateInventory(repo(bad)))).toEqual([]);
    expect(errors(await decrypted(good))).toEqual([]);
    const v = await decrypted(bad);
    const line = bad.split('\n').findIndex((l) => l.includes('pgsodium_key:')) + 1;
    expect(errors(v)).toEqual([`schema/pattern pigsty.yml:${line}:23`]);
    expect(JSON.stringify(v.problems)).not.toContain('Canary-Not-Hex-Key');
  });

  it('reads a value as encrypted under encrypted_comment_regex when a comment above it matches', async () => {
    const cipher = /pg_admin_password: (ENC\[[^\]]+\])/.exec(text)![1]!;
    const commented = text
      .replace(SECRETS, 'sops:enc')
      .replace('encrypted_regex:', 'encrypted_comment_regex:')
      .replace(`pg_admin_password: ${cipher}`, `# sops:enc\n        pg_admin_password: ${cipher}`);
    const v = await validateInventory(repo(commented));
    // The users' passwords have no such comment: ciphertext where the rule says plaintext.
    expect(v.problems.map((p) => `${p.code} ${p.pointer}`)).toEqual(['sops/value /all/children/pg-test/vars/pg_users/0/password']);
  });

  it('the CLI refuses to plan without an identity, and says how to give one', async () => {
    const r = await corral('plan', repo(text));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('pigsty.yml holds SOPS-encrypted values and no age identity was given: pass --age-identity FILE');
    expect(r.stderr).toContain('nothing was observed or changed');
  });
});

describe('secrets.requireEncrypted', () => {
  const plain = `all:
  children:
    pg-test:
      hosts:
        10.10.10.11: { pg_seq: 1, pg_role: primary }
      vars:
        pg_cluster: pg-test
        pg_admin_password: ${ADMIN}
        pg_users:
          - { name: dbuser_app, password: '' }
`;
  const codes = (v: Validated): string[] => v.problems.map((p) => `${p.code} ${where(p)}`);

  it('makes a plaintext secret a located error (an empty one is no secret), from corral.yml or the daemon', async () => {
    expect(codes(await validateInventory(tmpRepo({ 'pigsty.yml': plain })))).toEqual([]);
    expect(codes(await validateInventory(tmpRepo({ 'pigsty.yml': plain, 'corral.yml': 'secrets: { requireEncrypted: true }\n' })))).toEqual(['secret/plaintext pigsty.yml:8:28']);
    const flagged = await validateInventory(tmpRepo({ 'pigsty.yml': plain }), { requireEncryptedSecrets: true });
    expect(flagged.problems[0]!.message).toBe('pg_admin_password is a secret written in plaintext, and this repository requires secrets encrypted with SOPS');
  });

  it('a repository cannot turn the daemon\'s flag off (validated in the child process)', async () => {
    const repo = tmpRepo({ 'pigsty.yml': plain, 'corral.yml': 'secrets: { requireEncrypted: false }\n' });
    expect(codes(await admitRevision(repo, { requireEncrypted: true }))).toEqual(['secret/plaintext pigsty.yml:8:28']);
    expect(codes(await admitRevision(repo, {}))).toEqual([]);
  });

  it('passes a file whose secrets are encrypted, and the daemon decrypts it after the child process validated it', async () => {
    const key = await ageKeygen();
    const { text } = await sopsEncrypt(inventory(), { recipients: [key.recipient], encryptedRegex: SECRETS });
    const repo = tmpRepo({ 'pigsty.yml': text, 'corral.yml': 'secrets: { requireEncrypted: true }\n' });
    const v = await admitRevision(repo, { requireEncrypted: true, ageIdentityFile: key.file });
    expect(codes(v)).toEqual([]);
    expect(v.hosts[0]!.get('pg_admin_password')).toBe(ADMIN);
  });
});

describe('corral plan shows no decrypted value, whatever key it sits under', () => {
  const CANARY = 'canary-7c41e0-hidden.example';

  it('a decrypted line of /etc/hosts is redacted in text, Markdown and JSON', async () => {
    const key = await ageKeygen();
    const tree = { all: { hosts: { '127.0.0.1': { ansible_connection: 'local' } }, vars: { node_etc_hosts: [`10.213.9.9 ${CANARY}`] } } };
    const { text } = await sopsEncrypt(tree, { recipients: [key.recipient], encryptedRegex: '^node_etc_hosts$' });
    const dir = tmpRepo({ 'pigsty.yml': text });
    for (const format of ['text', 'markdown', 'json']) {
      const r = await corral('plan', dir, '--age-identity', key.file, '--format', format, '--limit', '127.0.0.1');
      expect(r.stderr).toBe('');
      expect(r.stdout).toContain('/etc/hosts');
      expect(r.stdout).toContain('(redacted)');
      expect(r.stdout).not.toContain(CANARY);
      if (format === 'json') {
        const plan = JSON.parse(r.stdout) as { changes: { resource: string; fields: { secret?: boolean }[] }[] };
        expect(plan.changes.find((c) => c.resource.includes('/etc/hosts'))!.fields.every((f) => f.secret)).toBe(true);
      }
    }
  });
});
