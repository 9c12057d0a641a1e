/** Where commands print, so tests can capture it. */
export interface Output {
  print(text: string): void;
  error(text: string): void;
  color: boolean;
  /** A terminal: apply redraws a progress footer in place. */
  live?: boolean;
  columns?: number;
}

export const EXIT = { ok: 0, invalid: 1, usage: 2 } as const;

export const processOutput: Output = {
  print: (text) => process.stdout.write(text),
  error: (text) => process.stderr.write(text),
  color: Boolean(process.stdout.isTTY) && !process.env.NO_COLOR,
  live: Boolean(process.stdout.isTTY) && process.env.TERM !== 'dumb',
  ...(process.stdout.columns ? { columns: process.stdout.columns } : {}),
};
