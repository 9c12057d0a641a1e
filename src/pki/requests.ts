/** What modules share to ask for a member's certificate: Pigsty's SANs and its cert_validity. */
import { isIP } from 'node:net';
import type { CertificateRequest } from './authority.js';

const DAY_UNITS: Record<string, number> = { d: 1, w: 7, y: 365, h: 1 / 24 };

/** Pigsty's cert_validity (`7300d`, `20y`, `8760h`) in whole days, from one day to a hundred years (what the CA issues). */
export function validityDays(text: string | undefined): number {
  const m = /^([0-9]+(?:\.[0-9]+)?)(d|w|y|h)?$/.exec(text ?? '7300d');
  return m ? Math.min(36_500, Math.max(1, Math.round(Number(m[1]) * DAY_UNITS[m[2] ?? 'd']!))) : 7300;
}

/**
 * A member's certificate as Pigsty issues it: for its address (an IP or a name), 127.0.0.1 and
 * localhost, and the given names (`<cls>-<seq>`, the cluster's name).
 */
export function memberCertificate(o: { id: string; address: string; commonName: string; organizationalUnit: string; names: string[]; validity: string | undefined }): CertificateRequest {
  const ips = ['127.0.0.1', ...(isIP(o.address) ? [o.address] : [])];
  const dns = ['localhost', ...(isIP(o.address) ? [] : [o.address]), ...o.names];
  return { id: o.id, commonName: o.commonName, organizationalUnit: o.organizationalUnit, dns: [...new Set(dns)], ips: [...new Set(ips)], validityDays: validityDays(o.validity) };
}
