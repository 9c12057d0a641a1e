/** The core stands on its own: nothing under src/ imports a module folder or the forge side; the entry points hand them over. */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

/** Files under `dir` with an import (static, dynamic or type-only) that leads into one of `forbidden`. */
function importers(dir: string, forbidden: string[]): string[] {
  const out: string[] = [];
  for (const file of sources(join(ROOT, dir))) {
    for (const m of readFileSync(file, 'utf8').matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g)) {
      const target = relative(ROOT, join(file, '..', m[1]!));
      if (forbidden.some((f) => target === f || target.startsWith(`${f}/`))) out.push(`${relative(ROOT, file)} -> ${m[1]}`);
    }
  }
  return out;
}

describe('architecture', () => {
  it('nothing under src/ imports reconcilers/ or webhooks/', () => {
    expect(importers('src', ['reconcilers', 'webhooks'])).toEqual([]);
  });

  it('the check sees such an import', () => {
    // A module folder does import the core: the same check run the other way finds it.
    expect(importers('reconcilers', ['src']).length).toBeGreaterThan(0);
  });
});
