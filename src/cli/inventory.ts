/** `corral inventory [PATH] --host IP`: a host's effective variables, secrets redacted, to debug precedence. */
import { relative, join } from 'node:path';
import { stringify } from 'yaml';
import { validateInventory } from '../config/validate.js';
import { redactUrlCredentials, redactVar } from '../config/secrets.js';
import { EXIT, type Output } from './output.js';

export async function inventoryCommand(path: string, opts: { host?: string; format: 'yaml' | 'json'; origins: boolean }, out: Output): Promise<number> {
  const result = await validateInventory(path);
  if (!result.inventory) {
    for (const p of result.problems) out.error(redactUrlCredentials(`${p.file}:${p.line}:${p.col} ${p.severity} ${p.message} [${p.code}]\n`));
    return EXIT.usage;
  }
  const root = result.inventory.root;
  if (!opts.host) {
    const list = result.hosts.map((h) => ({
      host: h.name,
      groups: h.groups.filter((g) => g !== 'all'),
      clusters: result.clusters.filter((c) => c.members.includes(h)).map((c) => `${c.module}/${c.name}`),
    }));
    out.print(opts.format === 'json' ? JSON.stringify(list, null, 2) + '\n' : stringify(list));
    return EXIT.ok;
  }
  const host = result.hosts.find((h) => h.name === opts.host || h.address === opts.host);
  if (!host) {
    out.error(`no host ${opts.host} in ${path}; hosts: ${result.hosts.map((h) => h.name).join(', ')}\n`);
    return EXIT.usage;
  }
  const vars = host.all();
  const where = (key: string): string => {
    if (!host.has(key)) return 'default';
    const at = host.origin(key);
    return `${relative(process.cwd(), join(root, at.file)) || at.file}:${at.line}:${at.col}`;
  };
  if (opts.format === 'json') {
    const body = Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, redactVar(k, v)]));
    const origins = opts.origins ? Object.fromEntries(Object.keys(vars).map((k) => [k, where(k)])) : undefined;
    out.print(JSON.stringify(origins ? { host: host.name, vars: body, origins } : { host: host.name, vars: body }, null, 2) + '\n');
    return EXIT.ok;
  }
  out.print(`# effective variables of ${host.name} (groups: ${host.groups.join(', ')}); secrets redacted\n`);
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
