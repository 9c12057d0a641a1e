import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../src/cli/main.js';
import type { Output } from '../../src/cli/output.js';
import { startSshd, type Sshd } from '../helpers/sshd.js';
import { tmpRepo } from '../helpers/tmp.js';

const ROOT = join(import.meta.dirname, '../..');
const FIX = join(ROOT, 'test/fixtures');

async function corral(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out: Output = { print: (s) => (stdout += s), error: (s) => (stderr += s), color: false };
  const code = await run(argv, out);
  return { code, stdout, stderr };
}

describe('corral validate', () => {
  it('exits 0 on a valid inventory', async () => {
    const r = await corral('validate', join(FIX, 'valid/three-node.yml'));
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/✓ .*three-node\.yml: 3 hosts, 4 clusters \(etcd 1, node 1, pgsql 1, redis 1\), 0 errors, 0 warnings/);
  });

  it('exits 1 and shows file:line:col, a code frame and a hint', async () => {
    const r = await corral('validate', join(FIX, 'invalid/duplicate-key.yml'));
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('duplicate-key.yml:9:9 error');
    expect(r.stdout).toContain('>  9 |         pg_port: 5433');
    expect(r.stdout).toContain('[yaml/duplicate-key]');
    expect(r.stdout).toContain('hint: ');
  });

  it('prints JSON problems with exactly the documented fields', async () => {
    const r = await corral('validate', '--format', 'json', join(FIX, 'invalid/primaries.yml'));
    expect(r.code).toBe(1);
    const problems = JSON.parse(r.stdout) as Record<string, unknown>[];
    expect(problems.length).toBeGreaterThan(0);
    for (const p of problems) expect(Object.keys(p).sort()).toEqual(['code', 'col', 'file', 'line', 'message', 'pointer', 'severity']);
    expect(problems.find((p) => p.code === 'pgsql/many-primaries')).toMatchObject({
      line: 6,
      pointer: '/all/children/pg-two/hosts/10.10.10.12/pg_role',
      severity: 'error',
    });
  });

  it('judges each path on its own and fails if any is invalid', async () => {
    const r = await corral('validate', '--format', 'json', join(FIX, 'valid/three-node.yml'), join(FIX, 'invalid/etcd.yml'));
    expect(r.code).toBe(1);
    const files = new Set((JSON.parse(r.stdout) as { file: string }[]).map((p) => p.file));
    expect([...files].every((f) => f.endsWith('etcd.yml'))).toBe(true);
  });

  it('exits 0 with warnings only', async () => {
    expect((await corral('validate', join(FIX, 'invalid/unknown-var.yml'))).code).toBe(0);
  });

  it('exits 2 for a path that does not exist, and for bad usage', async () => {
    expect((await corral('validate', join(FIX, 'nope.yml'))).code).toBe(2);
    expect((await corral('validate', '--format', 'xml', '.')).code).toBe(2);
    expect((await corral('frobnicate')).code).toBe(2);
  });

  it('exits 2 for a folder with no inventory', async () => {
    const r = await corral('validate', tmpRepo({ 'README.md': '# nothing here' }));
    expect(r.code).toBe(2);
    expect(r.stdout).toContain('io/no-inventory');
  });
});

