import { createHash, createHmac, generateKeyPairSync, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { checkHostKey, entryMatches, fingerprint, keyTypeOf, knownHostsLine, knownHostsName, knownKeyTypes, parseKnownHosts } from '../../src/transport/known-hosts.js';

/** SSH wire string: uint32 length, then the bytes. */
function sshString(data: Buffer | string): Buffer {
  const body = Buffer.from(data);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([len, body]);
}

/** A real ed25519 public key blob, built here from node:crypto's raw key (independent of the code under test). */
function ed25519Blob(): Buffer {
  const der = generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' });
  return Buffer.concat([sshString('ssh-ed25519'), sshString(der.subarray(der.length - 32))]);
}

function rsaBlob(): Buffer {
  const jwk = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'jwk' });
  const mpint = (b64url: string): Buffer => {
    const raw = Buffer.from(b64url, 'base64url');
    return sshString(raw[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), raw]) : raw);
  };
  return Buffer.concat([sshString('ssh-rsa'), mpint(jwk.e!), mpint(jwk.n!)]);
}

const b64 = (blob: Buffer): string => blob.toString('base64');
const hashed = (name: string, salt = randomBytes(20)): string => `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(name).digest('base64')}`;

const key1 = ed25519Blob();
const key2 = ed25519Blob();
const rsa1 = rsaBlob();

describe('parseKnownHosts', () => {
  it('reads plain lines with their line numbers, skipping comments, blanks and CRLF endings', () => {
    const text = `# comment\n\n10.0.0.1 ssh-ed25519 ${b64(key1)} root@x\r\n  [10.0.0.2]:2222,web2 ssh-rsa ${b64(rsa1)}\n`;
    const entries = parseKnownHosts(text);
    expect(entries.map((e) => [e.line, e.keyType])).toEqual([
      [3, 'ssh-ed25519'],
      [4, 'ssh-rsa'],
    ]);
    expect(entries[1]!.hosts).toEqual({ patterns: ['[10.0.0.2]:2222', 'web2'] });
    expect(entries[0]!.key.equals(key1)).toBe(true);
  });

  it('skips malformed lines: missing fields, a type that is not the blob\'s, bad hashes, unknown markers', () => {
    const text = [
      '10.0.0.1 ssh-ed25519',
      `10.0.0.1 ssh-rsa ${b64(key1)}`,
      `|1|notbase64|x ssh-ed25519 ${b64(key1)}`,
      `@weird 10.0.0.1 ssh-ed25519 ${b64(key1)}`,
      `10.0.0.1 ssh-ed25519 ${b64(key1)}`,
    ].join('\n');
    expect(parseKnownHosts(text).map((e) => e.line)).toEqual([5]);
  });

  it('reads @revoked and @cert-authority markers', () => {
    const entries = parseKnownHosts(`@revoked * ssh-ed25519 ${b64(key1)}\n@cert-authority *.example ssh-ed25519 ${b64(key2)}`);
    expect(entries.map((e) => e.marker)).toEqual(['revoked', 'cert-authority']);
  });
});

describe('host matching', () => {
  const match = (hosts: string, name: string): boolean => entryMatches(parseKnownHosts(`${hosts} ssh-ed25519 ${b64(key1)}`)[0]!, name);

  it('names port 22 plainly and other ports as [host]:port', () => {
    expect(knownHostsName('10.0.0.1', 22)).toBe('10.0.0.1');
    expect(knownHostsName('10.0.0.1', 2222)).toBe('[10.0.0.1]:2222');
    expect(match('10.0.0.1', '[10.0.0.1]:2222')).toBe(false);
    expect(match('[10.0.0.1]:2222', '[10.0.0.1]:2222')).toBe(true);
    expect(match('[10.0.0.1]:2222', '10.0.0.1')).toBe(false);
  });

  it('matches comma lists, wildcards and case-insensitively', () => {
    expect(match('a,b,10.0.0.1', '10.0.0.1')).toBe(true);
    expect(match('10.0.0.*', '10.0.0.77')).toBe(true);
    expect(match('10.0.0.?', '10.0.0.7')).toBe(true);
    expect(match('10.0.0.?', '10.0.0.77')).toBe(false);
    expect(match('10.0.0.1', '10.0.0.10')).toBe(false);
    expect(match('[10.0.0.1]:*', '[10.0.0.1]:2222')).toBe(true);
    expect(match('Web1.Example', 'web1.example')).toBe(true);
  });

  it('lets a negated pattern veto the line', () => {
    expect(match('10.0.0.*,!10.0.0.5', '10.0.0.4')).toBe(true);
    expect(match('10.0.0.*,!10.0.0.5', '10.0.0.5')).toBe(false);
    expect(match('!10.0.0.5', '10.0.0.4')).toBe(false);
  });

  it('matches a hashed name computed with HMAC-SHA1, and only that name', () => {
    expect(match(hashed('10.0.0.1'), '10.0.0.1')).toBe(true);
    expect(match(hashed('10.0.0.1'), '10.0.0.2')).toBe(false);
    expect(match(hashed('[10.0.0.1]:2222'), '[10.0.0.1]:2222')).toBe(true);
    expect(match(hashed('[10.0.0.1]:2222'), '10.0.0.1')).toBe(false);
  });
});

