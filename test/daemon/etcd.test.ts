// The etcd client against a real etcd with users and roles on, as Corral's ETCD module builds it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { Etcd } from '../../src/daemon/etcd.js';
import { startEtcd, type EtcdServer } from '../helpers/etcd.js';

describe('etcd with authentication', () => {
  let etcd: EtcdServer;
  beforeAll(async () => {
    etcd = await startEtcd();
    const ctl = (...args: string[]): string => execFileSync('etcdctl', [`--endpoints=${etcd.url}`, ...args], { encoding: 'utf8', env: { ...process.env, ETCDCTL_API: '3' } });
    ctl('user', 'add', 'root:Root.Secret.9');
    ctl('role', 'add', 'root');
    ctl('user', 'grant-role', 'root', 'root');
    ctl('auth', 'enable');
  });
  afterAll(() => etcd.stop());

  it('logs in with the user given, and keeps working after its token is dropped', async () => {
    const client = new Etcd({ endpoints: [etcd.url], auth: { user: 'root', password: 'Root.Secret.9' } });
    await client.put('/corral/test', 'one');
    expect((await client.get('/corral/test'))?.value).toBe('one');
    // auth disable/enable drops every token etcd issued: the client logs in again.
    const ctl = (...args: string[]): string => execFileSync('etcdctl', [`--endpoints=${etcd.url}`, '--user=root:Root.Secret.9', ...args], { encoding: 'utf8' });
    ctl('auth', 'disable');
    ctl('auth', 'enable');
    await client.put('/corral/test', 'two');
    expect((await client.range('/corral/')).map((k) => k.value)).toEqual(['two']);
  });

  it('says why when the user is missing or the password wrong', async () => {
    await expect(new Etcd({ endpoints: [etcd.url] }).get('/corral/test')).rejects.toThrow(/user name is empty/);
    await expect(new Etcd({ endpoints: [etcd.url], auth: { user: 'root', password: 'wrong' } }).get('/corral/test')).rejects.toThrow(/authentication failed/);
  });
});
