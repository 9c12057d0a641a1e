/** Sync policies from corral.yml: defaults, then per-cluster overrides. The safe choice is the zero value. */
import type { Settings } from '../config/settings.js';
import type { ClusterPolicy } from './types.js';

export const SAFE_POLICY: ClusterPolicy = { sync: 'manual', prune: false, selfHeal: false, suspend: false, driftIntervalSeconds: 300 };

/** `30s`, `5m`, `1h` in seconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+)(s|m|h)$/.exec(text.trim());
  if (!m) throw new Error(`not a duration: "${text}" (write 30s, 5m or 1h)`);
  return Number(m[1]) * { s: 1, m: 60, h: 3600 }[m[2] as 's' | 'm' | 'h'];
}

export function policyFor(settings: Settings, cluster: string): ClusterPolicy {
  const merged = { ...settings.sync.defaults, ...settings.sync.clusters?.[cluster] };
  return {
    sync: merged.sync ?? SAFE_POLICY.sync,
    prune: merged.prune ?? SAFE_POLICY.prune,
    selfHeal: merged.selfHeal ?? SAFE_POLICY.selfHeal,
    suspend: merged.suspend ?? SAFE_POLICY.suspend,
    driftIntervalSeconds: merged.driftInterval ? parseDuration(merged.driftInterval) : SAFE_POLICY.driftIntervalSeconds,
  };
}

export function pollSeconds(settings: Settings | undefined): number {
  return settings?.sync.pollInterval ? parseDuration(settings.sync.pollInterval) : 60;
}
