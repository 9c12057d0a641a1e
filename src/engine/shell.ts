/**
 * Commands are data until the edge: built as strings from quoted parts here, run by the transport.
 * Every interpolated value is quoted as the command is built (zx's rule); safe words stay bare so
 * plans and logs read well.
 */
const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

export function quote(value: string | number): string {
  const s = String(value);
  if (s !== '' && SAFE.test(s)) return s;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** A template tag that quotes every interpolated value: sh`sysctl -w ${key}=${value}`. */
export function sh(strings: TemplateStringsArray, ...values: (string | number | readonly (string | number)[])[]): string {
  let out = strings[0] ?? '';
  values.forEach((v, i) => {
    out += Array.isArray(v) ? v.map((x) => quote(x as string | number)).join(' ') : quote(v as string | number);
    out += strings[i + 1] ?? '';
  });
  return out;
}

export interface WriteOptions {
  mode: number;
  owner?: string;
  group?: string;
  /** A check of the staged file before it replaces the live one (`%s` is its path), like `visudo -cf %s`. */
  validate?: string;
}

/** Shell that writes content to a path atomically: a temp file beside it, then rename. A crash leaves the old file or the new one. */
export function writeFileAtomic(path: string, content: string, opts: WriteOptions): string {
  const b64 = Buffer.from(content, 'utf8').toString('base64');
  const tmp = `${path}.corral-tmp`;
  const owner = opts.owner ?? 'root';
  return [
    sh`mkdir -p "$(dirname ${path})"`,
    sh`printf '%s' ${b64} | base64 -d > ${tmp}`,
    sh`chown ${owner}:${opts.group ?? owner} ${tmp}`,
    sh`chmod ${octal(opts.mode)} ${tmp}`,
    ...(opts.validate ? [opts.validate.replace('%s', quote(tmp)) + sh` || { rm -f ${tmp}; exit 1; }`] : []),
    sh`mv -f ${tmp} ${path}`,
  ].join('\n');
}

export const octal = (mode: number): string => mode.toString(8).padStart(4, '0');

/** A step whose failure that says `done` (e.g. "already exists", from an interrupted earlier run) counts as success; any other failure fails the script with the step's output. */
export const unlessAlready = (cmd: string, done: string): string => `out=$(${cmd} 2>&1) || { case "$out" in *${sh`${done}`}*) ;; *) echo "$out" >&2; exit 1 ;; esac; }`;
