/**
 * The daemon's log: pino's JSON lines for machines (journald, a container's log driver), and on a
 * terminal one readable line per event: `12:03:04.123 INFO  revision in force revision=3f1c2a9b8d7e ...`.
 */
import { Writable } from 'node:stream';
import { pino, type Logger, type LoggerOptions } from 'pino';
import type { LogFormat } from '../cli/serve-command.js';

const LEVELS: Record<number, { name: string; color: number }> = {
  10: { name: 'TRACE', color: 90 },
  20: { name: 'DEBUG', color: 36 },
  30: { name: 'INFO', color: 32 },
  40: { name: 'WARN', color: 33 },
  50: { name: 'ERROR', color: 31 },
  60: { name: 'FATAL', color: 35 },
};

/** Fields every line has, shown by position (or not at all) instead of as key=value. */
const SHOWN_APART = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'v']);

const fieldValue = (v: unknown): string => {
  if (typeof v === 'string') return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
  if (v && typeof v === 'object' && 'message' in v && typeof v.message === 'string') return JSON.stringify(v.message);
  return JSON.stringify(v) ?? String(v);
};

/** One JSON log line as a person reads it; a line that is not JSON is passed as it is. */
export function prettyLine(line: string, color: boolean): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const paint = (code: number, s: string): string => (color ? `\u001b[${code}m${s}\u001b[39m` : s);
  const dim = (s: string): string => (color ? `\u001b[2m${s}\u001b[22m` : s);
  const level = LEVELS[rec.level as number] ?? { name: String(rec.level), color: 39 };
  const time = typeof rec.time === 'number' ? new Date(rec.time).toISOString().slice(11, 23) : '';
  const fields = Object.entries(rec).filter(([k, v]) => !SHOWN_APART.has(k) && v !== undefined).map(([k, v]) => `${k}=${fieldValue(v)}`);
  return [dim(time), paint(level.color, level.name.padEnd(5)), (typeof rec.msg === 'string' ? rec.msg : ''), ...(fields.length ? [dim(fields.join(' '))] : [])].filter(Boolean).join(' ');
}

/** A stream that takes pino's JSON lines and writes them pretty to `out`. */
export function prettyStream(out: { write(s: string): unknown }, color: boolean): Writable {
  let rest = '';
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      const lines = (rest + chunk.toString('utf8')).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) if (line) out.write(prettyLine(line, color) + '\n');
      done();
    },
  });
}

/** Pretty on a terminal (`auto`), JSON otherwise; `pretty` and `json` say which whatever the output is. */
export function wantsPretty(format: LogFormat, isTTY: boolean | undefined): boolean {
  return format === 'pretty' || (format === 'auto' && Boolean(isTTY));
}

export function createLogger(options: LoggerOptions, format: LogFormat, out: NodeJS.WriteStream = process.stdout): Logger {
  if (!wantsPretty(format, out.isTTY)) return pino(options);
  return pino(options, prettyStream(out, Boolean(out.isTTY) && !process.env.NO_COLOR));
}
