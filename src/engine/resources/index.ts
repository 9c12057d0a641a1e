/** Every resource kind, by name. A new kind is one file and one line here. */
import type { Kind } from './kind.js';
import { directory, file } from './file.js';
import { packages } from './packages.js';
import { aptSource, aptSourcesOnly } from './apt-source.js';
import { service } from './service.js';
import { hostname, timezone } from './system.js';
import { kernelModule, sysctl } from './kernel.js';
import { block } from './block.js';
import { group, user } from './account.js';
import { symlink } from './symlink.js';
import { reload } from './reload.js';
import { patroniMember } from './patroni-member.js';
import { patroniLeader } from './patroni-leader.js';
import { patroniDcs } from './patroni-dcs.js';
import { patroniRestart } from './patroni-restart.js';
import { patroniRetire } from './patroni-retire.js';
import { staleFiles } from './stale-files.js';
import { pgbackrestStanza } from './pgbackrest-stanza.js';
import { etcdMember } from './etcd-member.js';
import { etcdCluster } from './etcd-cluster.js';
import { etcdAuth } from './etcd-auth.js';
import { pgRole } from './pg-role.js';
import { pgDatabase } from './pg-database.js';
import { pgConfFile } from './pg-conf-file.js';

// Each kind is typed on its own; the registry forgets the types, which plan.ts restores per resource.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const KINDS: Record<string, Kind<any, any>> = {
  file,
  directory,
  packages,
  'apt-source': aptSource,
  'apt-sources-only': aptSourcesOnly,
  service,
  hostname,
  timezone,
  sysctl,
  'kernel-module': kernelModule,
  block,
  group,
  user,
  'etcd-member': etcdMember,
  'etcd-cluster': etcdCluster,
  'etcd-auth': etcdAuth,
  'pg-role': pgRole,
  'pg-database': pgDatabase,
  'pg-conf-file': pgConfFile,
  symlink,
  reload,
  'patroni-member': patroniMember,
  'patroni-leader': patroniLeader,
  'patroni-dcs': patroniDcs,
  'patroni-restart': patroniRestart,
  'patroni-retire': patroniRetire,
  'stale-files': staleFiles,
  'pgbackrest-stanza': pgbackrestStanza,
};

export type KindName = keyof typeof KINDS;
export * from './kind.js';
