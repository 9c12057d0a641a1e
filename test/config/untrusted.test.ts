/**
 * A repository is untrusted input: what it names is read only inside its checkout, and no input,
 * however small or hostile, hangs validation or grows it without bound. Each case is an input that
 * broke an earlier Corral.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateInventory, type Validated } from '../../src/config/validate.js';
import { validateIsolated } from '../../src/config/isolated.js';
import { tmpRepo } from '../helpers/tmp.js';

const INVENTORY = 'all:\n  children:\n    pg-a:\n      hosts: { 10.10.10.11: { pg_seq: 1, pg_role: primary } }\n      vars: { pg_cluster: pg-a }\n';
const CANARY = 'canary-host-file-7f3a';

/** A repository beside a folder of "host files" it must never read. */
function repoBesideSecrets(files: Record<string, string>): { repo: string; outside: string } {
  const parent = mkdtempSync(join(tmpdir(), 'corral-untrusted-'));
  const outside = join(parent, 'outside');
  mkdirSync(outside);
  writeFileSync(join(outside, 'secret.yml'), `stolen: ${CANARY}\n`);
  const repo = join(parent, 'repo');
  mkdirSync(repo);
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(repo, path, '..'), { recursive: true });
    writeFileSync(join(repo, path), content);
  }
  return { repo, outside };
}

/** Everything a validation result could show a user: no host file's content may be in it. */
const shown = (r: Validated): string => JSON.stringify({ problems: r.problems, texts: [...r.texts] });
const codes = (r: Validated): string[] => r.problems.map((p) => `${p.code} ${p.file}`);

describe('paths a repository names stay inside its checkout', () => {
  it('an absolute inventory path in corral.yml is an error and the file is not read', async () => {
    const repo = tmpRepo({ 'corral.yml': 'inventory: ["/etc/passwd", "pigsty.yml"]\n', 'pigsty.yml': INVENTORY });
    const r = await validateInventory(repo);
    expect(codes(r)).toEqual(['config/unsafe-path corral.yml']);
    expect(shown(r)).not.toContain(readFileSync('/etc/passwd', 'utf8').split('\n')[0]);
  });

  it('"/**/*.yml" and brace patterns that leave the checkout are refused before any walk', async () => {
    const repo = tmpRepo({ 'corral.yml': 'inventory: ["/**/*.yml", "{a,/etc}/*.conf", "x/../../*.yml"]\n', 'pigsty.yml': INVENTORY });
    const r = await validateInventory(repo);
    expect(codes(r)).toEqual(['config/unsafe-path corral.yml', 'config/unsafe-path corral.yml', 'config/unsafe-path corral.yml']);
  });

  it('a chain of committed symlinks, each harmless by its text, is not followed out', async () => {
    const { repo } = repoBesideSecrets({ 'pigsty.yml': INVENTORY });
    const chain = Array.from({ length: 14 }, (_, i) => `a${i + 1}`).join('/');
    mkdirSync(join(repo, chain), { recursive: true });
    symlinkSync('../', join(repo, chain, 'm'));
    // By its text the link stays inside (a1/outside/secret.yml); through m it is ../outside/secret.yml.
    symlinkSync(`${chain}/m/${'../'.repeat(14)}outside/secret.yml`, join(repo, 'extra.yml'));
    writeFileSync(join(repo, 'corral.yml'), 'inventory: ["pigsty.yml", "extra.yml", "**/*.yml"]\n');
    const r = await validateInventory(repo);
    expect(codes(r)).toEqual(['io/symlink extra.yml']);
    expect(shown(r)).not.toContain(CANARY);
  });

  it('a file named through a linked folder that leads outside is refused by its real path', async () => {
    const { repo } = repoBesideSecrets({ 'pigsty.yml': INVENTORY });
    symlinkSync('../outside', join(repo, 'clusters'));
    writeFileSync(join(repo, 'corral.yml'), 'inventory: ["pigsty.yml", "clusters/secret.yml"]\n');
    const r = await validateInventory(repo);
    expect(codes(r)).toEqual(['io/outside-repo clusters/secret.yml']);
    expect(shown(r)).not.toContain(CANARY);
  });

  it('the default discovery does not walk linked folders, loops included', async () => {
    const { repo } = repoBesideSecrets({ 'corral.yml': 'strict: false\n', 'clusters/pg.yml': INVENTORY });
    symlinkSync('../outside', join(repo, 'linked'));
    symlinkSync('.', join(repo, 'loop'));
    const r = await validateInventory(repo);
    expect(r.problems).toEqual([]);
    expect([...r.texts.keys()]).toEqual(['corral.yml', 'clusters/pg.yml']);
  });
});

