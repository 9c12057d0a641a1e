/**
 * A REDIS cluster's health from one plan's observations: replication links up (standalone), every
 * Sentinel running, watching its masters with a quorum of Sentinels (sentinel), `cluster_state:ok`
 * with all 16384 slots served (cluster). A failover shows as role drift, one line, and is never
 * undone: the status stays Healthy when nothing else is wrong, as PGSQL reports a leader that is
 * not pg_role's.
 */
import type { HostView } from '../../src/config/hosts.js';
import type { Observation } from '../../src/engine/model.js';
import { stateReader, type ModuleHealth, type StateOf } from '../../src/engine/reconciler.js';
import { CLUSTER_SLOTS, redisClusterId, type RedisClusterHave } from './kinds/cluster.js';
import type { RedisInstanceHave } from './kinds/instance.js';
import { describeUpstream, redisReplicationId, type RedisReplicationHave } from './kinds/replication.js';
import type { RedisSentinelHave } from './kinds/sentinel.js';
import { instancesOf, modeOf } from './params.js';

/** What a check found: answers (nothing answered is Down), problems (Degraded) and drift (reported, Healthy). */
interface Findings {
  answered: number;
  problems: string[];
  drift: string[];
}

function replicationFindings(members: readonly HostView[], state: StateOf): Findings {
  const f: Findings = { answered: 0, problems: [], drift: [] };
  for (const h of members) {
    for (const i of instancesOf(h)) {
      const seen = state<RedisReplicationHave>(h.name, redisReplicationId(i.name));
      if (!seen?.role) {
        f.problems.push(`${i.name} does not answer`);
        continue;
      }
      f.answered++;
      const observed = seen.role === 'slave' ? seen.upstream : '';
      if (seen.role === 'slave' && !seen.linkUp) f.problems.push(`${i.name}: its replication link to ${seen.upstream} is down`);
      if (observed !== i.upstream) f.drift.push(`role drift: ${i.name} is ${describeUpstream(observed)}, the inventory has it ${describeUpstream(i.upstream)}; Corral does not undo a failover (commit a replica_of change to make it so)`);
    }
  }
  return f;
}

function sentinelFindings(members: readonly HostView[], anchor: HostView, state: StateOf): Findings {
  const f: Findings = { answered: 0, problems: [], drift: [] };
  const masters = (anchor.param('redis_sentinel_monitor') ?? []).filter((m) => !m.remove);
  for (const h of members) {
    for (const i of instancesOf(h)) {
      if (!state<RedisInstanceHave>(h.name, `redis-instance:${i.name}`)?.running) {
        f.problems.push(`sentinel ${i.name} does not run`);
        continue;
      }
      f.answered++;
      const seen = state<RedisSentinelHave>(h.name, `redis-sentinel:${i.name}`);
      for (const m of masters) {
        const view = seen?.masters[m.name];
        const quorum = m.quorum ?? 1;
        if (!view) f.problems.push(`sentinel ${i.name} does not watch ${m.name}`);
        else {
          if (view.flags.some((x) => x === 's_down' || x === 'o_down')) f.problems.push(`sentinel ${i.name} sees ${m.name} down (${view.flags.join(',')})`);
          if (view.otherSentinels + 1 < quorum) f.problems.push(`sentinel ${i.name} knows ${view.otherSentinels + 1} sentinels of ${m.name}, fewer than its quorum ${quorum}`);
          if (`${view.ip}:${view.port}` !== `${m.host}:${m.port ?? 6379}`) f.drift.push(`role drift: the sentinels moved ${m.name} to ${view.ip}:${view.port} (a failover), the inventory names ${m.host}:${m.port ?? 6379}; Corral does not undo it`);
        }
      }
    }
  }
  return f;
}

function clusterFindings(members: readonly HostView[], anchor: HostView, state: StateOf): Findings {
  const seen = state<RedisClusterHave>(anchor.name, redisClusterId(anchor.param('redis_cluster') ?? ''));
  if (!seen) return { answered: 0, problems: ['no instance of the native cluster answers'], drift: [] };
  const f: Findings = { answered: Object.keys(seen.nodes).length, problems: [], drift: [] };
  for (const address of members.flatMap((h) => instancesOf(h).map((i) => `${h.name}:${i.port}`))) {
    const n = seen.nodes[address];
    if (!n) f.problems.push(`${address} does not answer`);
    else if (n.state !== 'ok') f.problems.push(`${address} says cluster_state:${n.state}`);
  }
  const served = Math.max(0, ...Object.values(seen.nodes).map((n) => n.slotsOk));
  if (served < CLUSTER_SLOTS) f.problems.push(`${served} of ${CLUSTER_SLOTS} slots are served`);
  return f;
}

/** Health of one REDIS cluster; `members` is the whole cluster, the first (lowest redis_node) speaking for the cluster where one must. */
export function redisHealth(members: readonly HostView[], observations: readonly Observation[]): ModuleHealth {
  const anchor = members[0];
  if (!anchor) return { status: 'Down', problems: ['the cluster has no members'] };
  const state = stateReader(observations);
  const mode = modeOf(anchor);
  const f = mode === 'cluster' ? clusterFindings(members, anchor, state) : mode === 'sentinel' ? sentinelFindings(members, anchor, state) : replicationFindings(members, state);
  const status = f.answered === 0 ? 'Down' : f.problems.length ? 'Degraded' : 'Healthy';
  return { status, problems: [...f.problems, ...new Set(f.drift)] };
}
