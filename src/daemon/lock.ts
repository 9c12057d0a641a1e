/**
 * One daemon per state dir: a second `corral serve` on it would sync, write state and deliver the
 * outbox behind the first's back. The lock is an abstract Unix socket named after the state dir's
 * device and inode: the kernel binds a name once, and frees it when its holder exits, however it
 * exits (kill -9 included), so there is no stale lock file to clean up and no race in taking one over.
 * Its scope is the network namespace: daemons in separate containers sharing a volume are not seen.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, statSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';

export type StateDirLock = { release: () => Promise<void> } | { heldBy: string };

const lockName = (dir: string): string => {
  const st = statSync(dir);
  return `\0corral-state-${createHash('sha256').update(`${st.dev}:${st.ino}`).digest('hex').slice(0, 32)}`;
};

/** Takes the state dir (made if missing), or says which process holds it. */
export async function lockStateDir(dir: string): Promise<StateDirLock> {
  mkdirSync(dir, { recursive: true });
  const name = lockName(dir);
  // The holder answers its pid, for the message of the one refused.
  const server = createServer((socket) => socket.end(`${process.pid}\n`));
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(name, resolve);
    });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw e;
    return { heldBy: await holder(name) };
  }
  // The lock alone does not keep the process running.
  server.unref();
  return { release: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

function holder(name: string): Promise<string> {
  return new Promise((resolve) => {
    let answer = '';
    const socket = createConnection(name);
    socket.setTimeout(2000, () => socket.destroy());
    socket.on('data', (d: Buffer) => (answer = (answer + d.toString()).slice(0, 32)));
    socket.on('close', () => resolve(/^\d+\n$/.test(answer) ? `pid ${answer.trim()}` : 'another process'));
    socket.on('error', () => undefined);
  });
}
