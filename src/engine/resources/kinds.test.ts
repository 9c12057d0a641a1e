/** Kinds as data: probe output in, parsed state out; desired and observed in, changes and shell out. */
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { file, sha256, statProbe } from './file.js';
import { packages } from './packages.js';
import { service } from './service.js';
import { readHash } from './reload.js';
import { sysctl, kernelModule } from './kernel.js';
import { block } from './block.js';
import { user } from './account.js';
import { aptSourcesOnly } from './apt-source.js';
import { hostname } from './system.js';
import { staleFiles } from './stale-files.js';
import { quote, sh } from '../shell.js';

describe('shell quoting', () => {
  it('leaves safe words bare and quotes the rest, quotes included', () => {
    expect(sh`echo ${'/etc/hosts'} ${"it's"} ${'a b'} ${''}`).toBe(`echo /etc/hosts 'it'\\''s' 'a b' ''`);
    expect(quote('héllo $HOME')).toBe(`'héllo $HOME'`);
    expect(sh`apt-get install ${['a', 'b c']}`).toBe(`apt-get install a 'b c'`);
  });
});

describe('file', () => {
  const want = { path: '/etc/x.conf', content: 'a = 1\n', mode: 0o644 };
  it('parses stat output with content', () => {
    const out = `type=regular file\nowner=root\ngroup=root\nmode=644\nsha256=${sha256('a = 1\n')}\ncontent=${Buffer.from('a = 1\n').toString('base64')}\n`;
    const have = file.parse(out, want);
    expect(have).toEqual({ type: 'regular file', owner: 'root', group: 'root', mode: 0o644, sha256: sha256('a = 1\n'), content: 'a = 1\n' });
    expect(file.diff(want, have as never)).toEqual([]);
  });
  it('reads "absent" as absent and plans content, mode and owner', () => {
    expect(file.parse('absent', want)).toBeNull();
    expect(file.diff(want, null).map((f) => f.field)).toEqual(['content', 'mode', 'owner']);
  });
  it('writes through a temp file and a rename, validating first when asked', () => {
    const script = file.apply({ ...want, validate: 'visudo -cf %s' }, null);
    const lines = script.split('\n');
    expect(lines.at(-1)).toBe('mv -f /etc/x.conf.corral-tmp /etc/x.conf');
    expect(lines.at(-2)).toBe('visudo -cf /etc/x.conf.corral-tmp || { rm -f /etc/x.conf.corral-tmp; exit 1; }');
  });
  it('marks the content of a secret file secret', () => {
    expect(file.diff({ ...want, secret: true }, null)[0]).toMatchObject({ field: 'content', secret: true });
  });
  it('conceal: the values of the lines it matches are redacted in both texts of a diff, the hash still compares the whole', () => {
    const have = { type: 'regular file', owner: 'root', group: 'root', mode: 0o644, sha256: sha256('a = 1\nkey=old\n'), content: 'a = 1\nkey=old\n' };
    const [content] = file.diff({ ...want, content: 'a = 2\nkey=new\n', conceal: '^(key=).*$' }, have);
    expect(content).toMatchObject({ field: 'content', secret: false, text: { before: 'a = 1\nkey=(redacted)\n', after: 'a = 2\nkey=(redacted)\n' } });
    expect(file.diff({ ...want, content: 'a = 1\nkey=old\n', conceal: '^(key=).*$' }, have)).toEqual([]);
  });
});

