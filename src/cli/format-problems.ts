/**
 * Printing problems: text for people (with code frames), JSON for tools. Neither shows a secret:
 * messages lose URL passwords, and a frame hides the values of secret keys on the lines it shows.
 */
import { codeFrame } from '../config/source.js';
import { hintFor, type Problem } from '../config/problems.js';
import { isSecretKey, redactUrlCredentials } from '../config/secrets.js';
import { localizedMessage } from './paths.js';

export interface ProblemJson {
  file: string;
  line: number;
  col: number;
  pointer: string;
  code: string;
  severity: string;
  message: string;
}

export function toJson(p: Problem, displayPath: (file: string) => string): ProblemJson {
  return { file: displayPath(p.file), line: p.line, col: p.col, pointer: p.pointer, code: p.code, severity: p.severity, message: redactUrlCredentials(localizedMessage(p, displayPath)) };
}

export interface Paint {
  red(s: string): string;
  yellow(s: string): string;
  dim(s: string): string;
  bold(s: string): string;
}

export const noPaint: Paint = { red: (s) => s, yellow: (s) => s, dim: (s) => s, bold: (s) => s };
export const ansiPaint: Paint = {
  red: (s) => `\u001b[31m${s}\u001b[39m`,
  yellow: (s) => `\u001b[33m${s}\u001b[39m`,
  dim: (s) => `\u001b[2m${s}\u001b[22m`,
  bold: (s) => `\u001b[1m${s}\u001b[22m`,
};

/**
 * A key on a source line: at its start (after the indentation and any `- `), or after `{` or `,` in
 * a flow mapping; quoted or not.
 */
const KEY = /(^[ \t]*(?:-[ \t]+)*|[{,][ \t]*)(["']?)([^\s"'{}[\],:#]+)\2[ \t]*:(?=\s|$)/g;

/** Where a flow value that starts at `start` ends: its closing quote, or the `,`, `}` or `]` after it. */
function flowValueEnd(line: string, start: number): number {
  const quote = line[start];
  if (quote === '"' || quote === "'") {
    for (let i = start + 1; i < line.length; i++) {
      if (quote === '"' && line[i] === '\\') i++;
      else if (quote === "'" && line[i] === "'" && line[i + 1] === "'") i++;
      else if (line[i] === quote) return i + 1;
    }
    return line.length;
  }
  const stop = line.slice(start).search(/[,}\]]/);
  return stop < 0 ? line.length : start + line.slice(start, start + stop).trimEnd().length;
}

interface HiddenLine {
  text: string;
  /** Where a block key starts: a more indented line below belongs to its value. */
  keyCol?: number;
  /** That key is a secret, so what belongs to its value is hidden too (a block scalar, a multi-line value). */
  opensSecret: boolean;
}

/** One line with the values of its secret keys shown as `***` and its URLs without passwords. */
function hideOnLine(line: string): HiddenLine {
  let text = '';
  let from = 0;
  let keyCol: number | undefined;
  let opensSecret = false;
  KEY.lastIndex = 0;
  for (let m = KEY.exec(line); m; m = KEY.exec(line)) {
    const flow = /[{,]/.test(m[1]!);
    if (!flow) keyCol = m.index + m[1]!.length;
    if (!isSecretKey(m[3]!)) continue;
    const start = m.index + m[0].length + (/^[ \t]*/.exec(line.slice(m.index + m[0].length))?.[0].length ?? 0);
    // A block value runs to the end of the line, whatever it holds (a flow mapping, a comment).
    const end = flow ? flowValueEnd(line, start) : line.length;
    if (end > start) {
      text += line.slice(from, start) + '***';
      from = end;
    }
    if (!flow) {
      opensSecret = true;
      break;
    }
    KEY.lastIndex = Math.max(KEY.lastIndex, end);
  }
  return { text: redactUrlCredentials(text + line.slice(from)), ...(keyCol === undefined ? {} : { keyCol }), opensSecret };
}

/**
 * The source's lines with secrets hidden. Indentation tells what belongs to a secret key's value
 * on the lines below it: a block scalar (`ssh_private_key: |`), a plain value that goes on, or
 * a mapping of secrets (`nginx_users:`).
 */
function hideSecrets(lines: readonly string[]): string[] {
  const open: { keyCol: number; secret: boolean }[] = [];
  return lines.map((line) => {
    const indent = line.search(/\S/);
    if (indent < 0) return line;
    const comment = line[indent] === '#';
    if (!comment) while (open.length && open[open.length - 1]!.keyCol >= indent) open.pop();
    const parent = open[open.length - 1];
    if (parent?.secret && parent.keyCol < indent) return line.slice(0, indent) + '***';
    const hidden = hideOnLine(line);
    if (!comment && hidden.keyCol !== undefined) open.push({ keyCol: hidden.keyCol, secret: hidden.opensSecret });
    return hidden.text;
  });
}

/** Problems come sorted by file: the last file's hidden lines serve its next problems too. */
let lastSource: { text: string; lines: string[]; hidden: string[]; hiddenText: string } | undefined;

/** codeFrame over the source with its secrets hidden, the caret moved left by what was cut before it. */
function frameWithoutSecrets(text: string, line: number, col: number): string {
  if (lastSource?.text !== text) {
    const lines = text.split('\n');
    const hidden = hideSecrets(lines);
    lastSource = { text, lines, hidden, hiddenText: hidden.join('\n') };
  }
  const { lines, hidden, hiddenText } = lastSource;
  const caret = Math.min(hideOnLine((lines[line - 1] ?? '').slice(0, col - 1)).text.length + 1, (hidden[line - 1] ?? '').length + 1);
  return codeFrame(hiddenText, line, caret);
}

export function formatProblem(p: Problem, text: string | undefined, displayPath: (file: string) => string, paint: Paint): string {
  const sev = p.severity === 'error' ? paint.red('error') : paint.yellow('warning');
  const lines = [`${paint.bold(`${displayPath(p.file)}:${p.line}:${p.col}`)} ${sev} ${redactUrlCredentials(localizedMessage(p, displayPath))} ${paint.dim(`[${p.code}]`)}`];
  if (text !== undefined && !p.code.startsWith('io/')) lines.push(frameWithoutSecrets(text, p.line, p.col));
  if (p.related) lines.push(paint.dim(`  see also ${displayPath(p.related.file)}:${p.related.line}:${p.related.col}`));
  lines.push(paint.dim(`  hint: ${hintFor(p.code)}`));
  return lines.join('\n');
}
