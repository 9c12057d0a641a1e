/**
 * The L2 VIP run by Patroni's callbacks (no vip-manager): drift repair behind them. The probe asks the
 * member's Patroni for its role and looks for the VIP among the node's addresses. A member whose
 * Patroni answers that it runs as the leader gets the VIP when it lacks it; one whose Patroni answers
 * with another role loses it. When Patroni does not answer, nothing is planned. Applying asks Patroni
 * again and acts on its role at that moment, so the current leader never loses the VIP.
 */
import { sh } from '../../../src/engine/shell.js';
import { keyValues, refTo, type FieldChange, type Kind, type Ref } from '../../../src/engine/resources/kind.js';
import { restCurl, restJson, restProbe, type PatroniTarget } from './patroni-api.js';
import { LEADER_ROLES, leadsRunning } from './patroni-member.js';

export interface PgVipWant extends Pick<PatroniTarget, 'api' | 'caFile'> {
  /** The member name, `<pg_cluster>-<pg_seq>`. */
  name: string;
  /** The VIP without its prefix, `10.213.0.20`. */
  address: string;
  /** The root-owned helper that binds (`add`) or unbinds (`del`) the VIP on this node. */
  helper: string;
}

export interface PgVipHave {
  /** The interface holding the VIP on this node, null when none does. */
  boundOn: string | null;
  /** Patroni's role on this node, null when Patroni does not answer (or names no role). */
  role: string | null;
  /** Patroni runs this member as the leader (or a standby leader). */
  leads: boolean;
}

export const pgVipId = (name: string): Ref<PgVipHave> => refTo(pgVip, name);

/** Prints `bound=<interface>` when an IPv4 address of the node is `address`. */
const boundProbe = (address: string): string =>
  sh`ip -o -4 addr show 2>/dev/null | awk -v a=${address}` + ` '{ split($4, p, "/"); if (p[1] == a) { sub(/@.*/, "", $2); print "bound=" $2; exit } }'; true`;

export const pgVip: Kind<PgVipWant, PgVipHave, 'pg-vip'> = {
  name: 'pg-vip',
  id: (w) => pgVipId(w.name),
  probe: (w) => `${restProbe(w, { patroni: '/patroni' })}; ${boundProbe(w.address)}`,
  parse: (out) => {
    const kv = keyValues(out);
    const p = restJson<{ state?: string; role?: string }>(kv, 'patroni');
    const role = typeof p?.role === 'string' && p.role ? p.role : null;
    return { boundOn: kv.get('bound') || null, role, leads: role !== null && leadsRunning(p!) };
  },
  diff: (w, h): FieldChange[] => {
    if (!h || h.role === null) return [];
    if (h.leads && !h.boundOn) return [{ field: 'bound', from: null, to: w.address }];
    if (!LEADER_ROLES.includes(h.role) && h.boundOn) return [{ field: 'bound', from: `${w.address} on ${h.boundOn} (Patroni role ${h.role})`, to: null }];
    return [];
  },
  apply: (w) =>
    [
      `role=$(${restCurl(w, '-s', w.api + '/patroni')} | python3 -c 'import json, sys; print(json.load(sys.stdin).get("role", ""))' 2>/dev/null) || role=`,
      'case "$role" in',
      `  '') echo "Patroni on this node does not answer: the VIP ${w.address} is left as it is" >&2; exit 1 ;;`,
      `  ${LEADER_ROLES.join('|')}) ${sh`exec ${w.helper}`} add ;;`,
      `  *) ${sh`exec ${w.helper}`} del ;;`,
      'esac',
    ].join('\n'),
};
