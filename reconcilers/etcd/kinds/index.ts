/** The ETCD module's resource kinds: registered with the engine from this one place (the reconciler's `kinds`, index.ts), and the only module kinds its builder takes. */
import { etcdAuth } from './etcd-auth.js';
import { etcdCluster } from './etcd-cluster.js';
import { etcdMember } from './etcd-member.js';
import { etcdTlsMove } from './etcd-tls-move.js';

export const ETCD_KINDS = [etcdMember, etcdCluster, etcdAuth, etcdTlsMove] as const;