describe('checkHostKey', () => {
  const check = (text: string, host: string, port: number, key: Buffer) => checkHostKey(parseKnownHosts(text), host, port, key);

  it('knows a host whose key is in the file, plain or hashed', () => {
    expect(check(`10.0.0.1 ssh-ed25519 ${b64(key1)}`, '10.0.0.1', 22, key1)).toEqual({ status: 'known', line: 1 });
    const text = `10.0.0.9 ssh-ed25519 ${b64(key2)}\n${hashed('[10.0.0.1]:2222')} ssh-ed25519 ${b64(key1)}`;
    expect(check(text, '10.0.0.1', 2222, key1)).toEqual({ status: 'known', line: 2 });
  });

  it('finds the key among several for one host', () => {
    const text = `10.0.0.1 ssh-rsa ${b64(rsa1)}\n10.0.0.1 ssh-ed25519 ${b64(key1)}`;
    expect(check(text, '10.0.0.1', 22, key1)).toEqual({ status: 'known', line: 2 });
    expect(check(text, '10.0.0.1', 22, rsa1)).toEqual({ status: 'known', line: 1 });
  });

  it('does not know a host that no line names', () => {
    expect(check(`10.0.0.2 ssh-ed25519 ${b64(key1)}`, '10.0.0.1', 22, key1)).toEqual({ status: 'unknown' });
    expect(check('', '10.0.0.1', 22, key1)).toEqual({ status: 'unknown' });
  });

  it('reports a changed key with the line of the known key of that type', () => {
    const text = `# c\n10.0.0.1 ssh-rsa ${b64(rsa1)}\n10.0.0.1 ssh-ed25519 ${b64(key1)}`;
    expect(check(text, '10.0.0.1', 22, key2)).toEqual({ status: 'changed', line: 3, knownType: 'ssh-ed25519' });
  });

  it('treats a key of a type the host is not known by as changed, not new', () => {
    expect(check(`10.0.0.1 ssh-rsa ${b64(rsa1)}`, '10.0.0.1', 22, key1)).toEqual({ status: 'changed', line: 1, knownType: 'ssh-rsa' });
  });

  it('refuses a revoked key whatever host its line names, even when another line trusts it', () => {
    const text = `10.0.0.1 ssh-ed25519 ${b64(key1)}\n@revoked other-host ssh-ed25519 ${b64(key1)}`;
    expect(check(text, '10.0.0.1', 22, key1)).toEqual({ status: 'revoked', line: 2 });
  });

  it('ignores @cert-authority lines', () => {
    expect(check(`@cert-authority 10.0.0.1 ssh-ed25519 ${b64(key1)}`, '10.0.0.1', 22, key1)).toEqual({ status: 'unknown' });
  });

  it('lists the key types known for a host', () => {
    const text = `10.0.0.1 ssh-rsa ${b64(rsa1)}\n@revoked 10.0.0.1 ssh-ed25519 ${b64(key2)}\n10.0.0.2 ssh-ed25519 ${b64(key1)}`;
    expect(knownKeyTypes(parseKnownHosts(text), '10.0.0.1', 22)).toEqual(['ssh-rsa']);
  });
});

describe('keys', () => {
  it('reads the type out of a blob, and nothing out of a malformed one', () => {
    expect(keyTypeOf(key1)).toBe('ssh-ed25519');
    expect(keyTypeOf(rsa1)).toBe('ssh-rsa');
    expect(keyTypeOf(Buffer.from([0, 0, 0, 200, 1]))).toBe('');
    expect(keyTypeOf(Buffer.alloc(2))).toBe('');
  });

  it('prints the SHA256 fingerprint as ssh-keygen does: unpadded base64', () => {
    const expected = createHash('sha256').update(key1).digest('base64').replace(/=+$/, '');
    expect(fingerprint(key1)).toBe(`SHA256:${expected}`);
    expect(fingerprint(key1)).not.toMatch(/=$/);
  });

  it('writes a plain line that reads back as known', () => {
    const line = knownHostsLine('10.0.0.1', 2222, key1);
    expect(line).toBe(`[10.0.0.1]:2222 ssh-ed25519 ${b64(key1)}`);
    expect(checkHostKey(parseKnownHosts(line), '10.0.0.1', 2222, key1).status).toBe('known');
  });
});
