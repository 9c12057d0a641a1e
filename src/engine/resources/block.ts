/**
 * A managed block of lines inside a file Corral does not own whole (/etc/hosts, /etc/crontab,
 * authorized_keys): between `# BEGIN <marker>` and `# END <marker>`; the rest of the file is kept.
 */
import { sh } from '../shell.js';
import { refTo, type Kind } from './kind.js';

export interface BlockWant {
  path: string;
  marker: string;
  lines: string[];
  /** Used when the file does not exist yet. */
  mode: number;
  owner?: string;
  group?: string;
}

const begin = (m: string): string => `# BEGIN ${m}`;
const end = (m: string): string => `# END ${m}`;

export const block: Kind<BlockWant, { lines: string[] }, 'block'> = {
  name: 'block',
  id: (w) => refTo(block, `${w.path}#${w.marker}`),
  probe: (w) => sh`[ -f ${w.path} ] || { echo absent; exit 0; }; awk -v b=${begin(w.marker)} -v e=${end(w.marker)} '$0==b{on=1;print "@begin";next} $0==e{on=0;next} on{print}' ${w.path}`,
  parse: (out) => {
    if (out.trim() === 'absent') return null;
    const lines = out.split('\n');
    const at = lines.indexOf('@begin');
    if (at < 0) return null;
    return { lines: lines.slice(at + 1).filter((l, i, all) => i < all.length - 1 || l !== '') };
  },
  diff: (w, h) =>
    JSON.stringify(h?.lines ?? null) === JSON.stringify(w.lines)
      ? []
      : [{ field: 'lines', from: h?.lines ?? null, to: w.lines, text: { before: (h?.lines ?? []).map((l) => l + '\n').join(''), after: w.lines.map((l) => l + '\n').join('') } }],
  // Rewrites in place (cat >) rather than by rename: /etc/hosts may be a bind mount.
  apply: (w) => {
    const body = [begin(w.marker), ...w.lines, end(w.marker)].join('\n');
    const owner = w.owner ?? 'root';
    const group = w.group ?? owner;
    return [
      sh`f=${w.path}; tmp="$f.corral-tmp"`,
      sh`if [ ! -e "$f" ]; then mkdir -p "$(dirname "$f")"; install -m ${w.mode.toString(8)} -o ${owner} -g ${group} /dev/null "$f"; fi`,
      sh`awk -v b=${begin(w.marker)} -v e=${end(w.marker)} '$0==b{skip=1;next} $0==e{skip=0;next} !skip{print}' "$f" > "$tmp"`,
      sh`printf '%s\n' ${body} >> "$tmp"`,
      'cat "$tmp" > "$f" && rm -f "$tmp"',
    ].join('\n');
  },
};
