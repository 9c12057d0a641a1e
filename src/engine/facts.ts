/** The facts probe: OS, arch, package manager, hostname, time zone, container, memory, CPUs, filesystems. One fragment of the host's one script. */
import type { Facts } from './model.js';
import { keyValues } from './resources/kind.js';

export const FACTS_PROBE = [
  '. /etc/os-release 2>/dev/null',
  'echo "os_id=$ID"; echo "os_version=$VERSION_ID"; echo "codename=$VERSION_CODENAME"',
  'echo "arch=$(uname -m)"',
  'if command -v apt-get >/dev/null; then echo pm=apt; elif command -v dnf >/dev/null; then echo pm=dnf; else echo pm=unknown; fi',
  'echo "hostname=$(hostname)"',
  "echo \"timezone=$(timedatectl show -p Timezone --value 2>/dev/null || cat /etc/timezone 2>/dev/null)\"",
  'echo "container=$(systemd-detect-virt -c 2>/dev/null || echo none)"',
  // Pigsty's node_mem_mb and node_cpu: MemTotal (a container sees its host's), the processors listed.
  "echo \"mem_kib=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)\"",
  "n=$(grep -c '^processor' /proc/cpuinfo); [ \"$n\" -gt 0 ] 2>/dev/null || n=$(nproc); echo \"cpus=$n\"",
  // Each filesystem's size and mount point, `fs=<KiB> <mount>`: the module picks the one a path is on.
  "df -k --output=size,target -x tmpfs -x devtmpfs -x squashfs -x overlay 2>/dev/null | sed -n '2,$s/^ *\\([0-9][0-9]*\\) \\(.*\\)$/fs=\\1 \\2/p'",
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
    hostname: kv.get('hostname') ?? '',
    timezone: kv.get('timezone') ?? '',
    container: kv.get('container') || 'none',
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
  hostname: '',
  timezone: '',
  container: 'none',
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
