import type { Check } from './context.js';
import { pgCitus, pgDatabaseOwner, pgHba, pgIdentity, pgPrimary, pgUpstream, pgVip } from './pgsql.js';
import { etcdMembers, minioMembers, oneClusterPerModule, redisMembers } from './modules.js';
import { hostAddresses, portClashes } from './hosts.js';
import { unknownVars } from './vars.js';
import { plaintextSecrets } from './secrets.js';

/** Every cross-field rule. Each runs on its own; all their problems are reported in one run. */
export const CHECKS: readonly Check[] = [
  unknownVars,
  hostAddresses,
  oneClusterPerModule,
  pgIdentity,
  pgPrimary,
  pgCitus,
  pgUpstream,
  pgDatabaseOwner,
  pgVip,
  pgHba,
  etcdMembers,
  redisMembers,
  minioMembers,
  portClashes,
  plaintextSecrets,
];

export type { Check, CheckContext } from './context.js';
