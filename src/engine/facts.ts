/** The facts probe: OS, arch, package manager, memory, CPUs, filesystems. One fragment of the host's one script. */
import type { Facts } from './model.js';
import { keyValues } from './resources/kind.js';

// Shell builtins wherever they do: the probe runs at every drift check of every host, and each fork
// there costs more than the rest of the probe (a fleet of 1,000 hosts pays it 1,000 times a sync).
// The hostname and time zone are the NODE module's own probes (resources/system.ts), not facts.
export const FACTS_PROBE = [
  '. /etc/os-release 2>/dev/null',
  'echo "os_id=$ID"; echo "os_version=$VERSION_ID"; echo "codename=$VERSION_CODENAME"',
  // `uname -m` as the kernel reports it; /proc/sys/kernel/arch (Linux 6.1+) is the same without a fork.
  'read -r arch < /proc/sys/kernel/arch 2>/dev/null || arch=$(uname -m); echo "arch=$arch"',
  'if command -v apt-get >/dev/null; then echo pm=apt; elif command -v dnf >/dev/null; then echo pm=dnf; else echo pm=unknown; fi',
  // Pigsty's node_mem_mb and node_cpu: MemTotal (a container sees its host's), the processors online ("0-3,8").
  'while read -r key kib _; do [ "$key" = MemTotal: ] && echo "mem_kib=$kib" && break; done < /proc/meminfo',
  'n=0; IFS=, read -ra online < /sys/devices/system/cpu/online; for r in "${online[@]}"; do n=$((n + ${r#*-} - ${r%-*} + 1)); done',
  '[ "$n" -gt 0 ] 2>/dev/null || n=$(nproc); echo "cpus=$n"',
  // Each filesystem's size and mount point, `fs=<KiB> <mount>`: the module picks the one a path is on.
  "while read -r kib mount; do case $kib in '' | *[!0-9]*) ;; *) echo \"fs=$kib $mount\" ;; esac; done < <(df -k --output=size,target -x tmpfs -x devtmpfs -x squashfs -x overlay 2>/dev/null)",
].join('\n');

/** `fs=<KiB> <mount>` lines; a mount listed twice keeps its first size. */
function filesystems(out: string): Record<string, number> {
  const fs: Record<string, number> = {};
  for (const line of out.split('\n')) {
    const m = /^fs=(\d+) (.+)$/.exec(line.trim());
    if (m && !Object.hasOwn(fs, m[2]!)) fs[m[2]!] = Number(m[1]);
  }
  return fs;
}

const positive = (v: string | undefined): number | undefined => (v && /^\d+$/.test(v) && Number(v) > 0 ? Number(v) : undefined);

export function parseFacts(out: string): Facts {
  const kv = keyValues(out);
  const pm = kv.get('pm');
  const memKiB = positive(kv.get('mem_kib'));
  return {
    osId: kv.get('os_id') ?? '',
    osVersion: kv.get('os_version') ?? '',
    codename: kv.get('codename') ?? '',
    arch: kv.get('arch') ?? '',
    packageManager: pm === 'apt' || pm === 'dnf' ? pm : 'unknown',
    // Rounded up, as Pigsty's node_mem_mb; what could not be read is the assumption.
    memMiB: memKiB ? Math.ceil(memKiB / 1024) : ASSUMED_FACTS.memMiB,
    cpus: positive(kv.get('cpus')) ?? ASSUMED_FACTS.cpus,
    filesystems: filesystems(out),
  };
}

/**
 * What Corral assumes of a node it has not seen yet: Debian 12 on x86_64, as the lab and Pigsty's
 * default; 4 CPUs and 8 GiB (Pigsty's own example node), no filesystem known (PGSQL then takes
 * Pigsty's 40 GiB guess). A node of another size is compiled again once seen (see compileKey),
 * so the first plan of an unseen node usually compiles twice.
 */
export const ASSUMED_FACTS: Facts = {
  osId: 'debian',
  osVersion: '12',
  codename: 'bookworm',
  arch: 'x86_64',
  packageManager: 'apt',
  memMiB: 8192,
  cpus: 4,
  filesystems: {},
};

/** The facts that change what a module wants; when they differ from the guess, the desired state is compiled again. */
export const compileKey = (f: Facts): string =>
  [f.osId, f.osVersion, f.arch, f.packageManager, f.memMiB, f.cpus, ...Object.entries(f.filesystems).sort(([a], [b]) => (a < b ? -1 : 1)).map(([m, kib]) => `${m}:${kib}`)].join('/');

/** The size in bytes of the filesystem `path` is on (or will be, once made): its longest mounted prefix. */
export function filesystemBytes(f: Facts, path: string): number | undefined {
  const under = (mount: string): boolean => mount === '/' || path === mount || path.startsWith(mount.endsWith('/') ? mount : `${mount}/`);
  const mount = Object.keys(f.filesystems)
    .filter(under)
    .sort((a, b) => b.length - a.length)[0];
  return mount === undefined ? undefined : f.filesystems[mount]! * 1024;
}
