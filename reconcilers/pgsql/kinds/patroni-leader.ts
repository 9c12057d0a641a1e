/**
 * The cluster's intended primary (pg_role: primary). Corral records the intention it last carried
 * out in Patroni's DCS settings (`corral_intended_primary`). A leader that differs from a recorded
 * intention that still matches the inventory is a failover: role drift, reported and left alone.
 * Only an inventory whose intended primary differs from the recorded one asks for a switchover;
 * a cluster with no record yet (just bootstrapped, or adopted) gets the record and no switchover.
 * A standby cluster is never switched over: its leader is a standby leader, and which member holds
 * it is Patroni's business (a new pg_role is recorded; a leader elsewhere is role drift).
 */
import { keyValues, refTo, type Kind } from '../../../src/engine/resources/kind.js';
import { patroniCtl, restJson, restProbe, type PatroniTarget } from './patroni-api.js';
import { leadsRunning } from './patroni-member.js';

export interface PatroniLeaderWant extends PatroniTarget {
  cluster: string;
  /** Member name of the intended primary. */
  primary: string;
  timeoutSeconds: number;
  /** A standby cluster (pg_upstream on its primary): the intention is recorded, never switched to. */
  standby?: boolean;
}

export interface PatroniLeaderHave {
  leader: string | null;
  /** The intention recorded in the DCS, null when none was. */
  recorded: string | null;
}

export const RECORD_KEY = 'corral_intended_primary';

interface ClusterJson {
  members?: { name: string; role?: string; state?: string }[];
}

export const patroniLeader: Kind<PatroniLeaderWant, PatroniLeaderHave, 'patroni-leader'> = {
  name: 'patroni-leader',
  id: (w) => refTo(patroniLeader, w.cluster),
  probe: (w) => restProbe(w, { cluster: '/cluster', config: '/config' }),
  parse: (out) => {
    const kv = keyValues(out);
    const cluster = restJson<ClusterJson>(kv, 'cluster');
    if (!cluster) return null;
    const leader = cluster.members?.find(leadsRunning);
    const config = restJson<Record<string, unknown>>(kv, 'config') ?? {};
    const recorded = config[RECORD_KEY];
    return { leader: leader?.name ?? null, recorded: typeof recorded === 'string' ? recorded : null };
  },
  diff: (w, h) => {
    if (h?.recorded === w.primary) return [];
    if (!h?.recorded || w.standby) return [{ field: 'intended primary', from: h?.recorded ?? null, to: w.primary }];
    return [{ field: 'leader (switchover)', from: h.leader ?? h.recorded, to: w.primary }];
  },
  apply: (w, h) => {
    const record = patroniCtl(w.config, 'patch-config', JSON.stringify({ [RECORD_KEY]: w.primary }));
    if (!h?.recorded || w.standby) return [patroniCtl(w.config, 'wait-leader', w.timeoutSeconds), record].join('\n');
    return [patroniCtl(w.config, 'switchover', w.primary, w.timeoutSeconds), record].join('\n');
  },
  effects: (w, h) => ({ restarts: Boolean(!w.standby && h?.recorded && h.recorded !== w.primary && h.leader !== w.primary) }),
};
