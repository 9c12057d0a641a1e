/** HMAC signatures and shared tokens, compared in constant time over the raw request bytes. */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export const hmacHex = (secret: string, raw: Buffer | string): string => createHmac('sha256', secret).update(raw).digest('hex');

/**
 * Equal strings, in time that depends on neither content nor length: both sides are hashed first,
 * so timingSafeEqual always compares 32 bytes.
 */
export function sameSecret(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** `sha256=<hex>` (GitHub, generic) or plain `<hex>` (Gitea) against HMAC-SHA256(secret, raw). */
export function validHmac(given: string | undefined, raw: Buffer, secret: string, prefix = ''): boolean {
  if (given === undefined || !given.startsWith(prefix)) return false;
  return sameSecret(given.slice(prefix.length).toLowerCase(), hmacHex(secret, raw));
}
