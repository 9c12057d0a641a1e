/**
 * How to reach a host: Ansible's connection variables when the inventory sets them, otherwise
 * corral.yml's `ssh` settings, then flags and environment (which win over corral.yml).
 */
import { isAbsolute, resolve } from 'node:path';
import { homedir } from 'node:os';
import type { HostView } from '../config/hosts.js';
import type { Target } from '../transport/types.js';

export interface SshDefaults {
  user?: string;
  port?: number;
  privateKeyFile?: string;
  agent?: string;
  jump?: { address: string; port?: number; user?: string; privateKeyFile?: string };
  /**
   * Targets decided before the run, by host name (a preview's: the revision in force's). When
   * set, the run reads no connection variable of its inventory; a host not here gets the defaults.
   */
  fixedTargets?: ReadonlyMap<string, Target>;
}

/** corral.yml's `ssh` settings as defaults; paths relative to the repository. */
export function sshDefaultsFrom(s: { user?: string; port?: number; privateKeyFile?: string; jump?: SshDefaults['jump'] }, root: string): SshDefaults {
  const out: SshDefaults = {};
  if (s.user) out.user = s.user;
  if (s.port) out.port = s.port;
  if (s.privateKeyFile) out.privateKeyFile = expandPath(s.privateKeyFile, root);
  if (s.jump) out.jump = { ...s.jump, ...(s.jump.privateKeyFile ? { privateKeyFile: expandPath(s.jump.privateKeyFile, root) } : {}) };
  return out;
}

/** `~/x` and paths relative to the config repo become absolute. */
export function expandPath(path: string, base: string): string {
  if (path === '~' || path.startsWith('~/')) return homedir() + path.slice(1);
  return isAbsolute(path) ? path : resolve(base, path);
}

/** What a host's own variables say about reaching it; unset fields fall back to the defaults. */
interface HostConnection {
  address: string;
  port?: number | undefined;
  user?: string | undefined;
  privateKeyFile?: string | undefined;
  local?: boolean;
}

export function targetOf(h: HostView, ssh: SshDefaults, base: string): Target {
  if (ssh.fixedTargets) return ssh.fixedTargets.get(h.name) ?? defaultTarget(h.name, ssh);
  const key = h.str('ansible_ssh_private_key_file');
  return reach(h.name, {
    address: h.address,
    port: h.int('ansible_port'),
    user: h.str('ansible_user'),
    privateKeyFile: key ? expandPath(key, base) : undefined,
    local: h.str('ansible_connection') === 'local',
  }, ssh);
}

/** A host reached with the defaults alone, over SSH at its inventory name. */
export function defaultTarget(name: string, ssh: SshDefaults): Target {
  return reach(name, { address: name }, ssh);
}

/** Paths in `ssh` are absolute (sshDefaultsFrom, the flags). */
function reach(name: string, own: HostConnection, ssh: SshDefaults): Target {
  const target: Target = {
    name,
    address: own.address,
    port: own.port ?? ssh.port ?? 22,
    user: own.user ?? ssh.user ?? 'root',
    connection: own.local ? 'local' : 'ssh',
  };
  const key = own.privateKeyFile ?? ssh.privateKeyFile;
  if (key) target.privateKeyFile = key;
  if (ssh.agent) target.agent = ssh.agent;
  if (ssh.jump) {
    const j = ssh.jump;
    target.jump = { name: j.address, address: j.address, port: j.port ?? 22, user: j.user ?? target.user };
    const jk = j.privateKeyFile ?? ssh.privateKeyFile;
    if (jk) target.jump.privateKeyFile = jk;
  }
  return target;
}
