/** The whole front half of Corral: load, check against the schema, run the cross-field rules. */
import { loadInventory, mergeInventory, type Inventory, type LoadOptions } from './load.js';
import type { Settings } from './settings.js';
import { sourceFromValue, type SourceFile } from './source.js';
import { hostViews, type HostView } from './hosts.js';
import { clustersOf, type Cluster } from './clusters.js';
import { checks } from './checks/index.js';
import { byPosition, hasErrors, type Problem } from './problems.js';

export interface Validated {
  /** The folder the problems' files are named relative to, when known. */
  root?: string;
  inventory?: Inventory;
  hosts: HostView[];
  clusters: Cluster[];
  problems: Problem[];
  valid: boolean;
  /** Text of every file read, for code frames. */
  texts: Map<string, string>;
}

/** Never throws for bad input: every problem comes back located, errors and warnings alike. */
export async function validateInventory(target: string, options: LoadOptions = {}): Promise<Validated> {
  const loaded = await loadInventory(target, options);
  const problems = [...loaded.problems];
  let hosts: HostView[] = [];
  let clusters: Cluster[] = [];
  if (loaded.inventory) {
    hosts = hostViews(loaded.inventory);
    clusters = clustersOf(hosts);
    const ctx = { inventory: loaded.inventory, hosts, clusters };
    for (const check of checks()) for (const p of check(ctx)) problems.push(p);
  }
  const unique = dedupe(problems).sort(byPosition);
  const result: Validated = { root: loaded.root, hosts, clusters, problems: unique, valid: !hasErrors(unique), texts: loaded.texts };
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

/** What a validation elsewhere (a worker) sends of a valid revision: plain data. */
export interface PlainValidated {
  root: string;
  settings: Settings;
  files: Pick<SourceFile, 'path' | 'text' | 'value' | 'sops'>[];
  problems: Problem[];
  texts: [string, string][];
}

export function toPlain(v: Validated): PlainValidated | undefined {
  if (!v.valid || !v.inventory) return undefined;
  const { root, settings, files } = v.inventory;
  return { root, settings, files: files.map((f) => ({ path: f.path, text: f.text, value: f.value, ...(f.sops ? { sops: f.sops } : {}) })), problems: v.problems, texts: [...v.texts] };
}

/** A valid revision rebuilt from its plain form: merged and viewed again, not parsed, schema-checked or checked again. */
export function fromPlain(p: PlainValidated): Validated {
  const { inventory } = mergeInventory(p.root, p.settings, p.files.map((f) => sourceFromValue(f.path, f.text, f.value, f.sops)), false);
  const hosts = hostViews(inventory);
  return { inventory, hosts, clusters: clustersOf(hosts), problems: p.problems, valid: true, texts: new Map(p.texts) };
}
