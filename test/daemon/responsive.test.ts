/**
 * The daemon keeps answering while it validates the worst revisions anyone has sent it: a real
 * `corral serve --watch` process, its folder rewritten with each input, /healthz asked every
 * 100 ms throughout. Each answer must come within a second, and each revision must end up judged.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/ports.js';
import { until } from '../helpers/until.js';

const ROOT = join(import.meta.dirname, '../..');
const HEALTHZ_BOUND_MS = 1000;

const WORST: Record<string, { text: () => string; verdict: RegExp | 'valid' }> = {
  'a recursive alias (spun at 100% CPU)': { text: () => 'x: &a [*a]\n', verdict: /inside its own anchor/ },
  'a self-containing group (grew to 5 GiB)': { text: () => 'all: &a {children: *a, vars: *a}\n', verdict: /inside its own anchor/ },
  'an alias bomb': { text: () => ['a: &a [x, x, x, x, x, x, x, x, x]', ...'bcdefgh'.split('').map((n, i) => `${n}: &${n} [${Array(9).fill('*' + 'abcdefgh'[i]).join(', ')}]`)].join('\n'), verdict: /aliases expand/ },
  '1,900 levels of nesting': { text: () => `all: {vars: {x: ${'['.repeat(1900)}${']'.repeat(1900)}}}\n`, verdict: /nests (?:too )?deep/ },
  'a file just over the size limit': { text: () => 'all: {}\n' + '#'.repeat(4 * 2 ** 20), verdict: /over the limit/ },
  '40,000 unknown variables (took 36-94 s)': { text: () => `all:\n  vars:\n${Array.from({ length: 40_000 }, (_, i) => `    my_var_${i}: ${i}\n`).join('')}`, verdict: 'valid' },
};

let daemon: ChildProcess;
let base: string;
let folder: string;

beforeAll(async () => {
  folder = mkdtempSync(join(tmpdir(), 'corral-responsive-'));
  writeFileSync(join(folder, 'pigsty.yml'), 'all: {}\n');
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  daemon = spawn(process.execPath, [join(ROOT, 'bin/corral.js'), 'serve', '--watch', folder, '--state-dir', mkdtempSync(join(tmpdir(), 'corral-state-')), '--listen', `127.0.0.1:${port}`, '--log-level', 'warn'], { stdio: ['ignore', 'ignore', 'inherit'] });
  await until('the daemon to serve', () => fetch(`${base}/healthz`).then((r) => (r.ok ? true : undefined), () => undefined), 30_000);
});

afterAll(() => {
  daemon.kill('SIGKILL');
});

interface Git {
  fetchedRevision?: string;
  lastGoodRevision?: string;
  invalidAt?: string;
}

const git = async (): Promise<Git> => ((await (await fetch(`${base}/api/status`)).json()) as { git: Git }).git;

describe('the daemon answers /healthz within a second while it validates hostile revisions', () => {
  for (const [name, input] of Object.entries(WORST)) {
    it(name, { timeout: 120_000 }, async () => {
      const before = (await git()).fetchedRevision;
      let slowest = 0;
      let probing = true;
      const probes = (async () => {
        while (probing) {
          const started = performance.now();
          const res = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(10_000) });
          expect(res.status).toBe(200);
          slowest = Math.max(slowest, performance.now() - started);
          await new Promise((r) => setTimeout(r, 100));
        }
      })();
      writeFileSync(join(folder, 'pigsty.yml'), input.text());
      const judged = await until(`a verdict on ${name}`, async () => {
        const g = await git();
        if (g.fetchedRevision === before) return undefined;
        return input.verdict === 'valid' ? (g.lastGoodRevision === g.fetchedRevision ? g : undefined) : g.invalidAt ? g : undefined;
      }, 90_000, 100);
      probing = false;
      await probes;
      console.log(`${name}: slowest /healthz ${Math.round(slowest)} ms`);
      if (input.verdict !== 'valid') expect(judged.invalidAt).toMatch(input.verdict);
      expect(slowest).toBeLessThan(HEALTHZ_BOUND_MS);
    });
  }
});
