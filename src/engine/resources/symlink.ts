/** A symbolic link. A real file or directory in its place is never replaced: the apply fails instead. */
import { sh } from '../shell.js';
import { refTo, type Kind } from './kind.js';

export interface SymlinkWant {
  path: string;
  target: string;
}

export const symlink: Kind<SymlinkWant, { target: string | null }, 'symlink'> = {
  name: 'symlink',
  id: (w) => refTo(symlink, w.path),
  probe: (w) => sh`if [ -L ${w.path} ]; then echo "link=$(readlink ${w.path})"; elif [ -e ${w.path} ]; then echo other; fi`,
  parse: (out) => {
    const line = out.trim();
    if (!line) return null;
    return { target: line.startsWith('link=') ? line.slice(5) : null };
  },
  diff: (w, h) => (h?.target === w.target ? [] : [{ field: 'target', from: h ? (h.target ?? '(not a link)') : null, to: w.target }]),
  apply: (w) =>
    [
      sh`if [ -e ${w.path} ] && [ ! -L ${w.path} ]; then echo ${w.path + ' exists and is not a symbolic link: left alone'} >&2; exit 1; fi`,
      sh`mkdir -p "$(dirname ${w.path})"`,
      sh`ln -sfn ${w.target} ${w.path}`,
    ].join('\n'),
};
