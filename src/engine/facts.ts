/** The facts probe: OS, arch, package manager, hostname, time zone, container. One fragment of the host's one script. */
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
].join('\n');

export function parseFacts(out: string): Facts {
  const kv = keyValues(out);
  const pm = kv.get('pm');
  return {
    osId: kv.get('os_id') ?? '',
    osVersion: kv.get('os_version') ?? '',
    codename: kv.get('codename') ?? '',
    arch: kv.get('arch') ?? '',
    packageManager: pm === 'apt' || pm === 'dnf' ? pm : 'unknown',
    hostname: kv.get('hostname') ?? '',
    timezone: kv.get('timezone') ?? '',
    container: kv.get('container') || 'none',
  };
}

/** What Corral assumes of a node it has not seen yet: Debian 12 on x86_64, as the lab and Pigsty's default. */
export const ASSUMED_FACTS: Facts = {
  osId: 'debian',
  osVersion: '12',
  codename: 'bookworm',
  arch: 'x86_64',
  packageManager: 'apt',
  hostname: '',
  timezone: '',
  container: 'none',
};

/** The facts that change what a module wants; when they differ from the guess, the desired state is compiled again. */
export const compileKey = (f: Facts): string => [f.osId, f.osVersion, f.arch, f.packageManager].join('/');
