/**
 * mcli (Pigsty's name for MinIO's client, mc) as Corral's scripts run it on a member. Its
 * configuration is root's, /root/.mcli: the alias Pigsty sets up for admins (minio_alias), and
 * `local`, this member's server on loopback, which Corral's own calls use. Both log in as the root
 * user, whose password is only in that 0600 file and in the 0640 env file: never in a script or on
 * a command line. Secret keys of users reach mcli on its stdin.
 */
import { sh } from '../../../src/engine/shell.js';

export const MCLI_DIR = '/root/.mcli';
export const LOCAL_ALIAS = 'local';

/** One mcli call with Corral's configuration, bounded in time so a stuck server never stalls a probe; `args` is shell text. */
export const mcli = (args: string): string => sh`timeout 60 mcli -C ${MCLI_DIR} ` + args;

/** A call whose JSON answer a probe prints, after a marker line (`@@name`) that `section` finds again. */
export const jsonSection = (name: string, args: string): string => `echo '@@${name}'; ${mcli('--json ' + args)} 2>/dev/null; echo`;

/** The text of a probe's output after marker `@@name`, up to the next marker. */
export function section(out: string, name: string): string {
  const lines = out.split('\n');
  const at = lines.indexOf(`@@${name}`);
  if (at < 0) return '';
  const end = lines.findIndex((l, i) => i > at && l.startsWith('@@'));
  return lines.slice(at + 1, end < 0 ? undefined : end).join('\n');
}

/** The JSON values printed one after another (mcli --json indents each message over several lines); text that is not JSON is skipped. */
export function jsonValues(text: string): unknown[] {
  const out: unknown[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"' && depth > 0) inString = true;
    else if (c === '{') {
      if (depth++ === 0) start = i;
    } else if (c === '}' && depth > 0 && --depth === 0) {
      try {
        out.push(JSON.parse(text.slice(start, i + 1)));
      } catch {
        // Not JSON after all: left out.
      }
    }
  }
  return out;
}

type Json = Record<string, unknown>;
const isRecord = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The first message of a call's answer that says `"status": "success"`, or undefined (an error, no answer, no mcli). */
export const success = (text: string): Json | undefined => jsonValues(text).find((v): v is Json => isRecord(v) && v.status === 'success');

/** A string field of an answer, '' when it is absent or not a string. */
export const text = (v: unknown): string => (typeof v === 'string' ? v : '');
