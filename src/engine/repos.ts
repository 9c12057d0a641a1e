/**
 * repo_upstream as Pigsty picks from it for one node: the entries of the repo modules the node uses
 * (node_repo_modules), for its OS release and arch. NODE writes their APT sources; a module whose
 * packages Debian does not ship (a PostgreSQL major, MinIO's silo) asks here whether a repository
 * that has them is configured for the node, and blocks its plan when none is.
 */
import type { HostView } from '../config/hosts.js';
import type { RepoUpstream } from '../types/inventory.gen.js';
import type { Facts } from './model.js';

/** The repo modules NODE configures on the host, from node_repo_modules (`local`, `node,infra,pgsql`). */
export const nodeRepoModules = (h: HostView): string[] =>
  h
    .param('node_repo_modules')
    .split(',')
    .map((m) => m.trim())
    .filter(Boolean);

/** repo_upstream entries for the node's OS release and arch, of any module (Pigsty names arches x86_64 and aarch64). */
export function upstreamFor(h: HostView, f: Facts): RepoUpstream[] {
  const arch = f.arch === 'amd64' ? 'x86_64' : f.arch === 'arm64' ? 'aarch64' : f.arch;
  return h.param('repo_upstream')
    .filter((r) => !r.releases || r.releases.map(String).includes(String(parseInt(f.osVersion, 10))))
    .filter((r) => !r.arch || r.arch.includes(arch));
}

/** The first repository configured for the node (in one of its node_repo_modules, for its release and arch) whose name or module matches `offers`. */
export function configuredRepo(h: HostView, f: Facts, offers: RegExp): RepoUpstream | undefined {
  const modules = nodeRepoModules(h);
  return upstreamFor(h, f).find((r) => modules.includes(r.module ?? '') && offers.test(`${r.name} ${r.module ?? ''}`));
}

/** How a blocking note names what was searched: `node_repo_modules "local" on debian 12 x86_64`. */
export const searchedRepos = (h: HostView, f: Facts): string => `node_repo_modules "${nodeRepoModules(h).join(',')}" on ${f.osId} ${f.osVersion} ${f.arch}`;
