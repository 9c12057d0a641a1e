// A target reached through a bastion: a second sshd forwards the connection (direct-tcpip).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClientKeys, ensureTestUsers, startSshd } from '../helpers/sshd.js';
import type { Sshd } from '../helpers/sshd.js';
import { createTransport, TransportError } from '../../src/transport/index.js';
import type { Target, Transport } from '../../src/transport/index.js';
import { knownHostsFile, scratchDir, SETUP_TIMEOUT_MS, sshTarget } from './setup.js';

let node: Sshd;
let bastion: Sshd;
const transports: Transport[] = [];

function transport(lines: string[]): Transport {
  const t = createTransport({ hostKeys: { knownHostsFile: knownHostsFile(lines), mode: 'strict' } });
  transports.push(t);
  return t;
}

function behindBastion(): Target {
  return sshTarget(node, {
    jump: { name: 'bastion', address: '127.0.0.1', port: bastion.port, user: 'root', privateKeyFile: bastion.clientKeys.rsaFile },
  });
}

beforeAll(async () => {
  ensureTestUsers();
  const clientKeys = createClientKeys(scratchDir('keys'));
  // The bastion logs at DEBUG so the test can see it forwarded the connection.
  [node, bastion] = await Promise.all([startSshd({ clientKeys }), startSshd({ clientKeys, logLevel: 'DEBUG' })]);
}, SETUP_TIMEOUT_MS);

afterAll(async () => {
  await Promise.all(transports.map((t) => t.close()));
  await Promise.all([node?.dispose(), bastion?.dispose()]);
});

describe('jump host', () => {
  it('runs on the target through the bastion, one connection to each, reused', async () => {
    const t = transport([...node.hostKeyLines, ...bastion.hostKeyLines]);
    expect((await t.exec(behindBastion(), 'id -u')).stdout).toBe('0\n');
    // sudo resets the environment: ask as the user where the session landed.
    const landed = await t.exec(behindBastion(), 'echo "$SSH_CONNECTION" | cut -d" " -f3-', { sudo: false });
    expect(landed.stdout).toBe(`127.0.0.1 ${node.port}\n`);
    expect(t.stats()).toEqual({ connects: { bastion: 1, node1: 1 }, execs: { node1: 2 } });
    expect(bastion.logs()).toMatch(new RegExp(`direct-tcpip.*127\\.0\\.0\\.1 port ${node.port}|target 127\\.0\\.0\\.1 port ${node.port}`));
  });

  it("checks the bastion's host key on its own", async () => {
    const err = await transport(node.hostKeyLines)
      .exec(behindBastion(), 'true')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransportError);
    expect(err).toMatchObject({ kind: 'hostkey-unknown', host: 'bastion' });
  });

  it("checks the target's host key behind the bastion", async () => {
    const err = await transport(bastion.hostKeyLines)
      .exec(behindBastion(), 'true')
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'hostkey-unknown', host: 'node1' });
  });

  it("reports a target the bastion cannot reach as 'unreachable'", async () => {
    const target = { ...behindBastion(), port: 1 };
    const err = await transport([...node.hostKeyLines, ...bastion.hostKeyLines])
      .exec(target, 'true')
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'unreachable', host: 'node1' });
    expect((err as Error).message).toContain('bastion');
  });
});
