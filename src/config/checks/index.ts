import type { Check } from './context.js';
import { oneClusterPerModule } from './modules.js';
import { hostAddresses, portClashes } from './hosts.js';
import { unknownVars } from './vars.js';
import { plaintextSecrets } from './secrets.js';
import { modules } from '../../engine/modules.js';

/** Every cross-field rule: the core's, and each module's own. Each runs on its own; all their problems are reported in one run. */
export function checks(): Check[] {
  return [unknownVars, hostAddresses, oneClusterPerModule, ...modules().descriptors.flatMap((d) => d.checks), portClashes, plaintextSecrets];
}

export type { Check, CheckContext } from './context.js';
