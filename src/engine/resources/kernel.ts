/** Kernel settings: sysctl values and loaded modules. Both may be out of a container's reach. */
import { sh } from '../shell.js';
import { keyValues, refTo, type Kind } from './kind.js';

const procPath = (key: string): string => `/proc/sys/${key.replace(/\./g, '/')}`;
const normalize = (v: string | number): string => String(v).trim().split(/\s+/).join(' ');

export const sysctl: Kind<{ key: string; value: string | number }, { value: string }, 'sysctl'> = {
  name: 'sysctl',
  id: (w) => refTo(sysctl, w.key),
  probe: (w) => sh`f=${procPath(w.key)}; if [ -e "$f" ]; then echo "value=$(cat "$f")"; if [ -w "$f" ]; then echo writable=1; else echo writable=0; fi; else echo missing; fi`,
  parse: (out, w) => {
    if (out.trim() === 'missing') return { unsupported: `this kernel has no sysctl ${w.key}` };
    const kv = keyValues(out);
    const value = normalize(kv.get('value') ?? '');
    if (kv.get('writable') !== '1' && value !== normalize(w.value)) {
      return { unsupported: `${procPath(w.key)} is read-only on this node (a container?); it stays ${value}` };
    }
    return { value };
  },
  diff: (w, h) => (h?.value === normalize(w.value) ? [] : [{ field: w.key, from: h?.value ?? null, to: normalize(w.value) }]),
  apply: (w) => sh`sysctl -q -w ${`${w.key}=${normalize(w.value)}`}`,
};

export const kernelModule: Kind<{ name: string }, { loaded: boolean }, 'kernel-module'> = {
  name: 'kernel-module',
  id: (w) => refTo(kernelModule, w.name),
  probe: (w) => sh`if [ -d /sys/module/${w.name} ]; then echo loaded; elif [ "$(systemd-detect-virt -c 2>/dev/null)" != none ] && [ -n "$(systemd-detect-virt -c 2>/dev/null)" ]; then echo container; else echo absent; fi`,
  parse: (out, w) => {
    const s = out.trim();
    if (s === 'container') return { unsupported: `kernel module ${w.name} cannot be loaded from inside a container` };
    return s === 'loaded' ? { loaded: true } : null;
  },
  diff: (w, h) => (h?.loaded ? [] : [{ field: 'loaded', from: false, to: true }]),
  apply: (w) => sh`modprobe ${w.name}`,
};

