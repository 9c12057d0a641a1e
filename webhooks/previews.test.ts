import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateInventory, type Validated } from '../src/config/validate.js';
import { createGitSource } from '../src/git/source.js';
import { createTransport, type Target, type Transport } from '../src/transport/index.js';
import { startSshd, type Sshd } from '../test/helpers/sshd.js';
import { tmpRepo } from '../test/helpers/tmp.js';
import type { Notice } from './notifiers/types.js';
import { Previews, previewTargets, type PreviewConnections } from './previews.js';
import { StateStore } from '../src/daemon/store.js';
import { testAuthority } from '../test/helpers/pki.js';

const ssh = (name: string, extra: Partial<Target> = {}): Target => ({ name, address: name, port: 22, user: 'root', connection: 'ssh', ...extra });

describe('previewTargets: a PR decides which hosts are planned, not how Corral reaches them', () => {
  const defaults = { user: 'corral', privateKeyFile: '/etc/corral/key', jump: { address: 'bastion' } };

  it('a host the revision in force knows is reached as it reaches it, whatever the PR says', () => {
    const inForce = ssh('10.0.0.1', { address: 'node-1.lan', port: 2222, user: 'admin', privateKeyFile: '/keys/admin' });
    const asked = ssh('10.0.0.1', { address: 'evil.example.com', port: 1, user: 'mallory', privateKeyFile: '/etc/shadow', jump: { name: 'x', address: 'x', port: 22, user: 'x' } });
    expect(previewTargets(new Map([['10.0.0.1', asked]]), new Map([['10.0.0.1', inForce]]), defaults, false)).toEqual({ targets: new Map([['10.0.0.1', inForce]]) });
  });

  it('a host it does not know: over SSH at its inventory name, with the daemon\'s defaults only', () => {
    const asked = ssh('10.0.0.9', { address: 'evil.example.com', port: 1, user: 'mallory', privateKeyFile: '/etc/shadow' });
    expect(previewTargets(new Map([['10.0.0.9', asked]]), new Map(), defaults, false)).toEqual({
      targets: new Map([['10.0.0.9', { name: '10.0.0.9', address: '10.0.0.9', port: 22, user: 'corral', connection: 'ssh', privateKeyFile: '/etc/corral/key', jump: { name: 'bastion', address: 'bastion', port: 22, user: 'corral', privateKeyFile: '/etc/corral/key' } }]]),
    });
  });

  it('a local connection the revision in force does not have is refused, unless allowed', () => {
    const asked = new Map([['10.0.0.1', ssh('10.0.0.1', { connection: 'local' })], ['10.0.0.9', ssh('10.0.0.9', { connection: 'local' })], ['10.0.0.2', ssh('10.0.0.2')]]);
    const inForce = new Map([['10.0.0.1', ssh('10.0.0.1', { user: 'admin' })]]);
    expect(previewTargets(asked, inForce, {}, false)).toEqual({ refusedLocal: ['10.0.0.1', '10.0.0.9'] });
    expect(previewTargets(asked, inForce, {}, true)).toEqual({
      targets: new Map([['10.0.0.1', ssh('10.0.0.1', { user: 'admin', connection: 'local' })], ['10.0.0.9', ssh('10.0.0.9', { connection: 'local' })], ['10.0.0.2', ssh('10.0.0.2')]]),
    });
  });

  it('a host the revision in force already reaches locally stays local, and is not refused', () => {
    const local = ssh('127.0.0.1', { connection: 'local' });
    expect(previewTargets(new Map([['127.0.0.1', local]]), new Map([['127.0.0.1', local]]), {}, false)).toEqual({ targets: new Map([['127.0.0.1', local]]) });
    expect(previewTargets(new Map([['127.0.0.1', ssh('127.0.0.1')]]), new Map([['127.0.0.1', local]]), {}, false)).toEqual({ targets: new Map([['127.0.0.1', local]]) });
  });
});