describe('validation is bounded for every input', () => {
  it('a FIFO named like an inventory file is skipped by a glob and refused by name, never waited on', async () => {
    const repo = tmpRepo({ 'pigsty.yml': INVENTORY });
    execFileSync('mkfifo', [join(repo, 'more.yml')]);
    writeFileSync(join(repo, 'corral.yml'), 'inventory: ["*.yml"]\n');
    expect(codes(await validateInventory(repo))).toEqual([]);
    writeFileSync(join(repo, 'corral.yml'), 'inventory: ["pigsty.yml", "more.yml"]\n');
    expect(codes(await validateInventory(repo))).toEqual(['io/not-a-file more.yml']);
    expect(codes(await validateInventory(join(repo, 'more.yml')))).toEqual(['io/not-a-file more.yml']);
  });

  it('recursive aliases are one located error (they spun the CPU, or grew to 5 GiB)', async () => {
    for (const [text, col] of [['x: &a [*a]\n', 8], ['all: &a {children: *a, vars: *a}\n', 20]] as const) {
      const r = await validateInventory(join(tmpRepo({ 'pigsty.yml': text }), 'pigsty.yml'));
      expect(r.problems.map((p) => [p.code, p.line, p.col])).toEqual([['yaml/recursive-alias', 1, col]]);
    }
  });

  it('many aliases are read in bounded time: one anchor redefined 2,000 times and aliased 2,000 times (this took 11 s)', { timeout: 20_000 }, async () => {
    const redefined = Array.from({ length: 2000 }, (_, i) => `    v${i}: &x { k: ${i} }\n`).join('') + Array.from({ length: 2000 }, (_, i) => `    w${i}: *x\n`).join('');
    const started = Date.now();
    const r = await validateInventory(join(tmpRepo({ 'pigsty.yml': `all:\n  vars:\n${redefined}` }), 'pigsty.yml'));
    expect(Date.now() - started).toBeLessThan(5000);
    expect(r.problems.filter((p) => p.severity === 'error').map((p) => p.code)).toEqual(['yaml/alias-bomb']);
  });

  it('1,900 levels of nesting, in every YAML shape, give one located problem in the daemon\'s validation process too', async () => {
    const depth = 1900;
    const shapes = {
      flow: `all: {vars: {x: ${'{a: '.repeat(depth)}1${'}'.repeat(depth)}}}\n`,
      block: 'all:\n  vars:\n    x:\n' + Array.from({ length: depth }, (_, i) => ' '.repeat(6 + i) + 'k:').join('\n') + ' 1\n',
      sequence: `all: {vars: {x: ${'['.repeat(depth)}${']'.repeat(depth)}}}\n`,
    };
    for (const text of Object.values(shapes)) {
      const repo = tmpRepo({ 'pigsty.yml': text });
      for (const r of [await validateInventory(repo), await validateIsolated(repo)]) {
        expect(r.problems.map((p) => [p.code, p.file])).toEqual([['yaml/too-deep', 'pigsty.yml']]);
        expect(JSON.stringify(r.problems)).not.toMatch(/\n\s+at /);
      }
    }
  });

  it('40,000 unknown variables are all reported (this took 36-94 s)', { timeout: 20_000 }, async () => {
    const vars = Array.from({ length: 40_000 }, (_, i) => `    my_var_${i}: ${i}\n`).join('');
    const r = await validateInventory(join(tmpRepo({ 'pigsty.yml': `all:\n  vars:\n${vars}` }), 'pigsty.yml'));
    expect(r.problems).toHaveLength(40_000);
    expect(r.problems[39_999]).toMatchObject({ code: 'vars/unknown', line: 40_002, col: 5 });
  });

  it('more files than the limit are refused without reading them', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i <= 10_000; i++) files[`c/${String(i).padStart(5, '0')}.yml`] = 'all: {}\n';
    const r = await validateInventory(tmpRepo({ ...files, 'corral.yml': 'strict: false\n' }));
    expect(codes(r)).toEqual(['io/too-many c/10000.yml']);
    expect([...r.texts.keys()]).toEqual(['corral.yml']);
  });
});

describe('the daemon validates in a child process with a time and a heap limit', () => {
  it('a revision that needs more time than allowed is refused, with the reason', async () => {
    const repo = tmpRepo({ 'pigsty.yml': INVENTORY });
    const r = await validateIsolated(repo, { timeoutMs: 1, maxHeapMb: 256 });
    expect(r.valid).toBe(false);
    expect(r.problems.map((p) => [p.code, p.message])).toEqual([['limit/exceeded', expect.stringMatching(/did not finish within 1 ms/)]]);
  });

  it('a revision that needs more memory than allowed is refused, and the daemon lives on', async () => {
    const hosts = Array.from({ length: 20_000 }, (_, i) => `        10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}: { pg_seq: ${i + 1}, pg_role: replica }\n`).join('');
    const repo = tmpRepo({ 'pigsty.yml': `all:\n  children:\n    pg-big:\n      vars: { pg_cluster: pg-big }\n      hosts:\n${hosts}` });
    const r = await validateIsolated(repo, { timeoutMs: 60_000, maxHeapMb: 16 });
    expect(r.problems.map((p) => [p.code, p.message])).toEqual([['limit/exceeded', expect.stringMatching(/more than 16 MiB/)]]);
  });

  it('a valid revision comes back whole, an invalid one with its located problems', async () => {
    const good = await validateIsolated(tmpRepo({ 'pigsty.yml': INVENTORY }));
    expect(good.valid).toBe(true);
    expect(good.clusters.map((c) => c.name)).toContain('pg-a');
    // Rebuilt from plain values; a location is still found (its file parsed on demand).
    const host = good.hosts.find((h) => h.name === '10.10.10.11')!;
    expect(host.get('pg_role')).toBe('primary');
    expect(host.definitions('pg_seq').map((d) => [d.at.file, d.at.line, d.at.col])).toEqual([['pigsty.yml', 4, 39]]);
    const bad = await validateIsolated(tmpRepo({ 'pigsty.yml': 'x: &a [*a]\n' }));
    expect(bad.problems.map((p) => [p.code, p.file, p.line, p.col])).toEqual([['yaml/recursive-alias', 'pigsty.yml', 1, 8]]);
    expect(bad.texts.get('pigsty.yml')).toBe('x: &a [*a]\n');
  });
});
