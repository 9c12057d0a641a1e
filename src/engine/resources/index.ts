/** The generic resource kinds, by name (a module's own kinds live in its folder). A new kind is one file and one line here. */
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
import { staleFiles } from './stale-files.js';
import { moduleKinds } from '../modules.js';

// Each kind is typed on its own; the registry forgets the types, which plan.ts restores per resource.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyKind = Kind<any, any, string>;

const GENERIC = [file, directory, packages, aptSource, aptSourcesOnly, service, hostname, timezone, sysctl, kernelModule, block, group, user, symlink, reload, staleFiles] as const;

/** The generic kinds' names: every module builds resources of these (resourceList). */
export type GenericKindName = (typeof GENERIC)[number]['name'];

const GENERIC_BY_NAME = new Map<string, AnyKind>(GENERIC.map((k) => [k.name, k]));

const registered = (name: string): AnyKind | undefined => GENERIC_BY_NAME.get(name) ?? moduleKinds().get(name);

/** A kind by name: a generic one, or one of the modules handed to the core. */
export function kindOf(name: string): AnyKind {
  const kind = registered(name);
  if (!kind) throw new Error(`unknown resource kind ${name}`);
  return kind;
}

/** `kind` is the one plans find by its name: generic, or in its module's reconciler (`kinds`), and not shadowed by another. */
export const isRegistered = (kind: AnyKind): boolean => registered(kind.name) === kind;

export const isGeneric = (kind: AnyKind): boolean => GENERIC_BY_NAME.get(kind.name) === kind;
export * from './kind.js';
