/** The whole front half of Corral: load, check against the schema, run the cross-field rules. */
import { loadInventory, type Inventory } from './load.js';
import { hostViews, type HostView } from './hosts.js';
import { clustersOf, type Cluster } from './clusters.js';
import { CHECKS } from './checks/index.js';
import { byPosition, hasErrors, type Problem } from './problems.js';

export interface Validated {
  inventory?: Inventory;
  hosts: HostView[];
  clusters: Cluster[];
  problems: Problem[];
  valid: boolean;
  /** Text of every file read, for code frames. */
  texts: Map<string, string>;
}

/** Never throws for bad input: every problem comes back located, errors and warnings alike. */
export async function validateInventory(target: string): Promise<Validated> {
  const loaded = await loadInventory(target);
  const problems = [...loaded.problems];
  let hosts: HostView[] = [];
  let clusters: Cluster[] = [];
  if (loaded.inventory) {
    hosts = hostViews(loaded.inventory);
    clusters = clustersOf(hosts);
    const ctx = { inventory: loaded.inventory, hosts, clusters };
    for (const check of CHECKS) problems.push(...check(ctx));
  }
  const unique = dedupe(problems).sort(byPosition);
  const result: Validated = { hosts, clusters, problems: unique, valid: !hasErrors(unique), texts: loaded.texts };
  if (loaded.inventory) result.inventory = loaded.inventory;
  return result;
}

/** Cluster-level values are read once per member: one rule broken at one place is one problem. */
function dedupe(problems: Problem[]): Problem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.code}|${p.file}|${p.line}|${p.col}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
