import { describe, expect, it } from 'vitest';
import { codeFrame, locate, parseSource, pointerOf, DEFAULT_LIMITS } from './source.js';

const parse = (text: string, limits = DEFAULT_LIMITS) => parseSource('t.yml', text, limits);

describe('YAML 1.1, read as Ansible reads it', () => {
  it('reads yes/no/on/off as booleans and keeps y/n as strings', () => {
    const { file } = parse('a: yes\nb: off\nc: On\nd: y\ne: n\n');
    expect(file?.value).toEqual({ a: true, b: false, c: true, d: 'y', e: 'n' });
  });
  it('reads a leading-zero number as octal, as PyYAML does', () => {
    expect(parse('mode: 0644\n').file?.value).toEqual({ mode: 0o644 });
  });
  it('keeps dates as the strings they were written as', () => {
    expect(parse('expire_at: 2030-12-31\n').file?.value).toEqual({ expire_at: '2030-12-31' });
  });
  it('merges << keys', () => {
    expect(parse('base: &b { x: 1 }\nmore: { <<: *b, y: 2 }\n').file?.value).toEqual({ base: { x: 1 }, more: { x: 1, y: 2 } });
  });
});

describe('bad input', () => {
  it('reports a duplicate key where the second one stands', () => {
    const { problems } = parse('a: 1\nb: 2\na: 3\n');
    expect(problems.map((p) => [p.code, p.line, p.col])).toEqual([['yaml/duplicate-key', 3, 1]]);
  });
  it('refuses binary content', () => {
    const { problems } = parseSource('t.yml', new Uint8Array([0x61, 0x3a, 0x00, 0x01]));
    expect(problems[0]?.code).toBe('io/binary');
  });
  it('refuses invalid UTF-8', () => {
    expect(parseSource('t.yml', new Uint8Array([0x61, 0x3a, 0x20, 0xff, 0xfe])).problems[0]?.code).toBe('io/binary');
  });
  it('refuses a file over the size limit before parsing it', () => {
    const big = new Uint8Array(DEFAULT_LIMITS.maxFileBytes + 1).fill(0x20);
    expect(parseSource('t.yml', big).problems[0]?.code).toBe('io/too-large');
  });
  it('stops an alias bomb', () => {
    const lines = ['a: &a [x, x, x, x, x, x, x, x, x]'];
    for (const [n, prev] of [['b', 'a'], ['c', 'b'], ['d', 'c'], ['e', 'd'], ['f', 'e']]) lines.push(`${n}: &${n} [${Array(9).fill('*' + prev).join(', ')}]`);
    expect(parse(lines.join('\n')).problems[0]?.code).toBe('yaml/alias-bomb');
  });
  it('stops deep nesting, flow and block', () => {
    expect(parse('['.repeat(5000) + ']'.repeat(5000)).problems[0]?.code).toBe('yaml/too-deep');
    const block = Array.from({ length: 100 }, (_, i) => ' '.repeat(i) + 'k:').join('\n') + ' 1';
    expect(parse(block).problems[0]?.code).toBe('yaml/too-deep');
  });
  it('reports one problem for a document that overflows the parser', () => {
    const { problems } = parse('['.repeat(100_000) + ']'.repeat(100_000));
    expect(problems).toHaveLength(1);
    expect(problems[0]?.code).toBe('yaml/too-deep');
  });
});

describe('locate', () => {
  const text = 'all:\n  children:\n    pg:\n      hosts:\n        10.0.0.1: { pg_seq: 1 }\n      list: [a, b]\n';
  const file = parse(text).file!;
  it('finds a value and a key by path', () => {
    expect(locate(file, ['all', 'children', 'pg', 'hosts', '10.0.0.1', 'pg_seq'])).toMatchObject({ line: 5, col: 29 });
    expect(locate(file, ['all', 'children', 'pg', 'hosts', '10.0.0.1', 'pg_seq'], 'key')).toMatchObject({ line: 5, col: 21 });
    expect(locate(file, ['all', 'children', 'pg', 'list', 1])).toMatchObject({ line: 6, col: 17 });
  });
  it('falls back to the deepest node that exists', () => {
    expect(locate(file, ['all', 'children', 'pg', 'vars', 'x'])).toMatchObject({ line: 3, col: 5 });
  });
  it('escapes JSON pointers', () => {
    expect(pointerOf(['a/b', 'c~d', 0])).toBe('/a~1b/c~0d/0');
  });
});

describe('codeFrame', () => {
  it('marks the line and column', () => {
    expect(codeFrame('a: 1\nb: 2\nc: 3\n', 2, 4, 1)).toBe(['  1 | a: 1', '> 2 | b: 2', '    |    ^', '  3 | c: 3'].join('\n'));
  });
});
