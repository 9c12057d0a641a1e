/**
 * Fuzzing: the project's own inventories, mutated 1,200 ways (deterministically: a seeded PRNG),
 * through validation in this process and through one `corral validate` process. Each must give
 * located problems (never a throw, a hang or a stack trace) within a time bound, and the whole run
 * within a memory bound.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { validateInventory } from '../../src/config/validate.js';

const ROOT = join(import.meta.dirname, '../..');
const MUTANTS = 1200;
/** Per input; a real inventory validates in milliseconds. */
const TIME_BOUND_MS = 2000;
const RSS_GROWTH_BOUND_MB = 400;

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => /\.ya?ml$/.test(f))
    .map((f) => join(dir, f))
    .filter((f) => statSync(f).isFile());
}

/** mulberry32: small, seeded, the same run every time. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Mutator = (lines: string[], pick: (n: number) => number) => string[];
const at = (lines: string[], pick: (n: number) => number): number => pick(Math.max(1, lines.length));
const indentOf = (line: string): string => /^\s*/.exec(line)![0];

const MUTATORS: Record<string, Mutator> = {
  'drop a line': (l, p) => l.toSpliced(at(l, p), 1),
  'duplicate a line': (l, p) => { const i = at(l, p); return l.toSpliced(i, 0, l[i] ?? ''); },
  'swap two lines': (l, p) => { const c = [...l]; const i = at(l, p); const j = at(l, p); [c[i], c[j]] = [c[j] ?? '', c[i] ?? '']; return c; },
  'shift indentation': (l, p) => { const i = at(l, p); return l.with(i, ' '.repeat(p(7)) + (l[i] ?? '').trimStart()); },
  'insert a tab': (l, p) => { const i = at(l, p); return l.with(i, '\t' + (l[i] ?? '')); },
  'truncate': (l, p) => { const t = l.join('\n'); return [t.slice(0, p(t.length + 1))]; },
  'random punctuation': (l, p) => { const t = l.join('\n').split(''); for (let k = 0; k < 5; k++) t.splice(p(t.length + 1), 0, '{}[]:,&*!|>-?%@`"\''[p(18)]!); return t.join('').split('\n'); },
  'a recursive alias': (l, p) => { const i = at(l, p); return l.toSpliced(i, 0, `${indentOf(l[i] ?? '')}loop_${i}: &loop${i} [*loop${i}]`); },
  'an alias bomb': (l) => [...l, 'bomb0: &b0 [x, x, x, x, x, x, x, x, x]', ...Array.from({ length: 8 }, (_, k) => `bomb${k + 1}: &b${k + 1} [${Array(9).fill(`*b${k}`).join(', ')}]`)],
  'an undefined alias': (l, p) => { const i = at(l, p); return l.with(i, (l[i] ?? '') + ' *nowhere'); },
  'deep nesting': (l, p) => { const d = 500 + p(2500); return [...l, `deep: ${'['.repeat(d)}${']'.repeat(d)}`]; },
  'deep block nesting': (l, p) => [...l, 'deep:', ...Array.from({ length: 100 + p(400) }, (_, k) => ' '.repeat(2 + k) + 'k:'), ' '.repeat(600) + 'v'],
  'a line repeated 2,000 times': (l, p) => { const i = at(l, p); return l.toSpliced(i, 0, ...Array<string>(2000).fill(l[i] ?? '')); },
  'a huge scalar': (l, p) => { const i = at(l, p); return l.with(i, (l[i] ?? '') + ' ' + 'x'.repeat(100_000 + p(400_000))); },
  'a huge number': (l, p) => { const i = at(l, p); return l.with(i, (l[i] ?? '').replace(/\d+/, '9'.repeat(400))); },
  'control and non-UTF-8 bytes': (l, p) => { const i = at(l, p); return l.with(i, (l[i] ?? '') + ['\u0000', '\u0007', '\uFFFE', '\uD800'][p(4)]); },
  'a second document': (l) => [...l, '---', ...l],
  'a merge of a scalar': (l, p) => { const i = at(l, p); return l.toSpliced(i + 1, 0, `${indentOf(l[i] ?? '')}<<: 42`); },
  'a key made a list': (l, p) => { const i = at(l, p); return l.with(i, (l[i] ?? '').replace(/^(\s*)([\w.-]+):/, '$1[$2, x]:')); },
  'many unknown variables': (l) => [...l, 'extra:', '  vars:', ...Array.from({ length: 2000 }, (_, k) => `    fuzz_var_${k}: ${k}`)],
};

