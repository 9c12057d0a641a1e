/**
 * Fixture files under test/fixtures/invalid state what they must produce in trailing comments:
 * `# expect: <code> [file] <line>:<col> [severity]`. The test demands exactly those problems:
 * none missing, none extra.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateInventory } from '../../src/config/validate.js';

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
