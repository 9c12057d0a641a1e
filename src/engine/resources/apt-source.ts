/**
 * APT sources, as Pigsty lays them out: one `/etc/apt/sources.list.d/<module>.list` per repo module,
 * and with `node_repo_remove` every other source moved to /etc/apt/backup (kept, not deleted).
 */
import { sh, writeFileAtomic } from '../shell.js';
import { sha256 } from './file.js';
import { refTo, type Kind } from './kind.js';

export interface AptSourceWant {
  name: string;
  content: string;
}

const pathOf = (name: string): string => `/etc/apt/sources.list.d/${name}.list`;

export const aptSource: Kind<AptSourceWant, { sha256: string; content: string }, 'apt-source'> = {
  name: 'apt-source',
  id: (w) => refTo(aptSource, w.name),
  probe: (w) => sh`if [ -f ${pathOf(w.name)} ]; then base64 -w0 < ${pathOf(w.name)}; else echo absent; fi`,
  parse: (out) => {
    if (out.trim() === 'absent') return null;
    const content = Buffer.from(out.trim(), 'base64').toString('utf8');
    return { content, sha256: sha256(content) };
  },
  diff: (w, h) => (h?.content === w.content ? [] : [{ field: 'content', from: h ? h.sha256.slice(0, 12) : null, to: sha256(w.content).slice(0, 12), text: { before: h?.content ?? '', after: w.content } }]),
  apply: (w) => `${writeFileAtomic(pathOf(w.name), w.content, { mode: 0o644 })}\nDEBIAN_FRONTEND=noninteractive apt-get update -q`,
};

export interface AptSourcesOnlyWant {
  /** Source list names (without .list) to keep; everything else moves to /etc/apt/backup. */
  keep: string[];
}

export const aptSourcesOnly: Kind<AptSourcesOnlyWant, { files: string[] }, 'apt-sources-only'> = {
  name: 'apt-sources-only',
  id: () => refTo(aptSourcesOnly),
  probe: () => 'for f in /etc/apt/sources.list /etc/apt/sources.list.d/*; do [ -f "$f" ] && [ -s "$f" ] && echo "$f"; done; true',
  parse: (out) => ({ files: out.split('\n').filter(Boolean) }),
  diff: (w, h) => {
    const keep = new Set(w.keep.map(pathOf));
    const extra = (h?.files ?? []).filter((f) => !keep.has(f));
    return extra.length ? [{ field: 'move to /etc/apt/backup', from: extra, to: null }] : [];
  },
  apply: (w, h) => {
    const keep = new Set(w.keep.map(pathOf));
    const extra = (h?.files ?? []).filter((f) => !keep.has(f));
    return ['mkdir -p /etc/apt/backup', ...extra.map((f) => sh`mv -f ${f} /etc/apt/backup/`)].join('\n');
  },
};
