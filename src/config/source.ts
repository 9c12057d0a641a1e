/**
 * Reading one YAML file with positions. Corral reads YAML 1.1, as Ansible (PyYAML) does, so
 * `yes`/`on`/`no`/`off` are booleans and `0644` is an octal integer (420). Two deliberate
 * differences from the yaml library's 1.1 schema keep PyYAML's behaviour: `y`/`n` stay strings,
 * and dates stay strings (Ansible templates print them back as written).
 */
import { closeSync, constants, fstatSync, openSync, readFileSync } from 'node:fs';
import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, visit } from 'yaml';
import type { Document, Node, Pair, Tags, YAMLMap } from 'yaml';
import { position, problem, type Location, type Problem } from './problems.js';
import type { SopsView } from './sops/tree.js';

export interface Limits {
  maxFileBytes: number;
  /** All inventory files together; not settable from a repository. */
  maxTotalBytes: number;
  maxFiles: number;
  maxDepth: number;
  maxAliasCount: number;
}

export const DEFAULT_LIMITS: Limits = { maxFileBytes: 4 * 1024 * 1024, maxTotalBytes: 64 * 1024 * 1024, maxFiles: 10_000, maxDepth: 64, maxAliasCount: 1000 };

export type PathSegment = string | number;

export interface SourceFile {
  /** Path as shown to users: relative to the inventory root. */
  path: string;
  text: string;
  doc: Document.Parsed;
  lineCounter: LineCounter;
  value: unknown;
  /** A SOPS-encrypted file as SOPS walks it: what decrypting it needs, read without a key. */
  sops?: SopsView;
}

const PYYAML_TRUE = /^(?:yes|Yes|YES|true|True|TRUE|on|On|ON)$/;
const PYYAML_FALSE = /^(?:no|No|NO|false|False|FALSE|off|Off|OFF)$/;
const BOOL_TAG = 'tag:yaml.org,2002:bool';
const TIMESTAMP_TAG = 'tag:yaml.org,2002:timestamp';

function ansibleTags(tags: Tags): Tags {
  return tags
    .filter((t) => typeof t === 'string' || t.tag !== TIMESTAMP_TAG)
    .map((t) => {
      if (typeof t === 'string' || t.tag !== BOOL_TAG || !('test' in t) || !t.test) return t;
      return { ...t, test: t.test.test('true') ? PYYAML_TRUE : PYYAML_FALSE };
    });
}

