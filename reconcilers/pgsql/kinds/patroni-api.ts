/**
 * Talking to Patroni from a node: probes read its REST API with curl (no auth needed to read);
 * changes go through a small Python program run on the node (patroni_ctl.py, beside this module;
 * Patroni's own interpreter and YAML module), which takes the REST address and credentials from
 * patroni.yml, so no secret is ever part of a script's text.
 */
import { readFileSync } from 'node:fs';
import { sh } from '../../../src/engine/shell.js';
import { shippedFile } from '../../../src/util/package-root.js';

/** Where each Patroni kind finds the node's Patroni. */
export interface PatroniTarget {
  /** patroni.yml on the node. */
  config: string;
  /** REST base URL, `http://10.213.0.11:8008` (https with patroni_ssl_enabled). */
  api: string;
  /** The CA file on the node that the REST API's certificate chains to, when it serves https. */
  caFile?: string;
}

/** curl against a Patroni REST URL, trusting the node's CA file when the API serves https. */
export const restCurl = (t: Pick<PatroniTarget, 'caFile'>, flags: string, url: string): string => ['curl', flags, ...(t.caFile ? [sh`--cacert ${t.caFile}`] : []), sh`-m 3 ${url}`].join(' ');

/** Prints `<label>=<one line of JSON>` for each REST path, nothing for a path that does not answer. */
export function restProbe(t: Pick<PatroniTarget, 'api' | 'caFile'>, paths: Record<string, string>): string {
  return Object.entries(paths)
    .map(([label, path]) => `v=$(${restCurl(t, '-s', t.api + path)} | tr -d '\n') && [ -n "$v" ] && ` + sh`printf '%s=%s\n' ${label} "$v"`)
    .join('; ') + '; true';
}

/** The JSON a probe printed under a label, or undefined. */
export function restJson<T>(kv: Map<string, string>, label: string): T | undefined {
  const text = kv.get(label);
  if (!text) return undefined;
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}

let program: string | undefined;
/** The program's text, read once from beside this module (the build copies it to dist/: tsc does not). */
const patroniProgram = (): string => (program ??= readFileSync(shippedFile(import.meta.url, './patroni_ctl.py', 'reconcilers/pgsql/kinds/patroni_ctl.py'), 'utf8').trim());

/** Shell that runs one command of the program against the node's Patroni. */
export function patroniCtl(config: string, command: string, ...args: (string | number)[]): string {
  return `python3 - ${sh`${config} ${command} ${args}`} <<'CORRAL_PATRONI'\n${patroniProgram()}\nCORRAL_PATRONI`;
}
