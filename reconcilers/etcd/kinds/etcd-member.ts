/**
 * One etcd member: its config file and its place in the cluster. The config's initial-cluster
 * settings matter only at a member's first start, so they are chosen from what the node and the
 * running cluster say: a member with data is left alone; a new member joins a cluster that answers
 * (`member add`, then `initial-cluster-state: existing`), else it bootstraps with the others (`new`).
 * A member whose data the cluster no longer knows (removed earlier) has its data moved aside and rejoins.
 */
import { sh, unlessAlready, writeFileAtomic } from '../../../src/engine/shell.js';
import { attributeChanges, file, sha256, statProbe, type FileHave } from '../../../src/engine/resources/file.js';
import { isUnsupported, refTo, type FieldChange, type Kind, type Unsupported } from '../../../src/engine/resources/kind.js';
import { PLAIN_PEERS, runsPlain } from './etcd-tls-move.js';

export type InitialState = 'new' | 'existing';

export interface EtcdMemberWant {
  name: string;
  confPath: string;
  /** The config rendered for each initial-cluster-state. */
  conf: Record<InitialState, string>;
  /** etcd_init: `existing` always joins; `new` joins only when the other members already run a cluster. */
  init: InitialState;
  dataDir: string;
  peerURL: string;
  /** The other members, to ask them about the cluster. */
  peers: EtcdClient;
  learner: boolean;
  /** etcd_safeguard: never move a member's data aside. */
  safeguard: boolean;
}

export interface EtcdMemberInfo {
  id: string;
  started: boolean;
  name: string;
  peerURLs: string[];
  clientURLs: string[];
  learner: boolean;
}

export interface EtcdMemberHave {
  conf: FileHave | null;
  /** The data dir holds a member (`member/` exists). */
  hasData: boolean;
  /** etcd.service runs an etcd that does not read our config: the one Debian's package starts at install. */
  foreign: boolean;
  /** The cluster as the other members see it; null when none of them answers. */
  cluster: EtcdMemberInfo[] | null;
  /** The member runs plain http: its config is etcd-tls-move's to change. */
  plain?: boolean;
}

/**
 * How Corral's etcdctl reaches a cluster: its client URLs (https), the CA their certificates chain
 * to, and the client certificate etcd asks for (its client port checks certificates against the CA).
 * Carried in the script rather than read from the node, so a node that has no certificate yet still
 * sees the cluster it is to join.
 */
export interface EtcdClient {
  endpoints: string[];
  ca: string;
  cert: string;
  /** A secret: travels only in scripts, as a secret file's content does. */
  key: string;
}

/** Where etcd's root password lives on a member (Pigsty's /etc/etcd/etcd.pass); read on the node, never put in a script. */
export const ROOT_PASSWORD_FILE = '/etc/etcd/etcd.pass';

/** Shell that sets etcdctl's credentials: root's from the node's password file (none before the file exists). */
export const AS_ROOT = sh`if [ -r ${ROOT_PASSWORD_FILE} ]; then export ETCDCTL_USER="root:$(cat ${ROOT_PASSWORD_FILE})"; else unset ETCDCTL_USER; fi; `;

/**
 * etcdctl (v3 API) against the cluster, with short timeouts so a down cluster does not stall a
 * probe. Runs in a subshell with the certificates in a private temp folder and root's credentials
 * in the environment (from the node's password file, when it has one), never on the command line.
 */
export const etcdctl = (c: EtcdClient, args: string, login = AS_ROOT): string =>
  // The leading blank keeps a `$(` written before it from reading as arithmetic `$((`.
  ` (if ${runsPlain}; then exit 1; fi; ` +
  sh`tls=$(mktemp -d) && printf '%s' ${c.ca} > "$tls/ca" && printf '%s' ${c.cert} > "$tls/cert" && (umask 077; printf '%s' ${c.key} > "$tls/key") || exit 1; ` +
  login +
  sh`ETCDCTL_API=3 ETCDCTL_CACERT="$tls/ca" ETCDCTL_CERT="$tls/cert" ETCDCTL_KEY="$tls/key" etcdctl --endpoints=${c.endpoints.join(',')} --dial-timeout=2s --command-timeout=5s ` +
  args +
  '; rc=$?; rm -rf "$tls"; exit $rc)';

const MEMBER_MARK = 'etcd-member: ';

/** A probe fragment printing each member as `etcd-member: <simple format line>`, nothing when no endpoint answers. */
export const memberListProbe = (c: EtcdClient): string =>
  c.endpoints.length ? `if command -v etcdctl >/dev/null; then ${etcdctl(c, 'member list')} 2>/dev/null | sed 's/^/${MEMBER_MARK}/'; fi` : 'true';

/** Lines of `etcdctl member list` (simple format: `id, started|unstarted, name, peerURLs, clientURLs, isLearner`), or null when there are none. */
export function parseMembers(out: string): EtcdMemberInfo[] | null {
  const members = out
    .split('\n')
    .filter((l) => l.startsWith(MEMBER_MARK))
    .map((l) => l.slice(MEMBER_MARK.length).split(', '))
    .filter((f) => f.length >= 5)
    .map(([id, status, name, peers, clients, learner]) => ({
      id: id!,
      started: status === 'started',
      name: name!,
      peerURLs: peers!.split(',').filter(Boolean),
      clientURLs: clients!.split(',').filter(Boolean),
      learner: learner === 'true',
    }));
  return members.length ? members : null;
}

