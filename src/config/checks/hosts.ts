/** Rules about hosts as machines: their addresses, and the ports their services listen on. */
import { problem, type Problem } from '../problems.js';
import type { HostView } from '../hosts.js';
import { clusterUnder } from '../clusters.js';
import { modules } from '../../engine/modules.js';
import { isIPv4 } from '../../util/net.js';
import { addListener, type Check, type Listener } from './context.js';

function listeners(h: HostView): Listener[] {
  const out: Listener[] = [];
  for (const d of modules().descriptors) {
    if (clusterUnder(d.membership, h) === undefined) continue;
    for (const [param, enabled] of d.ports ?? []) {
      if (enabled === null || h.get(enabled) !== false) addListener(out, h.get(param), param, h.origin(param));
    }
    out.push(...(d.listeners?.(h) ?? []));
  }
  return out;
}

export const portClashes: Check = (ctx) => {
  const out: Problem[] = [];
  for (const h of ctx.hosts) {
    const first = new Map<number, Listener>();
    for (const l of listeners(h)) {
      const seen = first.get(l.port);
      if (!seen) first.set(l.port, l);
      else if (seen.what !== l.what) {
        out.push(problem('host/port-clash', l.at, `port ${l.port} on ${h.name} is taken by both ${seen.what} and ${l.what}`, { related: seen.at }));
      }
    }
  }
  return out;
};

/**
 * In Pigsty a host's inventory name is its IPv4 address: the identity written into every config
 * (Patroni, etcd peers, HAProxy backends). `ansible_host` only says how to reach it over SSH.
 */
export const hostAddresses: Check = (ctx) => {
  const out: Problem[] = [];
  const owner = new Map<string, HostView>();
  for (const h of ctx.hosts) {
    const needsIp = modules().descriptors.some((d) => d.needsAddress && clusterUnder(d.membership, h) !== undefined);
    if (!isIPv4(h.name)) {
      out.push(problem('host/bad-address', h.def.at, `host "${h.name}" is not named by its IPv4 address${needsIp ? '; its modules need one' : ''}`, { severity: needsIp ? 'error' : 'warning' }));
    }
    // Two hosts behind one address on different SSH ports (NAT, a bastion) are two machines.
    const reach = `${h.address}:${h.int('ansible_port') ?? 22}`;
    const other = owner.get(reach);
    const at = h.has('ansible_host') ? h.origin('ansible_host') : h.def.at;
    if (other) out.push(problem('host/duplicate-ip', at, `${h.name} and ${other.name} are both reached at ${h.address}`, { related: other.def.at }));
    else owner.set(reach, h);
  }
  return out;
};
