/**
 * Where the daemon runs, as INFRA needs it to scrape the daemon's /metrics from an infra node on
 * the same machine: the machine's addresses and the address a local scraper reaches the listener at.
 */
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';
import type { Controller } from '../engine/reconciler.js';

/** Addresses a listener on any of them is also reached at through loopback. */
const WILDCARD = new Set(['0.0.0.0', '::', '127.0.0.1', '::1', 'localhost']);

export function controllerOf(listen: { host: string; port: number }, interfaces: NodeJS.Dict<NetworkInterfaceInfo[]> = networkInterfaces()): Controller {
  const addresses = [...new Set(Object.values(interfaces).flatMap((list) => (list ?? []).filter((i) => !i.internal).map((i) => i.address)))].sort();
  const host = WILDCARD.has(listen.host) ? '127.0.0.1' : listen.host.includes(':') ? `[${listen.host}]` : listen.host;
  return { addresses, metrics: `${host}:${listen.port}` };
}
