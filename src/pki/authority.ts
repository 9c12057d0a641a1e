/**
 * The certificate authority, kept outside the config repository (Pigsty keeps its own in files/pki/ca):
 *
 *   <dir>/ca/ca.key, ca.crt          the CA (EC P-256, 100 years), created once, atomically
 *   <dir>/issued/<stem>.key|.crt     one leaf per request id, <stem> a slug of the id and its hash
 *   <dir>/issued/<stem>.json         what the leaf was issued for, so a reuse check spawns no openssl
 *
 * Certificates are made by /usr/bin/openssl (never ASN.1 by hand), asynchronously and a few at a time,
 * so the daemon's event loop never waits on one. Nothing under <dir> is read through a symbolic link.
 */
import { execFile } from 'node:child_process';
import { X509Certificate, createHash, createPrivateKey, randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, mkdir, mkdtemp, open, rename, rm, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import { Semaphore } from '../transport/semaphore.js';

/** A certificate a module needs for one member; ids come from untrusted inventory text (host addresses, cluster names). */
export interface CertificateRequest {
  /** Unique within the fleet, e.g. `etcd/10.0.0.1`, `pgsql/pg-test-1`. */
  id: string;
  commonName: string;
  /** Subject OU, as Pigsty sets it: `etcd`, `postgres`, ... (O is always `pigsty`). */
  organizationalUnit: string;
  dns: string[];
  ips: string[];
  /** Pigsty's cert_validity in days (7300 by default). */
  validityDays: number;
}

export interface IssuedCertificate {
  /** PEM of the leaf certificate. */
  certificate: string;
  /** PEM of its private key (a secret). */
  key: string;
  /** ISO time the certificate expires. */
  notAfter: string;
  /** Set by a preview issuer when the certificate would be (re)issued at apply; certificate/key are then placeholders. */
  pending?: true;
}

export interface CertificateIssuer {
  /** PEM of the CA certificate, installed on nodes as ca.crt. */
  readonly ca: string;
  issue(requests: readonly CertificateRequest[]): Promise<Map<string, IssuedCertificate>>;
}

const OPENSSL = '/usr/bin/openssl';
const ORGANIZATION = 'pigsty';
/** 100 years, as Pigsty's CA; no leaf may ask for more. */
const CA_VALIDITY_DAYS = 36_500;
/** Reissue when a third of the lifetime is left (cert-manager's default renewBefore). */
const RENEW_WHEN_LEFT = 1 / 3;

/** openssl processes in flight, in the whole process. */
const opensslSlots = new Semaphore(4);
/** Files open at once for reuse checks: 1,000 lookups must stay far below the descriptor limit. */
const readSlots = new Semaphore(64);

interface Authority {
  dir: string;
  certificate: string;
  key: string;
  /** Hash of the CA certificate's PEM: a leaf is only reused when it was signed by this one. */
  sha256: string;
}

/** The sidecar of an issued leaf: what it was issued for, tied to its files by their hashes. */
interface IssuedRecord {
  id: string;
  certificateSha256: string;
  keySha256: string;
  caSha256: string;
  commonName: string;
  organizationalUnit: string;
  dns: string[];
  ips: string[];
  notBefore: string;
  notAfter: string;
}

/** Opens (creating on first use when `create`) the CA in `dir` and returns an issuer that keeps what it issues under `dir`. */
export async function openAuthority(dir: string, options: { create?: boolean; commonName?: string; now?: () => Date } = {}): Promise<CertificateIssuer> {
  const now = options.now ?? (() => new Date());
  let authority = await loadAuthority(dir);
  if (!authority && !options.create) throw new Error(`no certificate authority in ${join(dir, 'ca')}: open it with create to make one`);
  authority ??= await createAuthority(dir, options.commonName ?? 'pigsty-ca');
  const ca = authority;
  return {
    ca: ca.certificate,
    issue: async (requests) => {
      const checked = checkRequests(requests);
      return serialized(resolve(dir), () => issueAll(ca, checked, now()));
    },
  };
}

/** An issuer that never writes: certificates already issued and still good are returned; others come back `pending` with placeholder PEM text naming the id. For PR previews. Must not create the CA either: if the CA does not exist, `ca` is a placeholder too. */
export async function previewAuthority(dir: string, options: { now?: () => Date } = {}): Promise<CertificateIssuer> {
  const now = options.now ?? (() => new Date());
  const authority = await loadAuthority(dir);
  return {
    ca: authority?.certificate ?? placeholderPem('CERTIFICATE', 'the certificate authority, created at the first apply'),
    issue: async (requests) => {
      const checked = checkRequests(requests);
      const at = now();
      const stored = authority && (await storedDir(join(dir, 'issued'))) ? await lookupAll(authority, checked, at) : [];
      return new Map(checked.map((request, i) => [request.id, stored[i] ?? pendingCertificate(request, at)]));
    },
  };
}

// ---- The CA ----

async function loadAuthority(dir: string): Promise<Authority | undefined> {
  if (!(await storedDir(join(dir, 'ca')))) return undefined;
  const [certificate, key] = await Promise.all([readStored(join(dir, 'ca', 'ca.crt')), readStored(join(dir, 'ca', 'ca.key'))]);
  if (certificate === undefined || key === undefined) throw new Error(`the certificate authority in ${join(dir, 'ca')} is incomplete: it needs ca.crt and ca.key`);
  if (!new X509Certificate(certificate).checkPrivateKey(createPrivateKey(key))) throw new Error(`the certificate authority in ${join(dir, 'ca')} is broken: ca.key does not belong to ca.crt`);
  return { dir, certificate, key, sha256: sha256(certificate) };
}

/**
 * Makes the CA in a temp dir beside `ca` and renames it into place. A rename onto a CA that exists
 * fails (a non-empty directory is never replaced), so of two processes creating it at once one wins
 * and both go on with the winner's.
 */
async function createAuthority(dir: string, commonName: string): Promise<Authority> {
  if (!SUBJECT_WORD.test(commonName)) throw new Error(`the CA's common name ${describe(commonName)} must be letters, digits, spaces, dots, _ or -`);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const staging = await mkdtemp(join(dir, '.ca-'));
  try {
    const { key, certificate } = await withWorkDir(dir, async (work) => {
      await writeFile(join(work, 'ca.cnf'), caConfig(commonName), { flag: 'wx' });
      return makeCertificate(join(work, 'ca.cnf'), ['-days', String(CA_VALIDITY_DAYS)]);
    });
    await writeDurably(join(staging, 'ca.key'), key, 0o600);
    await writeDurably(join(staging, 'ca.crt'), certificate, 0o644);
    await rename(staging, join(dir, 'ca')).then(() => syncDir(dir), ignoreCode('ENOTEMPTY', 'EEXIST'));
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  const authority = await loadAuthority(dir);
  if (!authority) throw new Error(`the certificate authority in ${join(dir, 'ca')} disappeared while it was created`);
  return authority;
}

function caConfig(commonName: string): string {
  return opensslConfig([`O = ${ORGANIZATION}`, `CN = ${commonName}`], ['basicConstraints = critical,CA:TRUE', 'keyUsage = critical,keyCertSign,cRLSign', 'subjectKeyIdentifier = hash']);
}

// ---- Issuing ----

async function issueAll(authority: Authority, requests: CertificateRequest[], now: Date): Promise<Map<string, IssuedCertificate>> {
  const issuedDir = join(authority.dir, 'issued');
  if (!(await storedDir(issuedDir))) await mkdir(issuedDir, { mode: 0o700 }).catch(ignoreCode('EEXIST'));
  const results = await lookupAll(authority, requests, now);
  const stale = requests.filter((_, i) => !results[i]);
  if (stale.length > 0) {
    const fresh = await issueFresh(authority, stale);
    requests.forEach((request, i) => (results[i] ??= fresh.get(request.id)));
    await syncDir(issuedDir);
  }
  return new Map(requests.map((request, i) => [request.id, results[i]!]));
}

/** New keys and certificates for `requests`, stored; every openssl run is over before this returns, also on failure. */
async function issueFresh(authority: Authority, requests: CertificateRequest[]): Promise<Map<string, IssuedCertificate>> {
  return withWorkDir(authority.dir, async (work) => {
    // The CA that signs is the one this issuer was opened with, not whatever <dir>/ca holds by now.
    const ca = { certificate: join(work, 'ca.crt'), key: join(work, 'ca.key') };
    await writeFile(ca.certificate, authority.certificate, { flag: 'wx' });
    await writeFile(ca.key, authority.key, { flag: 'wx', mode: 0o600 });
    const settled = await Promise.allSettled(requests.map((request, i) => issueOne(authority, request, ca, join(work, `leaf-${i}.cnf`))));
    const failure = settled.find((s) => s.status === 'rejected');
    if (failure) throw failure.reason;
    return new Map(settled.map((s, i) => [requests[i]!.id, (s as PromiseFulfilledResult<IssuedCertificate>).value]));
  });
}

async function issueOne(authority: Authority, request: CertificateRequest, ca: { certificate: string; key: string }, configFile: string): Promise<IssuedCertificate> {
  try {
    await writeFile(configFile, leafConfig(request), { flag: 'wx' });
    const { key, certificate } = await makeCertificate(configFile, ['-days', String(request.validityDays), '-CA', ca.certificate, '-CAkey', ca.key]);
    const leaf = new X509Certificate(certificate);
    const record: IssuedRecord = {
      id: request.id,
      certificateSha256: sha256(certificate),
      keySha256: sha256(key),
      caSha256: authority.sha256,
      commonName: request.commonName,
      organizationalUnit: request.organizationalUnit,
      dns: [...request.dns].sort(),
      ips: [...request.ips].sort(),
      notBefore: new Date(leaf.validFrom).toISOString(),
      notAfter: new Date(leaf.validTo).toISOString(),
    };
    // The record goes last: until it is written, the old record no longer matches the new files.
    const stem = join(authority.dir, 'issued', fileStem(request.id));
    await writeAtomic(`${stem}.key`, key, 0o600);
    await writeAtomic(`${stem}.crt`, certificate, 0o644);
    await writeAtomic(`${stem}.json`, JSON.stringify(record) + '\n', 0o600);
    return { certificate, key, notAfter: record.notAfter };
  } catch (error) {
    throw new Error(`certificate ${describe(request.id)}: ${(error as Error).message}`, { cause: error });
  }
}

function leafConfig(request: CertificateRequest): string {
  const names = [...request.dns.map((d) => `DNS:${d}`), ...request.ips.map((ip) => `IP:${ip}`)];
  return opensslConfig(
    [`O = ${ORGANIZATION}`, `OU = ${request.organizationalUnit}`, `CN = ${request.commonName}`],
    [
      'basicConstraints = critical,CA:FALSE',
      'keyUsage = critical,digitalSignature,keyEncipherment',
      // etcd peers and Patroni present the same certificate as client and as server.
      'extendedKeyUsage = serverAuth,clientAuth',
      `subjectAltName = ${names.join(',')}`,
      'subjectKeyIdentifier = hash',
      'authorityKeyIdentifier = keyid:always',
    ],
  );
}

/** Every value in it has passed checkRequests (or SUBJECT_WORD), so none can end a line or start a new field. */
function opensslConfig(subject: string[], extensions: string[]): string {
  return ['[req]', 'prompt = no', 'distinguished_name = subject', '[subject]', ...subject, '[extensions]', ...extensions, ''].join('\n');
}

/** One `openssl req -x509` run: a new P-256 key and its certificate, self-signed or signed by `-CA`. Both come back on stdout, so the key is only ever written where it is kept. */
async function makeCertificate(configFile: string, extraArgs: string[]): Promise<{ key: string; certificate: string }> {
  const args = ['req', '-x509', '-new', '-config', configFile, '-extensions', 'extensions', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-noenc', '-keyout', '-', '-sha256', '-set_serial', randomSerial()];
  const output = await openssl([...args, ...extraArgs]);
  return { key: pemBlock(output, 'PRIVATE KEY'), certificate: pemBlock(output, 'CERTIFICATE') };
}

function openssl(args: string[]): Promise<string> {
  return withPermit(opensslSlots, () => new Promise<string>((resolvePromise, reject) => {
    execFile(OPENSSL, args, { env: {}, timeout: 30_000, maxBuffer: 1 << 20, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (!error) resolvePromise(stdout);
      else if ((error as NodeJS.ErrnoException).code === 'ENOENT') reject(new Error(`Corral issues certificates with ${OPENSSL}, which is not installed`));
      else reject(new Error(`openssl ${args[0]} failed: ${stderr.trim() || error.message}`));
    });
  }));
}

function pemBlock(text: string, label: string): string {
  const block = new RegExp(`-----BEGIN ${label}-----\\n[A-Za-z0-9+/=\\n]+-----END ${label}-----\\n`).exec(text);
  if (!block) throw new Error(`openssl gave no ${label.toLowerCase()}`);
  return block[0];
}

/** 127 random bits, positive and never zero (RFC 5280 serials are positive and at most 20 bytes). */
function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) | 0x40;
  return `0x${bytes.toString('hex')}`;
}

// ---- Reuse ----

/** The stored certificate for each request that may be reused, in request order. */
function lookupAll(authority: Authority, requests: CertificateRequest[], now: Date): Promise<(IssuedCertificate | undefined)[]> {
  return Promise.all(requests.map((request) => withPermit(readSlots, () => lookup(authority, request, now))));
}

async function lookup(authority: Authority, request: CertificateRequest, now: Date): Promise<IssuedCertificate | undefined> {
  const stem = join(authority.dir, 'issued', fileStem(request.id));
  const record = parseRecord(await readStored(`${stem}.json`));
  if (!record || !isReusable(record, request, authority.sha256, now)) return undefined;
  const [certificate, key] = await Promise.all([readStored(`${stem}.crt`), readStored(`${stem}.key`)]);
  // The record describes these files only if their hashes say so (a crash between writes, or an edit, breaks that).
  if (certificate === undefined || key === undefined || sha256(certificate) !== record.certificateSha256 || sha256(key) !== record.keySha256) return undefined;
  return { certificate, key, notAfter: record.notAfter };
}

function isReusable(record: IssuedRecord, request: CertificateRequest, caSha256: string, now: Date): boolean {
  const notBefore = Date.parse(record.notBefore);
  const notAfter = Date.parse(record.notAfter);
  return (
    record.id === request.id &&
    record.caSha256 === caSha256 &&
    record.commonName === request.commonName &&
    record.organizationalUnit === request.organizationalUnit &&
    sameSet(record.dns, request.dns) &&
    sameSet(record.ips, request.ips) &&
    now.getTime() >= notBefore &&
    notAfter - now.getTime() > (notAfter - notBefore) * RENEW_WHEN_LEFT
  );
}

function parseRecord(text: string | undefined): IssuedRecord | undefined {
  if (text === undefined) return undefined;
  try {
    const value = JSON.parse(text) as Partial<IssuedRecord>;
    const strings = [value.id, value.certificateSha256, value.keySha256, value.caSha256, value.commonName, value.organizationalUnit, value.notBefore, value.notAfter];
    const lists = [value.dns, value.ips];
    return strings.every((s) => typeof s === 'string') && lists.every((l) => Array.isArray(l) && l.every((s) => typeof s === 'string')) ? (value as IssuedRecord) : undefined;
  } catch {
    return undefined;
  }
}

const sameSet = (stored: readonly string[], wanted: readonly string[]): boolean => {
  const want = new Set(wanted);
  return new Set(stored).size === want.size && stored.every((s) => want.has(s));
};

// ---- Previews ----

function pendingCertificate(request: CertificateRequest, now: Date): IssuedCertificate {
  const what = `the certificate of ${describe(request.id)}, issued at apply`;
  return {
    certificate: placeholderPem('CERTIFICATE', what),
    key: placeholderPem('PRIVATE KEY', what),
    notAfter: new Date(now.getTime() + request.validityDays * 86_400_000).toISOString(),
    pending: true,
  };
}

const placeholderPem = (label: string, what: string): string => `-----BEGIN ${label}-----\n(pending: ${what})\n-----END ${label}-----\n`;

// ---- Requests: untrusted text, checked before any of it reaches a file name or an openssl config ----

const DNS_LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
/** The CA's common name and OUs: words, no punctuation an openssl config gives a meaning to. */
const SUBJECT_WORD = /^[A-Za-z0-9](?:[A-Za-z0-9 ._-]{0,62}[A-Za-z0-9])?$/;
/** X.509's upper bound for a common name. */
const MAX_COMMON_NAME = 64;

function isDnsName(name: string): boolean {
  const labels = name.split('.');
  // An all-digit last label is a mistyped address (`10.0.0.300`), not a name.
  return name.length <= 253 && labels.every((label) => DNS_LABEL.test(label)) && !/^[0-9]+$/.test(labels.at(-1)!);
}

/** A subjectAltName DNS entry: a host name, or a wildcard over one (`*.sss.pigsty`, MinIO's virtual-host buckets). */
const isSanName = (name: string): boolean => isDnsName(name.startsWith('*.') ? name.slice(2) : name);

/** IPv4 or IPv6, without an IPv6 zone (`%eth0` means nothing in a certificate). */
const isIpAddress = (text: string): boolean => isIP(text) !== 0 && !text.includes('%');

function checkRequests(requests: readonly CertificateRequest[]): CertificateRequest[] {
  const seen = new Set<string>();
  for (const request of requests) {
    const problem = requestProblem(request) ?? (seen.has(request.id) ? 'is requested twice' : undefined);
    if (problem) throw new Error(`certificate request ${describe(request.id)}: ${problem}`);
    seen.add(request.id);
  }
  return [...requests];
}

function requestProblem(r: CertificateRequest): string | undefined {
  if (r.id === '') return 'the id is empty';
  if (r.commonName.length > MAX_COMMON_NAME || !(isDnsName(r.commonName) || isIpAddress(r.commonName))) return `common name ${describe(r.commonName)} is not a host name or IP address of at most ${MAX_COMMON_NAME} characters`;
  if (!SUBJECT_WORD.test(r.organizationalUnit)) return `organizational unit ${describe(r.organizationalUnit)} must be letters, digits, spaces, dots, _ or -`;
  const badName = r.dns.find((d) => !isSanName(d));
  if (badName !== undefined) return `DNS name ${describe(badName)} is not a valid host name`;
  const badIp = r.ips.find((ip) => !isIpAddress(ip));
  if (badIp !== undefined) return `${describe(badIp)} is not an IPv4 or IPv6 address`;
  if (r.dns.length + r.ips.length === 0) return 'needs at least one DNS name or IP address (clients check those, not the common name)';
  if (!Number.isInteger(r.validityDays) || r.validityDays < 1 || r.validityDays > CA_VALIDITY_DAYS) return `a validity of ${r.validityDays} days is not a whole number from 1 to ${CA_VALIDITY_DAYS}`;
  return undefined;
}

/** A value for an error message: quoted and escaped (no newline or NUL gets through), and cut short. */
function describe(value: string): string {
  return JSON.stringify(value.length > 100 ? `${value.slice(0, 100)}…` : value);
}

// ---- Files: nothing under <dir> is followed through a symbolic link ----

/** A name safe for any id: readable characters of it, then a hash of all of it (`../../x` -> `_.._x-3f…`). */
function fileStem(id: string): string {
  const slug = id.replace(/[^A-Za-z0-9.-]+/g, '_').replace(/^[.-]+/, '').slice(0, 60);
  return `${slug || 'id'}-${sha256(id).slice(0, 32)}`;
}

/** Whether `path` is a directory of its own; a symbolic link there is refused. */
async function storedDir(path: string): Promise<boolean> {
  const stats = await lstat(path).catch(ignoreCode('ENOENT'));
  if (!stats) return false;
  if (stats.isSymbolicLink()) throw refusedLink(path);
  if (!stats.isDirectory()) throw new Error(`${path} should be a directory`);
  return true;
}

/** A file's text, or undefined when there is none. */
async function readStored(path: string): Promise<string | undefined> {
  // O_NONBLOCK: a FIFO planted there must not hang the read.
  const file = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error.code === 'ELOOP' ? refusedLink(path) : error;
  });
  if (!file) return undefined;
  try {
    if (!(await file.stat()).isFile()) throw new Error(`${path} should be a regular file`);
    return await file.readFile('utf8');
  } finally {
    await file.close();
  }
}