export function pointerOf(path: readonly PathSegment[]): string {
  return path.map((s) => '/' + String(s).replace(/~/g, '~0').replace(/\//g, '~1')).join('');
}

/** A problem of a whole file (it cannot be read, or is too big), located at its start. */
export const wholeFile = (path: string): Location => ({ file: path, line: 1, col: 1, pointer: '' });

export const unreadable = (path: string, e: unknown): Problem => problem('io/unreadable', wholeFile(path), `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);

const tooLarge = (path: string, size: number, limits: Limits): Problem => problem('io/too-large', wholeFile(path), `${path} is ${size} bytes, over the limit of ${limits.maxFileBytes} bytes`);

/** A file read: parsed when it could be; its text whenever it was text, so problems can show it. */
export interface Parsed {
  file?: SourceFile;
  text?: string;
  problems: Problem[];
}

/** Synchronous on purpose: inventory files are small and many, and a thread-pool round trip per file costs more than the read. */
export function readSource(absPath: string, displayPath: string, limits: Limits = DEFAULT_LIMITS): Parsed {
  let fd: number;
  try {
    // Non-blocking, so a FIFO named like an inventory file is refused instead of waited on for ever.
    fd = openSync(absPath, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    return { problems: [unreadable(displayPath, e)] };
  }
  let bytes: Uint8Array;
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) return { problems: [problem('io/not-a-file', wholeFile(displayPath), `${displayPath} is not a regular file`)] };
    if (stats.size > limits.maxFileBytes) {
      return { problems: [tooLarge(displayPath, stats.size, limits)] };
    }
    bytes = readFileSync(fd);
  } catch (e) {
    return { problems: [unreadable(displayPath, e)] };
  } finally {
    closeSync(fd);
  }
  return parseSource(displayPath, bytes, limits);
}

/** A file's parse options: the ones its positions were first computed with, when a document is parsed again. */
const parseOptions = (lineCounter: LineCounter) =>
  ({
    version: '1.1',
    merge: true,
    lineCounter,
    prettyErrors: false,
    customTags: ansibleTags,
    // The library's own check compares every key with every other (quadratic); structureProblems does it with a Set.
    uniqueKeys: false,
  }) as const;

/**
 * A file read elsewhere (a worker) from its text and value: the document, needed only to locate a
 * problem, is parsed on first use.
 */
export function sourceFromValue(path: string, text: string, value: unknown, sops?: SopsView): SourceFile {
  let parsed: { doc: Document.Parsed; lineCounter: LineCounter } | undefined;
  const parse = () => {
    if (parsed) return parsed;
    const lineCounter = new LineCounter();
    return (parsed = { doc: parseDocument(text, parseOptions(lineCounter)), lineCounter });
  };
  return {
    path,
    text,
    value,
    ...(sops ? { sops } : {}),
    get doc() { return parse().doc; },
    get lineCounter() { return parse().lineCounter; },
  };
}

export function parseSource(displayPath: string, bytes: Uint8Array | string, limits: Limits = DEFAULT_LIMITS): Parsed {
  let text: string;
  if (typeof bytes === 'string') text = bytes;
  else {
    if (bytes.length > limits.maxFileBytes) {
      return { problems: [tooLarge(displayPath, bytes.length, limits)] };
    }
    if (bytes.includes(0)) return { problems: [problem('io/binary', wholeFile(displayPath), `${displayPath} is binary (it holds NUL bytes)`)] };
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      return { problems: [problem('io/binary', wholeFile(displayPath), `${displayPath} is not valid UTF-8 text`)] };
    }
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, parseOptions(lineCounter));
  const at = (offset: number, pointer = ''): Location => {
    const { line, col } = lineCounter.linePos(offset);
    return { file: displayPath, line, col, pointer };
  };
  const problems: Problem[] = [];
  const seen = new Set<string>();
  for (const err of doc.errors) {
    const code =
      err.code === 'DUPLICATE_KEY' ? 'yaml/duplicate-key'
      : err.code === 'RESOURCE_EXHAUSTION' ? 'yaml/too-deep'
      : err.code === 'MULTIPLE_DOCS' ? 'yaml/multi-document'
      : 'yaml/syntax';
    // The library appends "at line L, column C:" and a frame; Corral prints both its own way.
    const message = code === 'yaml/too-deep' ? 'the document nests too deeply to be read' : (err.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '');
    // Where the parser ran out of stack depends on the stack size, not on the document.
    const loc = code === 'yaml/too-deep' ? wholeFile(displayPath) : at(err.pos[0]);
    const key = `${code}:${loc.line}:${loc.col}`;
    if (seen.has(key)) continue;
    seen.add(key);
    problems.push(problem(code, loc, message));
  }
  // A parser that ran out of stack reports at many places; the one cause is enough.
  const tooDeep = problems.find((p) => p.code === 'yaml/too-deep');
  if (tooDeep) return { problems: [tooDeep], text };
  if (!problems.length) for (const p of structureProblems(doc, at)) problems.push(p);
  if (!problems.length && anchorsAndAliases(doc) > MAX_ANCHORS) {
    problems.push(problem('yaml/too-many-anchors', wholeFile(displayPath), `the file has ${anchorsAndAliases(doc)} anchors and aliases (at most ${MAX_ANCHORS.toLocaleString('en')})`));
  }
  if (problems.length) return { problems, text };
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: limits.maxAliasCount });
  } catch (e) {
    const bomb = e instanceof ReferenceError && /alias/i.test(e.message);
    return {
      text,
      problems: [
        bomb
          ? problem('yaml/alias-bomb', wholeFile(displayPath), `aliases expand to too many nodes (limit ${limits.maxAliasCount})`)
          : problem('yaml/syntax', wholeFile(displayPath), (e as Error).message),
      ],
    };
  }
  if (depthOf(value) > limits.maxDepth) {
    return { text, problems: [problem('yaml/too-deep', wholeFile(displayPath), `the document nests deeper than ${limits.maxDepth} levels`)] };
  }
  return { file: { path: displayPath, text, doc, lineCounter, value }, text, problems };
}

const keyText = (key: unknown): string | undefined => {
  const k = isScalar(key) ? key.value : key;
  // `<<` merge keys are symbols: a mapping may hold several.
  return typeof k === 'symbol' ? undefined : String(k);
};

const anchorCache = new WeakMap<Document.Parsed, { byAlias: Map<Node, Node>; count: number }>();

/**
 * Anchors and aliases one file may hold: the library finds an alias's anchor by a walk over all of
 * them, so their count squared bounds the time to read a file (15,000 of each took 7 s).
 */
export const MAX_ANCHORS = 10_000;

/**
 * The node an alias stands for: the last node before it with that anchor. Found for every alias of
 * the document in one pass, once: the library's own `resolve` walks the whole document for each
 * alias, so 2,000 aliases of a redefined anchor took seconds.
 */
function anchored(doc: Document.Parsed, alias: Node): Node | undefined {
  return anchorsOf(doc).byAlias.get(alias);
}

const anchorsAndAliases = (doc: Document.Parsed): number => anchorsOf(doc).count;

function anchorsOf(doc: Document.Parsed): { byAlias: Map<Node, Node>; count: number } {
  const known = anchorCache.get(doc);
  if (known) return known;
  const byAlias = new Map<Node, Node>();
  const last = new Map<string, Node>();
  let count = 0;
  visit(doc, {
    Node(_, node) {
      if (isAlias(node)) {
        count += 1;
        const target = last.get(node.source);
        if (target) byAlias.set(node, target);
      } else if (node.anchor) {
        count += 1;
        last.set(node.anchor, node);
      }
    },
  });
  const out = { byAlias, count };
  anchorCache.set(doc, out);
  return out;
}

/**
 * Duplicate keys, and aliases inside their own anchor: `x: &a [*a]` would become a cyclic value
 * that every later walk (depth, merge, schema) follows for ever.
 */
function structureProblems(doc: Document.Parsed, at: (offset: number) => Location): Problem[] {
  const out: Problem[] = [];
  visit(doc, {
    Map(_, map) {
      const first = new Map<string, Node>();
      for (const pair of map.items) {
        // A parsed document's keys are nodes with ranges; anything else has no place to report.
        const key = pair.key as Node | null;
        if (!key?.range) continue;
        const keyNode = isAlias(key) ? anchored(doc, key) : key;
        if (keyNode && !isScalar(keyNode)) {
          out.push(problem('yaml/syntax', at(key.range[0]), 'a mapping key is a plain value here, not a list or a mapping'));
          continue;
        }
        const name = keyText(key);
        if (name === undefined) continue;
        const seen = first.get(name);
        if (!seen) first.set(name, key);
        else if (seen.range) {
          const was = at(seen.range[0]);
          out.push(problem('yaml/duplicate-key', at(key.range[0]), `key "${name}" appears twice in one mapping; first at ${position(was)}`, { related: was }));
        }
      }
    },
    Alias(_, alias, path) {
      const target = anchored(doc, alias);
      if (target && path.includes(target) && alias.range) {
        out.push(problem('yaml/recursive-alias', at(alias.range[0]), `alias *${alias.source} is inside its own anchor &${alias.source}: the value would contain itself`));
        return visit.BREAK;
      }
      return undefined;
    },
  });
  return out;
}

/** Iterative, so a hostile document cannot overflow the stack here. */
function depthOf(value: unknown): number {
  let max = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length) {
    const [v, d] = stack.pop()!;
    if (d > max) max = d;
    if (v && typeof v === 'object') for (const child of Object.values(v)) stack.push([child, d + 1]);
  }
  return max;
}

/** Each mapping's pairs by key, built on the first lookup: locating every key of a large mapping stays linear. */
const pairIndex = new WeakMap<YAMLMap, Map<string, Pair>>();

function pairOf(map: YAMLMap, segment: PathSegment): Pair | undefined {
  let index = pairIndex.get(map);
  if (!index) {
    index = new Map();
    for (const pair of map.items) {
      const name = keyText(pair.key);
      if (name !== undefined && !index.has(name)) index.set(name, pair);
    }
    pairIndex.set(map, index);
  }
  return index.get(String(segment));
}

/**
 * Where a path points in the file: the key of the last segment (`part: 'key'`) or its value.
 * A path that leaves the document (a merged or defaulted key) falls back to the deepest node found.
 */
export function locate(file: SourceFile, path: readonly PathSegment[], part: 'key' | 'value' = 'value'): Location {
  let node: unknown = file.doc.contents;
  let offset = node && (node as Node).range ? (node as Node).range![0] : 0;
  // A missing segment points at the key that holds it: "group pg has no vars" is shown at `pg:`.
  let holderKey = offset;
  for (const [i, segment] of path.entries()) {
    if (isAlias(node)) node = anchored(file.doc, node);
    let next: unknown;
    if (isMap(node)) {
      const pair = pairOf(node, segment);
      if (!pair) {
        offset = holderKey;
        break;
      }
      const last = i === path.length - 1;
      const keyNode = pair.key as Node | null;
      const valueNode = pair.value as Node | null;
      if (last && (part === 'key' || !valueNode?.range) && keyNode?.range) offset = keyNode.range[0];
      else if (valueNode?.range) offset = valueNode.range[0];
      else if (keyNode?.range) offset = keyNode.range[0];
      if (keyNode?.range) holderKey = keyNode.range[0];
      next = valueNode;
    } else if (isSeq(node) && typeof segment === 'number') {
      const item = node.items[segment] as Node | undefined;
      if (!item) break;
      if (item.range) offset = item.range[0];
      next = item;
    } else if (isPair(node)) {
      break;
    } else break;
    node = next;
  }
  const { line, col } = file.lineCounter.linePos(offset);
  return { file: file.path, line, col, pointer: pointerOf(path) };
}

/** A few lines of source around a position, with a caret under the column. */
export function codeFrame(text: string, line: number, col: number, context = 2): string {
  const lines = linesOf(text);
  const from = Math.max(1, line - context);
  const to = Math.min(lines.length, line + context);
  const width = String(to).length;
  const out: string[] = [];
  for (let n = from; n <= to; n++) {
    const src = (lines[n - 1] ?? '').replace(/\r$/, '');
    const shown = src.length > 160 ? src.slice(0, 160) + '…' : src;
    out.push(`${n === line ? '>' : ' '} ${String(n).padStart(width)} | ${shown}`);
    if (n === line) out.push(`  ${' '.repeat(width)} | ${' '.repeat(Math.max(0, Math.min(col - 1, 160)))}^`);
  }
  return out.join('\n');
}

/** The last text split: a file with many problems is framed many times, and splitting it each time is quadratic. */
let splitCache: { text: string; lines: string[] } | undefined;
function linesOf(text: string): string[] {
  if (splitCache?.text !== text) splitCache = { text, lines: text.split('\n') };
  return splitCache.lines;
}
