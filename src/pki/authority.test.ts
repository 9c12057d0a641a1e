import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import type * as childProcess from 'node:child_process';
import { lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { openAuthority, previewAuthority, type CertificateRequest } from './authority.js';

/** Counts the openssl processes the module under test starts, and how many run at once. */
const spawned = vi.hoisted(() => ({ calls: 0, inFlight: 0, maxInFlight: 0 }));
vi.mock('node:child_process', async (importOriginal) => {
  const original = await importOriginal<typeof childProcess>();
  const execFile = (...args: unknown[]): ChildProcess => {
    spawned.calls++;
    spawned.maxInFlight = Math.max(spawned.maxInFlight, ++spawned.inFlight);
    const child = (original.execFile as (...a: unknown[]) => ChildProcess)(...args);
    child.on('close', () => spawned.inFlight--);
    return child;
  };
  return { ...original, execFile };
});

const DAY = 86_400_000;
const roots: string[] = [];
afterAll(() => roots.forEach((root) => rmSync(root, { recursive: true, force: true })));
beforeEach(() => Object.assign(spawned, { calls: 0, maxInFlight: 0 }));

function tempDir(): string {
  const root = mkdtempSync(join(tmpdir(), 'corral-pki-test-'));
  roots.push(root);
  return root;
}

function request(overrides: Partial<CertificateRequest> = {}): CertificateRequest {
  return { id: 'etcd/10.0.0.1', commonName: 'etcd-1', organizationalUnit: 'etcd', dns: ['localhost', 'etcd-1'], ips: ['127.0.0.1', '10.0.0.1'], validityDays: 7300, ...overrides };
}

const openssl = (args: string[], input?: string): string => execFileSync('openssl', args, { input, encoding: 'utf8' });
const text = (pem: string): string => openssl(['x509', '-noout', '-text'], pem);

function verify(caPem: string, leafPem: string): string {
  const dir = tempDir();
  writeFileSync(join(dir, 'ca.crt'), caPem);
  writeFileSync(join(dir, 'leaf.crt'), leafPem);
  return openssl(['verify', '-CAfile', join(dir, 'ca.crt'), join(dir, 'leaf.crt')]).trim();
}

/** Every entry under `dir` with its mode, size and mtime: equal listings mean nothing was written. */
function listing(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort().map((entry) => {
    const s = lstatSync(join(dir, entry));
    return `${entry} ${s.mode.toString(8)} ${s.size} ${s.mtimeMs}`;
  });
}

const mode = (path: string): number => statSync(path).mode & 0o777;

async function issueOne(dir: string, r: CertificateRequest, now?: () => Date) {
  const issuer = await openAuthority(dir, { create: true, now });
  const issued = (await issuer.issue([r])).get(r.id);
  if (!issued) throw new Error(`nothing issued for ${r.id}`);
  return { issuer, issued };
}

describe('openAuthority: the CA', () => {
  it('creates an EC P-256 CA for 100 years with private modes, and refuses to create one without create', async () => {
    const dir = join(tempDir(), 'pki');
    await expect(openAuthority(dir)).rejects.toThrow(`no certificate authority in ${join(dir, 'ca')}`);
    const issuer = await openAuthority(dir, { create: true, commonName: 'acme-ca' });
    expect([mode(dir), mode(join(dir, 'ca')), mode(join(dir, 'ca', 'ca.key')), mode(join(dir, 'ca', 'ca.crt'))]).toEqual([0o700, 0o700, 0o600, 0o644]);
    expect(readFileSync(join(dir, 'ca', 'ca.crt'), 'utf8')).toBe(issuer.ca);
    const ca = text(issuer.ca);
    expect(ca).toMatch(/Subject: O = pigsty, CN = acme-ca/);
    expect(ca).toMatch(/Basic Constraints: critical\s+CA:TRUE/);
    expect(ca).toMatch(/Key Usage: critical\s+Certificate Sign, CRL Sign/);
    expect(ca).toMatch(/NIST CURVE: P-256/);
    const notAfter = new Date(openssl(['x509', '-noout', '-enddate'], issuer.ca).replace('notAfter=', ''));
    expect(notAfter.getTime() - Date.now()).toBeGreaterThan(36_499 * DAY);
    expect((await openAuthority(dir)).ca).toBe(issuer.ca);
  });

  it('ends with one CA when two processes open the same empty dir at once', async () => {
    const dir = join(tempDir(), 'pki');
    const script = buildForNode(tempDir());
    const [a, b] = await racing([script, script], dir);
    expect(a).toBe(b);
    expect(a).toBe(readFileSync(join(dir, 'ca', 'ca.crt'), 'utf8'));
    expect(readdirSync(dir)).toEqual(['ca']); // the loser's staging dir is gone
  });

  it('ends with one CA when one process opens the same empty dir twice at once', async () => {
    const dir = join(tempDir(), 'pki');
    const issuers = await Promise.all([1, 2, 3].map(() => openAuthority(dir, { create: true })));
    expect(new Set(issuers.map((i) => i.ca)).size).toBe(1);
    expect(readdirSync(dir)).toEqual(['ca']);
  });

  it('refuses a ca dir that is a symbolic link, also in a preview', async () => {
    const elsewhere = join(tempDir(), 'pki');
    await openAuthority(elsewhere, { create: true });
    const dir = tempDir();
    symlinkSync(join(elsewhere, 'ca'), join(dir, 'ca'));
    await expect(openAuthority(dir, { create: true })).rejects.toThrow(`refusing ${join(dir, 'ca')}: it is a symbolic link`);
    await expect(previewAuthority(dir)).rejects.toThrow('symbolic link');
  });
});

describe('issue', () => {
  it('issues a leaf the CA verifies, with the subject, SANs, usages and validity asked for', async () => {
    const dir = join(tempDir(), 'pki');
    const before = Date.now();
    const { issuer, issued } = await issueOne(dir, request({ ips: ['10.0.0.1', 'fd00::1'], validityDays: 30 }));
    expect(verify(issuer.ca, issued.certificate)).toMatch(/: OK$/);
    const leaf = text(issued.certificate);
    expect(leaf).toMatch(/Subject: O = pigsty, OU = etcd, CN = etcd-1/);
    expect(leaf).toMatch(/DNS:localhost, DNS:etcd-1, IP Address:10.0.0.1, IP Address:FD00:0:0:0:0:0:0:1/i);
    expect(leaf).toMatch(/Extended Key Usage:\s+TLS Web Server Authentication, TLS Web Client Authentication/);
    expect(leaf).toMatch(/Basic Constraints: critical\s+CA:FALSE/);
    expect(leaf).toMatch(/Key Usage: critical\s+Digital Signature, Key Encipherment/);
    expect(leaf).toMatch(/NIST CURVE: P-256/);
    expect(openssl(['pkey', '-pubout'], issued.key)).toBe(openssl(['x509', '-noout', '-pubkey'], issued.certificate));
    expect(Date.parse(issued.notAfter) - before).toBeGreaterThan(30 * DAY - 2000);
    expect(Date.parse(issued.notAfter) - before).toBeLessThan(30 * DAY + 2000);
    const files = readdirSync(join(dir, 'issued'));
    expect(files.map((f) => f.replace(/-[0-9a-f]{32}\./, '-HASH.')).sort()).toEqual(['etcd_10.0.0.1-HASH.crt', 'etcd_10.0.0.1-HASH.json', 'etcd_10.0.0.1-HASH.key']);
    expect(files.map((f) => mode(join(dir, 'issued', f))).sort()).toEqual([0o600, 0o600, 0o644]);
    expect(mode(join(dir, 'issued'))).toBe(0o700);
  });

  it('takes a wildcard as the first label of a DNS name (MinIO\'s virtual-host buckets)', async () => {
    const { issuer, issued } = await issueOne(join(tempDir(), 'pki'), request({ dns: ['sss.pigsty', '*.sss.pigsty'] }));
    expect(verify(issuer.ca, issued.certificate)).toMatch(/: OK$/);
    expect(text(issued.certificate)).toMatch(/DNS:sss.pigsty, DNS:\*\.sss\.pigsty/);
  });

  it('issues each certificate with one openssl run, at most 4 at a time, and answers issued ones without openssl', async () => {
    const dir = join(tempDir(), 'pki');
    const issuer = await openAuthority(dir, { create: true });
    const requests = Array.from({ length: 12 }, (_, i) => request({ id: `pgsql/pg-test-${i}`, commonName: `pg-test-${i}`, organizationalUnit: 'postgres' }));
    spawned.calls = 0;
    const first = await issuer.issue(requests);
    expect(spawned.calls).toBe(12);
    expect(spawned.maxInFlight).toBeLessThanOrEqual(4);
    expect([...first.keys()]).toEqual(requests.map((r) => r.id));
    const again = await (await openAuthority(dir)).issue(requests.toReversed());
    expect(spawned.calls).toBe(12);
    for (const r of requests) expect(again.get(r.id)).toEqual(first.get(r.id));
  });

  it('gives the same certificate for the same request, also with its names in another order', async () => {
    const dir = join(tempDir(), 'pki');
    const { issuer, issued } = await issueOne(dir, request());
    const again = await issuer.issue([request({ dns: ['etcd-1', 'localhost'], ips: ['10.0.0.1', '127.0.0.1'] })]);
    expect(again.get('etcd/10.0.0.1')).toEqual(issued);
  });

  it('reissues, with a new key, when the SANs, CN or OU change', async () => {
    const dir = join(tempDir(), 'pki');
    const { issuer, issued } = await issueOne(dir, request());
    const moreNames = (await issuer.issue([request({ dns: ['localhost', 'etcd-1', 'etcd.example.com'] })])).get('etcd/10.0.0.1')!;
    expect(moreNames.certificate).not.toBe(issued.certificate);
    expect(moreNames.key).not.toBe(issued.key);
    expect(text(moreNames.certificate)).toMatch(/DNS:etcd.example.com/);
    const otherCn = (await issuer.issue([request({ dns: ['localhost', 'etcd-1', 'etcd.example.com'], commonName: 'etcd-9' })])).get('etcd/10.0.0.1')!;
    expect(text(otherCn.certificate)).toMatch(/CN = etcd-9/);
    const otherOu = (await issuer.issue([request({ dns: ['localhost', 'etcd-1', 'etcd.example.com'], commonName: 'etcd-9', organizationalUnit: 'infra' })])).get('etcd/10.0.0.1')!;
    expect(text(otherOu.certificate)).toMatch(/OU = infra/);
  });

  it('reissues when less than a third of the lifetime is left', async () => {
    const dir = join(tempDir(), 'pki');
    let ahead = 0;
    const now = () => new Date(Date.now() + ahead);
    const { issuer, issued } = await issueOne(dir, request({ validityDays: 30 }), now);
    ahead = 19 * DAY; // 11 of 30 days left
    expect((await issuer.issue([request({ validityDays: 30 })])).get('etcd/10.0.0.1')).toEqual(issued);
    ahead = 21 * DAY; // 9 of 30 days left
    const renewed = (await issuer.issue([request({ validityDays: 30 })])).get('etcd/10.0.0.1')!;
    expect(renewed.certificate).not.toBe(issued.certificate);
    expect(renewed.key).not.toBe(issued.key);
  });

  it('reissues when the CA was replaced', async () => {
    const dir = join(tempDir(), 'pki');
    const { issued } = await issueOne(dir, request());
    rmSync(join(dir, 'ca'), { recursive: true });
    const { issuer, issued: renewed } = await issueOne(dir, request());
    expect(renewed.certificate).not.toBe(issued.certificate);
    expect(verify(issuer.ca, renewed.certificate)).toMatch(/: OK$/);
  });

  it('reissues when a stored file no longer matches its record', async () => {
    const dir = join(tempDir(), 'pki');
    const issuer = await openAuthority(dir, { create: true });
    const other = request({ id: 'etcd/10.0.0.2', commonName: 'etcd-2', ips: ['10.0.0.2'] });
    const first = await issuer.issue([request(), other]);
    const file = (prefix: string) => join(dir, 'issued', readdirSync(join(dir, 'issued')).find((f) => f.startsWith(prefix) && f.endsWith('.crt'))!);
    writeFileSync(file('etcd_10.0.0.1-'), readFileSync(file('etcd_10.0.0.2-')));
    const again = (await issuer.issue([request()])).get('etcd/10.0.0.1')!;
    expect(again.certificate).not.toBe(first.get('etcd/10.0.0.1')!.certificate);
    expect(again.certificate).not.toBe(first.get('etcd/10.0.0.2')!.certificate);
    expect(text(again.certificate)).toMatch(/CN = etcd-1/);
  });

  it('issues the same id asked for twice at once only once, and leaves consistent files', async () => {
    const dir = join(tempDir(), 'pki');
    const issuer = await openAuthority(dir, { create: true });
    const [a, b] = await Promise.all([issuer.issue([request()]), (await openAuthority(dir)).issue([request()])]);
    expect(a.get('etcd/10.0.0.1')).toEqual(b.get('etcd/10.0.0.1'));
    spawned.calls = 0;
    expect((await issuer.issue([request()])).get('etcd/10.0.0.1')).toEqual(a.get('etcd/10.0.0.1'));
    expect(spawned.calls).toBe(0);
  });

  it('rejects names, addresses and words that could change the openssl config, naming the request', async () => {
    const dir = join(tempDir(), 'pki');
    const issuer = await openAuthority(dir, { create: true });
    spawned.calls = 0;
    const bad: [Partial<CertificateRequest>, RegExp][] = [
      [{ dns: ['etcd-1\nsubjectAltName = DNS:evil'] }, /DNS name "etcd-1\\nsubjectAltName = DNS:evil" is not a valid host name/],
      [{ dns: ['a,DNS:evil.com'] }, /DNS name/],
      [{ dns: ['a=b'] }, /DNS name/],
      [{ dns: ['"quoted"'] }, /DNS name/],
      [{ dns: ['$ENV::HOME'] }, /DNS name/],
      [{ dns: ['-leading.example'] }, /DNS name/],
      [{ dns: ['a.*.example'] }, /DNS name/],
      [{ dns: ['*'] }, /DNS name/],
      [{ dns: ['10.0.0.300'] }, /DNS name/],
      [{ dns: ['x'.repeat(64)] }, /DNS name/],
      [{ ips: ['10.0.0.1,DNS:evil'] }, /is not an IPv4 or IPv6 address/],
      [{ ips: ['fe80::1%eth0'] }, /is not an IPv4 or IPv6 address/],
      [{ ips: ['10.0.0.256'] }, /is not an IPv4 or IPv6 address/],
      [{ commonName: 'etcd-1\nCN = evil' }, /common name/],
      [{ commonName: 'a'.repeat(65) }, /common name/],
      [{ organizationalUnit: 'etcd, OU=evil' }, /organizational unit/],
      [{ dns: [], ips: [] }, /needs at least one DNS name or IP address/],
      [{ validityDays: 0 }, /validity/],
      [{ validityDays: 1.5 }, /validity/],
      [{ id: '' }, /the id is empty/],
    ];
    for (const [overrides, message] of bad) {
      await expect(issuer.issue([request(overrides)]), JSON.stringify(overrides)).rejects.toThrow(message);
      await expect(issuer.issue([request(overrides)])).rejects.toThrow(/^certificate request "/);
    }
    await expect(issuer.issue([request(), request()])).rejects.toThrow('certificate request "etcd/10.0.0.1": is requested twice');
    expect(readdirSync(dir)).toEqual(['ca']);
    expect(spawned.calls).toBe(0);
  });

  it('keeps the files of any id inside the dir', async () => {
    const root = tempDir();
    const dir = join(root, 'a', 'pki');
    const ids = ['../../x', '/etc/passwd', 'nul\0byte', '.', '..', 'é'.repeat(5000)];
    const issuer = await openAuthority(dir, { create: true });
    const issued = await issuer.issue(ids.map((id) => request({ id })));
    expect([...issued.keys()]).toEqual(ids);
    const names = readdirSync(join(dir, 'issued'));
    expect(names).toHaveLength(ids.length * 3);
    for (const name of names) expect(name).toMatch(/^[A-Za-z0-9_][A-Za-z0-9._-]{0,59}-[0-9a-f]{32}\.(crt|key|json)$/);
    expect(readdirSync(root, { recursive: true, encoding: 'utf8' }).every((p) => ['a', 'a/pki', 'a/pki/ca', 'a/pki/issued'].includes(p) || /^a\/pki\/(ca|issued)\//.test(p))).toBe(true);
    expect((await issuer.issue(ids.map((id) => request({ id })))).get('../../x')).toEqual(issued.get('../../x'));
  });

  it('refuses an issued dir or a stored file that is a symbolic link', async () => {
    const dir = join(tempDir(), 'pki');
    const elsewhere = tempDir();
    const issuer = await openAuthority(dir, { create: true });
    symlinkSync(elsewhere, join(dir, 'issued'));
    await expect(issuer.issue([request()])).rejects.toThrow(`refusing ${join(dir, 'issued')}: it is a symbolic link`);
    expect(readdirSync(elsewhere)).toEqual([]);

    rmSync(join(dir, 'issued'));
    await issuer.issue([request()]);
    const record = readdirSync(join(dir, 'issued')).find((f) => f.endsWith('.json'))!;
    writeFileSync(join(elsewhere, 'record.json'), readFileSync(join(dir, 'issued', record)));
    rmSync(join(dir, 'issued', record));
    symlinkSync(join(elsewhere, 'record.json'), join(dir, 'issued', record));
    await expect(issuer.issue([request()])).rejects.toThrow('symbolic link');
  });
});

describe('previewAuthority', () => {
  it('writes nothing: an issued certificate comes back as it is, a missing or expiring one pending', async () => {
    const dir = join(tempDir(), 'pki');
    const { issued } = await issueOne(dir, request());
    const before = listing(dir);
    spawned.calls = 0;
    const preview = await previewAuthority(dir);
    expect(preview.ca).toBe(readFileSync(join(dir, 'ca', 'ca.crt'), 'utf8'));
    const newcomer = request({ id: 'etcd/10.0.0.2', commonName: 'etcd-2', ips: ['10.0.0.2'], validityDays: 10 });
    const result = await preview.issue([request(), newcomer]);
    expect(result.get('etcd/10.0.0.1')).toEqual(issued);
    const pending = result.get('etcd/10.0.0.2')!;
    expect(pending.pending).toBe(true);
    expect(pending.certificate).toContain('"etcd/10.0.0.2"');
    expect(pending.key).toContain('"etcd/10.0.0.2"');
    expect(pending.key).not.toContain('PRIVATE KEY-----\nMI'); // a placeholder, not a key
    expect(Math.abs(Date.parse(pending.notAfter) - (Date.now() + 10 * DAY))).toBeLessThan(60_000);
    const later = await previewAuthority(dir, { now: () => new Date(Date.now() + 7000 * DAY) });
    expect((await later.issue([request()])).get('etcd/10.0.0.1')?.pending).toBe(true);
    expect(listing(dir)).toEqual(before);
    expect(spawned.calls).toBe(0);
  });

  it('creates no CA: without one, the CA and every certificate are placeholders', async () => {
    const dir = join(tempDir(), 'pki');
    const preview = await previewAuthority(dir);
    expect(preview.ca).toMatch(/^-----BEGIN CERTIFICATE-----\n\(pending: /);
    expect((await preview.issue([request()])).get('etcd/10.0.0.1')?.pending).toBe(true);
    await expect(preview.issue([request({ dns: ['a\nb'] })])).rejects.toThrow('DNS name');
    expect(() => statSync(dir)).toThrow(/ENOENT/);
  });
});

// ---- Two processes at once ----

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** authority.ts and the modules it imports, as JavaScript node runs, plus a script that opens a CA when told to. */
function buildForNode(out: string): string {
  const seen = new Set<string>();
  const transpile = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    const source = readFileSync(file, 'utf8');
    const target = join(out, relative(SRC, file)).replace(/\.ts$/, '.js');
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText);
    for (const [, path] of source.matchAll(/from '(\.{1,2}\/[^']+)\.js'/g)) transpile(resolve(dirname(file), `${path}.ts`));
  };
  transpile(join(SRC, 'pki', 'authority.ts'));
  writeFileSync(join(out, 'package.json'), '{ "type": "module" }\n');
  const script = join(out, 'open-ca.js');
  writeFileSync(
    script,
    `import { openAuthority } from './pki/authority.js';
process.stdout.write('ready\\n');
process.stdin.once('data', async () => process.stdout.write(JSON.stringify((await openAuthority(process.argv[2], { create: true })).ca)));
`,
  );
  return script;
}

/** Starts the scripts, lets them all go at the same moment once each is ready, and returns what each printed after. */
async function racing(scripts: string[], dir: string): Promise<string[]> {
  const children = scripts.map((script) => spawn(process.execPath, [script, dir], { stdio: ['pipe', 'pipe', 'inherit'] }));
  const outputs = children.map((child) => {
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const ready = new Promise<void>((done) => child.stdout.once('data', () => done()));
    const exited = new Promise<string>((done, fail) => child.on('close', (code) => (code === 0 ? done(out.replace('ready\n', '')) : fail(new Error(`child exited ${code}`)))));
    return { ready, exited };
  });
  await Promise.all(outputs.map((o) => o.ready));
  for (const child of children) child.stdin.end('go');
  return (await Promise.all(outputs.map((o) => o.exited))).map((json) => JSON.parse(json) as string);
}