/** Content in a temp file beside `path`, renamed over it: a reader sees the old file or the new one. */
async function writeAtomic(path: string, content: string, mode: number): Promise<void> {
  const temp = `${path}.tmp-${randomBytes(6).toString('hex')}`;
  try {
    await writeDurably(temp, content, mode);
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

/** A new file (never an existing one, never through a link), with exactly `mode`, synced to disk. */
async function writeDurably(path: string, content: string, mode: number): Promise<void> {
  const file = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
  try {
    await file.chmod(mode); // the umask may have taken bits off
    await file.writeFile(content);
    await file.sync();
  } finally {
    await file.close();
  }
}

/** Renames are durable once their directory is synced. */
async function syncDir(path: string): Promise<void> {
  const dir = await open(path, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/**
 * A temp dir for openssl's input (its config, the CA it signs with), removed afterwards. It is made
 * under <dir>, so the copy of the CA key is exactly as private as the original, also if a crash leaves it.
 */
async function withWorkDir<T>(base: string, task: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(base, '.work-'));
  try {
    return await task(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const refusedLink = (path: string): Error => new Error(`refusing ${path}: it is a symbolic link, and the PKI directory only uses files of its own`);

function ignoreCode(...codes: string[]): (error: NodeJS.ErrnoException) => undefined {
  return (error) => {
    if (!codes.includes(error.code ?? '')) throw error;
    return undefined;
  };
}

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

// ---- Concurrency ----

async function withPermit<T>(semaphore: Semaphore, task: () => Promise<T>): Promise<T> {
  const release = await semaphore.acquire();
  try {
    return await task();
  } finally {
    release();
  }
}

const queues = new Map<string, Promise<void>>();

/** Runs tasks for the same key one after another (issuing the same id twice at once must not interleave writes). */
function serialized<T>(key: string, task: () => Promise<T>): Promise<T> {
  const result = (queues.get(key) ?? Promise.resolve()).then(task);
  const tail = result.then(
    () => undefined,
    () => undefined,
  );
  queues.set(key, tail);
  void tail.then(() => {
    if (queues.get(key) === tail) queues.delete(key);
  });
  return result;
}
