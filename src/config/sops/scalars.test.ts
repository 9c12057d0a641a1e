/** Scalars as go-yaml v3 resolves them (resolve.go) and SOPS prints them into its MAC (sops.go ToBytes). */
import { describe, expect, it } from 'vitest';
import { goFloat, goScalar, type GoScalar } from './scalars.js';
import { encryptedBy, goRegExp } from './rules.js';

const plain = (text: string): GoScalar => goScalar({ text, plain: true });
const TAG = 'tag:yaml.org,2002:';

describe('plain scalars, as go-yaml v3 decodes them into interface{}', () => {
  const cases: [string, GoScalar][] = [
    // YAML 1.2 booleans only: the words PyYAML reads as booleans stay strings.
    ['true', { kind: 'bool', bytes: 'True' }],
    ['FALSE', { kind: 'bool', bytes: 'False' }],
    ['yes', { kind: 'string', bytes: 'yes' }],
    ['off', { kind: 'string', bytes: 'off' }],
    ['tRue', { kind: 'string', bytes: 'tRue' }],
    ['~', { kind: 'null' }],
    ['', { kind: 'null' }],
    // Integers as strconv.ParseInt(s, 0, 64) reads them after dropping underscores; 0644 is octal still.
    ['0644', { kind: 'int', bytes: '420' }],
    ['0o17', { kind: 'int', bytes: '15' }],
    ['0x1F', { kind: 'int', bytes: '31' }],
    ['-0x10', { kind: 'int', bytes: '-16' }],
    ['0b101', { kind: 'int', bytes: '5' }],
    ['+12', { kind: 'int', bytes: '12' }],
    ['1_000', { kind: 'int', bytes: '1000' }],
    ['-0', { kind: 'int', bytes: '0' }],
    ['9223372036854775807', { kind: 'int', bytes: '9223372036854775807' }],
    ['9223372036854775808', { kind: 'unsupported', why: '9223372036854775808 is over the range of a signed 64-bit integer' }],
    // Not an octal, so a float; a negative over int64 too.
    ['08', { kind: 'float', bytes: '8' }],
    ['-9223372036854775809', { kind: 'float', bytes: '-9223372036854776000' }],
    ['1.5', { kind: 'float', bytes: '1.5' }],
    ['1.0', { kind: 'float', bytes: '1' }],
    ['1e3', { kind: 'float', bytes: '1000' }],
    ['.5', { kind: 'float', bytes: '0.5' }],
    ['+.5', { kind: 'float', bytes: '0.5' }],
    ['-0.0', { kind: 'float', bytes: '-0' }],
    ['.inf', { kind: 'float', bytes: '+Inf' }],
    ['-.Inf', { kind: 'float', bytes: '-Inf' }],
    ['.NaN', { kind: 'float', bytes: 'NaN' }],
    ['1e400', { kind: 'string', bytes: '1e400' }],
    // Timestamps, printed back by time.MarshalText.
    ['2030-12-31', { kind: 'time', bytes: '2030-12-31T00:00:00Z' }],
    ['2030-1-5', { kind: 'time', bytes: '2030-01-05T00:00:00Z' }],
    ['2001-12-14t21:59:43.10-05:00', { kind: 'time', bytes: '2001-12-14T21:59:43.1-05:00' }],
    ['2001-12-14T21:59:43+00:00', { kind: 'time', bytes: '2001-12-14T21:59:43Z' }],
    ['2001-12-14 1:2:3.120', { kind: 'time', bytes: '2001-12-14T01:02:03.12Z' }],
    ['2030-02-30', { kind: 'string', bytes: '2030-02-30' }],
    // Strings Pigsty inventories are full of.
    ['10.10.10.11', { kind: 'string', bytes: '10.10.10.11' }],
    ['1:30', { kind: 'string', bytes: '1:30' }],
    ['<<', { kind: 'string', bytes: '<<' }],
    ['constructor', { kind: 'string', bytes: 'constructor' }],
  ];
  for (const [text, expected] of cases) it(`${JSON.stringify(text)}`, () => expect(plain(text)).toEqual(expected));
});

describe('quoted and tagged scalars', () => {
  it('a quoted or block scalar is a string, whatever it looks like', () => {
    expect(goScalar({ text: '0644', plain: false })).toEqual({ kind: 'string', bytes: '0644' });
    expect(goScalar({ text: 'true\n', plain: false })).toEqual({ kind: 'string', bytes: 'true\n' });
  });

  it('an explicit tag decides, as go-yaml does (an int tagged !!float is a float)', () => {
    expect(goScalar({ text: '12', plain: true, tag: TAG + 'str' })).toEqual({ kind: 'string', bytes: '12' });
    expect(goScalar({ text: '12', plain: false, tag: TAG + 'int' })).toEqual({ kind: 'int', bytes: '12' });
    expect(goScalar({ text: '12', plain: true, tag: TAG + 'float' })).toEqual({ kind: 'float', bytes: '12' });
    expect(goScalar({ text: 'yes', plain: true, tag: '!' })).toEqual({ kind: 'string', bytes: 'yes' });
    expect(goScalar({ text: 'x', plain: true, tag: '!vault' })).toEqual({ kind: 'string', bytes: 'x' });
    expect(goScalar({ text: 'abc', plain: true, tag: TAG + 'int' }).kind).toBe('unsupported');
    expect(goScalar({ text: 'aGk=', plain: true, tag: TAG + 'binary' }).kind).toBe('unsupported');
  });
});

describe("floats as strconv.FormatFloat(v, 'f', -1, 64) prints them", () => {
  const cases: [number, string][] = [
    [1234.56789, '1234.56789'],
    [1e21, '1000000000000000000000'],
    [1e-7, '0.0000001'],
    [0.1 + 0.2, '0.30000000000000004'],
    [-2.5e-3, '-0.0025'],
    [1234568000, '1234568000'],
  ];
  for (const [v, text] of cases) it(`${v}`, () => expect(goFloat(v)).toBe(text));
});

describe('RE2 patterns of the sops: rules, in JavaScript', () => {
  it('reads inline flags and named groups, and searches as regexp.Match does', () => {
    expect(goRegExp('(?i)PASSWORD').test('pg_admin_password')).toBe(true);
    expect(goRegExp('(?P<name>secret)$').test('minio_secret')).toBe(true);
    expect(goRegExp('\\Apg_').test('x_pg_y')).toBe(false);
    expect(goRegExp('^(.*password.*|.*secret.*)$').test('pg_port')).toBe(false);
  });
});

describe('encryption rules', () => {
  it('a pattern too large to compile is a metadata error, not an exception at the first value', () => {
    const rule = encryptedBy({ name: 'encrypted_regex', value: `^(a|${'x'.repeat(2 ** 20)})$` });
    expect(typeof rule).toBe('object');
    expect((rule as { message: string }).message).toMatch(/encrypted_regex is not a pattern Corral can read: .*too large/);
  });
});
