/**
 * Loading an inventory: find its files, parse them with positions, check each against the
 * inventory schema, and merge them into one set of groups and hosts. Variables keep the file and
 * path they were written at, so every later problem can point back at the YAML.
 */
import { realpath, stat } from 'node:fs/promises';
import { existsSync, lstatSync, realpathSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { readSource, locate, unreadable, wholeFile, type PathSegment, type SourceFile } from './source.js';
import { position, problem, type Location, type Problem } from './problems.js';
import { validators } from './validators.js';
import { schemaProblems } from './schema-problems.js';
import { DEFAULT_SETTINGS, readSettings, SETTINGS_FILE, type Settings } from './settings.js';
import { problemsOutsideEncrypted, readEncrypted, withoutMetadata } from './sops/validate.js';

/** A mapping of variables as written in one place of one file. */
export interface VarsBlock {
  file: SourceFile;
  path: PathSegment[];
  vars: Record<string, unknown>;
}

export interface GroupDef {
  name: string;
  /** Where the group is defined (has hosts or vars); the first mention otherwise. */
  at: Location;
  vars: VarsBlock[];
  hosts: string[];
  children: string[];
  parents: string[];
  defined: boolean;
}

export interface HostEntry {
  group: string;
  block: VarsBlock;
}

export interface HostDef {
  name: string;
  at: Location;
  /** Host vars as written under each group that lists the host. */
  entries: HostEntry[];
}

export interface Inventory {
  root: string;
  settings: Settings;
  files: SourceFile[];
  groups: Map<string, GroupDef>;
  hosts: Map<string, HostDef>;
  /** The plaintexts of its SOPS-encrypted values, once decrypted (decrypt.ts): secrets, wherever they land. */
  decrypted?: readonly string[];
}

export interface LoadOptions {
  /** Plaintext secrets are errors, whatever corral.yml says (corral serve --require-encrypted-secrets). */
  requireEncryptedSecrets?: boolean;
}

const DEFAULT_INVENTORY = 'pigsty.yml';

/**
 * The inventory's files, relative to its root. Globs never follow symlinks: a linked folder could
 * lead out of the checkout or loop, and a chain of links multiplies the walk.
 */
async function inventoryFiles(root: string, settings: Settings, hasSettings: boolean): Promise<string[]> {
  const options = { cwd: root, onlyFiles: true, expandDirectories: false, followSymbolicLinks: false };
  // The glob library is loaded only where an inventory globs: a pigsty.yml or one file is read without it.
  if (settings.inventory) {
    const { glob, isDynamicPattern } = await import('tinyglobby');
    // Files merge in the order of the patterns, each pattern's matches sorted.
    const ordered = new Set<string>();
    for (const pattern of settings.inventory) {
      const matched = await glob(pattern, { ...options, ignore: [SETTINGS_FILE] });
      // A pattern naming one file that the glob skipped: a symlink, which `refusal` then refuses by name.
      if (!matched.length && !isDynamicPattern(pattern) && existsSync(join(root, pattern))) matched.push(pattern);
      for (const f of matched.sort()) ordered.add(f);
    }
    return [...ordered];
  }
  if (existsSync(join(root, DEFAULT_INVENTORY))) return [DEFAULT_INVENTORY];
  // Without a pigsty.yml, only a folder with a corral.yml is an inventory: its YAML files, every one.
  if (!hasSettings) return [];
  const { glob } = await import('tinyglobby');
  const found = await glob(['**/*.yml', '**/*.yaml'], { ...options, ignore: [SETTINGS_FILE, '**/node_modules/**'] });
  return found.sort();
}

/** Why a file of the inventory may not be read, if it may not: it must be itself, inside the checkout. Synchronous, as readSource is. */
function refusal(realRoot: string, root: string, name: string): Problem | undefined {
  const at = wholeFile(name);
  const path = join(root, name);
  try {
    if (lstatSync(path).isSymbolicLink()) {
      return problem('io/symlink', at, `${name} is a symlink; inventory files are read without following symlinks`);
    }
    const real = realpathSync.native(path);
    const rel = relative(realRoot, real);
    if (rel === '' || rel === '..' || rel.startsWith('../') || isAbsolute(rel)) {
      return problem('io/outside-repo', at, `${name} resolves to a place outside the repository; it is not read`);
    }
  } catch (e) {
    return unreadable(name, e);
  }
  return undefined;
}

/** A key's location, computed on first read: most are never shown, and locating walks the document. */
function lazyLocation(file: SourceFile, path: PathSegment[]): Location {
  let at: Location | undefined;
  const get = (): Location => (at ??= locate(file, path, 'key'));
  return {
    get file() { return get().file; },
    get line() { return get().line; },
    get col() { return get().col; },
    get pointer() { return get().pointer; },
  };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

class Merger {
  readonly groups = new Map<string, GroupDef>();
  readonly hosts = new Map<string, HostDef>();
  readonly problems: Problem[] = [];
  /** First place each (group or host, variable) was set: duplicates across files are errors. */
  private readonly varSites = new Map<string, { block: VarsBlock; group: string }>();
  /** Each group's hosts as a set too: a group of 100,000 hosts must not compare each with all. */
  private readonly hostSets = new Map<string, Set<string>>();

  /** `reporting: false` when the problems are known already: locating them would parse the files again. */
  constructor(private readonly reporting: boolean) {}

  add(file: SourceFile): void {
    const doc = file.value;
    if (!isObject(doc) || !(doc.all === null || isObject(doc.all))) return;
    this.group(file, 'all', doc.all ?? {}, ['all'], undefined);
  }

  private group(file: SourceFile, name: string, node: Record<string, unknown>, path: PathSegment[], parent: string | undefined): void {
    const at = lazyLocation(file, path);
    let def = this.groups.get(name);
    if (!def) {
      def = { name, at, vars: [], hosts: [], children: [], parents: [], defined: false };
      this.groups.set(name, def);
    }
    if (parent && !def.parents.includes(parent)) def.parents.push(parent);
    const defines = isObject(node.vars) || isObject(node.hosts);
    if (defines && name !== 'all') {
      if (def.defined && def.at.file !== file.path) {
        this.problems.push(problem('inventory/duplicate-group', at, `group "${name}" is also defined at ${position(def.at)}`, { related: def.at }));
        return;
      }
      if (!def.defined) def.at = at;
      def.defined = true;
    }
    if (isObject(node.vars)) {
      const block: VarsBlock = { file, path: [...path, 'vars'], vars: node.vars };
      for (const key of Object.keys(block.vars)) this.claim(`group ${name}`, name, block, key);
      def.vars.push(block);
    }
    if (isObject(node.hosts)) {
      for (const [host, hv] of Object.entries(node.hosts)) {
        const hostPath = [...path, 'hosts', host];
        const block: VarsBlock = { file, path: hostPath, vars: isObject(hv) ? hv : {} };
        let h = this.hosts.get(host);
        if (!h) {
          h = { name: host, at: lazyLocation(file, hostPath), entries: [] };
          this.hosts.set(host, h);
        }
        for (const key of Object.keys(block.vars)) this.claim(`host ${host}`, name, block, key);
        h.entries.push({ group: name, block });
        let listed = this.hostSets.get(name);
        if (!listed) this.hostSets.set(name, (listed = new Set()));
        if (!listed.has(host)) {
          listed.add(host);
          def.hosts.push(host);
        }
      }
    }
    if (isObject(node.children)) {
      for (const [child, cv] of Object.entries(node.children)) {
        if (!def.children.includes(child)) def.children.push(child);
        this.group(file, child, isObject(cv) ? cv : {}, [...path, 'children', child], name);
      }
    }
  }

  /** A variable set twice for one owner: an error across files; a warning when one host's groups disagree in one file. */
  private claim(owner: string, group: string, block: VarsBlock, key: string): void {
    const id = `${owner}\u0000${key}`;
    const first = this.varSites.get(id);
    if (!first) {
      this.varSites.set(id, { block, group });
      return;
    }
    // Locations are costly to compute, so only a problem computes them.
    const sameFile = first.block.file === block.file;
    const conflict = !sameFile || (first.group !== group && JSON.stringify(first.block.vars[key]) !== JSON.stringify(block.vars[key]));
    if (!conflict || !this.reporting) return;
    const at = locate(block.file, [...block.path, key], 'key');
    const firstAt = locate(first.block.file, [...first.block.path, key], 'key');
    const where = `${firstAt.file}:${firstAt.line}:${firstAt.col}`;
    if (!sameFile) {
      this.problems.push(problem('inventory/duplicate-var', at, `${owner} sets "${key}" here and at ${where}`, { related: firstAt }));
    } else {
      this.problems.push(problem('inventory/conflicting-host-var', at, `${owner} sets "${key}" in groups "${first.group}" and "${group}" to different values (see ${where}); "${group}" wins`, { related: firstAt }));
    }
  }

  finish(): void {
    for (const def of this.groups.values()) {
      if (def.name !== 'all' && !def.parents.length) def.parents.push('all');
    }
    // A group that only ever appears as a name in `children`, with nothing under it, is fine in
    // Ansible (an empty group); a cycle is not.
    const state = new Map<string, 'visiting' | 'done'>();
    const visit = (name: string, trail: string[]): void => {
      if (state.get(name) === 'done') return;
      if (state.get(name) === 'visiting') {
        const def = this.groups.get(name)!;
        this.problems.push(problem('inventory/group-cycle', def.at, `group "${name}" is its own descendant: ${[...trail, name].join(' -> ')}`));
        return;
      }
      state.set(name, 'visiting');
      for (const child of this.groups.get(name)?.children ?? []) visit(child, [...trail, name]);
      state.set(name, 'done');
    };
    for (const name of this.groups.keys()) visit(name, []);
  }
}

export interface LoadResult {
  /** The folder the inventory's files are named relative to (a file's folder, for a single file). */
  root: string;
  inventory?: Inventory;
  problems: Problem[];
  /** The text of every file read, by its shown path, for code frames (also of files that did not parse). */
  texts: Map<string, string>;
}

/** Load the inventory at a repo folder (with its corral.yml) or a single YAML file. Never throws for bad input. */
export async function loadInventory(target: string, options: LoadOptions = {}): Promise<LoadResult> {
  const abs = resolve(target);
  let isDir: boolean;
  try {
    isDir = (await stat(abs)).isDirectory();
  } catch (e) {
    // Named as given (a URL given as a path keeps its `://`, so its password is redacted wherever it shows).
    return { root: process.cwd(), problems: [unreadable(target, e)], texts: new Map() };
  }
  const root = isDir ? abs : dirname(abs);
  const problems: Problem[] = [];
  const texts = new Map<string, string>();
  let settings = DEFAULT_SETTINGS;
  let hasSettings = false;
  if (isDir) {
    const read = await readSettings(root);
    settings = read.settings;
    for (const p of read.problems) problems.push(p);
    if (read.text !== undefined) texts.set(SETTINGS_FILE, read.text);
    hasSettings = read.text !== undefined;
  }
  // A repository can ask for encrypted secrets; when the daemon asks, it cannot say no.
  if (options.requireEncryptedSecrets) settings = { ...settings, secrets: { requireEncrypted: true } };
  const names = isDir ? await inventoryFiles(root, settings, hasSettings) : [basename(abs)];
  if (!names.length) {
    problems.push(problem('io/no-inventory', wholeFile('.'), settings.inventory ? `no file matches inventory: ${settings.inventory.join(', ')}` : `not an inventory: no ${DEFAULT_INVENTORY} and no ${SETTINGS_FILE} listing its files here`));
    return { root, problems, texts };
  }
  if (names.length > settings.limits.maxFiles) {
    problems.push(problem('io/too-many', wholeFile(names[settings.limits.maxFiles]!), `the inventory has ${names.length} files, over the limit of ${settings.limits.maxFiles}`));
    return { root, problems, texts };
  }
  const realRoot = isDir ? await realpath(root) : undefined;
  const files: SourceFile[] = [];
  const { validateInventory: validate } = await validators();
  let bytesRead = 0;
  for (const name of names) {
    const refused = realRoot === undefined ? undefined : refusal(realRoot, root, name);
    if (refused) {
      problems.push(refused);
      continue;
    }
    const read = readSource(join(root, name), name, settings.limits);
    for (const p of read.problems) problems.push(p);
    if (read.text !== undefined) {
      texts.set(name, read.text);
      bytesRead += read.text.length;
      if (bytesRead > settings.limits.maxTotalBytes) {
        problems.push(problem('io/too-many', wholeFile(name), `the inventory's files hold more than ${settings.limits.maxTotalBytes} bytes in all; the rest is not read`));
        return { root, problems, texts };
      }
    }
    if (!read.file) continue;
    files.push(read.file);
    const encrypted = readEncrypted(read.file);
    for (const p of encrypted.problems) problems.push(p);
    const invalid = validate(withoutMetadata(read.file.value) ?? null) ? [] : schemaProblems(read.file, validate.errors ?? []);
    const schema = problemsOutsideEncrypted(invalid, encrypted.view);
    if (encrypted.view) read.file.sops = { ...encrypted.view, ...(schema.held ? { schemaHeld: true } : {}) };
    for (const p of schema.problems) problems.push(p);
  }
  const merged = mergeInventory(root, settings, files);
  // A loop, not a spread: a hostile inventory can make more problems than the stack holds arguments.
  for (const p of merged.problems) problems.push(p);
  return { root, inventory: merged.inventory, problems, texts };
}

/** Groups and hosts from files already read and checked, in the order given. */
export function mergeInventory(root: string, settings: Settings, files: SourceFile[], reporting = true): { inventory: Inventory; problems: Problem[] } {
  const merger = new Merger(reporting);
  for (const file of files) merger.add(file);
  merger.finish();
  return { inventory: { root, settings, files, groups: merger.groups, hosts: merger.hosts }, problems: merger.problems };
}
