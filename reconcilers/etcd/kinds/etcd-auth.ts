/**
 * etcd's RBAC, as Pigsty v4 sets it up: a root user (the password in /etc/etcd/etcd.pass), one user
 * and role per PGSQL cluster with read-write on its own key prefix, then `auth enable`. Passwords
 * are read on the node from files Corral writes as secrets, never put in a script or on a command
 * line. Observed from one member.
 */
import { sh, unlessAlready } from '../../../src/engine/shell.js';
import { etcdctl, ROOT_PASSWORD_FILE, type EtcdClient } from './etcd-member.js';
import { isPlain, plainProbe } from './etcd-tls-move.js';
import { keyValues, refTo, type FieldChange, type Kind, type Ref, type Unsupported } from '../../../src/engine/resources/kind.js';

export interface EtcdUser {
  name: string;
  /** Keys the user reads and writes: Patroni's `<pg_namespace>/<cluster>/`. */
  prefix: string;
}

export interface EtcdAuthWant {
  cluster: string;
  client: EtcdClient;
  users: EtcdUser[];
  /** `name:password` lines, one per user (a secret file on the node). */
  passwordsFile: string;
  /** The observing member's config: one that still speaks plain http is moved to TLS first. */
  confPath: string;
  /** Why this run must not move a plain-http cluster to TLS, if it must not (etcd-tls-move's). */
  heldBy?: string;
}

type UserState = 'ok' | 'missing' | 'wrong';

export interface EtcdAuthHave {
  enabled: boolean;
  /** Whether each user logs in with its password and holds read-write on its prefix. */
  users: Record<string, UserState>;
}

const ANONYMOUS = 'unset ETCDCTL_USER; ';
const passwordOf = (w: EtcdAuthWant, name: string): string => sh`"$(sed -n ${`s/^${name}://p`} ${w.passwordsFile} | head -n 1)"`;
const loginAs = (w: EtcdAuthWant, name: string): string => `export ETCDCTL_USER=${sh`${name}`}:${passwordOf(w, name)}; `;

export const etcdAuthId = (cluster: string): Ref<EtcdAuthHave> => refTo(etcdAuth, cluster);

export const etcdAuth: Kind<EtcdAuthWant, EtcdAuthHave, 'etcd-auth'> = {
  name: 'etcd-auth',
  id: (w) => etcdAuthId(w.cluster),
  // One fragment of the node's observation script: it must not exit, and says nothing before etcdctl is installed.
  probe: (w) =>
    'if command -v etcdctl >/dev/null; then\n' +
    [
      plainProbe(w.confPath),
      // Without credentials, `user list` works only while auth is off.
      `out=$(${etcdctl(w.client, 'user list', ANONYMOUS)} 2>&1) && echo auth=off || case "$out" in *"user name is empty"*|*"permission denied"*) echo auth=on ;; *) echo auth=unknown ;; esac`,
      `${etcdctl(w.client, 'user get root')} >/dev/null 2>&1 && echo root=ok`,
      ...w.users.map((u) => {
        // While auth is off a login cannot be checked: a user counts as in place when its role grants the prefix (read and write).
        const role = `r=$(${etcdctl(w.client, sh`role get ${u.name}`)} 2>/dev/null) && [ "$(printf '%s' "$r" | grep -c -F ` + sh`${`(prefix ${u.prefix})`}` + `)" -ge 2 ]`;
        const login = `${etcdctl(w.client, sh`get --prefix --keys-only --limit=1 ${u.prefix}`, loginAs(w, u.name))} >/dev/null 2>&1`;
        const say = (state: UserState): string => sh`echo ${`user.${u.name}=${state}`}`;
        return `if ${role}; then if ${login}; then ${say('ok')}; else ${say('wrong')}; fi; else ${say('missing')}; fi`;
      }),
    ].join('\n') +
    '\nfi',
  parse: (out, w): EtcdAuthHave | null | Unsupported => {
    // A cluster that still speaks plain http is moved to TLS in this run (etcd-tls-move) before these steps, or not at all.
    if (isPlain(out)) return w.heldBy ? { unsupported: `etcd cluster ${w.cluster} runs plain http: ${w.heldBy}` } : null;
    const kv = keyValues(out);
    const auth = kv.get('auth');
    if (!auth || auth === 'unknown') return null;
    if (auth === 'on' && kv.get('root') !== 'ok') {
      return { unsupported: `etcd cluster ${w.cluster} has auth enabled but root does not log in with the password in ${ROOT_PASSWORD_FILE}: change root's password on the cluster by hand (etcdctl user passwd root) to etcd_root_password` };
    }
    const users: Record<string, UserState> = {};
    for (const u of w.users) users[u.name] = (kv.get(`user.${u.name}`) as UserState | undefined) ?? 'missing';
    return { enabled: auth === 'on', users };
  },
  diff: (w, h) => {
    const out: FieldChange[] = [];
    for (const u of w.users) {
      const state = h?.users[u.name] ?? 'missing';
      // With auth off a password cannot be checked, so it is set again on the way to enabling auth.
      if (state === 'missing' || state === 'wrong' || !h?.enabled) out.push({ field: `user ${u.name}`, from: state === 'ok' ? 'not checked (auth off)' : state, to: `read-write on ${u.prefix}` });
    }
    if (!h?.enabled) out.push({ field: 'auth', from: h ? 'off' : null, to: 'on (root and a user per PGSQL cluster)' });
    return out;
  },
  apply: (w, h) => {
    // Idempotent steps, so a run interrupted half-way is finished by the next.
    const lines: string[] = [];
    if (!h?.enabled) {
      lines.push(unlessAlready(sh`cat ${ROOT_PASSWORD_FILE}` + ` | ${etcdctl(w.client, 'user add root --interactive=false', ANONYMOUS)}`, 'already exists'));
    }
    for (const u of w.users) {
      if (h?.enabled && h.users[u.name] === 'ok') continue;
      const password = passwordOf(w, u.name);
      lines.push(
        unlessAlready(etcdctl(w.client, sh`role add ${u.name}`), 'already exists'),
        `${etcdctl(w.client, sh`role grant-permission ${u.name} --prefix=true readwrite ${u.prefix}`)} >/dev/null`,
        `if ${etcdctl(w.client, sh`user get ${u.name}`)} >/dev/null 2>&1; then printf '%s\\n' ${password} | ${etcdctl(w.client, sh`user passwd ${u.name} --interactive=false`)} >/dev/null; ` +
          `else printf '%s\\n' ${password} | ${etcdctl(w.client, sh`user add ${u.name} --interactive=false`)} >/dev/null; fi`,
        `${etcdctl(w.client, sh`user grant-role ${u.name} ${u.name}`)} >/dev/null`,
      );
    }
    if (!h?.enabled) lines.push(unlessAlready(etcdctl(w.client, 'auth enable', ANONYMOUS), 'already enabled'));
    return lines.join('\n');
  },
};
