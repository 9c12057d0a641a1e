/**
 * An etcd cluster's membership and health, observed from one member: members the inventory no
 * longer lists are removed (`member remove`: destructive, so the daemon holds it unless prune is
 * allowed). Members are added by each new member itself (etcd-member).
 */
import { sh } from '../../../src/engine/shell.js';
import { etcdctl, memberListProbe, parseMembers, type EtcdClient, type EtcdMemberInfo } from './etcd-member.js';
import { refTo, type Kind, type Ref, type Unsupported } from '../../../src/engine/resources/kind.js';

export interface EtcdClusterWant {
  cluster: string;
  /** The members the inventory lists. */
  client: EtcdClient;
  /** Their peer URLs: a member with none of these is no longer wanted. */
  peerURLs: string[];
}

export interface EtcdClusterHave {
  members: EtcdMemberInfo[];
  /** Client URL to whether it committed a proposal (`endpoint health --cluster`). */
  health: Record<string, boolean>;
}

const HEALTH_MARK = 'etcd-health: ';

const unwanted = (w: EtcdClusterWant, h: EtcdClusterHave | null): EtcdMemberInfo[] => (h?.members ?? []).filter((m) => !m.peerURLs.some((u) => w.peerURLs.includes(u)));

const label = (m: EtcdMemberInfo): string => `${m.name || '(unstarted)'} ${m.peerURLs.join(',')}`;

export const etcdClusterId = (cluster: string): Ref<EtcdClusterHave> => refTo(etcdCluster, cluster);

export const etcdCluster: Kind<EtcdClusterWant, EtcdClusterHave, 'etcd-cluster'> = {
  name: 'etcd-cluster',
  id: (w) => etcdClusterId(w.cluster),
  probe: (w) =>
    [
      memberListProbe(w.client),
      // Unhealthy endpoints are reported on stderr.
      `if command -v etcdctl >/dev/null; then ${etcdctl(w.client, 'endpoint health --cluster')} 2>&1 | sed 's/^/${HEALTH_MARK}/'; fi`,
    ].join('\n'),
  parse: (out, w): EtcdClusterHave | null | Unsupported => {
    const members = parseMembers(out);
    if (!members) return null;
    if (members.length === unwanted(w, { members, health: {} }).length) {
      return { unsupported: `the etcd cluster at ${w.client.endpoints.join(',')} has none of the inventory's members: its membership is left alone` };
    }
    const health: Record<string, boolean> = {};
    for (const line of out.split('\n')) {
      const m = line.startsWith(HEALTH_MARK) ? /^(\S+) is (healthy|unhealthy)/.exec(line.slice(HEALTH_MARK.length)) : null;
      if (m) health[m[1]!] = m[2] === 'healthy';
    }
    return { members, health };
  },
  diff: (w, h) => {
    const gone = unwanted(w, h);
    return gone.length ? [{ field: 'members', from: gone.map(label), to: 'member remove' }] : [];
  },
  apply: (w, h) => unwanted(w, h).map((m) => etcdctl(w.client, sh`member remove ${m.id}`)).join('\n'),
  effects: (w, h) => ({ destructive: unwanted(w, h).length > 0 }),
};

export type EtcdHealth = 'Healthy' | 'Degraded' | 'Down';

/** All voting members healthy; a quorum of them healthy; or no quorum (or no answer at all). */
export function etcdHealth(have: EtcdClusterHave | null): EtcdHealth {
  const voters = (have?.members ?? []).filter((m) => !m.learner);
  if (!have || !voters.length) return 'Down';
  const healthy = voters.filter((m) => m.clientURLs.some((u) => have.health[u] === true)).length;
  if (healthy === voters.length) return 'Healthy';
  return healthy >= Math.floor(voters.length / 2) + 1 ? 'Degraded' : 'Down';
}
