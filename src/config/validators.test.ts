/** The generated validators with V8's code cache: taken only for the very source it was made from. */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadValidators, writeValidatorsCache } from './validators.js';

const GENERATED = fileURLToPath(new URL('./validators.gen.js', import.meta.url));
const valid = { all: { children: { pg: { hosts: { '10.0.0.1': { pg_seq: 1 } }, vars: { pg_cluster: 'pg' } } } } };
const invalid = { all: { children: { pg: { hosts: { '10.0.0.1': { pg_seq: 'one' } } } } } };

describe('validators and their code cache', () => {
  let dir: string;
  let source: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'corral-validators-'));
    source = join(dir, 'validators.gen.js');
    copyFileSync(GENERATED, source);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('compile without a cache, and take the cache written for their source, validating alike', () => {
    const fresh = loadValidators(source);
    expect(fresh.fromCache).toBe(false);
    writeValidatorsCache((v) => v.validateInventory(valid), source);
    const cached = loadValidators(source);
    expect(cached.fromCache).toBe(true);
    for (const { validators } of [fresh, cached]) {
      expect(validators.validateInventory(valid)).toBe(true);
      expect(validators.validateInventory(invalid)).toBe(false);
      expect(validators.validateInventory.errors).toContainEqual(expect.objectContaining({ instancePath: '/all/children/pg/hosts/10.0.0.1/pg_seq', keyword: 'type', message: 'must be integer' }));
    }
  });

  it('refuse a cache made for another source of the same length (V8 itself compares lengths only)', () => {
    writeValidatorsCache((v) => v.validateInventory(invalid), source);
    // Same length, other behaviour: pg_seq's message changes.
    const text = readFileSync(source, 'utf8');
    const pgSeq = 'schemaPath:"#/properties/pg_seq/type",keyword:"type",params:{type: "integer"},message:"must be integer"';
    expect(text.split(pgSeq)).toHaveLength(2);
    const edited = text.replace(pgSeq, pgSeq.replace('must be integer', 'MUST BE INTEGER'));
    expect(edited.length).toBe(text.length);
    expect(edited).not.toBe(text);
    writeFileSync(source, edited);
    const loaded = loadValidators(source);
    expect(loaded.fromCache).toBe(false);
    expect(loaded.validators.validateInventory(invalid)).toBe(false);
    expect(loaded.validators.validateInventory.errors).toContainEqual(expect.objectContaining({ instancePath: '/all/children/pg/hosts/10.0.0.1/pg_seq', message: 'MUST BE INTEGER' }));
  });

  it('compile as usual when the cache file is damaged', () => {
    writeValidatorsCache((v) => v.validateInventory(valid), source);
    const cache = source.replace(/\.js$/, '.cache');
    const bytes = readFileSync(cache);
    bytes.fill(7, 64, 4096);
    writeFileSync(cache, bytes);
    const loaded = loadValidators(source);
    expect(loaded.fromCache).toBe(false);
    expect(loaded.validators.validateInventory(valid)).toBe(true);
  });
});
