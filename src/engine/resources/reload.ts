/**
 * A reload of a running service after files it reads changed (`systemctl reload`), for services
 * whose restart would cost more than a config change needs: Patroni (a restart stops PostgreSQL),
 * HAProxy (it drops connections). The content hash last reloaded is kept on the node.
 */
import { sh } from '../shell.js';
import type { Kind } from './kind.js';

export interface ReloadWant {
  /** The systemd unit. */
  name: string;
  /** Hash of the files the unit reads, as desired. */
  sha256: string;
}

const STATE_DIR = '/var/lib/corral/reloaded';
const SETTLE_SECONDS = 5;
const marker = (name: string): string => `${STATE_DIR}/${name}`;

export const reload: Kind<ReloadWant, { sha256: string }> = {
  id: (w) => `reload:${w.name}`,
  probe: (w) => sh`cat ${marker(w.name)} 2>/dev/null || true`,
  parse: (out) => (out.trim() ? { sha256: out.trim() } : null),
  diff: (w, h) => (h?.sha256 === w.sha256 ? [] : [{ field: 'config', from: h?.sha256.slice(0, 12) ?? null, to: w.sha256.slice(0, 12) }]),
  // A unit that is not running reads the files when it starts: only the record is written. A unit
  // that has just started may not handle SIGHUP yet (Patroni dies of it): it gets a few seconds first.
  apply: (w) =>
    [
      sh`if systemctl is-active -q ${w.name}; then`,
      sh`  since=$(systemctl show --timestamp=unix -p ActiveEnterTimestamp --value ${w.name} | tr -d @)`,
      `  age=$(( $(date +%s) - \${since:-0} ))`,
      `  if [ "$age" -lt ${SETTLE_SECONDS} ]; then sleep $(( ${SETTLE_SECONDS} - age )); fi`,
      sh`  systemctl reload ${w.name}`,
      'fi',
      sh`mkdir -p ${STATE_DIR}`,
      sh`echo ${w.sha256} > ${marker(w.name)}`,
    ].join('\n'),
};
