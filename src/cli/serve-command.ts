/**
 * `corral serve`'s options, and the command itself as the entry point hands it over: the daemon
 * with its forge side lives in webhooks/serve.ts, which the CLI never imports.
 */
import type { Output } from './output.js';

/** `--log-format`'s values (src/util/log.ts writes them); here, so that parsing the command line does not load the logger. */
export const LOG_FORMATS = ['auto', 'pretty', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export interface ServeOptions {
  repo?: string;
  branch: string;
  watch?: string;
  stateDir: string;
  pkiDir?: string;
  ageIdentity?: string;
  requireEncryptedSecrets: boolean;
  listen: string;
  sshUser?: string;
  sshKey?: string;
  knownHosts?: string;
  acceptNewHostKeys?: boolean;
  gitTokenFile?: string;
  forge?: 'github' | 'gitlab' | 'gitea';
  forgeApi?: string;
  forgeRepo?: string;
  forgeTokenFile?: string;
  forgeLogin?: string;
  previewForks: boolean;
  allowLocalPreviews: boolean;
  webhookSecretFile?: string[];
  slackWebhookFile?: string;
  notifyWebhook?: string[];
  notifySecretFile?: string;
  publicUrl?: string;
  /** Daemons sharing the fleet: etcd's client URLs, comma-separated. */
  etcd?: string;
  etcdCa?: string;
  etcdUser?: string;
  etcdPasswordFile?: string;
  leaseTtl: string;
  name?: string;
  logLevel: string;
  /** Pretty lines on a terminal, JSON otherwise (auto); or always one of them. */
  logFormat: LogFormat;
}

export type ServeCommand = (opts: ServeOptions, out: Output, version: string) => Promise<number>;

let serve: ServeCommand | undefined;

/** Called once by each entry point (bin/corral.js, the test setup). */
export function useServeCommand(command: ServeCommand): void {
  serve = command;
}

export function serveCommand(opts: ServeOptions, out: Output, version: string): Promise<number> {
  if (!serve) throw new Error('no serve command: the entry point must call useServeCommand first');
  return serve(opts, out, version);
}