describe('Previews: a PR\'s connection settings never reach the transport', () => {
  const dirs: string[] = [];
  const tmp = (prefix: string): string => {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    dirs.push(dir);
    return dir;
  };
  let sshd: Sshd;
  let knownHosts: string;
  let canary: string;
  const savedBashEnv = process.env.BASH_ENV;

  beforeAll(async () => {
    sshd = await startSshd();
    knownHosts = join(tmp('corral-kh-'), 'known_hosts');
    writeFileSync(knownHosts, sshd.hostKeyLines.join('\n') + '\n');
    // Every bash the local connector starts sources BASH_ENV first: the canary shows a script ran on this machine.
    const dir = tmp('corral-canary-');
    canary = join(dir, 'ran-here');
    writeFileSync(join(dir, 'bash-env'), `touch ${canary}\n`);
    process.env.BASH_ENV = join(dir, 'bash-env');
  }, 300_000);
  afterAll(async () => {
    if (savedBashEnv === undefined) delete process.env.BASH_ENV;
    else process.env.BASH_ENV = savedBashEnv;
    await sshd?.dispose();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  /** A PR whose head holds these files, previewed through the real git source, transport and local connector. */
  async function preview(files: Record<string, string>, connections?: PreviewConnections): Promise<{ notices: Notice[]; targets: Target[] }> {
    const repo = tmpRepo(files);
    const git = (...args: string[]): string => execFileSync('git', ['-C', repo, ...args], { encoding: 'utf8' }).trim();
    git('init', '-q', '-b', 'main');
    git('add', '-A');
    git('-c', 'user.name=t', '-c', 'user.email=t@example.com', 'commit', '-q', '-m', 'pr');
    const sha = git('rev-parse', 'HEAD');
    git('update-ref', 'refs/pull/1/head', sha);
    const real = createTransport({ hostKeys: { knownHostsFile: knownHosts, mode: 'strict' }, connectTimeoutMs: 5000 });
    const targets: Target[] = [];
    const transport: Transport = { exec: (t, script, o) => (targets.push(t), real.exec(t, script, o)), stats: () => real.stats(), close: () => real.close() };
    const notices: Notice[] = [];
    const previews = new Previews({ git: createGitSource({ url: repo, branch: 'main', stateDir: tmp('corral-previews-') }), transport, ssh: { privateKeyFile: sshd.clientKeyFile }, pki: await testAuthority(), store: new StateStore(tmp('corral-state-')), logger: pino({ level: 'silent' }), notify: (n) => notices.push(n) });
    if (connections) previews.connectWith(connections);
    previews.request({ number: 1, headSha: sha, ref: 'refs/pull/1/head', baseBranch: 'main', fromFork: false });
    await previews.idle();
    await real.close();
    return { notices, targets };
  }

  const comment = (notices: Notice[]): string => notices.flatMap((n) => (n.kind === 'comment' ? [n.body] : [])).join('\n');
  const finalStatus = (notices: Notice[]): Notice | undefined => notices.filter((n) => n.kind === 'status').at(-1);
  const LOCAL_PR = { 'pigsty.yml': 'all: { hosts: { 127.0.0.1: { ansible_connection: local } } }\n' };

  it('ansible_connection: local in a PR is refused: nothing runs on the daemon\'s machine, the comment and status say why', async () => {
    rmSync(canary, { force: true });
    const { notices, targets } = await preview(LOCAL_PR);
    expect(existsSync(canary)).toBe(false);
    expect(targets).toEqual([]);
    expect(comment(notices)).toContain("refused: ansible_connection: local on 127.0.0.1 would run Corral's scripts on the daemon's own machine; previews allow it only with corral serve --allow-local-previews");
    const status = finalStatus(notices);
    expect(status).toMatchObject({ kind: 'status', state: 'error' });
    expect(status?.kind === 'status' && status.description).toContain('refused: ansible_connection: local on 127.0.0.1');
  });

  it('with local previews allowed, the same PR is planned on this machine', async () => {
    rmSync(canary, { force: true });
    const { notices, targets } = await preview(LOCAL_PR, { inForce: () => undefined, allowLocal: true });
    expect(targets.map((t) => t.connection)).toContain('local');
    expect(existsSync(canary)).toBe(true);
    expect(comment(notices)).not.toContain('refused');
  });

  it("hosts are reached as the revision in force says, or with the daemon's flags; never with the PR's ansible_* or corral.yml ssh", async () => {
    const inForce: Validated = await validateInventory(tmpRepo({ 'pigsty.yml': `all: { hosts: { 127.0.0.1: { ansible_port: ${sshd.port}, ansible_ssh_private_key_file: ${sshd.clientKeyFile} } } }\n` }));
    const { notices, targets } = await preview(
      {
        'corral.yml': 'ssh: { user: mallory, privateKeyFile: /etc/ssh/ssh_host_ed25519_key, jump: { address: 10.213.9.1 } }\n',
        // 127.0.0.2 is new: the PR points it at the test sshd, which the preview must not follow.
        'pigsty.yml': `all: { hosts: { 127.0.0.1: { ansible_port: 1, ansible_user: mallory, ansible_host: 10.213.9.2 }, 127.0.0.2: { ansible_host: 127.0.0.1, ansible_port: ${sshd.port}, ansible_ssh_private_key_file: ${sshd.clientKeyFile} } } }\n`,
      },
      { inForce: () => inForce, allowLocal: false },
    );
    const reached = new Map(targets.map((t) => [t.name, t]));
    expect(reached.get('127.0.0.1')).toEqual({ name: '127.0.0.1', address: '127.0.0.1', port: sshd.port, user: 'root', connection: 'ssh', privateKeyFile: sshd.clientKeyFile });
    expect(reached.get('127.0.0.2')).toEqual({ name: '127.0.0.2', address: '127.0.0.2', port: 22, user: 'root', connection: 'ssh', privateKeyFile: sshd.clientKeyFile });
    // The known host answered through the in-force settings; the new one was not found where the PR pointed it.
    expect(finalStatus(notices)).toMatchObject({ state: 'failure', description: '1 host unreachable: 127.0.0.2' });
  });
});
