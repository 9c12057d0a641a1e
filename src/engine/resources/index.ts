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
import { modules } from '../modules.js';

// Each kind is typed on its own; the registry forgets the types, which plan.ts restores per resource.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyKind = Kind<any, any>;

const GENERIC: Record<string, AnyKind> = {
  file,
  directory,
  packages,
  'apt-source': aptSource,
  'apt-sources-only': aptSourcesOnly,
  service,
  hostname,
  timezone,
  sysctl,
  'kernel-module': kernelModule,
  block,
  group,
  user,
  symlink,
  reload,
  'stale-files': staleFiles,
};

/** A kind by name: a generic one, or one of the modules handed to the core. */
export function kindOf(name: string): AnyKind {
  const kind = GENERIC[name] ?? modules().kinds.get(name);
  if (!kind) throw new Error(`unknown resource kind ${name}`);
  return kind;
}
export * from './kind.js';
