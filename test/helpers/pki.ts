/** One certificate authority per test process (a real one: openssl), in a temp folder. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Validated } from '../../src/config/validate.js';
import type { Certificates } from '../../src/engine/reconciler.js';
import { issueCertificates } from '../../src/engine/run.js';
import { openAuthority, type CertificateIssuer } from '../../src/pki/authority.js';

let authority: Promise<CertificateIssuer> | undefined;

export const testPkiDir = (): string => mkdtempSync(join(tmpdir(), 'corral-pki-'));

export function testAuthority(): Promise<CertificateIssuer> {
  return (authority ??= openAuthority(testPkiDir(), { create: true }));
}

/** The certificates every cluster of the inventory asks for. */
export async function certificatesFor(v: Validated): Promise<Certificates> {
  return issueCertificates(v, v.hosts, await testAuthority());
}
