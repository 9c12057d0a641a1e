/**
 * `corral init [DIR] --template NAME`: a new config repository from one of the inventory shapes
 * shipped under examples/, as Pigsty's `./configure` starts one from its conf/ templates. What it
 * writes validates as it is.
 */
import { cpSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { packageRoot } from '../util/package-root.js';
import { EXIT, type Output } from './output.js';

interface Template {
  /** The folder under examples/. */
  folder: string;
  description: string;
  /** What to do next, after the files are written. */
  next: string;
}

export const TEMPLATES: Record<string, Template> = {
  single: {
    folder: 'single',
    description: "Pigsty's default install on one node: INFRA, a one-member etcd and the PostgreSQL cluster pg-meta",
    next: 'replace 10.10.10.10 with the node\'s address and change the passwords at the end of pigsty.yml',
  },
  fleet: {
    folder: 'fleet',
    description: 'a split repository: corral.yml, shared settings in global.yml, one file per cluster (etcd, a three-node PostgreSQL cluster, a Redis pair)',
    next: 'replace the 10.213.0.x addresses and the passwords in global.yml and clusters/',
  },
  local: {
    folder: 'local',
    description: 'the machine Corral runs on as a one-node fleet, over the local connector (no SSH), in manual sync',
    next: 'corral serve --watch DIR shows the plan for this machine; nothing is applied until asked',
  },
};

export const templateNames = (): string[] => Object.keys(TEMPLATES);

export function initCommand(dir: string, opts: { template: string; list?: boolean }, out: Output): number {
  if (opts.list) {
    for (const [name, t] of Object.entries(TEMPLATES)) out.print(`${name.padEnd(8)} ${t.description}\n`);
    return EXIT.ok;
  }
  const template = TEMPLATES[opts.template];
  if (!template) {
    out.error(`corral init: no template ${JSON.stringify(opts.template)}; templates: ${templateNames().join(', ')}\n`);
    return EXIT.usage;
  }
  const target = resolve(dir);
  if (existsSync(target) && readdirSync(target).some((f) => f !== '.git')) {
    out.error(`corral init: ${dir} is not empty; give a new or empty folder (nothing was written)\n`);
    return EXIT.usage;
  }
  mkdirSync(target, { recursive: true });
  cpSync(join(packageRoot, 'examples', template.folder), target, { recursive: true });
  const files = readdirSync(target, { recursive: true, withFileTypes: true }).filter((f) => f.isFile()).map((f) => join(f.parentPath, f.name).slice(target.length + 1)).sort();
  out.print(`${dir}: a new config repository from the ${opts.template} template (${files.join(', ')})\n`);
  out.print(`next: ${template.next}; then corral validate ${dir} and corral plan ${dir}\n`);
  return EXIT.ok;
}
