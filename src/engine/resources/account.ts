/** OS groups and users. Removal is never planned: an account dropped from the inventory is left alone. */
import { sh } from '../shell.js';
import { refTo, type FieldChange, type Kind } from './kind.js';

export interface GroupWant {
  name: string;
  gid?: number;
}

export const group: Kind<GroupWant, { gid: number }, 'group'> = {
  name: 'group',
  id: (w) => refTo(group, w.name),
  probe: (w) => sh`getent group ${w.name} | cut -d: -f3`,
  parse: (out) => (out.trim() ? { gid: Number(out.trim()) } : null),
  diff: (w, h) => (!h ? [{ field: 'group', from: null, to: w.name }] : w.gid !== undefined && h.gid !== w.gid ? [{ field: 'gid', from: h.gid, to: w.gid }] : []),
  apply: (w, h) => (h ? sh`groupmod -g ${w.gid ?? h.gid} ${w.name}` : w.gid !== undefined ? sh`groupadd -g ${w.gid} ${w.name}` : sh`groupadd ${w.name}`),
};

export interface UserWant {
  name: string;
  uid?: number;
  group: string;
  home: string;
  shell: string;
}

interface UserHave {
  uid: number;
  group: string;
  home: string;
  shell: string;
}

export const user: Kind<UserWant, UserHave, 'user'> = {
  name: 'user',
  id: (w) => refTo(user, w.name),
  probe: (w) => sh`e=$(getent passwd ${w.name}) || exit 0; echo "$e"; id -gn ${w.name}`,
  parse: (out) => {
    const [entry, group] = out.trim().split('\n');
    if (!entry) return null;
    const f = entry.split(':');
    return { uid: Number(f[2]), group: group ?? '', home: f[5] ?? '', shell: f[6] ?? '' };
  },
  diff: (w, h) => {
    if (!h) return [{ field: 'user', from: null, to: w.name }];
    const out: FieldChange[] = [];
    if (w.uid !== undefined && h.uid !== w.uid) out.push({ field: 'uid', from: h.uid, to: w.uid });
    for (const k of ['group', 'home', 'shell'] as const) if (h[k] !== w[k]) out.push({ field: k, from: h[k], to: w[k] });
    return out;
  },
  apply: (w, h) => {
    const uid = w.uid !== undefined ? sh` -u ${w.uid}` : '';
    return h ? sh`usermod -g ${w.group} -d ${w.home} -s ${w.shell}` + uid + sh` ${w.name}` : sh`useradd -m -g ${w.group} -d ${w.home} -s ${w.shell}` + uid + sh` ${w.name}`;
  },
};
