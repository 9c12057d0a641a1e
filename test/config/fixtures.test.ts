/**
 * Fixture files under test/fixtures/invalid state what they must produce in trailing comments:
 * `# expect: <code> [file] <line>:<col> [severity]`. The test demands exactly those problems:
 * none missing, none extra. Valid fixtures and every folder under examples/ have no problem at all.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateInventory } from '../../src/config/validate.js';
import { PROBLEM_CODES } from '../../src/config/problems.js';
import { tmpRepo } from '../helpers/tmp.js';

const FIXTURES = join(import.meta.dirname, '../fixtures');
const EXPECT = /^# expect: (\S+)(?: (\S+\.ya?ml))? (\d+):(\d+)(?: (error|warning))?$/;

interface Expected {
  code: string;
  file: string;
  line: number;
  col: number;
  severity: string;
}

function expectations(target: string): Expected[] {
  const isDir = statSync(target).isDirectory();
  const files = isDir ? readdirSync(target, { recursive: true, encoding: 'utf8' }).filter((f) => /\.ya?ml$/.test(f)) : [target];
  const out: Expected[] = [];
  for (const f of files) {
    const rel = isDir ? f : f.split('/').pop()!;
    for (const line of readFileSync(isDir ? join(target, f) : f, 'utf8').split('\n')) {
      const m = EXPECT.exec(line);
      if (m) out.push({ code: m[1]!, file: m[2] ?? rel, line: Number(m[3]), col: Number(m[4]), severity: m[5] ?? 'error' });
    }
  }
  return out;
}

const key = (e: Expected): string => `${e.severity} ${e.code} ${e.file}:${e.line}:${e.col}`;

describe('invalid fixtures report exactly the expected problems', () => {
  const dir = join(FIXTURES, 'invalid');
  for (const name of readdirSync(dir).sort()) {
    it(name, async () => {
      const target = join(dir, name);
      const want = expectations(target);
      expect(want.length, 'a fixture states at least one expectation').toBeGreaterThan(0);
      const result = await validateInventory(target);
      const got = result.problems.map((p) => key({ code: p.code, file: p.file, line: p.line, col: p.col, severity: p.severity }));
      expect(got.sort()).toEqual(want.map(key).sort());
      expect(result.valid).toBe(!want.some((w) => w.severity === 'error'));
    });
  }
});

describe('valid fixtures have no problems', () => {
  const dir = join(FIXTURES, 'valid');
  for (const name of readdirSync(dir).sort()) {
    it(name, async () => {
      const result = await validateInventory(join(dir, name));
      expect(result.problems).toEqual([]);
      expect(result.valid).toBe(true);
    });
  }
});

describe('every example under examples/ is a clean repository (what `corral validate examples/<name>` checks)', () => {
  const dir = join(import.meta.dirname, '../../examples');
  const names = readdirSync(dir).filter((n) => statSync(join(dir, n)).isDirectory()).sort();
  it('there are examples', () => expect(names).toContain('single'));
  for (const name of names) {
    it(name, async () => {
      const result = await validateInventory(join(dir, name));
      expect(result.problems).toEqual([]);
      expect(result.valid).toBe(true);
    });
  }
});

/** Inputs too big or too strange to commit as files: made here, each with the problem it must give. */
const GARBAGE: { name: string; content: () => string | Uint8Array; code: string; line: number; col: number }[] = [
  { name: 'a 50 MB file', content: () => 'all: {}\n' + '# padding\n'.repeat(5_000_000), code: 'io/too-large', line: 1, col: 1 },
  { name: 'a binary file', content: () => new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 0x00, 0x01]), code: 'io/binary', line: 1, col: 1 },
  { name: 'deep flow nesting', content: () => 'all: ' + '['.repeat(200_000) + ']'.repeat(200_000), code: 'yaml/too-deep', line: 1, col: 1 },
  {
    name: 'an alias bomb',
    content: () => ['a: &a [x, x, x, x, x, x, x, x, x]', ...'bcdefg'.split('').map((n, i) => `${n}: &${n} [${Array(9).fill('*' + 'abcdefg'[i]).join(', ')}]`)].join('\n'),
    code: 'yaml/alias-bomb',
    line: 1,
    col: 1,
  },
  {
    name: 'more anchors and aliases than a file may hold',
    content: () => 'all:\n  vars:\n' + Array.from({ length: 5001 }, (_, i) => `    v${i}: &a${i} ${i}\n    w${i}: *a${i}\n`).join(''),
    code: 'yaml/too-many-anchors',
    line: 1,
    col: 1,
  },
];

describe('garbage input gets one clear problem, never a crash or a hang', () => {
  for (const g of GARBAGE) {
    it(g.name, async () => {
      const result = await validateInventory(join(tmpRepo({ 'pigsty.yml': g.content() }), 'pigsty.yml'));
      expect(result.problems.map((p) => [p.code, p.file, p.line, p.col])).toEqual([[g.code, 'pigsty.yml', g.line, g.col]]);
    });
  }
  it('a path that does not exist', async () => {
    const result = await validateInventory(join(FIXTURES, 'no-such-file.yml'));
    expect(result.problems.map((p) => p.code)).toEqual(['io/unreadable']);
  });
  it('a folder with no inventory', async () => {
    const result = await validateInventory(tmpRepo({ 'notes.txt': 'hello' }));
    expect(result.problems.map((p) => p.code)).toEqual(['io/no-inventory']);
  });
});

describe('coverage', () => {
  it('every problem code is produced by some fixture or garbage case', () => {
    // Symlinks, FIFOs, 10,001 files and the validation process's limits are made by test/config/untrusted.test.ts;
    // decryption's problems, which need a key, by test/config/sops.test.ts.
    const madeThere = ['io/symlink', 'io/outside-repo', 'io/not-a-file', 'io/too-many', 'limit/exceeded', 'sops/key', 'sops/integrity'];
    const covered = new Set<string>(['io/unreadable', 'io/no-inventory', ...madeThere, ...GARBAGE.map((g) => g.code)]);
    for (const kind of ['invalid']) {
      const dir = join(FIXTURES, kind);
      for (const name of readdirSync(dir)) for (const e of expectations(join(dir, name))) covered.add(e.code);
    }
    // schema/invalid is the fallback for keywords the message table does not name.
    const missing = Object.keys(PROBLEM_CODES).filter((c) => !covered.has(c) && c !== 'schema/invalid');
    expect(missing).toEqual([]);
  });
});
