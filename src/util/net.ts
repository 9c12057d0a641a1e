import { isIP, isIPv4 } from 'node:net';

export function ipv4ToInt(ip: string): number | undefined {
  if (!isIPv4(ip)) return undefined;
  return ip.split('.').reduce((n, part) => n * 256 + Number(part), 0);
}

/** `a.b.c.d/nn` (IPv4) with a valid prefix; undefined otherwise. */
export function parseCidr4(text: string): { ip: string; prefix: number } | undefined {
  const m = /^([0-9.]+)\/(\d{1,2})$/.exec(text.trim());
  if (!m || !isIPv4(m[1]!) || Number(m[2]) > 32) return undefined;
  return { ip: m[1]!, prefix: Number(m[2]) };
}

export function sameNetwork(a: string, b: string, prefix: number): boolean {
  const x = ipv4ToInt(a);
  const y = ipv4ToInt(b);
  if (x === undefined || y === undefined) return false;
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return ((x & mask) >>> 0) === ((y & mask) >>> 0);
}

/** An address or network as pg_hba.conf takes it: an IP, or an IP with a prefix length. */
export function isAddressOrCidr(text: string): boolean {
  const [ip, prefix, extra] = text.split('/');
  if (extra !== undefined || !ip || !isIP(ip)) return false;
  if (prefix === undefined) return true;
  if (!/^\d{1,3}$/.test(prefix)) return false;
  return Number(prefix) <= (isIPv4(ip) ? 32 : 128);
}

export { isIPv4 };