describe('packages', () => {
  const want = { name: 'node', manager: 'apt' as const, packages: ['chrony', 'jq', 'curl'] };
  it('plans only the missing ones, in one transaction', () => {
    const have = packages.parse('chrony|4.3-2\njq|1.6-2.1\n', want);
    expect(packages.diff(want, have as never)).toEqual([{ field: 'install', from: null, to: ['curl'] }]);
    expect(packages.apply(want, have as never)).toContain('apt-get install -y -q --no-install-recommends -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold -- curl');
  });
  it('strips an architecture qualifier', () => {
    expect(packages.parse('libc6:amd64|2.36\n', want)).toEqual({ libc6: '2.36' });
  });
  it('passes the names after `--`, so a name that starts with `-` is never an option', () => {
    const option = '-oAPT::Get::AllowUnauthenticated=true';
    for (const manager of ['apt', 'dnf'] as const) {
      const w = { name: 'node', manager, packages: [option, 'jq'] };
      for (const script of [packages.probe(w), packages.apply(w, {})]) {
        const uses = script.split(option).length - 1;
        expect(uses, script).toBeGreaterThan(0);
        expect(script.split(`-- ${option} jq`).length - 1, `${manager}: every use follows --: ${script}`).toBe(uses);
      }
    }
  });
});

describe('service', () => {
  const want = { name: 'chrony', enabled: true, running: true };
  it('reads systemctl show', () => {
    expect(service.parse('LoadState=loaded\nActiveState=active\nUnitFileState=enabled\nConditionResult=yes\n', want)).toEqual({ enabled: true, running: true });
    expect(service.parse('LoadState=not-found\n', want)).toBeNull();
    expect(service.parse('LoadState=loaded\nActiveState=active\nUnitFileState=enabled\npending=1\n', want)).toEqual({ enabled: true, running: true, pendingRestart: true });
    expect(service.probe(want)).toContain("if [ -e /var/lib/corral/restart/chrony.service ]; then echo pending=1; fi");
  });
  it('reports a unit systemd skips on a failed condition as unsupported', () => {
    const have = service.parse('LoadState=loaded\nActiveState=inactive\nUnitFileState=enabled\nConditionResult=no\nConditionTimestampMonotonic=123\n', want);
    expect(have).toMatchObject({ unsupported: expect.stringContaining('start condition') as string });
  });
});

describe('reload', () => {
  it("keeps the record's hash as nodes hold it: a new formula would reload every service at an upgrade", () => {
    expect(readHash(['global\n', 'listen x\n'])).toBe(sha256('global\n\0listen x\n'));
    expect(readHash(['one file'])).toBe(sha256('one file'));
    expect(readHash(['a', 'b'])).not.toBe(readHash(['ab']));
  });
});

describe('sysctl and kernel modules', () => {
  it('normalizes whitespace in values', () => {
    expect(sysctl.diff({ key: 'net.ipv4.ip_local_port_range', value: '1024 65000' }, sysctl.parse('value=1024\t65000\nwritable=1\n', { key: 'x', value: 0 }) as never)).toEqual([]);
  });
  it('reports a read-only key as unsupported unless it already has the value', () => {
    const w = { key: 'vm.swappiness', value: 10 };
    expect(sysctl.parse('value=60\nwritable=0\n', w)).toMatchObject({ unsupported: expect.stringContaining('read-only') as string });
    expect(sysctl.parse('value=10\nwritable=0\n', w)).toEqual({ value: '10' });
  });
  it('cannot load a kernel module in a container', () => {
    expect(kernelModule.parse('container', { name: 'softdog' })).toMatchObject({ unsupported: expect.any(String) as string });
  });
});

describe('block', () => {
  const want = { path: '/etc/hosts', marker: 'corral', lines: ['10.0.0.1 a', '10.0.0.2 b'], mode: 0o644 };
  it('finds its block and ignores the rest of the file', () => {
    expect(block.parse('@begin\n10.0.0.1 a\n10.0.0.2 b\n', want)).toEqual({ lines: ['10.0.0.1 a', '10.0.0.2 b'] });
    expect(block.parse('', want)).toBeNull();
    expect(block.diff(want, { lines: ['10.0.0.1 a', '10.0.0.2 b'] })).toEqual([]);
    expect(block.diff(want, { lines: ['10.0.0.1 a'] })).toHaveLength(1);
  });
});

