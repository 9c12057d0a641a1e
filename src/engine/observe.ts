/**
 * Observing a host costs one exec: every resource's probe and the facts probe are joined into one
 * script, each section behind a marker, and the output is split back by those markers.
 */
import { randomBytes } from 'node:crypto';
import type { Transport, Target } from '../transport/types.js';
import { TransportError } from '../transport/types.js';
import { FACTS_PROBE, parseFacts } from './facts.js';
import { kindOf } from './resources/index.js';
import type { HostDesired, Observation } from './model.js';

export function observeScript(resources: HostDesired['resources'], nonce: string): string {
  // Each marker starts on a line of its own even when a probe's output ends without a newline.
  const mark = (label: string | number): string => `printf '\\n@@corral-${nonce}:${label}\\n'`;
  const parts = ['export LC_ALL=C', mark('facts'), `(\n${FACTS_PROBE}\n) 2>/dev/null`];
  resources.forEach((r, i) => {
    const kind = kindOf(r.kind);
    parts.push(mark(i), `(\n${kind.probe(r.want)}\n) 2>/dev/null`);
  });
  parts.push(mark('end'));
  return parts.join('\n');
}

/** Split the script's output back into sections, each exactly what its probe printed; no end marker means the output was cut short. */
export function splitSections(stdout: string, nonce: string): Map<string, string> | undefined {
  const marker = new RegExp(`\\n@@corral-${nonce}:(\\w+)\\n`, 'g');
  const sections = new Map<string, string>();
  let label: string | undefined;
  let from = 0;
  for (const m of stdout.matchAll(marker)) {
    if (label !== undefined) sections.set(label, stdout.slice(from, m.index));
    label = m[1]!;
    from = m.index + m[0].length;
    if (label === 'end') return sections;
  }
  return undefined;
}

export function parseObservation(host: HostDesired, stdout: string, nonce: string, durationMs: number): Observation {
  const sections = splitSections(stdout, nonce);
  if (!sections) return { host: host.host, ok: false, error: 'the observation script did not finish (output cut short)', errorKind: 'disconnected' };
  const states: Record<string, unknown> = {};
  host.resources.forEach((r, i) => {
    const kind = kindOf(r.kind);
    states[kind.id(r.want)] = kind.parse(sections.get(String(i)) ?? '', r.want);
  });
  return { host: host.host, ok: true, facts: parseFacts(sections.get('facts') ?? ''), states, durationMs };
}

export async function observeHost(transport: Transport, host: HostDesired, target: Target = host.target): Promise<Observation> {
  const nonce = randomBytes(6).toString('hex');
  try {
    const result = await transport.exec(target, observeScript(host.resources, nonce), { timeoutMs: 120_000 });
    return parseObservation(host, result.stdout, nonce, result.durationMs);
  } catch (e) {
    if (e instanceof TransportError) return { host: host.host, ok: false, error: e.message, errorKind: e.kind };
    throw e;
  }
}

/** All hosts in parallel (the transport bounds the concurrency). */
export async function observe(transport: Transport, hosts: readonly HostDesired[]): Promise<Observation[]> {
  return Promise.all(hosts.map((h) => observeHost(transport, h)));
}
