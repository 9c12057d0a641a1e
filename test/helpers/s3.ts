/**
 * A real S3 API for pgBackRest to back up to: s3rver (npm), over TLS only, with a certificate for a DNS
 * name from the lab's CA, and the access key pgBackRest signs its requests with (s3rver checks the
 * signatures: a wrong secret is refused).
 */
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openAuthority } from '../../src/pki/authority.js';

const require = createRequire(import.meta.url);

interface S3rverServer {
  run(): Promise<{ port: number }>;
  close(): Promise<void>;
}
type S3rverClass = new (options: Record<string, unknown>) => S3rverServer;
interface Account {
  DUMMY_ACCOUNT: { createKeyPair(id: string, secret: string): void };
}

export interface S3Server {
  port: number;
  /** Where s3rver keeps the objects: each bucket a folder. */
  directory: string;
  close(): Promise<void>;
}

export interface S3Options {
  /** The address to listen on: the lab host's, which the nodes reach. */
  address: string;
  /** The DNS name in the certificate, which the nodes resolve to `address`. */
  name: string;
  /** The CA folder (the lab's: its ca.crt is on every node). */
  pkiDir: string;
  accessKey: string;
  secretKey: string;
  buckets: string[];
}

export async function startS3(o: S3Options): Promise<S3Server> {
  const ca = await openAuthority(o.pkiDir, { create: true });
  const id = `test/s3-${o.name}`;
  const cert = (await ca.issue([{ id, commonName: o.name, organizationalUnit: 's3', dns: [o.name], ips: [o.address], validityDays: 30 }])).get(id)!;
  const S3rver = require('s3rver') as S3rverClass;
  (require('s3rver/lib/models/account') as Account).DUMMY_ACCOUNT.createKeyPair(o.accessKey, o.secretKey);
  const directory = mkdtempSync(join(tmpdir(), 'corral-s3-'));
  // Path-style only: pgBackRest's Host (the DNS name) would otherwise be read as a bucket's name.
  const server = new S3rver({ address: o.address, port: 0, key: cert.key, cert: cert.certificate, silent: true, vhostBuckets: false, directory, configureBuckets: o.buckets.map((name) => ({ name })) });
  const { port } = await server.run();
  return {
    port,
    directory,
    close: async () => {
      await server.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
