// Host key checking for one connection: reads the known_hosts file, judges the key ssh2 hands over,
// and under accept-new records a new host once the connection is up.
import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { checkHostKey, fingerprint, keyTypeLabel, keyTypeOf, knownHostsLine, knownHostsName, knownKeyTypes, parseKnownHosts, type KnownHostsEntry } from './known-hosts.js';
import { TransportError } from './types.js';
import type { HostKeyPolicy } from './types.js';

export interface HostKeyCheck {
  /** Host key algorithms in the order to offer them: those of keys already known first. */
  algorithms: string[];
  /** For ssh2's hostVerifier (raw key blob). False refuses the connection; `error` then says why. */
  verify(key: Buffer): boolean;
  error: TransportError | undefined;
  /** Call once the connection is authenticated: appends a key accepted as new. */
  commit(): void;
}

const ALGORITHMS = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'];
const keyTypeOfAlgorithm = (algorithm: string): string => (algorithm.startsWith('rsa-sha2-') ? 'ssh-rsa' : algorithm);

/** No file yet is an empty file: every host is unknown. */
function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw err;
  }
}

/** The last parse of each file, with the text it was made from. */
const parsed = new Map<string, { text: string; entries: KnownHostsEntry[] }>();

/**
 * The file's entries, read at every connection (an edit or an accept-new line counts at once) but
 * parsed again only when the text changed: a thousand hosts connecting at once do not parse a
 * thousand-line file a thousand times.
 */
function readEntries(file: string): KnownHostsEntry[] {
  const text = readText(file);
  const last = parsed.get(file);
  if (last?.text === text) return last.entries;
  const entries = parseKnownHosts(text);
  parsed.set(file, { text, entries });
  return entries;
}

export function hostKeyCheck(policy: HostKeyPolicy, target: { name: string; address: string; port: number }): HostKeyCheck {
  const file = policy.knownHostsFile;
  const entries = readEntries(file);
  const known = knownKeyTypes(entries, target.address, target.port);
  const preferred = ALGORITHMS.filter((a) => known.includes(keyTypeOfAlgorithm(a)));
  const where = `${target.name} (${target.address}:${target.port})`;
  let pending: string | undefined;

  const check: HostKeyCheck = {
    algorithms: [...preferred, ...ALGORITHMS.filter((a) => !preferred.includes(a))],
    error: undefined,
    verify(key) {
      const verdict = checkHostKey(entries, target.address, target.port, key);
      const seen = `${keyTypeLabel(keyTypeOf(key))} key ${fingerprint(key)}`;
      switch (verdict.status) {
        case 'known':
          return true;
        case 'unknown':
          if (policy.mode === 'accept-new') {
            pending = knownHostsLine(target.address, target.port, key);
            return true;
          }
          check.error = new TransportError(
            'hostkey-unknown',
            target.name,
            `${where}: host key not known: the host offered ${seen}, and ${file} has no key for ${knownHostsName(target.address, target.port)}. ` +
              `Nothing was run. If that fingerprint is the host's, add its key: ssh-keyscan -p ${target.port} ${target.address} >> ${file} ` +
              `(compare with ssh-keygen -lf on the host's /etc/ssh/ssh_host_*_key.pub), or use host key mode 'accept-new' to trust new hosts on first contact.`,
          );
          return false;
        case 'revoked':
          check.error = new TransportError(
            'hostkey-changed',
            target.name,
            `${where}: the host offered ${seen}, which ${file}:${verdict.line} marks @revoked. Nothing was run. ` +
              'The host must get a new host key; refusing the revoked one.',
          );
          return false;
        case 'changed':
          check.error = new TransportError(
            'hostkey-changed',
            target.name,
            `${where}: HOST KEY CHANGED: the host offered ${seen}, but ${file}:${verdict.line} holds a different ${keyTypeLabel(verdict.knownType)} key for it. ` +
              'Someone may be intercepting the connection (man-in-the-middle), or the host was reinstalled. Nothing was run. ' +
              `If the change is expected, remove the old key (ssh-keygen -R '${knownHostsName(target.address, target.port)}' -f ${file}) and add the new one.`,
          );
          return false;
      }
    },
    commit() {
      if (pending === undefined) return;
      mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
      // A last line without its newline would swallow ours.
      const before = readText(file);
      const separator = before && !before.endsWith('\n') ? '\n' : '';
      appendFileSync(file, `${separator}${pending}\n`, { mode: 0o600 });
      pending = undefined;
    },
  };
  return check;
}
