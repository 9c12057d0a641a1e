/**
 * The health of a PGSQL cluster, from what a plan observed of Patroni (no extra round trip):
 * Healthy (a running leader, every member of the inventory running as a replica and not lagging),
 * Degraded (a leader, but a member is missing, stopped or lagging), Down (no running leader).
 * Role drift: the leader is not the intended primary (pg_role: primary). It is reported, never
 * fixed here: only a commit that changes pg_role makes Corral switch over.
 */
import type { HostView } from '../../src/config/hosts.js';
import { stateOf, type Observation } from '../../src/engine/model.js';
import { patroniMemberId, runningLeader, type ClusterMember } from './kinds/patroni-member.js';
import { instanceName } from './templates.js';

export type PgHealthStatus = 'Healthy' | 'Degraded' | 'Down';

export interface PgHealth {
  status: PgHealthStatus;
  leader: string | null;
  intendedPrimary: string | null;
  /** The running leader differs from the intended primary. */
  roleDrift: boolean;
  /** Why the cluster is not Healthy, one line each. */
  problems: string[];
}

/** Pure: the cluster as Patroni lists it (null when no member answered) against the inventory's members. */
export function pgHealth(intendedPrimary: string | null, expected: readonly string[], members: readonly ClusterMember[] | null): PgHealth {
  const leader = (members && runningLeader(members)?.name) ?? null;
  const problems: string[] = [];
  if (!members) problems.push('no member answered on the Patroni REST API');
  else if (!leader) problems.push('no running leader');
  for (const name of expected) {
    const m = members?.find((x) => x.name === name);
    if (!members || name === leader) continue;
    if (!m) problems.push(`${name} is not a member of the Patroni cluster`);
    else if (m.state !== 'running' && m.state !== 'streaming') problems.push(`${name} is ${m.state || 'in an unknown state'}`);
    else if (m.lagging === true) problems.push(`${name} lags behind the leader`);
    else if (m.lagging === null) problems.push(`${name} does not report its replication lag`);
  }
  const status: PgHealthStatus = !leader ? 'Down' : problems.length ? 'Degraded' : 'Healthy';
  return { status, leader, intendedPrimary, roleDrift: Boolean(leader && intendedPrimary && leader !== intendedPrimary), problems };
}

/** The cluster as Patroni lists it, from a plan's observations: the first member that answered speaks for the DCS. */
export function patroniView(observations: readonly Observation[], members: readonly HostView[]): ClusterMember[] | null {
  for (const h of members) {
    const have = stateOf(observations, h.name, patroniMemberId(instanceName(h)));
    if (have?.cluster.length) return have.cluster;
  }
  return null;
}

/** The health of one cluster from a plan's observations (or from Patroni's view of it, already read from them). */
export function pgHealthFromObservations(observations: readonly Observation[], members: readonly HostView[], view = patroniView(observations, members)): PgHealth {
  const primary = members.find((h) => h.str('pg_role') === 'primary');
  return pgHealth(primary ? instanceName(primary) : null, members.map(instanceName), view);
}