/** Config lines etcd reads only when it starts without data. */
const bootstrapOnly = (conf: string): string =>
  conf
    .split('\n')
    .filter((l) => !l.startsWith('initial-'))
    .join('\n');

/** Sets `cmd` to the command line of the etcd that etcd.service runs, empty when it runs none. */
const RUNNING_ETCD = `pid=$(systemctl show -p MainPID --value etcd.service 2>/dev/null || true); cmd=$([ "\${pid:-0}" != 0 ] && tr '\\0' ' ' < /proc/$pid/cmdline || true)`;
const OURS = `case "$cmd" in *--config-file*) true ;; *) false ;; esac`;

const CONF_MODE = 0o644;
const CONF_OWNER = { mode: CONF_MODE, owner: 'etcd', group: 'etcd' };

type Step = 'in-cluster' | 'join' | 'rejoin';

function situation(w: EtcdMemberWant, h: EtcdMemberHave): { step: Step; listed: boolean; state: InitialState } {
  const listed = h.cluster?.some((m) => m.peerURLs.includes(w.peerURL)) ?? false;
  if (h.hasData) return h.cluster && !listed ? { step: 'rejoin', listed, state: 'existing' } : { step: 'in-cluster', listed, state: w.init };
  return { step: 'join', listed, state: h.cluster || w.init === 'existing' ? 'existing' : 'new' };
}

export const etcdMember: Kind<EtcdMemberWant, EtcdMemberHave, 'etcd-member'> = {
  name: 'etcd-member',
  id: (w) => refTo(etcdMember, w.name),
  probe: (w) => [statProbe(w.confPath, 'content'), sh`[ -d ${w.dataDir + '/member'} ] && echo has-data=yes`, `${RUNNING_ETCD}; [ -n "$cmd" ] && ! ${OURS} && echo foreign=yes`, memberListProbe(w.peers)].join('\n'),
  parse: (out, w): EtcdMemberHave | Unsupported => {
    const conf = file.parse(out, { path: w.confPath, content: '', mode: CONF_MODE });
    const have = { conf: isUnsupported(conf) ? null : conf, hasData: /^has-data=yes$/m.test(out), foreign: /^foreign=yes$/m.test(out), cluster: parseMembers(out) };
    if (have.hasData && have.conf?.content !== undefined && PLAIN_PEERS.test(have.conf.content)) return { ...have, plain: true };
    if (w.safeguard && situation(w, have).step === 'rejoin') {
      return { unsupported: `the cluster no longer lists ${w.peerURL}, but ${w.dataDir} holds a member's data and etcd_safeguard forbids moving it aside` };
    }
    return have;
  },
  diff: (w, h) => {
    if (h?.plain) return [];
    const s = situation(w, h ?? { conf: null, hasData: false, foreign: false, cluster: null });
    const out: FieldChange[] = [];
    if (h?.foreign) out.push({ field: 'process', from: 'etcd without --config-file (the package default)', to: 'stopped, then started as a member' });
    if (s.step === 'rejoin') out.push({ field: 'member', from: 'removed from the cluster', to: `rejoin: ${w.dataDir} moved aside, member add` });
    else if (s.step === 'join' && h?.cluster && !s.listed) out.push({ field: 'member', from: null, to: `member add ${w.name}${w.learner ? ' (learner)' : ''}` });
    const conf = w.conf[s.state];
    const current = h?.conf?.content;
    const same = s.step === 'in-cluster' && current !== undefined ? bootstrapOnly(current) === bootstrapOnly(conf) : h?.conf?.sha256 === sha256(conf);
    if (!same) out.push({ field: 'content', from: h?.conf ? h.conf.sha256.slice(0, 12) : null, to: sha256(conf).slice(0, 12), text: { before: current ?? '', after: conf } });
    return [...out, ...attributeChanges(CONF_OWNER, h?.conf ?? null)];
  },
  apply: (w, h) => {
    const s = situation(w, h ?? { conf: null, hasData: false, foreign: false, cluster: null });
    // Installing the package may have started its default etcd since the plan was made: a `start` would leave it running.
    const lines: string[] = [`${RUNNING_ETCD}; if [ -n "$cmd" ] && ! ${OURS}; then systemctl stop etcd.service; fi`];
    if (s.step === 'rejoin') {
      const aside = `${w.dataDir}.removed-`;
      lines.push('systemctl stop etcd.service', sh`mv ${w.dataDir} ${aside}"$(date +%Y%m%dT%H%M%S)"`, sh`install -d -o etcd -g etcd -m 0700 ${w.dataDir}`);
    }
    if (s.step !== 'in-cluster' && h?.cluster && !s.listed) {
      // A member added by an earlier, interrupted apply is already listed: not an error.
      const add = etcdctl(w.peers, sh`member add ${w.name} --peer-urls=${w.peerURL}` + (w.learner ? ' --learner' : ''));
      lines.push(unlessAlready(add, 'Peer URLs already exists'));
    }
    lines.push(writeFileAtomic(w.confPath, w.conf[s.state], CONF_OWNER));
    return lines.join('\n');
  },
  effects: (w, h) => ({ destructive: h !== null && situation(w, h).step === 'rejoin' }),
};
