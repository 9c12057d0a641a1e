/**
 * A member the inventory no longer names, retired on its own node: Patroni stopped and disabled
 * (it stops its PostgreSQL cleanly; the member's key leaves the DCS with its lease), pgbouncer
 * stopped, and the cluster's HAProxy services removed. The data directory is kept: removing a
 * member must not destroy its data. Never a running leader: the apply checks again on the node.
 */
import { sh } from '../../../src/engine/shell.js';
import { keyValues, refTo, type Kind } from '../../../src/engine/resources/kind.js';
import { restCurl } from './patroni-api.js';

export interface PatroniRetireWant {
  cluster: string;
  /** The member name, `<pg_cluster>-<pg_seq>`. */
  name: string;
  /** Its Patroni REST base URL. */
  api: string;
  /** The CA file on the node, when the REST API serves https. */
  caFile?: string;
}

export interface PatroniRetireHave {
  patroniRunning: boolean;
  patroniEnabled: boolean;
  pgbouncerRunning: boolean;
  /** The cluster's service files in /etc/haproxy/conf.d (or /etc/haproxy, where Corral wrote them before conf.d). */
  haproxyServices: number;
}

const servicesGlob = (cluster: string): string => ['/etc/haproxy/conf.d/', '/etc/haproxy/'].map((dir) => sh`${`${dir}${cluster}-`}` + '*.cfg').join(' ');

/** What notes about cluster `cluster`'s departed members are filed under (no resource: none is built when a member stays). */
export const retireNotesId = (cluster: string): string => refTo(patroniRetire, cluster);

export const patroniRetire: Kind<PatroniRetireWant, PatroniRetireHave, 'patroni-retire'> = {
  name: 'patroni-retire',
  id: (w) => refTo(patroniRetire, w.name),
  probe: (w) =>
    [
      `printf 'patroni=%s\\n' "$(systemctl is-active patroni 2>/dev/null)"`,
      `printf 'enabled=%s\\n' "$(systemctl is-enabled patroni 2>/dev/null)"`,
      `printf 'pgbouncer=%s\\n' "$(systemctl is-active pgbouncer 2>/dev/null)"`,
      `printf 'haproxy=%s\\n' "$(ls ${servicesGlob(w.cluster)} 2>/dev/null | wc -l)"`,
    ].join('; '),
  parse: (out) => {
    const kv = keyValues(out);
    return {
      patroniRunning: ['active', 'activating', 'reloading'].includes(kv.get('patroni') ?? ''),
      patroniEnabled: kv.get('enabled') === 'enabled',
      pgbouncerRunning: ['active', 'activating', 'reloading'].includes(kv.get('pgbouncer') ?? ''),
      haproxyServices: Number(kv.get('haproxy') ?? 0) || 0,
    };
  },
  diff: (w, h) => [
    ...(h?.patroniRunning ? [{ field: 'patroni running', from: true, to: false }] : []),
    ...(h?.patroniEnabled ? [{ field: 'patroni enabled', from: true, to: false }] : []),
    ...(h?.pgbouncerRunning ? [{ field: 'pgbouncer running', from: true, to: false }] : []),
    ...(h?.haproxyServices ? [{ field: `${w.cluster} HAProxy services`, from: h.haproxyServices, to: 0 }] : []),
  ],
  apply: (w) =>
    [
      // The plan saw a replica; a failover since then may have made it the leader: never stop a leader here.
      `if ${restCurl(w, '-sf -o /dev/null', `${w.api}/primary`)}; then ` + sh`echo ${`${w.name} leads the cluster now: switch over (pg_role) before removing it`} >&2; exit 1; fi`,
      'systemctl disable --now patroni.service',
      'systemctl disable --now pgbouncer.service 2>/dev/null || true',
      `rm -f ${servicesGlob(w.cluster)}`,
      'if systemctl -q is-active haproxy; then systemctl reload haproxy; fi',
    ].join('\n'),
  effects: () => ({ destructive: true }),
};
