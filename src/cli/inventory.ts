/** `corral inventory [PATH] --host IP`: a host's effective variables, secrets redacted, to debug precedence. */
import { stringify } from 'yaml';
import { validateInventory } from '../config/validate.js';
import { describeFleet, fleetCounts } from '../config/clusters.js';
import { schemas } from '../config/schema.js';
import { redactUrlCredentials, redactVar } from '../config/secrets.js';
import { displayPathOf, localizedMessage } from './paths.js';
import { EXIT, type Output } from './output.js';

export interface InventoryOptions {
  host?: string;
  format: 'yaml' | 'json';
  origins: boolean;
  /** Only the variables of this module (`pgsql`, `node`...: the schema's x-module; `connection` for ansible_*). */
  module?: string;
  /** Only the variables whose name matches this glob (`pg_*`, `*port*`). */
  grep?: string;
}

/** The module a variable belongs to, from its schema (`x-module`); `connection` for the ansible_* ones, undefined for the user's own. */
export function moduleOfVar(name: string): string | undefined {
  const at = schemas().params.get(name);
  if (!at) return undefined;
  const m = at.schema['x-module'];
  return typeof m === 'string' ? m.toLowerCase() : 'connection';
}

/** `pg_*` -> /^pg_.*$/: `*` any run of characters, `?` one; the rest literal. */
export function globToRegExp(glob: string): RegExp {
  return new RegExp(`^${glob.split('').map((ch) => (ch === '*' ? '.*' : ch === '?' ? '.' : ch.replace(/[.+^${}()|[\]\\]/g, '\\$&'))).join('')}$`);
}

export async function inventoryCommand(path: string, opts: InventoryOptions, out: Output): Promise<number> {
  const result = await validateInventory(path);
  const display = displayPathOf(result, path);
  if (!result.inventory) {
    for (const p of result.problems) out.error(redactUrlCredentials(`${display(p.file)}:${p.line}:${p.col} ${p.severity} ${localizedMessage(p, display)} [${p.code}]\n`));
    return EXIT.usage;
  }
  if ((opts.module || opts.grep) && !opts.host) {
    out.error('corral inventory: --module and --grep filter the variables of one host: give --host too\n');
    return EXIT.usage;
  }
  if (!opts.host) {
    const list = result.hosts.map((h) => ({
      host: h.name,
      groups: h.groups.filter((g) => g !== 'all'),
      clusters: result.clusters.filter((c) => c.members.includes(h)).map((c) => `${c.module}/${c.name}`),
    }));
    // The same count as corral validate and the daemon give; a YAML comment, so the output stays YAML.
    out.print(opts.format === 'json' ? JSON.stringify(list, null, 2) + '\n' : `# ${describeFleet(fleetCounts(result))}\n` + stringify(list));
    return EXIT.ok;
  }
  const host = result.hosts.find((h) => h.name === opts.host || h.address === opts.host);
  if (!host) {
    out.error(`no host ${opts.host} in ${path}; hosts: ${result.hosts.map((h) => h.name).join(', ')}\n`);
    return EXIT.usage;
  }
  const all = host.all();
  const module = opts.module?.toLowerCase();
  const pattern = opts.grep === undefined ? undefined : globToRegExp(opts.grep);
  const vars = Object.fromEntries(Object.entries(all).filter(([k]) => (!module || moduleOfVar(k) === module) && (!pattern || pattern.test(k))));
  const where = (key: string): string => {
    if (!host.has(key)) return 'default';
    const at = host.origin(key);
    return `${display(at.file)}:${at.line}:${at.col}`;
  };
  if (opts.format === 'json') {
    const body = Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, redactVar(k, v)]));
    const origins = opts.origins ? Object.fromEntries(Object.keys(vars).map((k) => [k, where(k)])) : undefined;
    out.print(JSON.stringify(origins ? { host: host.name, vars: body, origins } : { host: host.name, vars: body }, null, 2) + '\n');
    return EXIT.ok;
  }
  const filters = [module ? `module ${module}` : '', opts.grep === undefined ? '' : `names ${opts.grep}`].filter(Boolean);
  const shown = filters.length ? `; ${Object.keys(vars).length} of ${Object.keys(all).length} (${filters.join(', ')})` : '';
  out.print(`# effective variables of ${host.name} (groups: ${host.groups.join(', ')}); secrets redacted${shown}\n`);
  for (const [key, value] of Object.entries(vars)) {
    const text = stringify({ [key]: redactVar(key, value) }, { lineWidth: 0 }).trimEnd();
    if (!opts.origins) out.print(text + '\n');
    else {
      const [first, ...rest] = text.split('\n');
      out.print([`${first}  # ${where(key)}`, ...rest].join('\n') + '\n');
    }
  }
  return EXIT.ok;
}