function mutants(): { name: string; text: string }[] {
  const seeds = [...yamlFiles(join(ROOT, 'test/fixtures')), ...yamlFiles(join(ROOT, 'examples'))].map((f) => ({ f, lines: readFileSync(f, 'utf8').split('\n') }));
  const random = prng(20261203);
  const pick = (n: number): number => Math.floor(random() * n);
  const names = Object.keys(MUTATORS);
  const out: { name: string; text: string }[] = [];
  for (let i = 0; i < MUTANTS; i++) {
    const seed = seeds[i % seeds.length]!;
    // One to three mutations stacked, so mutations meet each other too.
    let lines = seed.lines;
    const applied: string[] = [];
    for (let k = 0; k <= pick(3); k++) {
      const name = names[(i + k * 7 + pick(names.length)) % names.length]!;
      const mutated = MUTATORS[name]!(lines, pick);
      // Stacked growth (a huge scalar repeated 3,000 times) is the file-size limit's case, tested on its own.
      if (mutated.reduce((n, line) => n + line.length + 1, 0) > 6 * 2 ** 20) continue;
      lines = mutated;
      applied.push(name);
    }
    out.push({ name: `${seed.f.slice(ROOT.length + 1)} + ${applied.join(' + ')}`, text: lines.join('\n') });
  }
  return out;
}

const STACK_TRACE = /\n\s+at |\bat .+\.(?:js|ts):\d+:\d+/;

describe('fuzzing validation', () => {
  const cases = mutants();
  const dir = mkdtempSync(join(tmpdir(), 'corral-fuzz-'));
  const paths = cases.map((c, i) => {
    const path = join(dir, `m${String(i).padStart(4, '0')}.yml`);
    writeFileSync(path, c.text);
    return path;
  });

  it(`${MUTANTS} mutated inventories: located problems, no throw, no stack trace, each within ${TIME_BOUND_MS} ms`, { timeout: 300_000 }, async () => {
    const rssBefore = process.memoryUsage().rss;
    const slow: string[] = [];
    const broken: string[] = [];
    let slowest = 0;
    for (const [i, c] of cases.entries()) {
      const started = performance.now();
      let result;
      try {
        result = await validateInventory(paths[i]!);
      } catch (e) {
        broken.push(`${c.name}: threw ${(e as Error).message}`);
        continue;
      }
      const took = performance.now() - started;
      slowest = Math.max(slowest, took);
      if (took > TIME_BOUND_MS) slow.push(`${c.name}: ${Math.round(took)} ms`);
      for (const p of result.problems) {
        if (!(p.line >= 1 && p.col >= 1 && p.file && p.code && p.message)) broken.push(`${c.name}: unlocated problem ${JSON.stringify(p)}`);
        if (STACK_TRACE.test(p.message)) broken.push(`${c.name}: stack trace in ${p.code}`);
      }
    }
    const grownMb = (process.memoryUsage().rss - rssBefore) / 2 ** 20;
    console.log(`fuzz: ${cases.length} inputs, slowest ${Math.round(slowest)} ms, RSS grew ${Math.round(grownMb)} MiB`);
    expect(broken).toEqual([]);
    expect(slow).toEqual([]);
    expect(grownMb).toBeLessThan(RSS_GROWTH_BOUND_MB);
  });

  it('`corral validate` reads them all in one process: exit 0 or 1, JSON out, nothing on stderr', { timeout: 300_000 }, async () => {
    const run = promisify(execFile);
    const { stdout, stderr } = await run(process.execPath, [join(ROOT, 'bin/corral.js'), 'validate', '--format', 'json', ...paths], { maxBuffer: 1 << 30 }).catch(
      (e: { code: number; stdout: string; stderr: string }) => {
        expect(e.code).toBe(1);
        return e;
      },
    );
    expect(stderr).toBe('');
    const problems = JSON.parse(stdout) as { file: string; message: string }[];
    expect(problems.length).toBeGreaterThan(cases.length / 2);
    expect(problems.filter((p) => STACK_TRACE.test(p.message))).toEqual([]);
  });
});
