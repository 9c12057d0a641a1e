/**
 * A configuration file that its service re-reads on reload (pg_hba.conf, pgbouncer's lists):
 * written like `file`, then the reload command runs, never a restart.
 */
import { file, statProbe, type FileHave, type FileWant } from '../../../src/engine/resources/file.js';
import { refTo, type Kind } from '../../../src/engine/resources/kind.js';

export interface PgConfFileWant extends FileWant {
  /** Shell run after the file changed: it must be harmless when the service is not running. */
  reload: string;
}

export const pgConfFile: Kind<PgConfFileWant, FileHave, 'pg-conf-file'> = {
  name: 'pg-conf-file',
  id: (w) => refTo(pgConfFile, w.path),
  // A secret file's content is not read back: its hash is enough to compare.
  probe: (w) => statProbe(w.path, w.secret ? 'hash' : 'content'),
  parse: (out, w) => file.parse(out, w),
  diff: (w, h) => file.diff(w, h),
  apply: (w, h) => `${file.apply(w, h)}\n${w.reload}`,
};
