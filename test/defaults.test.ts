/**
 * Defaults come from the schema, once: HostView falls back to a parameter's schema default, and
 * param(), str() and int() are typed so (src/config/hosts.ts). A module that writes the default again
 * (`h.param('etcd_port') ?? 2379`, `h.param('pgbouncer_enabled') !== false`) holds a second copy that
 * can only drift from the schema; this test fails on one.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { deref, schemas, type JsonSchema, type Located } from '../src/config/schema.js';

const ROOT = join(import.meta.dirname, '..');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [join(dir, e.name)] : [],
  );
}

/** The JSON types a schema accepts, through $ref, anyOf, oneOf, enum and const. */
function typesOf(at: Located): Set<string> {
  const here = deref(at);
  const s = here.schema;
  const out = new Set<string>();
  const add = (t: unknown): void => void (Array.isArray(t) ? t.forEach(add) : typeof t === 'string' && out.add(t));
  add(s.type);
  for (const key of ['anyOf', 'oneOf'] as const) for (const sub of (s[key] as JsonSchema[] | undefined) ?? []) typesOf({ schema: sub, base: here.base }).forEach((t) => out.add(t));
  for (const v of [...((s.enum as unknown[] | undefined) ?? []), ...('const' in s ? [s.const] : [])]) out.add(Number.isInteger(v) ? 'integer' : typeof v);
  return out;
}

/** Whether the read can never be undefined for a validated inventory: the parameter has a default the accessor always reads. */
function alwaysSet(accessor: string, name: string): boolean {
  const p = schemas().params.get(name);
  if (!p || !('default' in p.schema)) return false;
  const types = [...typesOf(p)];
  if (accessor === 'str') return types.every((t) => ['string', 'integer', 'number'].includes(t));
  if (accessor === 'int') return types.every((t) => t === 'integer');
  return true;
}

/** `h.param('x') ?? …`, `h.str('x') ?? …`, `h.int('x') ?? …`, `h.param('x')?.…`, and a boolean's default as a comparison. */
const READ = /\.(param|str|int)\(\s*'([a-z0-9_]+)'\s*\)(\s*\)*\s*\?\?|\?\.|\s*(?:!==\s*false|===\s*true)\b)/g;

/** Reads in `text` that repeat a schema default, as `line: code`. */
export function repeatedDefaults(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(READ)) {
    if (!alwaysSet(m[1]!, m[2]!)) continue;
    const line = text.slice(0, m.index).split('\n').length;
    out.push(`${line}: ${m[0].replace(/\s+/g, ' ')}`);
  }
  return out;
}

describe('defaults from the schema, once', () => {
  it('no module (nor the core) writes a default the schema already has', () => {
    const found = [...sources(join(ROOT, 'reconcilers')), ...sources(join(ROOT, 'src'))].flatMap((f) => repeatedDefaults(readFileSync(f, 'utf8')).map((r) => `${relative(ROOT, f)}:${r}`));
    expect(found).toEqual([]);
  });

  it('sees such a read, and leaves those whose fallback is not a schema default', () => {
    expect(repeatedDefaults("const port = h.param('etcd_port') ?? 2379;")).toEqual(["1: .param('etcd_port') ??"]);
    expect(repeatedDefaults("const dbsu = (h.str('pg_dbsu'))\n  ?? 'postgres';")).toHaveLength(1);
    expect(repeatedDefaults("if (h.param('pgbouncer_enabled') !== false) {} h.param('repo_upstream')?.length")).toHaveLength(2);
    // No default (an identity variable), a default int() cannot read ('auto'), values str() does not read (YAML's off is false).
    expect(repeatedDefaults("h.param('etcd_seq') ?? 0; h.int('pg_max_conn') ?? 250; h.str('patroni_watchdog_mode') ?? 'off'; h.param('node_admin_uid') === 1")).toEqual([]);
  });
});
