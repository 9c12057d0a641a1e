/**
 * A running service made to read files it depends on that changed, without the engine's plain
 * restart rule: Patroni reloads (a restart stops PostgreSQL), HAProxy reloads (a restart drops
 * connections), pgbouncer restarts, PostgreSQL runs pg_reload_conf() for pg_hba.conf. The content
 * hash last loaded is kept on the node, written after the reload: files written by an apply that died
 * before their reload (kill -9, a dropped connection) are reloaded by the next sync. Files written
 * again (edited by hand on the node) are reloaded again even when the record matches (plan.ts). A service
 * that Debian's package started with its own defaults before Corral wrote the files has no record
 * yet: `firstTime: 'restart'` restarts it then, so its first configuration is Corral's. Two modules
 * whose files one unit reads (HAProxy: NODE's haproxy.cfg, PGSQL's services) keep a record each.
 */
import { sh } from '../shell.js';
import { refTo, type Kind } from './kind.js';
import { sha256 } from './file.js';

export interface ReloadWant {
  /** The systemd unit. */
  name: string;
  /** Hash of the files the unit reads, as desired. */
  sha256: string;
  /** What a changed hash asks for: `record` only notes it (the unit reads the files at its next start). */
  action: 'reload' | 'restart' | 'record';
  /** What no record asks for: `record` when Corral itself started the unit with these files. */
  firstTime: 'restart' | 'reload' | 'record';
  /** The record's name, when it is not the unit's (another module's files the unit reads): also the resource's key. */
  record?: string;
  /**
   * What makes the service re-read the files, instead of `systemctl reload`. Run whether or not the
   * unit is active, so it must be harmless when the service does not run (pg_reload_conf() after a
   * `SELECT 1`: PostgreSQL runs under Patroni's unit, or none).
   */
  command?: string;
}

/** The record's hash of what a unit reads, in the order given: a file's content, or a name and content each. */
export const readHash = (parts: readonly string[]): string => sha256(parts.join('\0'));

const STATE_DIR = '/var/lib/corral/reloaded';
const SETTLE_SECONDS = 5;
const marker = (name: string): string => `${STATE_DIR}/${name}`;

export const reload: Kind<ReloadWant, { sha256: string }, 'reload'> = {
  name: 'reload',
  id: (w) => refTo(reload, w.record ?? w.name),
  probe: (w) => sh`cat ${marker(w.record ?? w.name)} 2>/dev/null || true`,
  parse: (out) => (out.trim() ? { sha256: out.trim() } : null),
  diff: (w, h) => (h?.sha256 === w.sha256 ? [] : [{ field: 'config', from: h?.sha256.slice(0, 12) ?? null, to: w.sha256.slice(0, 12) }]),
  // A unit that is not running reads the files when it starts: only the record is written. A unit
  // that has just started may not handle SIGHUP yet (Patroni dies of it): it gets a few seconds first.
  apply: (w, h) => {
    const action = h ? w.action : w.firstTime;
    const record = [sh`mkdir -p ${STATE_DIR}`, sh`echo ${w.sha256} > ${marker(w.record ?? w.name)}`];
    if (action === 'reload' && w.command) return [w.command, ...record].join('\n');
    const act =
      action === 'restart'
        ? [sh`  systemctl restart ${w.name}`]
        : action === 'reload'
          ? [
              sh`  since=$(systemctl show --timestamp=unix -p ActiveEnterTimestamp --value ${w.name} | tr -d @)`,
              `  age=$(( $(date +%s) - \${since:-0} ))`,
              `  if [ "$age" -lt ${SETTLE_SECONDS} ]; then sleep $(( ${SETTLE_SECONDS} - age )); fi`,
              sh`  systemctl reload ${w.name}`,
            ]
          : ['  true'];
    return [sh`if systemctl is-active -q ${w.name}; then`, ...act, 'fi', ...record].join('\n');
  },
  effects: (w, h) => ({ restarts: (h ? w.action : w.firstTime) === 'restart' }),
};
