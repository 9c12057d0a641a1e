/**
 * Scalars as SOPS reads them. SOPS parses YAML with go-yaml v3 (YAML 1.2, plus 1.1's `0644`
 * octals) and feeds every value into its MAC as Go prints it (sops.ToBytes); Corral reads YAML 1.1
 * as Ansible does. To compute the MAC SOPS computed, a value's text is read again here the way
 * go-yaml v3's resolve() reads it (go-yaml v3.0.4 resolve.go, SOPS sops.go ToBytes).
 */

/** A scalar as written: its text (escapes and folding done), whether quoted or a block, its explicit tag. */
export interface ScalarText {
  text: string;
  plain: boolean;
  tag?: string;
}

/** What go-yaml makes of a scalar, with the bytes SOPS's MAC takes from it (none for null). */
export type GoScalar =
  | { kind: 'string' | 'int' | 'float' | 'bool' | 'time'; bytes: string }
  | { kind: 'null' }
  /** Go values SOPS cannot walk (a uint64, !!binary, a tag that does not fit): SOPS refuses the file. */
  | { kind: 'unsupported'; why: string };

const TAG = 'tag:yaml.org,2002:';

/** The words go-yaml v3 resolves by table (resolve.go resolveMapList). */
const WORDS = new Map<string, GoScalar>([
  ...['true', 'True', 'TRUE'].map((w) => [w, { kind: 'bool', bytes: 'True' }] as const),
  ...['false', 'False', 'FALSE'].map((w) => [w, { kind: 'bool', bytes: 'False' }] as const),
  ...['', '~', 'null', 'Null', 'NULL'].map((w) => [w, { kind: 'null' }] as const),
  ...['.nan', '.NaN', '.NAN'].map((w) => [w, { kind: 'float', bytes: 'NaN' }] as const),
  ...['.inf', '.Inf', '.INF', '+.inf', '+.Inf', '+.INF'].map((w) => [w, { kind: 'float', bytes: '+Inf' }] as const),
  ...['-.inf', '-.Inf', '-.INF'].map((w) => [w, { kind: 'float', bytes: '-Inf' }] as const),
]);

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

/** strconv.ParseInt(s, 0, 64) and ParseUint's syntax: 0x, 0o, 0b, and a leading 0 for octal. */
const GO_INTEGER = /^([+-]?)(?:0[xX]([0-9a-fA-F]+)|0[oO]([0-7]+)|0[bB]([01]+)|0([0-7]*)|([1-9][0-9]*))$/;
const YAML_FLOAT = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/;
const DOT_FLOAT = /^\.[0-9]+([eE][-+]?[0-9]+)?$/;
/** go-yaml's timestamp layouts: `2006-1-2T15:4:5.999999999Z07:00` (T or t), `2006-1-2 15:4:5.999999999`, `2006-1-2`. */
const TIMESTAMP = /^(\d{4})-(\d{1,2})-(\d{1,2})(?:(?:[Tt](\d{1,2}):(\d{1,2}):(\d{1,2})(?:[.,](\d+))?(Z|[+-]\d{2}:\d{2}))|(?: (\d{1,2}):(\d{1,2}):(\d{1,2})(?:[.,](\d+))?))?$/;

function goInteger(text: string): GoScalar | undefined {
  const m = GO_INTEGER.exec(text);
  if (!m) return undefined;
  const [, sign, hex, oct, bin, legacyOctal, dec] = m;
  const magnitude = hex !== undefined ? BigInt('0x' + hex) : oct !== undefined ? BigInt('0o' + oct) : bin !== undefined ? BigInt('0b' + bin) : legacyOctal !== undefined ? BigInt('0o' + (legacyOctal || '0')) : BigInt(dec!);
  const value = sign === '-' ? -magnitude : magnitude;
  if (value >= INT64_MIN && value <= INT64_MAX) return { kind: 'int', bytes: value.toString() };
  // ParseUint takes no sign: an unsigned number over int64 is a uint64, which SOPS cannot walk.
  if (!sign && value <= UINT64_MAX) return { kind: 'unsupported', why: `${text} is over the range of a signed 64-bit integer` };
  return undefined;
}

