/**
 * A Patroni member that is up: its PostgreSQL running as the leader or as a replica. Applying it
 * waits until Patroni reports that, so later steps (roles, the next member) find it ready.
 * The probe also keeps the cluster as this member sees it, for health and role drift.
 */
import { keyValues, refTo, type Kind, type Ref } from '../../../src/engine/resources/kind.js';
import { patroniCtl, restJson, restProbe, type PatroniTarget } from './patroni-api.js';

export interface PatroniMemberWant extends PatroniTarget {
  /** The member name, `<pg_cluster>-<pg_seq>`. */
  name: string;
  /** How long a start may take: initdb, or a base backup for a new replica. */
  timeoutSeconds: number;
  /** A replica further behind than this (bytes) counts as lagging. */
  lagLimitBytes: number;
}

/** One member as Patroni's /cluster lists it; `lagging` is null when Patroni does not know the lag. */
export interface ClusterMember {
  name: string;
  /** The address Patroni knows the member by (its connect address). */
  host: string;
  role: string;
  state: string;
  lagging: boolean | null;
}

export interface PatroniMemberHave {
  state: string;
  role: string;
  /** The whole cluster as this member's Patroni sees it (from the DCS). */
  cluster: ClusterMember[];
}

interface ClusterJson {
  members?: { name: string; host?: string; role?: string; state?: string; lag?: number | string }[];
}

export const LEADER_ROLES = ['leader', 'master', 'primary', 'standby_leader'];

/**
 * A member that leads and runs. Patroni (3.x) lists a standby leader, which replicates from outside
 * its cluster, by its replication state: `streaming` when it runs and receives WAL.
 */
export const leadsRunning = (m: { role?: string; state?: string }): boolean =>
  LEADER_ROLES.includes(m.role ?? '') && (m.state === 'running' || (m.role === 'standby_leader' && m.state === 'streaming'));

/** The member that leads and runs, if any. */
export const runningLeader = (members: readonly ClusterMember[]): ClusterMember | undefined => members.find(leadsRunning);

/** Member `name` (`pg-test-1`), whose state lists the cluster as Patroni sees it. */
export const patroniMemberId = (name: string): Ref<PatroniMemberHave> => refTo(patroniMember, name);

export const patroniMember: Kind<PatroniMemberWant, PatroniMemberHave, 'patroni-member'> = {
  name: 'patroni-member',
  id: (w) => patroniMemberId(w.name),
  probe: (w) => restProbe(w, { patroni: '/patroni', cluster: '/cluster' }),
  parse: (out, w) => {
    const kv = keyValues(out);
    const p = restJson<{ state?: string; role?: string }>(kv, 'patroni');
    const members = restJson<ClusterJson>(kv, 'cluster')?.members ?? [];
    if (!p?.state) return null;
    const cluster = members.map((m) => ({
      name: m.name,
      host: m.host ?? '',
      role: m.role ?? '',
      state: m.state ?? '',
      // Only the lag's side of the limit is kept: the bytes change on every look.
      lagging: LEADER_ROLES.includes(m.role ?? '') ? false : typeof m.lag === 'number' ? m.lag > w.lagLimitBytes : null,
    }));
    return { state: p.state, role: p.role ?? '', cluster };
  },
  diff: (w, h) => (h?.state === 'running' ? [] : [{ field: 'state', from: h?.state ?? null, to: 'running' }]),
  apply: (w) => patroniCtl(w.config, 'wait-running', w.timeoutSeconds),
};
