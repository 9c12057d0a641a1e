// Shared bits of the git tests: one real git server per test file, temp folders removed when the
// file is done, and the FetchError a promise must reject with.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { FetchError } from '../../src/git/source.js';
import { startGitServer, type BasicAuth, type GitServer } from '../helpers/git-server.js';

/** A git server for this test file (`env.server` is set once beforeAll has run) and a temp-folder maker. */
export function useGitServer(opts: { auth?: BasicAuth; prefix: string }): { server: GitServer; tmp(): string } {
  const dirs: string[] = [];
  const env = {
    server: undefined as unknown as GitServer,
    tmp(): string {
      const dir = mkdtempSync(join(tmpdir(), `${opts.prefix}-`));
      dirs.push(dir);
      return dir;
    },
  };
  beforeAll(async () => {
    env.server = await startGitServer(opts.auth ? { auth: opts.auth } : {});
  });
  afterAll(async () => {
    await env.server.close();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });
  return env;
}

export async function failure(p: Promise<unknown>): Promise<FetchError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof FetchError) return err;
    throw err;
  }
  throw new Error('expected a FetchError');
}
