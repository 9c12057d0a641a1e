/**
 * A SOPS-encrypted file as SOPS walks it (sops.go walkBranch, stores/yaml): every value in order,
 * keys joined with `:` as the additional data of each encrypted value, lists adding no key, aliases
 * expanded, `<<` a key like any other. Built where the file is validated (no key needed), as plain
 * data; decryption (open.ts) then needs no parse of its own.
 *
 * Comments matter only to the `*_comment_regex` rules. go-yaml v3 and the yaml library attach
 * comments to nodes a little differently; here a comment counts for the item it stands before, or
 * on whose line it ends, and for everything under that item. Where the two differ, a value comes
 * out encrypted where the rule says plaintext (or the reverse), which is an error: never a
 * silent misreading.
 */
import { isAlias, isMap, isScalar, isSeq, type Document, type Node, type Pair, type Scalar } from 'yaml';
import { locate, pointerOf, type PathSegment, type SourceFile } from '../source.js';
import { problem, type Location, type Problem } from '../problems.js';
import { METADATA_KEY, looksEncrypted, parseEnc, readMetadata, type EncType, type MetadataError, type SopsMetadata } from './format.js';
import { encryptedBy, type CommentStack, type EncryptedBy } from './rules.js';
import { goScalar } from './scalars.js';

/** One value SOPS walks: plaintext (its bytes for the MAC), or encrypted (decrypted with its key path as additional data). */
export type Leaf =
  | { plain: string }
  | {
      enc: string;
      type: EncType;
      /** The value's keys joined as SOPS joins them: `all:vars:pg_admin_password:`. */
      aad: string;
      /** Where the value sits in the file's parsed value, to put its plaintext there. */
      place: PathSegment[];
      at: Location;
    };

export type EncryptedLeaf = Extract<Leaf, { enc: string }>;

export interface SopsView {
  metadata: SopsMetadata;
  /** The `sops:` key and its `mac:`, for problems of the whole file. */
  at: Location;
  macAt: Location;
  /** What the MAC covers, in SOPS's order (only the encrypted values under mac_only_encrypted). */
  leaves: Leaf[];
  /** Set by the loader when schema errors at encrypted values wait for their plaintext (validate.ts). */
  schemaHeld?: boolean;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export const encryptedLeaves = (view: SopsView): EncryptedLeaf[] => view.leaves.filter((l): l is EncryptedLeaf => 'enc' in l);

/** Comment lines as SOPS keeps them: the text after `#`, blank lines dropped. */
const lines = (comment: string | null | undefined): string[] => (comment ? comment.split('\n').filter((l) => l !== '') : []);

class Walker {
  readonly leaves: Leaf[] = [];
  readonly problems: Problem[] = [];

  constructor(
    private readonly file: SourceFile,
    private readonly doc: Document.Parsed,
    private readonly metadata: SopsMetadata,
    private readonly encrypted: EncryptedBy,
  ) {}

  private at(node: Node, place: readonly PathSegment[]): Location {
    const { line, col } = this.file.lineCounter.linePos(node.range?.[0] ?? 0);
    return { file: this.file.path, line, col, pointer: pointerOf(place) };
  }

  private fail(node: Node, place: readonly PathSegment[], message: string): void {
    this.problems.push(problem('sops/value', this.at(node, place), message));
  }

  /**
   * `place` is undefined under a merge key: the plaintext of a value there has no one place in
   * Corral's reading. `inlineTaken`: the first line of a nested collection's comment is on its
   * key's line, and already counted for the whole item.
   */
  value(node: unknown, path: string[], place: PathSegment[] | undefined, comments: string[][], inlineTaken = false): void {
    const resolved = isAlias(node) ? node.resolve(this.doc) : node;
    if (isScalar(resolved)) return this.scalar(resolved, path, place, comments);
    if (!isMap(resolved) && !isSeq(resolved)) return;
    const nested = [...comments, lines(resolved.commentBefore).slice(inlineTaken ? 1 : 0)];
    if (isMap(resolved)) this.mapping(resolved.items, path, place, nested);
    else this.sequence(resolved.items, path, place, nested);
  }

  mapping(pairs: readonly Pair[], path: string[], place: PathSegment[] | undefined, comments: string[][]): void {
    const level = comments[comments.length - 1]!;
    for (const pair of pairs) {
      const key = (isAlias(pair.key) ? pair.key.resolve(this.doc) : pair.key) as Node | null;
      if (!isScalar(key)) continue;
      const name = goScalar({ text: key.source ?? '', plain: key.type === 'PLAIN', ...(key.tag ? { tag: key.tag } : {}) });
      // Corral's own reading of the key, as the parsed value holds it (a merge key has none).
      const keyPlace = place && typeof key.value !== 'symbol' ? [...place, String(key.value)] : undefined;
      if (name.kind !== 'string') {
        this.fail(key, keyPlace ?? path, `SOPS reads this key as ${name.kind === 'unsupported' ? name.why : `a ${name.kind}`}, and takes only string keys: quote it`);
        continue;
      }
      const onKeyLine = this.keyLineComment(pair);
      level.push(...lines(key.commentBefore), ...lines(key.comment), ...this.scalarComments(pair.value), ...onKeyLine);
      this.value(pair.value, [...path, name.bytes], keyPlace, comments, onKeyLine.length > 0);
      level.length = 0;
    }
  }

  sequence(items: readonly unknown[], path: string[], place: PathSegment[] | undefined, comments: string[][]): void {
    const level = comments[comments.length - 1]!;
    for (const [i, item] of items.entries()) {
      level.push(...this.scalarComments(item));
      this.value(item, path, place && [...place, i], comments);
      level.length = 0;
    }
  }

