// OpenSSH known_hosts, pure: parse the lines, find what the file says about one host and one key.
// ssh2 has no parser of its own. Format: sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT".
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export interface KnownHostsEntry {
  /** 1-based line number in the file, for messages. */
  line: number;
  marker?: 'revoked' | 'cert-authority';
  /** Either a hashed name (`|1|salt|hash`) or a comma list of patterns (`*`, `?`, `!negation`). */
  hosts: { salt: Buffer; hash: Buffer } | { patterns: string[] };
  keyType: string;
  /** The public key blob (SSH wire format: the type string, then the key). */
  key: Buffer;
}

export function parseKnownHosts(text: string): KnownHostsEntry[] {
  const entries: KnownHostsEntry[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const entry = parseLine(raw.trim(), i + 1);
    if (entry) entries.push(entry);
  });
  return entries;
}

/** A malformed line is skipped, as ssh does: it can neither trust nor refuse a key. */
function parseLine(text: string, line: number): KnownHostsEntry | undefined {
  if (!text || text.startsWith('#')) return undefined;
  const fields = text.split(/\s+/);
  let marker: KnownHostsEntry['marker'];
  if (fields[0]?.startsWith('@')) {
    const name = fields.shift();
    if (name === '@revoked') marker = 'revoked';
    else if (name === '@cert-authority') marker = 'cert-authority';
    else return undefined;
  }
  const [hostField, keyType, base64] = fields;
  if (!hostField || !keyType || !base64) return undefined;
  const key = Buffer.from(base64, 'base64');
  if (keyTypeOf(key) !== keyType) return undefined;
  const hosts = hostField.startsWith('|') ? parseHashed(hostField) : { patterns: hostField.split(',').filter(Boolean) };
  if (!hosts) return undefined;
  return { line, ...(marker ? { marker } : {}), hosts, keyType, key };
}

function parseHashed(field: string): { salt: Buffer; hash: Buffer } | undefined {
  const m = /^\|1\|([A-Za-z0-9+/=]+)\|([A-Za-z0-9+/=]+)$/.exec(field);
  if (!m) return undefined;
  const salt = Buffer.from(m[1]!, 'base64');
  const hash = Buffer.from(m[2]!, 'base64');
  return salt.length === 20 && hash.length === 20 ? { salt, hash } : undefined;
}

/** The name ssh looks a host up by: `host` on port 22, `[host]:port` otherwise. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** The key type written inside a public key blob (`ssh-ed25519`, `ssh-rsa`, ...); '' if the blob is malformed. */
export function keyTypeOf(blob: Buffer): string {
  if (blob.length < 4) return '';
  const len = blob.readUInt32BE(0);
  if (len === 0 || len > 64 || 4 + len > blob.length) return '';
  return blob.toString('latin1', 4, 4 + len);
}

/** `SHA256:...` as `ssh-keygen -lf` prints it: unpadded base64 of the blob's SHA-256. */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** The key type's short name as `ssh-keygen -l` shows it in parentheses: ED25519, RSA, ECDSA. */
export function keyTypeLabel(type: string): string {
  if (type === 'ssh-ed25519') return 'ED25519';
  if (type === 'ssh-rsa') return 'RSA';
  if (type.startsWith('ecdsa-')) return 'ECDSA';
  return type.toUpperCase();
}

/** A plain known_hosts line for the host and key. */
export function knownHostsLine(host: string, port: number, blob: Buffer): string {
  return `${knownHostsName(host, port)} ${keyTypeOf(blob)} ${blob.toString('base64')}`;
}

/** Does the entry name this host? `name` is what knownHostsName returned. */
export function entryMatches(entry: KnownHostsEntry, name: string): boolean {
  if ('salt' in entry.hosts) {
    const mac = createHmac('sha1', entry.hosts.salt).update(name).digest();
    return timingSafeEqual(mac, entry.hosts.hash);
  }
  let matched = false;
  for (const pattern of entry.hosts.patterns) {
    const negated = pattern.startsWith('!');
    if (!globMatch(negated ? pattern.slice(1) : pattern, name)) continue;
    // A matching negation vetoes the whole line, whatever else matches.
    if (negated) return false;
    matched = true;
  }
  return matched;
}

/** Compiled wildcard patterns: a file of 1,000 lines is matched against every host that connects. */
const compiledGlobs = new Map<string, RegExp>();

/** ssh's match_pattern: `*` any run, `?` one character, case-insensitive (host names are). */
function globMatch(pattern: string, text: string): boolean {
  // Most lines name one host or `[host]:port`: compared as text, no pattern to compile.
  if (!/[*?]/.test(pattern)) return pattern.length === text.length && pattern.toLowerCase() === text.toLowerCase();
  let re = compiledGlobs.get(pattern);
  if (!re) {
    if (compiledGlobs.size >= 10_000) compiledGlobs.clear();
    const source = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
    re = new RegExp(`^${source}$`, 'is');
    compiledGlobs.set(pattern, re);
  }
  return re.test(text);
}

export type HostKeyVerdict =
  | { status: 'known'; line: number }
  | { status: 'unknown' }
  /** The host is known by other keys; `line` is the first of them with the same type, else the first. */
  | { status: 'changed'; line: number; knownType: string }
  | { status: 'revoked'; line: number };

/** What the file says about this key for this host. `@cert-authority` lines are ignored. */
export function checkHostKey(entries: KnownHostsEntry[], host: string, port: number, blob: Buffer): HostKeyVerdict {
  // A revoked key is refused for every host, as the line's host field cannot make it safe.
  const revoked = entries.find((e) => e.marker === 'revoked' && e.key.equals(blob));
  if (revoked) return { status: 'revoked', line: revoked.line };
  const name = knownHostsName(host, port);
  const forHost = entries.filter((e) => e.marker === undefined && entryMatches(e, name));
  const same = forHost.find((e) => e.key.equals(blob));
  if (same) return { status: 'known', line: same.line };
  const other = forHost.find((e) => e.keyType === keyTypeOf(blob)) ?? forHost[0];
  if (other) return { status: 'changed', line: other.line, knownType: other.keyType };
  return { status: 'unknown' };
}

/** Key types the file holds for the host, so the handshake can ask for those first (as ssh does). */
export function knownKeyTypes(entries: KnownHostsEntry[], host: string, port: number): string[] {
  const name = knownHostsName(host, port);
  return [...new Set(entries.filter((e) => e.marker === undefined && entryMatches(e, name)).map((e) => e.keyType))];
}
