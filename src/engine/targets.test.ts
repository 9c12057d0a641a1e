import { describe, expect, it } from 'vitest';
import { validateInventory } from '../config/validate.js';
import type { Target } from '../transport/types.js';
import { tmpRepo } from '../../test/helpers/tmp.js';
import { sshDefaultsFrom, targetOf } from './targets.js';

const hostsOf = async (pigsty: string) => {
  const v = await validateInventory(tmpRepo({ 'pigsty.yml': pigsty }));
  return { root: v.inventory!.root, host: (name: string) => v.hosts.find((h) => h.name === name)! };
};

const INVENTORY = `
all:
  hosts:
    10.0.0.1: { ansible_host: node-1.lan, ansible_port: 2222, ansible_user: admin, ansible_ssh_private_key_file: keys/admin }
    10.0.0.2: { ansible_connection: local }
    10.0.0.3: {}
`;

describe('targetOf', () => {
  it("takes the host's own connection variables over the defaults", async () => {
    const { root, host } = await hostsOf(INVENTORY);
    const ssh = { user: 'corral', port: 22022, privateKeyFile: '/keys/corral', agent: '/run/agent', jump: { address: 'bastion', privateKeyFile: '/keys/bastion' } };
    expect(targetOf(host('10.0.0.1'), ssh, root)).toEqual({
      name: '10.0.0.1', address: 'node-1.lan', port: 2222, user: 'admin', connection: 'ssh', privateKeyFile: `${root}/keys/admin`, agent: '/run/agent',
      jump: { name: 'bastion', address: 'bastion', port: 22, user: 'admin', privateKeyFile: '/keys/bastion' },
    });
    expect(targetOf(host('10.0.0.2'), {}, root)).toEqual({ name: '10.0.0.2', address: '10.0.0.2', port: 22, user: 'root', connection: 'local' });
    expect(targetOf(host('10.0.0.3'), ssh, root)).toEqual({
      name: '10.0.0.3', address: '10.0.0.3', port: 22022, user: 'corral', connection: 'ssh', privateKeyFile: '/keys/corral', agent: '/run/agent',
      jump: { name: 'bastion', address: 'bastion', port: 22, user: 'corral', privateKeyFile: '/keys/bastion' },
    });
  });

  it('with fixed targets reads none of the inventory\'s connection variables', async () => {
    const { root, host } = await hostsOf(INVENTORY);
    const fixed: Target = { name: '10.0.0.2', address: '10.0.0.2', port: 22, user: 'root', connection: 'ssh' };
    const ssh = { user: 'corral', fixedTargets: new Map([['10.0.0.2', fixed]]) };
    expect(targetOf(host('10.0.0.2'), ssh, root)).toBe(fixed);
    // Not fixed: the defaults alone, at the inventory name (not ansible_host, ansible_port...).
    expect(targetOf(host('10.0.0.1'), ssh, root)).toEqual({ name: '10.0.0.1', address: '10.0.0.1', port: 22, user: 'corral', connection: 'ssh' });
  });
});

describe('sshDefaultsFrom', () => {
  it("resolves corral.yml's key paths, the jump host's too, against the repository", () => {
    expect(sshDefaultsFrom({ user: 'u', privateKeyFile: 'keys/a', jump: { address: 'b', user: 'j', privateKeyFile: 'keys/b' } }, '/repo')).toEqual({
      user: 'u', privateKeyFile: '/repo/keys/a', jump: { address: 'b', user: 'j', privateKeyFile: '/repo/keys/b' },
    });
  });
});
