/** The rule that binds every module: one cluster per module for a host. */
import { position, problem, type Problem } from '../problems.js';
import type { Check } from './context.js';
import { modules } from '../../engine/modules.js';

export const oneClusterPerModule: Check = (ctx) => {
  const out: Problem[] = [];
  // A host's groups must agree on each variable that names its cluster of a module.
  const identities = modules().descriptors.flatMap((d) => d.identities);
  for (const host of ctx.hosts) {
    for (const key of identities) {
      const defs = host.definitions(key);
      const winner = defs[0];
      for (const other of defs.slice(1)) {
        if (winner && other.value !== winner.value) {
          out.push(problem('module/host-in-two-clusters', other.at, `${host.name} is put in ${key} "${String(other.value)}" here and "${String(winner.value)}" at ${position(winner.at)}`, { related: winner.at }));
        }
      }
    }
  }
  return out;
};