describe('user', () => {
  it('parses getent and plans usermod for differences', () => {
    const have = user.parse('dba:x:88:88::/home/dba:/bin/sh\nadmin\n', { name: 'dba', group: 'admin', home: '/home/dba', shell: '/bin/bash' });
    const want = { name: 'dba', uid: 88, group: 'admin', home: '/home/dba', shell: '/bin/bash' };
    expect(user.diff(want, have as never)).toEqual([{ field: 'shell', from: '/bin/sh', to: '/bin/bash' }]);
    expect(user.apply(want, have as never)).toBe('usermod -g admin -d /home/dba -s /bin/bash -u 88 dba');
  });
});

describe('apt sources and hostname', () => {
  it('moves sources not kept into the backup folder', () => {
    const have = aptSourcesOnly.parse('/etc/apt/sources.list\n/etc/apt/sources.list.d/lab.list\n', { keep: ['lab'] });
    expect(aptSourcesOnly.diff({ keep: ['lab'] }, have as never)).toEqual([{ field: 'move to /etc/apt/backup', from: ['/etc/apt/sources.list'], to: null }]);
  });
  it('sets the hostname', () => {
    expect(hostname.diff({ name: 'pg-test-1' }, { name: 'n1' })).toEqual([{ field: 'hostname', from: 'n1', to: 'pg-test-1' }]);
  });
});

describe('statProbe, run by bash', () => {
  it('hash: the hash of a secret file and no content; content: both; none: neither', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'corral-stat-')), 'userlist.txt');
    writeFileSync(path, '"u" "SCRAM-SHA-256$4096:secret"\n');
    const run = (read: 'content' | 'hash' | 'none'): string => execFileSync('bash', ['-c', statProbe(path, read)], { encoding: 'utf8' });
    const hash = run('hash');
    expect(hash).toContain(`sha256=${sha256('"u" "SCRAM-SHA-256$4096:secret"\n')}`);
    expect(hash).not.toContain('content=');
    expect(run('content')).toMatch(/sha256=[0-9a-f]{64}\ncontent=/);
    expect(run('none')).not.toMatch(/sha256=|content=/);
    // A file kind reading it back sees no change when the hash matches, even without the content.
    const have = file.parse(hash, { path, content: '"u" "SCRAM-SHA-256$4096:secret"\n', mode: 0o644, secret: true });
    expect(file.diff({ path, content: '"u" "SCRAM-SHA-256$4096:secret"\n', mode: 0o644, secret: true }, have as never).filter((f) => f.field === 'content')).toEqual([]);
  });
});

describe('stale-files, run by bash', () => {
  it("removes only the set's files the inventory no longer wants, and leaves other files alone", () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-stale-'));
    const marker = '# managed by corral (PGSQL): service pg-test-';
    writeFileSync(join(dir, 'pg-test-primary.cfg'), `${marker}primary\nlisten x\n`);
    writeFileSync(join(dir, 'pg-test-old.cfg'), `${marker}old\nlisten y\n`);
    writeFileSync(join(dir, 'mine.cfg'), '# written by hand: pg-test-old\n');
    writeFileSync(join(dir, "it's.cfg"), `${marker}quoted\n`);
    const want = { dir, set: 'pg-test services', marker, keep: ['pg-test-primary.cfg'] };
    const bash = (script: string): string => execFileSync('bash', ['-c', script], { encoding: 'utf8' });
    const have = staleFiles.parse(bash(staleFiles.probe(want)), want);
    expect(have).toEqual({ files: ["it's.cfg", 'pg-test-old.cfg', 'pg-test-primary.cfg'] });
    expect(staleFiles.diff(want, have as never)).toEqual([{ field: 'stale files', from: ["it's.cfg", 'pg-test-old.cfg'], to: [] }]);
    bash(staleFiles.apply(want, have as never));
    expect(readdirSync(dir).sort()).toEqual(['mine.cfg', 'pg-test-primary.cfg']);
    expect(staleFiles.diff(want, staleFiles.parse(bash(staleFiles.probe(want)), want) as never)).toEqual([]);
  });
});
