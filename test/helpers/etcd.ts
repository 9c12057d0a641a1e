// A real etcd (Debian's etcd-server) for tests: one member on loopback or a given address, its data
// in a throwaway folder. pause() stops answering without closing connections (SIGSTOP), like a
// partition; stop() kills it.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';
import { until } from './until.js';

export interface EtcdServer {
  url: string;
  pause(): void;
  resume(): void;
  stop(): Promise<void>;
}

export async function startEtcd(host = '127.0.0.1'): Promise<EtcdServer> {
  const [client, peer] = [await freePort(host), await freePort(host)];
  const dir = mkdtempSync(join(tmpdir(), 'corral-etcd-'));
  const url = `http://${host}:${client}`;
  const peerUrl = `http://${host}:${peer}`;
  const child: ChildProcess = spawn('etcd', ['--name', 'test', '--data-dir', dir, '--listen-client-urls', url, '--advertise-client-urls', url, '--listen-peer-urls', peerUrl, '--initial-advertise-peer-urls', peerUrl, '--initial-cluster', `test=${peerUrl}`, '--log-level', 'error'], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await until('etcd to answer', async () => (await fetch(`${url}/health`).then((r) => r.ok, () => false)) || undefined, 30_000, 100);
  return {
    url,
    pause: () => child.kill('SIGSTOP'),
    resume: () => child.kill('SIGCONT'),
    stop: async () => {
      child.kill('SIGCONT');
      child.kill('SIGKILL');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
