/** Printing problems: text for people (with code frames), JSON for tools. */
import { codeFrame } from '../config/source.js';
import { hintFor, type Problem } from '../config/problems.js';

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
  return { file: displayPath(p.file), line: p.line, col: p.col, pointer: p.pointer, code: p.code, severity: p.severity, message: p.message };
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

export function formatProblem(p: Problem, text: string | undefined, displayPath: (file: string) => string, paint: Paint): string {
  const sev = p.severity === 'error' ? paint.red('error') : paint.yellow('warning');
  const lines = [`${paint.bold(`${displayPath(p.file)}:${p.line}:${p.col}`)} ${sev} ${p.message} ${paint.dim(`[${p.code}]`)}`];
  if (text !== undefined && !p.code.startsWith('io/')) lines.push(codeFrame(text, p.line, p.col));
  if (p.related) lines.push(paint.dim(`  see also ${displayPath(p.related.file)}:${p.related.line}:${p.related.col}`));
  lines.push(paint.dim(`  hint: ${hintFor(p.code)}`));
  return lines.join('\n');
}
