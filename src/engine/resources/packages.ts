/**
 * A set of OS packages, installed in one transaction. Corral installs and never removes: a package
 * dropped from the inventory stays on the node, as with Pigsty.
 * The package-manager layer is a table, so dnf sits beside apt. Names always follow `--`, so a
 * name that starts with `-` is never read as an option (the schema refuses such names too).
 */
import { sh } from '../shell.js';
import { refTo, type Kind, type Ref } from './kind.js';

export type PackageManager = 'apt' | 'dnf';

export interface PackagesWant {
  /** Names the set in reports: `packages:node`. */
  name: string;
  manager: PackageManager;
  packages: string[];
}

/** Installed version per package; a missing package is absent from the map. */
export type PackagesHave = Record<string, string>;

interface ManagerCommands {
  /** Prints `name|version` for each installed package of the list. */
  query(pkgs: string[]): string;
  install(pkgs: string[]): string;
}

const MANAGERS: Record<PackageManager, ManagerCommands> = {
  apt: {
    query: (pkgs) => sh`dpkg-query -W -f='\${Package}|\${db:Status-Abbrev}|\${Version}\n' -- ${pkgs} 2>/dev/null | awk -F'|' '$2 ~ /^ii/ { print $1 "|" $3 }'`,
    // Lists may be stale or empty on a fresh node: refresh once and retry before failing.
    install: (pkgs) => {
      const install = sh`apt-get install -y -q --no-install-recommends -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold -- ${pkgs}`;
      return `export DEBIAN_FRONTEND=noninteractive\n${install} || { apt-get update -q && ${install}; }`;
    },
  },
  dnf: {
    query: (pkgs) => sh`rpm -q --qf '%{NAME}|%{VERSION}-%{RELEASE}\n' -- ${pkgs} 2>/dev/null | grep -v 'is not installed'`,
    install: (pkgs) => sh`dnf install -y -- ${pkgs}`,
  },
};

/** The set named `name`, for a note about one that could not be built (no package manager). */
export const packagesId = (name: string): Ref<PackagesHave> => refTo(packages, name);

export const packages: Kind<PackagesWant, PackagesHave, 'packages'> = {
  name: 'packages',
  id: (w) => packagesId(w.name),
  probe: (w) => (w.packages.length ? MANAGERS[w.manager].query(w.packages) + ' || true' : 'true'),
  parse: (out) => {
    const have: PackagesHave = {};
    for (const line of out.split('\n')) {
      const [name, version] = line.split('|');
      if (name && version) have[name.split(':')[0]!] = version;
    }
    return have;
  },
  diff: (w, h) => {
    const missing = w.packages.filter((p) => !h?.[p]);
    return missing.length ? [{ field: 'install', from: null, to: missing }] : [];
  },
  apply: (w, h) => MANAGERS[w.manager].install(w.packages.filter((p) => !h?.[p])),
};