/** strconv.FormatFloat(v, 'f', -1, 64): the shortest digits that read back as v, never an exponent. */
export function goFloat(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? '+Inf' : '-Inf';
  const [mantissa, exponent] = Math.abs(v).toExponential().split('e') as [string, string];
  const digits = mantissa.replace('.', '');
  const point = Number(exponent) + 1;
  const text = point <= 0 ? `0.${'0'.repeat(-point)}${digits}` : digits.length > point ? `${digits.slice(0, point)}.${digits.slice(point)}` : digits + '0'.repeat(point - digits.length);
  return (v < 0 || Object.is(v, -0) ? '-' : '') + text;
}

function goFloatOf(text: string): GoScalar | undefined {
  const v = Number(text);
  // ParseFloat fails on a value out of range; go-yaml then keeps the text as a string.
  return Number.isFinite(v) ? { kind: 'float', bytes: goFloat(v) } : undefined;
}

const pad = (n: number | string, width = 2): string => String(n).padStart(width, '0');
const daysIn = (year: number, month: number): number => new Date(Date.UTC(year, month, 0)).getUTCDate();

/** time.Parse with go-yaml's layouts, then time.MarshalText (RFC 3339 with nanoseconds, trailing zeros cut). */
function goTimestamp(text: string): GoScalar | undefined {
  const m = TIMESTAMP.exec(text);
  if (!m) return undefined;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const [hour, minute, second] = [m[4] ?? m[9] ?? '0', m[5] ?? m[10] ?? '0', m[6] ?? m[11] ?? '0'].map(Number) as [number, number, number];
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month) || hour > 23 || minute > 59 || second > 59) return undefined;
  const fraction = (m[7] ?? m[12] ?? '').slice(0, 9).replace(/0+$/, '');
  const zone = m[8] === undefined || /^[+-]00:00$/.test(m[8]) ? 'Z' : m[8];
  return { kind: 'time', bytes: `${pad(year, 4)}-${pad(month)}-${pad(day)}T${pad(hour)}:${pad(minute)}:${pad(second)}${fraction ? '.' + fraction : ''}${zone}` };
}

/** go-yaml v3's resolve() of a plain scalar (or one tagged !!int, !!float...), as it decodes into interface{}. */
function resolvePlain(text: string): GoScalar {
  const word = WORDS.get(text);
  if (word) return word;
  const first = text[0] ?? '';
  if (first === '.') return (DOT_FLOAT.test(text) && goFloatOf(text)) || { kind: 'string', bytes: text };
  if (!/[0-9+-]/.test(first)) return { kind: 'string', bytes: text };
  const timestamp = /[0-9]/.test(first) ? goTimestamp(text) : undefined;
  if (timestamp) return timestamp;
  const plain = text.replace(/_/g, '');
  return goInteger(plain) ?? (YAML_FLOAT.test(plain) ? goFloatOf(plain) : undefined) ?? { kind: 'string', bytes: text };
}

const TAG_KIND = new Map<string, GoScalar['kind']>([['int', 'int'], ['float', 'float'], ['bool', 'bool'], ['null', 'null'], ['timestamp', 'time']]);

/** A scalar as go-yaml v3 decodes it into interface{}, with the bytes ToBytes gives SOPS's MAC. */
export function goScalar({ text, plain, tag }: ScalarText): GoScalar {
  if (tag === TAG + 'str' || ((tag === undefined || tag === '!') && !plain)) return { kind: 'string', bytes: text };
  if (tag === undefined) return resolvePlain(text);
  const wanted = tag.startsWith(TAG) ? TAG_KIND.get(tag.slice(TAG.length)) : undefined;
  // A tag go-yaml does not resolve (a local `!tag`) leaves the text as it is; !!binary would be raw bytes.
  if (!wanted) return tag === TAG + 'binary' ? { kind: 'unsupported', why: 'a !!binary value' } : { kind: 'string', bytes: text };
  const resolved = resolvePlain(text);
  if (resolved.kind === wanted) return resolved;
  if (wanted === 'float' && resolved.kind === 'int') return { kind: 'float', bytes: goFloat(Number(resolved.bytes)) };
  return { kind: 'unsupported', why: `${JSON.stringify(text)} is not a ${tag.slice(TAG.length)}` };
}
