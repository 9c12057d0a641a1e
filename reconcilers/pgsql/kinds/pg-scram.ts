/**
 * PostgreSQL password verifiers, computed and checked in TypeScript so that a plain password is
 * compared by hash and never travels to a node: the node gets the verifier, as PostgreSQL accepts
 * a pre-hashed password in CREATE/ALTER ROLE ... PASSWORD.
 */
import { createHash, createHmac, pbkdf2Sync, timingSafeEqual } from 'node:crypto';

export const SCRAM_ITERATIONS = 4096;

const hmac = (key: Buffer, text: string): Buffer => createHmac('sha256', key).update(text, 'utf8').digest();
const sha256 = (data: Buffer): Buffer => createHash('sha256').update(data).digest();

/** PostgreSQL's SCRAM-SHA-256 verifier: `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`. */
export function scramVerifier(password: string, salt: Buffer, iterations = SCRAM_ITERATIONS): string {
  const salted = pbkdf2Sync(password.normalize('NFKC'), salt, iterations, 32, 'sha256');
  const storedKey = sha256(hmac(salted, 'Client Key'));
  const serverKey = hmac(salted, 'Server Key');
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

/**
 * The verifier Corral sets for a plain password: its salt is derived from the cluster, the role and
 * the password, so the same inputs give the same verifier on every run (a random salt would make
 * every plan a change) and pgbouncer's userlist can hold exactly what the server holds, which its
 * SCRAM pass-through requires.
 */
export function stableScramVerifier(password: string, cluster: string, role: string): string {
  const salt = createHmac('sha256', password).update(`corral-scram-salt\0${cluster}\0${role}`).digest().subarray(0, 16);
  return scramVerifier(password, salt);
}

/** PostgreSQL's md5 form: 'md5' + md5(password || username). */
export const md5Verifier = (password: string, role: string): string => `md5${createHash('md5').update(password + role, 'utf8').digest('hex')}`;

const SCRAM = /^SCRAM-SHA-256\$(\d+):([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)$/;
export const isScram = (s: string): boolean => SCRAM.test(s);
export const isMd5 = (s: string): boolean => /^md5[0-9a-f]{32}$/.test(s);

/** Does a stored verifier (pg_authid.rolpassword) accept this plain password? */
export function verifies(stored: string, password: string, role: string): boolean {
  if (isMd5(stored)) return stored === md5Verifier(password, role);
  const m = SCRAM.exec(stored);
  if (!m) return false;
  const expected = Buffer.from(m[3]!, 'base64');
  const computed = Buffer.from(SCRAM.exec(scramVerifier(password, Buffer.from(m[2]!, 'base64'), Number(m[1])))![3]!, 'base64');
  return expected.length === computed.length && timingSafeEqual(expected, computed);
}
