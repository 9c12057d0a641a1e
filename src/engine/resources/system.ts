/** Node identity and clock: hostname and time zone. */
import { sh } from '../shell.js';
import { refTo, type Kind } from './kind.js';

export const hostname: Kind<{ name: string }, { name: string }, 'hostname'> = {
  name: 'hostname',
  id: () => refTo(hostname),
  probe: () => 'hostname',
  parse: (out) => ({ name: out.trim() }),
  diff: (w, h) => (h?.name === w.name ? [] : [{ field: 'hostname', from: h?.name ?? null, to: w.name }]),
  // hostnamectl needs systemd-hostnamed; the fallback writes what it would.
  apply: (w) => sh`hostnamectl set-hostname ${w.name} 2>/dev/null || { echo ${w.name} > /etc/hostname && hostname ${w.name}; }`,
};

export const timezone: Kind<{ name: string }, { name: string }, 'timezone'> = {
  name: 'timezone',
  id: () => refTo(timezone),
  probe: () => "timedatectl show -p Timezone --value 2>/dev/null || cat /etc/timezone 2>/dev/null || readlink /etc/localtime | sed 's|.*/zoneinfo/||'",
  parse: (out) => ({ name: out.trim().split('\n')[0] ?? '' }),
  diff: (w, h) => (h?.name === w.name ? [] : [{ field: 'timezone', from: h?.name ?? null, to: w.name }]),
  apply: (w) =>
    [
      sh`[ -e /usr/share/zoneinfo/${w.name} ] || { echo "unknown time zone ${w.name} (is tzdata installed?)" >&2; exit 1; }`,
      sh`timedatectl set-timezone ${w.name} 2>/dev/null || { ln -sf /usr/share/zoneinfo/${w.name} /etc/localtime && echo ${w.name} > /etc/timezone; }`,
    ].join('\n'),
};