describe('corral inventory', () => {
  it('prints effective variables with secrets redacted and origins on request', async () => {
    const r = await corral('inventory', join(FIX, 'valid/three-node.yml'), '--host', '10.10.10.12', '--origins');
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain('CanaryPassword.42');
    expect(r.stdout).toContain('password: (redacted)');
    expect(r.stdout).toMatch(/pg_role: replica {2}# .*three-node\.yml:14:\d+/);
    expect(r.stdout).toMatch(/pg_dbsu: postgres {2}# default/);
    expect(r.stdout).toContain("- 10.10.10.11 i.pigsty");
  });

  it('redacts secrets in JSON too', async () => {
    const r = await corral('inventory', join(FIX, 'valid/three-node.yml'), '--host', '10.10.10.11', '--format', 'json');
    const body = JSON.parse(r.stdout) as { vars: { pg_users: { password: string }[]; pg_replication_password: string } };
    expect(body.vars.pg_users[0]?.password).toBe('(redacted)');
    expect(body.vars.pg_replication_password).toBe('(redacted)');
    expect(r.stdout).not.toContain('CanaryPassword.42');
  });

  it('lists hosts and their clusters without --host', async () => {
    const r = await corral('inventory', join(FIX, 'valid/three-node.yml'), '--format', 'json');
    const hosts = JSON.parse(r.stdout) as { host: string; clusters: string[] }[];
    expect(hosts.find((h) => h.host === '10.10.10.11')?.clusters).toEqual(['node/nodes', 'etcd/etcd', 'pgsql/pg-test', 'redis/redis-ms']);
  });

  it('exits 2 for an unknown host', async () => {
    expect((await corral('inventory', join(FIX, 'valid/three-node.yml'), '--host', '10.9.9.9')).code).toBe(2);
  });
});

describe('the installed command', () => {
  it('runs from bin/ with --help and real exit codes', async () => {
    const exec = promisify(execFile);
    const help = await exec(process.execPath, [join(ROOT, 'bin/corral.js'), '--help']);
    expect(help.stdout).toContain('validate');
    const bad = await exec(process.execPath, [join(ROOT, 'bin/corral.js'), 'validate', join(FIX, 'invalid/etcd.yml')]).catch((e: { code: number; stdout: string }) => e);
    expect('code' in bad ? bad.code : 0).toBe(1);
  });
});

describe('corral plan and apply: a plan that cannot be carried out', () => {
  // This machine as a one-member PostgreSQL cluster over the local connector, asking for a major Debian 12 does not ship.
  const repo = tmpRepo({
    'pigsty.yml': `
all:
  children:
    pg-blocked:
      hosts:
        127.0.0.1: { pg_seq: 1, pg_role: primary, ansible_connection: local }
      vars: { pg_cluster: pg-blocked, pg_version: 16 }
`,
  });

  it('plan marks it blocking and exits 1; apply refuses before changing anything', async () => {
    const planned = await corral('plan', repo);
    expect(planned.stdout).toContain('✗ packages:pgsql: pg_version 16 is not in Debian 12 (it ships PostgreSQL 15)');
    expect(planned.stdout).toContain('1 blocking: not applicable until the inventory changes');
    expect(planned.code).toBe(1);
    const applied = await corral('apply', repo, '--yes');
    expect(applied.stderr).toContain('corral: not applied: 127.0.0.1: pg_version 16 is not in Debian 12');
    expect(applied.code).toBe(1);
  });
});

describe('corral plan: which host keys to trust is the user\'s choice, not the repository\'s', () => {
  let sshd: Sshd;
  let home: string;
  const savedHome = process.env.HOME;
  // This machine through a test sshd whose host key no known_hosts file holds.
  const repo = (): string =>
    tmpRepo({
      'corral.yml': 'ssh: { hostKeyPolicy: accept-new, knownHostsFile: repo_known_hosts }\n',
      'pigsty.yml': `all: { hosts: { 127.0.0.1: { ansible_port: ${sshd.port}, ansible_ssh_private_key_file: ${sshd.clientKeyFile} } } }\n`,
    });

  beforeAll(async () => {
    sshd = await startSshd();
    // ~/.ssh/known_hosts is the default file: a home of the test's own keeps the real one out of it.
    home = mkdtempSync(join(tmpdir(), 'corral-home-'));
    process.env.HOME = home;
  }, 300_000);
  afterAll(async () => {
    process.env.HOME = savedHome;
    rmSync(home, { recursive: true, force: true });
    await sshd?.dispose();
  });

  it("ignores corral.yml's hostKeyPolicy and knownHostsFile, says so, and refuses the unknown key", async () => {
    const dir = repo();
    const r = await corral('plan', dir);
    expect(existsSync(join(dir, 'repo_known_hosts'))).toBe(false);
    expect(r.stdout).toContain('host key not known');
    expect(r.code).toBe(1);
    expect(existsSync(join(home, '.ssh/known_hosts'))).toBe(false);
    expect(r.stderr).toContain('corral: warning: ignored ssh.knownHostsFile (repo_known_hosts) from corral.yml; host keys are checked against ~/.ssh/known_hosts, pass --known-hosts FILE');
    expect(r.stderr).toContain('corral: warning: ignored ssh.hostKeyPolicy (accept-new) from corral.yml; unknown host keys are refused, pass --accept-new-host-keys');
  });

  it('the flags still decide: --known-hosts and --accept-new-host-keys pin the new key there, without a warning', async () => {
    const dir = repo();
    const knownHosts = join(home, 'pinned');
    const r = await corral('plan', dir, '--known-hosts', knownHosts, '--accept-new-host-keys');
    expect(r.stderr).not.toContain('warning');
    expect(r.stdout).not.toContain('unreachable');
    expect(readFileSync(knownHosts, 'utf8')).toContain(`[127.0.0.1]:${sshd.port} `);
    expect(existsSync(join(dir, 'repo_known_hosts'))).toBe(false);
  });
});
