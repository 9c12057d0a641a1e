/**
 * A configuration file that its service re-reads on reload (pg_hba.conf, pgbouncer's lists):
 * written like `file`, then the reload command runs, never a restart. The hash of the content the
 * service was last made to re-read is kept on the node: a file written by an apply that died before
 * its reload (a kill -9 of the daemon, a dropped connection) is reloaded by the next sync, which
 * would otherwise find the file as wanted and do nothing.
 */
import { sh } from '../../../src/engine/shell.js';
import { file, sha256, statProbe, type FileHave, type FileWant } from '../../../src/engine/resources/file.js';
import { keyValues, refTo, type Kind } from '../../../src/engine/resources/kind.js';

export interface PgConfFileWant extends FileWant {
  /** Shell run after the file changed: it must be harmless when the service is not running. */
  reload: string;
}

export interface PgConfFileHave extends FileHave {
  /** Hash of the content last reloaded; empty when none was recorded. */
  loaded: string;
}

const LOADED_DIR = '/var/lib/corral/loaded';
const marker = (path: string): string => `${LOADED_DIR}/${path.replace(/\//g, '_')}`;

export const pgConfFile: Kind<PgConfFileWant, PgConfFileHave, 'pg-conf-file'> = {
  name: 'pg-conf-file',
  id: (w) => refTo(pgConfFile, w.path),
  // A secret file's content is not read back: its hash is enough to compare.
  probe: (w) => `${statProbe(w.path, w.secret ? 'hash' : 'content')}\n${sh`echo "loaded=$(cat ${marker(w.path)} 2>/dev/null)"`}`,
  parse: (out, w) => {
    const f = file.parse(out, w);
    return f && { ...f, loaded: keyValues(out).get('loaded') ?? '' };
  },
  diff: (w, h) => {
    const changes = file.diff(w, h);
    const want = sha256(w.content);
    // The file is as wanted but was not reloaded since it was written.
    if (h && h.sha256 === want && h.loaded !== want) changes.push({ field: 'reloaded', from: h.loaded.slice(0, 12) || null, to: want.slice(0, 12) });
    return changes;
  },
  apply: (w, h) => [file.apply(w, h), w.reload, sh`mkdir -p ${LOADED_DIR}`, sh`echo ${sha256(w.content)} > ${marker(w.path)}`].join('\n'),
};
