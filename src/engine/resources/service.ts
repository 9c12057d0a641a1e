/**
 * A systemd unit: enabled at boot and running, or stopped. Restarts triggered by changed config
 * files are planned by the engine (a resource's `deps` that changed), not here. Such a restart is
 * recorded on the node before the file is written (`/var/lib/corral/restart/<unit>`) and the record
 * removed once the unit restarted: an apply that died in between (a kill -9 of the daemon, a dropped
 * connection) leaves the record, and the next plan restarts the unit though the file is as wanted.
 */
import { sh } from '../shell.js';
import { keyValues, refTo, type Kind } from './kind.js';

export interface ServiceWant {
  name: string;
  enabled: boolean;
  running: boolean;
}

export interface ServiceHave {
  enabled: boolean;
  running: boolean;
  /** A restart was recorded before a file it reads was written, and has not happened since. */
  pendingRestart?: boolean;
}

const unit = (name: string): string => (name.includes('.') ? name : `${name}.service`);
const PENDING_DIR = '/var/lib/corral/restart';
const pendingMarker = (name: string): string => `${PENDING_DIR}/${unit(name)}`;

export const service: Kind<ServiceWant, ServiceHave, 'service'> = {
  name: 'service',
  id: (w) => refTo(service, w.name),
  probe: (w) =>
    sh`systemctl show -p LoadState -p ActiveState -p UnitFileState -p ConditionResult -p ConditionTimestampMonotonic ${unit(w.name)} 2>/dev/null || true\n` +
    sh`if [ -e ${pendingMarker(w.name)} ]; then echo pending=1; fi`,
  parse: (out, w) => {
    const kv = keyValues(out);
    if (kv.get('LoadState') !== 'loaded') return null;
    // systemd skips a unit whose start condition fails (chrony without CAP_SYS_TIME in a
    // container): it can never run here, so it is reported rather than retried forever.
    if (kv.get('ConditionResult') === 'no' && kv.get('ConditionTimestampMonotonic') !== '0' && kv.get('ActiveState') !== 'active' && w.running) {
      return { unsupported: `systemd skips ${unit(w.name)} on this node: a start condition of the unit is not met (a container without the needed capability?)` };
    }
    const enabled = ['enabled', 'enabled-runtime', 'static', 'alias', 'indirect', 'generated'].includes(kv.get('UnitFileState') ?? '');
    return { enabled, running: ['active', 'activating', 'reloading'].includes(kv.get('ActiveState') ?? ''), ...(kv.get('pending') === '1' ? { pendingRestart: true } : {}) };
  },
  diff: (w, h) => [
    ...(h?.enabled !== w.enabled ? [{ field: 'enabled', from: h?.enabled ?? null, to: w.enabled }] : []),
    ...(h?.running !== w.running ? [{ field: 'running', from: h?.running ?? null, to: w.running }] : []),
  ],
  apply: (w, h) =>
    [
      'systemctl daemon-reload',
      ...(h?.enabled !== w.enabled ? [sh`systemctl ${w.enabled ? 'enable' : 'disable'} ${unit(w.name)}`] : []),
      ...(h?.running !== w.running ? [sh`systemctl ${w.running ? 'start' : 'stop'} ${unit(w.name)}`, sh`rm -f ${pendingMarker(w.name)}`] : []),
    ].join('\n'),
  effects: (w, h) => ({ restarts: h?.running === true && !w.running }),
};

/** Run before a file the running unit reads is written: the restart it needs is recorded on the node. */
export const recordRestart = (name: string): string => sh`mkdir -p ${PENDING_DIR}\ntouch ${pendingMarker(name)}`;

/** The script of a restart planned because something the service reads changed, or a recorded one. */
export const restartScript = (name: string): string => sh`systemctl daemon-reload\nsystemctl restart ${unit(name)}\nrm -f ${pendingMarker(name)}`;
