/**
 * A systemd unit: enabled at boot and running, or stopped. Restarts triggered by changed config
 * files are planned by the engine (a resource's `deps` that changed), not here.
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
}

const unit = (name: string): string => (name.includes('.') ? name : `${name}.service`);

export const service: Kind<ServiceWant, ServiceHave, 'service'> = {
  name: 'service',
  id: (w) => refTo(service, w.name),
  probe: (w) => sh`systemctl show -p LoadState -p ActiveState -p UnitFileState -p ConditionResult -p ConditionTimestampMonotonic ${unit(w.name)} 2>/dev/null || true`,
  parse: (out, w) => {
    const kv = keyValues(out);
    if (kv.get('LoadState') !== 'loaded') return null;
    // systemd skips a unit whose start condition fails (chrony without CAP_SYS_TIME in a
    // container): it can never run here, so it is reported rather than retried forever.
    if (kv.get('ConditionResult') === 'no' && kv.get('ConditionTimestampMonotonic') !== '0' && kv.get('ActiveState') !== 'active' && w.running) {
      return { unsupported: `systemd skips ${unit(w.name)} on this node: a start condition of the unit is not met (a container without the needed capability?)` };
    }
    const enabled = ['enabled', 'enabled-runtime', 'static', 'alias', 'indirect', 'generated'].includes(kv.get('UnitFileState') ?? '');
    return { enabled, running: ['active', 'activating', 'reloading'].includes(kv.get('ActiveState') ?? '') };
  },
  diff: (w, h) => [
    ...(h?.enabled !== w.enabled ? [{ field: 'enabled', from: h?.enabled ?? null, to: w.enabled }] : []),
    ...(h?.running !== w.running ? [{ field: 'running', from: h?.running ?? null, to: w.running }] : []),
  ],
  apply: (w, h) =>
    [
      'systemctl daemon-reload',
      ...(h?.enabled !== w.enabled ? [sh`systemctl ${w.enabled ? 'enable' : 'disable'} ${unit(w.name)}`] : []),
      ...(h?.running !== w.running ? [sh`systemctl ${w.running ? 'start' : 'stop'} ${unit(w.name)}`] : []),
    ].join('\n'),
  effects: (w, h) => ({ restarts: h?.running === true && !w.running }),
};

/** The script of a restart planned because something the service reads changed. */
export const restartScript = (name: string): string => sh`systemctl daemon-reload\nsystemctl restart ${unit(name)}`;
