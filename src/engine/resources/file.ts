/** A whole file: content, mode and owner. Written atomically; a secret file's content is never shown. */
import { sh, octal, writeFileAtomic } from '../shell.js';
import { keyValues, refTo, type FieldChange, type Kind } from './kind.js';
import { createHash } from 'node:crypto';

export interface FileWant {
  path: string;
  content: string;
  mode: number;
  owner?: string;
  group?: string;
  /** The content holds a secret: never read back from the node (its hash compares); plans say "changed (redacted)". */
  secret?: boolean;
  /**
   * A regular expression (multiline) of lines whose values a diff shows as "(redacted)", its first group
   * kept: a readable file the node's copy of which may still hold a secret another file now keeps.
   */
  conceal?: string;
  /** Check the new content with this command before it replaces the old (`%s` is the temp file), like visudo -cf. */
  validate?: string;
}

export interface FileHave {
  type: string;
  owner: string;
  group: string;
  mode: number;
  sha256: string;
  /** Present for files up to 64 KiB, so the plan can show a diff. */
  content?: string;
}

const MAX_DIFF_BYTES = 65536;

export const sha256 = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

/**
 * Probe shared by the kinds that manage a path: `content` reads a file's hash and (small) content for
 * diffs, `hash` only its hash (a secret file compared without reading it back), `none` neither (a directory).
 */
export function statProbe(path: string, read: 'content' | 'hash' | 'none'): string {
  const withContent = read === 'content' ? sh`; if [ "$(stat -c %s ${path})" -le ${MAX_DIFF_BYTES} ]; then echo "content=$(base64 -w0 < ${path})"; fi` : '';
  const content = read === 'none' ? '' : sh`; if [ -f ${path} ]; then echo "sha256=$(sha256sum < ${path} | cut -d' ' -f1)"` + withContent + '; fi';
  return sh`if [ -e ${path} ] || [ -L ${path} ]; then stat --printf 'type=%F\nowner=%U\ngroup=%G\nmode=%a\n' ${path}` + content + '; else echo absent; fi';
}

export function parseStat(out: string): { type: string; owner: string; group: string; mode: number; kv: Map<string, string> } | null {
  if (out.trim() === 'absent' || !out.includes('type=')) return null;
  const kv = keyValues(out);
  return { type: kv.get('type') ?? '', owner: kv.get('owner') ?? '', group: kv.get('group') ?? '', mode: parseInt(kv.get('mode') ?? '0', 8), kv };
}

/** Mode and ownership changes, shared by files and directories. */
export function attributeChanges(want: { mode: number; owner?: string; group?: string }, have: { mode: number; owner: string; group: string } | null): FieldChange[] {
  const out: FieldChange[] = [];
  if (have?.mode !== want.mode) out.push({ field: 'mode', from: have ? octal(have.mode) : null, to: octal(want.mode) });
  const owner = want.owner ?? 'root';
  const group = want.group ?? owner;
  if (have?.owner !== owner || have.group !== group) out.push({ field: 'owner', from: have ? `${have.owner}:${have.group}` : null, to: `${owner}:${group}` });
  return out;
}

export const file: Kind<FileWant, FileHave, 'file'> = {
  name: 'file',
  id: (w) => refTo(file, w.path),
  probe: (w) => statProbe(w.path, w.secret ? 'hash' : 'content'),
  parse: (out) => {
    const s = parseStat(out);
    if (!s) return null;
    const b64 = s.kv.get('content');
    const have: FileHave = { type: s.type, owner: s.owner, group: s.group, mode: s.mode, sha256: s.kv.get('sha256') ?? '' };
    if (b64 !== undefined) have.content = Buffer.from(b64, 'base64').toString('utf8');
    return have;
  },
  diff: (w, h) => {
    const out: FieldChange[] = [];
    if (h && h.type !== 'regular file' && h.type !== 'regular empty file') out.push({ field: 'type', from: h.type, to: 'regular file' });
    if (h?.sha256 !== sha256(w.content)) {
      const shown = (text: string): string => (w.conceal ? text.replace(new RegExp(w.conceal, 'gm'), '$1(redacted)') : text);
      out.push({ field: 'content', from: h ? h.sha256.slice(0, 12) : null, to: sha256(w.content).slice(0, 12), secret: w.secret ?? false, text: { before: shown(h?.content ?? ''), after: shown(w.content) } });
    }
    return [...out, ...attributeChanges(w, h)];
  },
  apply: (w) => writeFileAtomic(w.path, w.content, w),
};

export interface DirectoryWant {
  path: string;
  mode: number;
  owner?: string;
  group?: string;
}

export const directory: Kind<DirectoryWant, { type: string; owner: string; group: string; mode: number }, 'directory'> = {
  name: 'directory',
  id: (w) => refTo(directory, w.path),
  probe: (w) => statProbe(w.path, 'none'),
  parse: (out) => parseStat(out),
  diff: (w, h) => [...(h && h.type !== 'directory' ? [{ field: 'type', from: h.type, to: 'directory' }] : []), ...attributeChanges(w, h)],
  apply: (w) => {
    const owner = w.owner ?? 'root';
    return [sh`mkdir -p ${w.path}`, sh`chown ${owner}:${w.group ?? owner} ${w.path}`, sh`chmod ${octal(w.mode)} ${w.path}`].join('\n');
  },
};
