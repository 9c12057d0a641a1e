/**
 * The JSON Schemas under schema/ are the one source of truth for the inventory's shape:
 * validation, role defaults, known variable names and secret fields all come from them,
 * and src/types/inventory.gen.ts is generated from them.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ErrorObject } from 'ajv/dist/2020.js';
import { packageRoot } from '../util/package-root.js';

export type JsonSchema = { [key: string]: unknown };
/** A sub-schema and the `$id` of the document it sits in. */
export interface Located {
  schema: JsonSchema;
  base: string;
}

const SCHEMA_DIR = join(packageRoot, 'schema');
const BASE = 'https://corral.dev/schema/';
export const INVENTORY_SCHEMA_ID = BASE + 'inventory.schema.json';
export const CORRAL_SCHEMA_ID = BASE + 'corral.schema.json';
const VARS_SCHEMA_ID = BASE + 'vars.schema.json';

function readSchemas(): JsonSchema[] {
  const files = ['corral.schema.json', 'inventory.schema.json', 'vars.schema.json'];
  const params = readdirSync(join(SCHEMA_DIR, 'params')).filter((f) => f.endsWith('.schema.json')).sort();
  return [...files.map((f) => join(SCHEMA_DIR, f)), ...params.map((f) => join(SCHEMA_DIR, 'params', f))].map(
    (path) => JSON.parse(readFileSync(path, 'utf8')) as JsonSchema,
  );
}

export interface SchemaSet {
  byId: Map<string, JsonSchema>;
  /** Every parameter's own schema, by name, with the file it lives in (for its `$ref`s). */
  params: Map<string, Located>;
}

let cached: SchemaSet | undefined;

export function schemas(): SchemaSet {
  if (cached) return cached;
  const all = readSchemas();
  const byId = new Map<string, JsonSchema>();
  for (const s of all) byId.set(s.$id as string, s);
  const params = new Map<string, Located>();
  const vars = byId.get(VARS_SCHEMA_ID)!;
  for (const part of vars.allOf as { $ref: string }[]) {
    const schema = byId.get(new URL(part.$ref, VARS_SCHEMA_ID).href)!;
    for (const [key, sub] of Object.entries(schema.properties as Record<string, JsonSchema>)) {
      params.set(key, { schema: sub, base: schema.$id as string });
    }
  }
  cached = { byId, params };
  return cached;
}

/** Follow `$ref`s (local or across files) to the schema they point at. */
export function deref({ schema, base }: Located, set: SchemaSet = schemas()): Located {
  let here: Located = { schema, base };
  for (let hops = 0; typeof here.schema.$ref === 'string' && hops < 16; hops++) {
    const url = new URL(here.schema.$ref, here.base);
    const doc = set.byId.get(url.origin + url.pathname);
    if (!doc) break;
    let target: unknown = doc;
    for (const seg of url.hash.replace(/^#\/?/, '').split('/').filter(Boolean)) target = (target as JsonSchema)[decodeURIComponent(seg)];
    here = { schema: target as JsonSchema, base: doc.$id as string };
  }
  return here;
}

const frozenDefaults = new Map<string, unknown>();

/** A parameter's role default, shared and frozen: callers never get a copy to change. */
export function paramDefault(name: string): unknown {
  if (frozenDefaults.has(name)) return frozenDefaults.get(name);
  const s = schemas().params.get(name)?.schema;
  const value = s && 'default' in s ? deepFreeze(structuredClone(s.default)) : undefined;
  frozenDefaults.set(name, value);
  return value;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

export type SchemaError = ErrorObject;