  /** A scalar's own comments: above it, and at the end of its line. */
  private scalarComments(node: unknown): string[] {
    return isScalar(node) ? [...lines(node.commentBefore), ...lines(node.comment)] : [];
  }

  /** The comment at the end of a key's line when its value is a nested mapping or list (the yaml library puts it first in the nested comment). */
  private keyLineComment(pair: Pair): string[] {
    const key = pair.key as Node | null;
    const value = pair.value as Node | null;
    if (!key?.range || !(isMap(value) || isSeq(value)) || !value.commentBefore || !value.range) return [];
    const keyLine = this.file.text.slice(key.range[1], value.range[0]).split('\n')[0] ?? '';
    return keyLine.includes('#') ? lines(value.commentBefore).slice(0, 1) : [];
  }

  scalar(node: Scalar, path: string[], place: PathSegment[] | undefined, comments: CommentStack): void {
    const read = goScalar({ text: node.source ?? '', plain: node.type === 'PLAIN', ...(node.tag ? { tag: node.tag } : {}) });
    if (read.kind === 'null') return;
    const shown = place ?? path;
    if (read.kind === 'unsupported') return this.fail(node, shown, `SOPS cannot walk ${read.why}`);
    const encrypted = this.encrypted(path, comments);
    const looks = read.kind === 'string' && looksEncrypted(read.bytes);
    if (!encrypted) {
      if (looks) return this.fail(node, shown, `an encrypted value where the file's ${this.metadata.rule.name} (${this.metadata.rule.value}) keeps values in plaintext: SOPS would not decrypt it`);
      if (!this.metadata.macOnlyEncrypted) this.leaves.push({ plain: read.bytes });
      return;
    }
    // SOPS leaves an empty string as it is; it adds nothing to the MAC.
    if (read.kind === 'string' && read.bytes === '') return;
    if (!looks) return this.fail(node, shown, `a plaintext value where the file's ${this.metadata.rule.name} (${this.metadata.rule.value}) says SOPS encrypted it: encrypt the file again with sops`);
    const enc = parseEnc(read.bytes);
    if (!enc) return this.fail(node, shown, 'a malformed encrypted value: SOPS writes ENC[AES256_GCM,data:<base64>,iv:<base64>,tag:<base64>,type:<type>]');
    if (!place) return this.fail(node, shown, 'an encrypted value under a merge key (<<): SOPS does not merge keys, so the value cannot be placed; write it out');
    this.leaves.push({ enc: read.bytes, type: enc.type, aad: path.join(':') + ':', place, at: this.at(node, place) });
  }
}

/** Where a path under `sops:` is, for a problem of the metadata. */
function metadataAt(file: SourceFile, doc: Document.Parsed, path: readonly PathSegment[]): Location {
  let node: unknown = doc.contents;
  let at: Node | undefined;
  for (const seg of [METADATA_KEY, ...path]) {
    const pair = isMap(node) ? node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg)) : undefined;
    const next: unknown = pair ? pair.value : isSeq(node) && typeof seg === 'number' ? node.items[seg] : undefined;
    if (next === undefined) break;
    at = (pair?.key as Node | undefined) ?? (next as Node);
    node = next;
  }
  const { line, col } = file.lineCounter.linePos(at?.range?.[0] ?? 0);
  return { file: file.path, line, col, pointer: pointerOf([METADATA_KEY, ...path]) };
}

/**
 * The SOPS view of a file with a top-level `sops:` mapping (undefined for any other file), or the
 * problems that keep SOPS (or Corral) from decrypting it.
 */
export function sopsView(file: SourceFile): { view?: SopsView; problems: Problem[] } {
  if (!isObject(file.value) || !(METADATA_KEY in file.value)) return { problems: [] };
  const doc = file.doc;
  const refused = (e: MetadataError): { problems: Problem[] } => ({ problems: [problem('sops/metadata', metadataAt(file, doc, e.path), e.message)] });
  const metadata = readMetadata(file.value[METADATA_KEY]);
  if ('path' in metadata) return refused(metadata);
  const encrypted = encryptedBy(metadata.rule);
  if ('path' in encrypted) return refused(encrypted);
  const walker = new Walker(file, doc, metadata, encrypted);
  const top = isMap(doc.contents) ? doc.contents.items : [];
  // The metadata is taken out before SOPS walks the file: it is neither encrypted nor in the MAC.
  const data = top.filter((p) => !(isScalar(p.key) && p.key.value === METADATA_KEY));
  walker.mapping(data, [], [], [[...lines(doc.commentBefore), ...lines(isMap(doc.contents) ? doc.contents.commentBefore : undefined)]]);
  if (walker.problems.length) return { problems: walker.problems };
  return { view: { metadata, at: metadataAt(file, doc, []), macAt: metadataAt(file, doc, ['mac']), leaves: walker.leaves }, problems: [] };
}

/** A problem at every encrypted-looking value of a file that has no SOPS metadata (or is never decrypted). */
export function strayEncrypted(file: SourceFile, message: string): Problem[] {
  const out: Problem[] = [];
  const stack: [unknown, PathSegment[]][] = [[file.value, []]];
  while (stack.length) {
    const [v, path] = stack.pop()!;
    if (looksEncrypted(v)) out.push(problem('sops/value', locate(file, path), message));
    else if (v && typeof v === 'object') for (const [k, child] of Object.entries(v)) stack.push([child, [...path, Array.isArray(v) ? Number(k) : k]]);
  }
  return out;
}
