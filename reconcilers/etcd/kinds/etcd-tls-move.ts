/**
 * Moves one member of an etcd cluster that runs plain http (as Corral built it before etcd had
 * TLS) to https for peers and clients: its peer URL is updated in the cluster (`member update`),
 * its TLS config written and etcd restarted, and the step is done when the member is healthy again
 * over https. One member at a time (the module orders the members), so the others keep a quorum.
 *
 * Clients that still speak plain http lose this member; Patroni keeps its leader through the move
 * because the PGSQL clusters that use this etcd are paused first (the PGSQL module's patroni-pause),
 * which only a run over both modules can order: a run of etcd alone holds the move (`heldBy`).
 * etcd 3.4 cannot serve http and https on one port reliably (its gRPC gateway breaks), so there is
 * no phase in which both work.
 */
import { sh, writeFileAtomic } from '../../../src/engine/shell.js';
import { refTo, type Kind, type Unsupported } from '../../../src/engine/resources/kind.js';

export interface EtcdTlsMoveWant {
  name: string;
  confPath: string;
  /** The member's TLS config, as etcd-member writes it for a member with data. */
  conf: string;
  /** The member's https peer URL. */
  peerURL: string;
  /** The member's client port, to check its health over https on the node. */
  port: number;
  /** CA, certificate and key files on the node (written before this step). */
  tls: { ca: string; cert: string; key: string };
  /** Why this run must not move the member (a PGSQL cluster that uses it is not in the run), if it must not. */
  heldBy?: string;
}

export interface EtcdTlsMoveHave {
  plain: boolean;
}

/** Where a member's config lives. */
export const ETCD_CONF = '/etc/etcd/etcd.conf';

/** A config whose peers talk plain http: what Corral wrote before etcd had TLS. */
export const PLAIN_PEERS = /^listen-peer-urls: "http:/m;

const PLAIN_MARK = 'etcd-plain=yes';
/** Shell that is true when the member on this node still runs plain http: Corral's https etcdctl would only time out there. */
export const runsPlain = sh`grep -q '^listen-peer-urls: "http:' ${ETCD_CONF} 2>/dev/null`;
export const plainProbe = (confPath: string): string => sh`grep -q '^listen-peer-urls: "http:' ${confPath} 2>/dev/null && echo ${PLAIN_MARK}`;
export const isPlain = (out: string): boolean => out.split('\n').includes(PLAIN_MARK);

const HEALTH_TIMEOUT_SECONDS = 60;

export const etcdTlsMove: Kind<EtcdTlsMoveWant, EtcdTlsMoveHave, 'etcd-tls-move'> = {
  name: 'etcd-tls-move',
  id: (w) => refTo(etcdTlsMove, w.name),
  probe: (w) => `${plainProbe(w.confPath)}; true`,
  parse: (out, w): EtcdTlsMoveHave | Unsupported => {
    const plain = isPlain(out);
    return plain && w.heldBy ? { unsupported: `${w.name} runs plain http (${w.confPath}): ${w.heldBy}` } : { plain };
  },
  diff: (w, h) => (h?.plain ? [{ field: 'transport', from: 'plain http, no auth', to: `https for peers and clients (${w.peerURL}); etcd restarts` }] : []),
  apply: (w) => {
    const local = 'ETCDCTL_API=3 etcdctl --dial-timeout=2s --command-timeout=5s';
    const plainLocal = `${local} --endpoints=${sh`http://127.0.0.1:${String(w.port)}`}`;
    const tlsLocal = `${local} --endpoints=${sh`https://127.0.0.1:${String(w.port)}`} ${sh`--cacert=${w.tls.ca} --cert=${w.tls.cert} --key=${w.tls.key}`}`;
    return [
      // The member's own entry, by name: its id for `member update` (already https after an interrupted run).
      `id=$(${plainLocal} member list | awk -F', ' ${sh`-v n=${w.name}`} '$3 == n { print $1 }') || true`,
      `if [ -n "$id" ]; then ${plainLocal} member update "$id" ${sh`--peer-urls=${w.peerURL}`} >/dev/null; fi`,
      writeFileAtomic(w.confPath, w.conf, { mode: 0o644, owner: 'etcd', group: 'etcd' }),
      'systemctl restart etcd.service',
      `healthy=; for i in $(seq ${HEALTH_TIMEOUT_SECONDS}); do if ${tlsLocal} endpoint health >/dev/null 2>&1; then healthy=1; break; fi; sleep 1; done`,
      sh`[ -n "$healthy" ] || { echo ${`${w.name} did not become healthy over https within ${HEALTH_TIMEOUT_SECONDS}s`} >&2; exit 1; }`,
    ].join('\n');
  },
  effects: () => ({ restarts: true }),
};
