/**
 * A REDIS cluster's health from one plan's observations: replication links up (standalone), every
 * Sentinel running, watching its masters with a quorum of Sentinels and counting no more of them
 * than the inventory has (one that left is counted until the others are reset) (sentinel),
 * `cluster_state:ok` with all 16384 slots served and every node known to every other (cluster).
 * A failover shows as role drift, one line, and is never undone: the status stays Healthy when
 * nothing else is wrong, as PGSQL reports a leader that is not pg_role's.
 */
import type { HostView } from '../../src/config/hosts.js';
import { stateOf, type Observation } from '../../src/engine/model.js';
import type { MemberHealth, ModuleHealth } from '../../src/engine/reconciler.js';
import type { Ref } from '../../src/engine/resources/kind.js';
import { CLUSTER_SLOTS, redisClusterId } from './kinds/cluster.js';
import { redisInstanceId } from './kinds/instance.js';
import { redisMembersId } from './kinds/members.js';
import { describeUpstream, redisReplicationId } from './kinds/replication.js';
import { redisSentinelId } from './kinds/sentinel.js';
import { clusterOf, instancesOf, modeOf } from './params.js';

/** What a check found: answers (nothing answered is Down), problems (Degraded), drift (reported, Healthy), and each instance as it answered. */
interface Findings {
  answered: number;
  problems: string[];
  drift: string[];
  members: MemberHealth[];
}

const NO_ANSWER = 'no answer';

/** A resource's observed state on a host (stateOf over one plan's observations). */
type StateOf = <H>(host: string, id: Ref<H>) => H | null | undefined;

function replicationFindings(members: readonly HostView[], state: StateOf): Findings {
  const f: Findings = { answered: 0, problems: [], drift: [], members: [] };
  for (const h of members) {
    for (const i of instancesOf(h)) {
      const seen = state(h.name, redisReplicationId(i.name));
      if (!seen?.role) {
        f.problems.push(`${i.name} does not answer`);
        f.members.push({ name: i.name, role: '', state: NO_ANSWER });
        continue;
      }
      f.answered++;
      f.members.push(seen.role === 'slave' ? { name: i.name, role: `replica of ${seen.upstream}`, state: seen.linkUp ? 'link up' : 'link down' } : { name: i.name, role: 'primary', state: 'running' });
      const observed = seen.role === 'slave' ? seen.upstream : '';
      if (seen.role === 'slave' && !seen.linkUp) f.problems.push(`${i.name}: its replication link to ${seen.upstream} is down`);
      if (observed !== i.upstream) f.drift.push(`role drift: ${i.name} is ${describeUpstream(observed)}, the inventory has it ${describeUpstream(i.upstream)}; Corral does not undo a failover (commit a replica_of change to make it so)`);
    }
  }
  return f;
}

function sentinelFindings(members: readonly HostView[], anchor: HostView, state: StateOf): Findings {
  const f: Findings = { answered: 0, problems: [], drift: [], members: [] };
  const masters = anchor.param('redis_sentinel_monitor').filter((m) => !m.remove);
  const cluster = clusterOf(anchor);
  const inventory = new Set(members.flatMap((h) => instancesOf(h).flatMap((i) => [`${h.name}:${i.port}`, `${h.address}:${i.port}`])));
  const total = members.reduce((n, h) => n + instancesOf(h).length, 0);
  for (const h of members) {
    for (const i of instancesOf(h)) {
      const running = Boolean(state(h.name, redisInstanceId(i.name))?.running);
      f.members.push({ name: i.name, role: 'sentinel', state: running ? 'running' : 'not running' });
      if (!running) {
        f.problems.push(`sentinel ${i.name} does not run`);
        continue;
      }
      f.answered++;
      const seen = state(h.name, redisSentinelId(i.name));
      for (const m of masters) {
        const view = seen?.masters[m.name];
        const quorum = m.quorum ?? 1;
        if (!view) f.problems.push(`sentinel ${i.name} does not watch ${m.name}`);
        else {
          if (view.flags.some((x) => x === 's_down' || x === 'o_down')) f.problems.push(`sentinel ${i.name} sees ${m.name} down (${view.flags.join(',')})`);
          if (view.otherSentinels + 1 < quorum) f.problems.push(`sentinel ${i.name} knows ${view.otherSentinels + 1} sentinels of ${m.name}, fewer than its quorum ${quorum}`);
          // A Sentinel that left is counted until the others are reset: it weighs in their quorum and failover maths.
          // Counted, not compared by address: a Sentinel may announce another address than the inventory's.
          if (view.otherSentinels + 1 > total) {
            const strangers = (state(h.name, redisMembersId(cluster))?.counted[`${i.name} ${m.name}`] ?? []).filter((a) => !inventory.has(a));
            f.problems.push(`sentinel ${i.name} counts ${view.otherSentinels + 1} sentinels of ${m.name}, the inventory has ${total}${strangers.length ? ` (${strangers.join(', ')} not in it)` : ''}: a Sentinel that left is still counted`);
          }
          if (`${view.ip}:${view.port}` !== `${m.host}:${m.port ?? 6379}`) f.drift.push(`role drift: the sentinels moved ${m.name} to ${view.ip}:${view.port} (a failover), the inventory names ${m.host}:${m.port ?? 6379}; Corral does not undo it`);
        }
      }
    }
  }
  return f;
}

function clusterFindings(members: readonly HostView[], anchor: HostView, state: StateOf): Findings {
  const seen = state(anchor.name, redisClusterId(clusterOf(anchor)));
  const addresses = members.flatMap((h) => instancesOf(h).map((i) => `${h.name}:${i.port}`));
  if (!seen) return { answered: 0, problems: ['no instance of the native cluster answers'], drift: [], members: addresses.map((name) => ({ name, role: 'cluster node', state: NO_ANSWER })) };
  const f: Findings = { answered: Object.keys(seen.nodes).length, problems: [], drift: [], members: [] };
  for (const address of addresses) {
    const n = seen.nodes[address];
    f.members.push({ name: address, role: 'cluster node', state: n ? `cluster_state:${n.state}` : NO_ANSWER });
    if (!n) f.problems.push(`${address} does not answer`);
    else if (n.state !== 'ok') f.problems.push(`${address} says cluster_state:${n.state}`);
    else if (n.knownNodes < addresses.length) f.problems.push(`${address} knows ${n.knownNodes} of the ${addresses.length} nodes the inventory lists: gossip has not reached it yet`);
  }
  const served = Math.max(0, ...Object.values(seen.nodes).map((n) => n.slotsOk));
  if (served < CLUSTER_SLOTS) f.problems.push(`${served} of ${CLUSTER_SLOTS} slots are served`);
  return f;
}

/** Health of one REDIS cluster; `members` is the whole cluster, the first (lowest redis_node) speaking for the cluster where one must. */
export function redisHealth(members: readonly HostView[], observations: readonly Observation[]): ModuleHealth {
  const anchor = members[0];
  if (!anchor) return { status: 'Down', problems: ['the cluster has no members'] };
  const state: StateOf = (host, id) => stateOf(observations, host, id);
  const mode = modeOf(anchor);
  const f = mode === 'cluster' ? clusterFindings(members, anchor, state) : mode === 'sentinel' ? sentinelFindings(members, anchor, state) : replicationFindings(members, state);
  const status = f.answered === 0 ? 'Down' : f.problems.length ? 'Degraded' : 'Healthy';
  return { status, problems: [...f.problems, ...new Set(f.drift)], members: f.members };
}
