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

export function targetOf(h: HostView, ssh: SshDefaults, base: string): Target {
  const key = h.str('ansible_ssh_private_key_file') ?? ssh.privateKeyFile;
  const target: Target = {
    name: h.name,
    address: h.address,
    port: h.int('ansible_port') ?? ssh.port ?? 22,
    user: h.str('ansible_user') ?? ssh.user ?? 'root',
    connection: h.str('ansible_connection') === 'local' ? 'local' : 'ssh',
  };
  if (key) target.privateKeyFile = expandPath(key, base);
  if (ssh.agent) target.agent = ssh.agent;
  if (ssh.jump) {
    const j = ssh.jump;
    target.jump = { name: j.address, address: j.address, port: j.port ?? 22, user: j.user ?? target.user };
    const jk = j.privateKeyFile ?? ssh.privateKeyFile;
    if (jk) target.jump.privateKeyFile = expandPath(jk, base);
  }
  return target;
}
