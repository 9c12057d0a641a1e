/**
 * Redis config files as settings that compare equal however Redis rewrote them. Sentinel rewrites
 * its file at every start and every failover, and a failover makes Redis run CONFIG REWRITE on the
 * instances it reconfigures: quotes appear, `1GB` becomes `1gb`, lines move and new ones are added
 * at the end. So Corral compares the settings it manages, never the bytes.
 */
export interface Directive {
  /** Lower case; a sentinel line is keyed with its sub-command: `sentinel monitor`. */
  key: string;
  args: string[];
}

/** Settings whose values are secrets: compared by hash, never read back or shown. */
export const SECRET_KEYS = ['requirepass', 'masterauth'] as const;

/** What a replica's link to its primary is written as; Redis and Sentinel own it once the instance runs. */
export const ROLE_KEYS = ['replicaof', 'slaveof'] as const;

/** Splits a line into arguments as Redis does: bare words, "double quoted" with backslash escapes, 'single quoted'. */
export function splitArgs(line: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < line.length) {
    while (i < line.length && /\s/.test(line[i]!)) i++;
    if (i >= line.length) break;
    let arg = '';
    const quote = line[i] === '"' || line[i] === "'" ? line[i++] : undefined;
    while (i < line.length && (quote ? line[i] !== quote : !/\s/.test(line[i]!))) {
      if (quote === '"' && line[i] === '\\' && i + 1 < line.length) i++;
      arg += line[i++];
    }
    if (quote) i++;
    out.push(arg);
  }
  return out;
}

export function parseConf(text: string): Directive[] {
  const out: Directive[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const [first = '', ...args] = splitArgs(line);
    const key = first.toLowerCase();
    if (key === 'sentinel' && args.length) out.push({ key: `sentinel ${args[0]!.toLowerCase()}`, args: args.slice(1) });
    else out.push({ key, args });
  }
  return out;
}

const SIZE = /^(\d+)(k|kb|m|mb|g|gb)$/i;
const UNIT: Record<string, number> = { k: 1e3, kb: 1024, m: 1e6, mb: 1024 ** 2, g: 1e9, gb: 1024 ** 3 };

/** A memory size as Redis reads it (`1gb` is 1024³, `1g` 10⁹), in bytes; other words as they are. */
export function bytesOf(token: string): string {
  const m = SIZE.exec(token);
  return m ? String(Number(m[1]) * UNIT[m[2]!.toLowerCase()]!) : token;
}

/** Keys Redis reads from several lines, each line adding records of a fixed width (0: one record per line). */
const ACCUMULATING: Record<string, number> = { save: 2, 'client-output-buffer-limit': 4, 'rename-command': 0 };

const showArg = (a: string): string => (a === '' || /\s/.test(a) ? JSON.stringify(a) : a);

/**
 * The value of each key in the file, normalized: a size in bytes, the records of an accumulating
 * key sorted (`save 600 10` + `save 60 100` is `save 60 100 600 10` once Redis rewrote it), else the
 * last line's arguments, as Redis takes the last one.
 */
export function settingsOf(directives: readonly Directive[]): Map<string, string> {
  const lines = new Map<string, string[][]>();
  for (const d of directives) lines.set(d.key, [...(lines.get(d.key) ?? []), d.args.map(bytesOf)]);
  const out = new Map<string, string>();
  for (const [key, all] of lines) {
    const width = ACCUMULATING[key];
    if (width === undefined) {
      out.set(key, all.at(-1)!.map(showArg).join(' '));
      continue;
    }
    const records = width === 0 ? all : chunks(all.flat().filter((a) => a !== ''), width);
    out.set(key, records.map((r) => r.map(showArg).join(' ')).sort().join(', '));
  }
  return out;
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
