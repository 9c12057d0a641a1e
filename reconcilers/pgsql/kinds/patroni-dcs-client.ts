/**
 * Patroni reads its etcd settings (hosts, TLS, login) only when it starts: a reload keeps the old
 * ones. Patroni's unit records the settings each start read (a hash of patroni.yml's `etcd3:`
 * section, written by ExecStartPre), so the settings a running Patroni uses are known. When they
 * differ from patroni.yml's, the member's Patroni restarts with the cluster paused (maintenance
 * mode), so PostgreSQL keeps running and no failover happens; the cluster resumes once every
 * member talks to the DCS again. A cluster whose etcd itself moves (plain http to TLS) is paused
 * before etcd moves: `patroni-pause`, on the primary.
 */
import { sh } from '../../../src/engine/shell.js';
import { keyValues, refTo, type Kind, type Unsupported } from '../../../src/engine/resources/kind.js';
import { patroniCtl, restJson, restProbe, type PatroniTarget } from './patroni-api.js';

/** Where Patroni's unit records the etcd settings it started with (see patroniUnit). */
export const DCS_CLIENT_RECORD = '/var/lib/corral/patroni-dcs-client';

/** Shell printing the hash of the `etcd3:` section of a patroni.yml, as the unit records it at each start. */
export const dcsSectionHash = (path: string): string => `awk '/^etcd3:/{f=1;print;next} f&&/^[^ ]/{exit} f{print}' ${path} | sha256sum | cut -d' ' -f1`;

interface DcsClientWant extends PatroniTarget {
  /** Hash of the `etcd3:` section of the patroni.yml Corral writes. */
  dcsSha: string;
  timeoutSeconds: number;
  /**
   * When the etcd cluster is not in this run: why Patroni must not move to it yet if it still speaks
   * plain http (its move to TLS needs both in one run), and its plain client URLs to ask.
   */
  heldWhilePlain?: { why: string; urls: string[] };
}

export interface PatroniDcsRestartWant extends DcsClientWant {
  name: string;
  /** REST URLs of the cluster's other members: the cluster resumes once each talks to the DCS again. */
  others: string[];
  /** How recent a member's last word with the DCS must be to count (a few loop_waits). */
  freshSeconds: number;
}

export interface PatroniPauseWant extends DcsClientWant {
  cluster: string;
}

interface DcsClientHave {
  /** The hash of the settings the running Patroni started with; `unknown` when its unit recorded none. */
  running: string;
  /** The member runs paused (its own view: one that lost its DCS keeps the last it saw). */
  paused: boolean;
}

/**
 * Nothing while Patroni is not running: it reads patroni.yml when it starts. A Patroni its unit did
 * not record (started by an older unit, or by the package's before Corral's was in place) runs the
 * file's settings if it started after the file last changed; otherwise what it runs is unknown.
 */
const probe = (w: DcsClientWant): string =>
  [
    'if systemctl is-active -q patroni; then',
    `  if [ -r ${DCS_CLIENT_RECORD} ]; then r=$(cat ${DCS_CLIENT_RECORD})`,
    '  else',
    "    since=$(systemctl show --timestamp=unix -p ActiveEnterTimestamp --value patroni | tr -d @); since=${since%.*}",
    `    if [ "\${since:-0}" -ge "$(stat -L -c %Y ${w.config} 2>/dev/null || echo 0)" ]; then r=$(${dcsSectionHash(w.config)}); else r=unknown; fi`,
    '  fi',
    '  echo "dcs-client=$r"',
    `  ${restProbe(w, { patroni: '/patroni' })}`,
    ...(w.heldWhilePlain ? [`  for u in ${sh`${w.heldWhilePlain.urls}`}; do if curl -s -m 2 "$u/version" | grep -q etcdserver; then echo etcd-plain=yes; break; fi; done`] : []),
    'fi',
  ].join('\n');

const parse = (out: string, w: DcsClientWant): DcsClientHave | Unsupported | null => {
  const kv = keyValues(out);
  const running = kv.get('dcs-client');
  if (!running) return null;
  if (w.heldWhilePlain && kv.get('etcd-plain') === 'yes' && running !== w.dcsSha) return { unsupported: `etcd still speaks plain http: ${w.heldWhilePlain.why}` };
  return { running, paused: restJson<{ pause?: boolean }>(kv, 'patroni')?.pause === true };
};

const stale = (w: DcsClientWant, h: DcsClientHave | null): h is DcsClientHave => h !== null && h.running !== w.dcsSha;
const shortSha = (s: string): string => (s === 'unknown' ? 'not recorded (started before Corral recorded it)' : s.slice(0, 12));

export const patroniDcsRestart: Kind<PatroniDcsRestartWant, DcsClientHave, 'patroni-dcs-restart'> = {
  name: 'patroni-dcs-restart',
  id: (w) => refTo(patroniDcsRestart, w.name),
  probe,
  parse,
  diff: (w, h) => (stale(w, h) ? [{ field: 'etcd settings read at start', from: shortSha(h.running), to: `${w.dcsSha.slice(0, 12)} (Patroni restarts paused; PostgreSQL keeps running)` }] : []),
  apply: (w) => patroniCtl(w.config, 'dcs-restart', DCS_CLIENT_RECORD, w.dcsSha, JSON.stringify(w.others), w.timeoutSeconds, w.freshSeconds),
  effects: () => ({ restarts: true }),
};

export const patroniPause: Kind<PatroniPauseWant, DcsClientHave, 'patroni-pause'> = {
  name: 'patroni-pause',
  id: (w) => refTo(patroniPause, w.cluster),
  probe,
  parse,
  diff: (w, h) => (stale(w, h) && !h.paused ? [{ field: 'maintenance mode', from: 'off', to: 'on while Patroni restarts to read new etcd settings (lifted once every member has)' }] : []),
  apply: (w) => patroniCtl(w.config, 'pause', w.timeoutSeconds),
};

/** The unit line that records, at each start, the etcd settings Patroni reads. */
export const dcsClientRecordUnitLine = `ExecStartPre=+/bin/sh -c "mkdir -p /var/lib/corral && ${dcsSectionHash('/etc/patroni/patroni.yml')} > ${DCS_CLIENT_RECORD}"`;
