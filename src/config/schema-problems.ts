/** Turns ajv's errors into located, readable problems: one problem per bad value. */
import type { SchemaError } from './schema.js';
import { locate, type PathSegment, type SourceFile } from './source.js';
import { problem, type Problem, type ProblemCode } from './problems.js';
import { isSecretPath } from './secrets.js';

function segmentsOf(instancePath: string): PathSegment[] {
  if (!instancePath) return [];
  return instancePath
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^(0|[1-9][0-9]*)$/.test(s) ? Number(s) : s));
}

const CODE_OF: Record<string, ProblemCode> = {
  type: 'schema/type',
  enum: 'schema/enum',
  const: 'schema/enum',
  pattern: 'schema/pattern',
  format: 'schema/pattern',
  minimum: 'schema/range',
  maximum: 'schema/range',
  exclusiveMinimum: 'schema/range',
  exclusiveMaximum: 'schema/range',
  minLength: 'schema/range',
  maxLength: 'schema/range',
  minItems: 'schema/range',
  maxItems: 'schema/range',
  required: 'schema/required',
  additionalProperties: 'schema/unknown-field',
  unevaluatedProperties: 'schema/unknown-field',
};

function preview(value: unknown, secret: boolean): string {
  if (secret) return '(redacted)';
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? text.slice(0, 57) + '...' : text;
}

/** A variable's path as messages write it: `pg_users[0].password`. */
export const varName = (path: readonly PathSegment[]): string => path.map((s, i) => (typeof s === 'number' ? `[${s}]` : i ? `.${s}` : s)).join('');

/** Where the value sits, for messages: `pg_users[0].password` under the vars that hold it. */
function nameOf(path: readonly PathSegment[]): string {
  const at = path.findLastIndex((s) => s === 'vars' || s === 'hosts');
  const rel = at >= 0 ? path.slice(at + (path[at] === 'hosts' ? 2 : 1)) : path;
  if (!rel.length) return path.length ? String(path[path.length - 1]) : 'the document';
  return varName(rel);
}

function varPath(path: readonly PathSegment[]): PathSegment[] {
  const at = path.findLastIndex((s) => s === 'vars' || s === 'hosts');
  return at >= 0 ? path.slice(at + (path[at] === 'hosts' ? 2 : 1)) : [...path];
}

/** The value at a path of the document, as the validator saw it. */
function valueAt(root: unknown, path: readonly PathSegment[]): unknown {
  let v = root;
  for (const s of path) v = v !== null && typeof v === 'object' ? (v as Record<string | number, unknown>)[s] : undefined;
  return v;
}

function describe(e: SchemaError, name: string, secret: boolean, value: unknown): string {
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'type':
      return `${name} must be ${String(p.type).replace(/,/g, ' or ')}, not ${preview(value, secret)}`;
    case 'enum':
      return `${name} is ${preview(value, secret)}; expected one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    case 'required':
      return `${name} is missing the field "${String(p.missingProperty)}"`;
    case 'additionalProperties':
      return `${name} has a field that is not allowed: "${String(p.additionalProperty)}"`;
    case 'pattern':
      return `${name} is ${preview(value, secret)}, which does not match ${String(p.pattern)}`;
    default:
      return `${name} ${e.message ?? 'is invalid'}${secret ? '' : ` (got ${preview(value, secret)})`}`;
  }
}

/**
 * ajv reports every failed branch of an anyOf; users want one line per value. Keep the errors at
 * the deepest paths, and for a value whose branches all failed, the branch that got furthest.
 */
export function schemaProblems(file: SourceFile, errors: readonly SchemaError[], base: readonly PathSegment[] = []): Problem[] {
  const byPath = new Map<string, SchemaError[]>();
  for (const e of errors) {
    const list = byPath.get(e.instancePath) ?? [];
    list.push(e);
    byPath.set(e.instancePath, list);
  }
  // Every path that holds a deeper error, found once: comparing each path with every other was quadratic (20,000 errors: 84 s).
  const holders = new Set<string>();
  for (const path of byPath.keys()) {
    for (let cut = path.lastIndexOf('/'); cut >= 0; cut = path.lastIndexOf('/', cut - 1)) {
      holders.add(path.slice(0, cut));
      if (cut === 0) break;
    }
  }
  const out: Problem[] = [];
  for (const [instancePath, list] of byPath) {
    // An error whose value has a deeper error is explained by that deeper one.
    const explained = holders.has(instancePath);
    const concrete = list.filter((e) => !['anyOf', 'oneOf', 'allOf', 'if', 'not'].includes(e.keyword));
    if (explained && concrete.every((e) => e.keyword === 'type' || e.keyword === 'enum')) continue;
    const shown = concrete.length ? pickBranch(concrete) : list.slice(0, 1);
    const path = [...base, ...segmentsOf(instancePath)];
    const secret = isSecretPath(varPath(path));
    for (const e of shown) {
      const keyPath = e.keyword === 'additionalProperties' ? [...path, String((e.params as Record<string, unknown>).additionalProperty)] : path;
      const at = locate(file, keyPath, e.keyword === 'additionalProperties' ? 'key' : 'value');
      out.push(problem(CODE_OF[e.keyword] ?? 'schema/invalid', at, describe(e, nameOf(path), secret, valueAt(file.value, segmentsOf(instancePath)))));
    }
  }
  return out;
}

/** Of several alternatives that failed on the same value, say once what types were wanted. */
function pickBranch(errors: SchemaError[]): SchemaError[] {
  const types = errors.filter((e) => e.keyword === 'type');
  if (types.length > 1) {
    const wanted = [...new Set(types.flatMap((e) => String((e.params as { type: string }).type).split(',')))];
    return [{ ...types[0]!, params: { type: wanted.join(',') } }];
  }
  const seen = new Set<string>();
  return errors.filter((e) => {
    const key = e.keyword + JSON.stringify(e.params);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
