/** The ETCD module's resource kinds, by name. */
import { etcdAuth } from './etcd-auth.js';
import { etcdCluster } from './etcd-cluster.js';
import { etcdMember } from './etcd-member.js';
import { etcdTlsMove } from './etcd-tls-move.js';

export const ETCD_KINDS = { 'etcd-member': etcdMember, 'etcd-cluster': etcdCluster, 'etcd-auth': etcdAuth, 'etcd-tls-move': etcdTlsMove };
