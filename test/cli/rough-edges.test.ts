/**
 * The rough edges a new user meets first in validate, inventory and plan: paths named one way,
 * a folder that is not an inventory, one count of clusters everywhere, git revisions for a
 * checkout, and a unified diff shown once.
 */
import { appendFileSync, writeFileSync } from 'node:fs';
import * as fs from 'node:fs';
import { join } from 'node:path';
import git from 'isomorphic-git';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { Daemon } from '../../src/daemon/daemon.js';
import { CorralMetrics } from '../../src/daemon/metrics.js';
import { folderRevisions } from '../../src/daemon/sources.js';
import { createTransport } from '../../src/transport/index.js';
import { renderText } from '../../src/engine/render.js';
import { displayPathFrom } from '../../src/cli/paths.js';
import { packageRoot } from '../../src/util/package-root.js';
import { corral } from '../helpers/cli.js';
import { testAuthority } from '../helpers/pki.js';
import { tmpRepo } from '../helpers/tmp.js';
import { change } from '../daemon/http/fake-api.js';

const FLEET = join(packageRoot, 'examples/fleet');

describe('paths in validate', () => {
  it('a file that does not exist is named as given, once', async () => {
    const r = await corral('validate', 'nope.yml');
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/^nope\.yml:1:1 error cannot read nope\.yml: ENOENT \[io\/unreadable\]/);
    expect(r.stdout).not.toContain('nope.yml/nope.yml');
  });

  it('a file outside the current folder is named by its absolute path, not a climb of ../', async () => {
    const dir = tmpRepo({ 'pigsty.yml': 'all:\n  vars:\n    pg_port: x\n' });
    const r = await corral('validate', dir);
    expect(r.stdout).toContain(`${dir}/pigsty.yml:3:14 error`);
    expect(r.stdout).not.toContain('../');
    expect(displayPathFrom('/a/b', '/a')('c.yml')).toBe('b/c.yml');
    expect(displayPathFrom('/x/y', '/a/b')('c.yml')).toBe('/x/y/c.yml');
  });

  it('a variable set in two files names both the same way', async () => {
    const dir = tmpRepo({
      'corral.yml': 'inventory: [a.yml, b.yml]\n',
      'a.yml': 'all:\n  vars:\n    pg_port: 5432\n',
      'b.yml': 'all:\n  vars:\n    pg_port: 5433\n',
    });
    const r = await corral('validate', dir);
    expect(r.stdout).toContain(`${dir}/b.yml:3:5 error all sets "pg_port" here and at ${dir}/a.yml:3:5`.replace('all sets', 'group all sets'));
    const json = JSON.parse((await corral('validate', '--format', 'json', dir)).stdout) as { file: string; message: string }[];
    expect(json[0]).toMatchObject({ file: `${dir}/b.yml`, message: `group all sets "pg_port" here and at ${dir}/a.yml:3:5` });
  });

  it('a key written twice is named, with the file, line and column of the first', async () => {
    const dir = tmpRepo({ 'pigsty.yml': 'all:\n  vars:\n    pg_port: 5432\n    pg_port: 5433\n' });
    const r = await corral('validate', dir);
    expect(r.stdout).toContain(`${dir}/pigsty.yml:4:5 error key "pg_port" appears twice in one mapping; first at ${dir}/pigsty.yml:3:5 [yaml/duplicate-key]`);
  });
});

describe('a folder that is not an inventory', () => {
  it('says so, and reads none of its YAML files', async () => {
    const dir = tmpRepo({ 'docs/notes.yml': 'x: 1\n', 'compose.yaml': 'services: {}\n' });
    const r = await corral('validate', dir);
    expect(r.code).toBe(2);
    expect(r.stdout).toContain(`${dir}:1:1 error not an inventory: no pigsty.yml and no corral.yml listing its files here [io/no-inventory]`);
    expect(r.stdout).not.toContain('schema/');
    expect(r.stdout).toContain('0 hosts, 0 clusters, 1 error, 0 warnings');
  });

  it('with a corral.yml, its YAML files are the inventory', async () => {
    const dir = tmpRepo({ 'corral.yml': 'strict: false\n', 'nodes.yml': 'all: { hosts: { 10.0.0.1: {} } }\n' });
    const r = await corral('validate', dir);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('1 host, 1 cluster (node 1)');
  });
});

describe('one count of clusters', () => {
  it('validate, inventory and the daemon agree', async () => {
    const summary = '3 hosts, 4 clusters (etcd 1, node 1, pgsql 1, redis 1)';
    expect((await corral('validate', FLEET)).stdout).toContain(`${FLEET}: ${summary}, 0 errors, 0 warnings`);
    expect((await corral('inventory', FLEET)).stdout.split('\n')[0]).toBe(`# ${summary}`);

    const lines: Record<string, unknown>[] = [];
    const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
    const stateDir = tmpRepo({});
    const transport = createTransport({ hostKeys: { knownHostsFile: join(stateDir, 'known_hosts'), mode: 'strict' }, connectTimeoutMs: 500 });
    // The fleet's hosts are addresses nothing answers: each unit's plan finds them unreachable.
    const d = new Daemon({ source: folderRevisions(FLEET), stateDir, transport, metrics: new CorralMetrics(), logger, ssh: {}, pki: await testAuthority(), version: 'test', neverAutoApply: true });
    await d.fetchAndSync('startup');
    await d.stop();
    await transport.close();
    expect(d.status().clusters).toHaveLength(4);
    expect(lines.find((l) => l.msg === 'revision in force')?.fleet).toBe(summary);
  });
});

describe('revisions of a git checkout', () => {
  it('are the commit, and the commit plus the content hash once a YAML file is edited', async () => {
    const dir = tmpRepo({ 'pigsty.yml': 'all: { hosts: { 10.0.0.1: {} } }\n', 'notes.txt': 'not YAML\n' });
    await git.init({ fs, dir, defaultBranch: 'main' });
    await git.add({ fs, dir, filepath: '.' });
    const sha = await git.commit({ fs, dir, message: 'first inventory\n', author: { name: 'Ada', email: 'ada@example.test' } });
    const source = folderRevisions(dir);
    const first = await source.latest();
    expect(first).toMatchObject({ revision: sha, author: 'Ada', subject: 'first inventory' });
    expect(await source.latest(), 'nothing changed: the last answer, no git read').toBe(first);
    appendFileSync(join(dir, 'notes.txt'), 'an edit that is not YAML\n');
    expect((await source.latest()).revision).toBe(sha);
    appendFileSync(join(dir, 'pigsty.yml'), '# an edit\n');
    const edited = await source.latest();
    expect(edited.revision).toMatch(new RegExp(`^${sha.slice(0, 12)}\\+[0-9a-f]{8}$`));
    expect(edited.subject).toBe('first inventory (and uncommitted changes)');
    writeFileSync(join(dir, 'pigsty.yml'), 'all: { hosts: { 10.0.0.2: {} } }\n');
    const again = await source.latest();
    expect(again.revision).not.toBe(edited.revision);
    expect(again.revision.startsWith(sha.slice(0, 12))).toBe(true);
    // Committed, the same files are the new commit's: the checkout moved, so git is read again.
    await git.add({ fs, dir, filepath: 'pigsty.yml' });
    const second = await git.commit({ fs, dir, message: 'second inventory\n', author: { name: 'Ada', email: 'ada@example.test' } });
    expect(await source.latest()).toMatchObject({ revision: second, subject: 'second inventory' });
  });

  it('outside git, the content hash as before', async () => {
    const dir = tmpRepo({ 'pigsty.yml': 'all: { hosts: { 10.0.0.1: {} } }\n' });
    expect((await folderRevisions(dir).latest()).revision).toMatch(/^folder-[0-9a-f]{12}$/);
  });
});

describe('the plan text', () => {
  it('shows a file or list change as one unified diff with --- and +++, and no JSON list', () => {
    const text = renderText({
      revision: 'c'.repeat(40),
      fingerprint: 'f'.repeat(64),
      hosts: ['10.0.0.1'],
      unreachable: [],
      notes: [],
      changes: [
        change({ host: '10.0.0.1', resource: 'block:/etc/hosts#corral', action: 'create', fields: [{ field: 'lines', from: null, to: ['10.0.0.1 a', '10.0.0.2 b'], text: { before: '', after: '10.0.0.1 a\n10.0.0.2 b\n' } }] }),
        change({ host: '10.0.0.1', resource: 'file:/etc/x', fields: [{ field: 'content', from: 'aaaaaaaaaaaa', to: 'bbbbbbbbbbbb', text: { before: 'a\n', after: 'b\n' } }] }),
      ],
    });
    expect(text).toContain('Plan for revision cccccccccccc ');
    expect(text).toContain('      lines:\n      --- before\n      +++ after\n      @@ -0,0 +1,2 @@\n      +10.0.0.1 a\n      +10.0.0.2 b\n');
    expect(text).toContain('      content: aaaaaaaaaaaa → bbbbbbbbbbbb\n      --- before\n      +++ after\n      @@ -1,1 +1,1 @@\n      -a\n      +b\n');
    expect(text).not.toContain('["10.0.0.1 a"');
    expect(text).not.toContain('===');
  });
});

describe('corral inventory --host with filters', () => {
  it('--module keeps one module\'s variables, --grep the names a glob matches', async () => {
    const etcd = await corral('inventory', FLEET, '--host', '10.213.0.11', '--module', 'etcd');
    const keys = etcd.stdout.split('\n').slice(1).filter(Boolean).map((l) => l.split(':')[0]);
    expect(keys.length).toBeGreaterThan(5);
    expect(keys.every((k) => k!.startsWith('etcd_'))).toBe(true);
    expect(etcd.stdout.split('\n')[0]).toMatch(/; 13 of \d+ \(module etcd\)$/);

    const ports = await corral('inventory', FLEET, '--host', '10.213.0.11', '--grep', 'pg_*port', '--format', 'json');
    const vars = (JSON.parse(ports.stdout) as { vars: Record<string, unknown> }).vars;
    expect(Object.keys(vars).sort()).toEqual(['pg_exporter_port', 'pg_port']);

    const both = await corral('inventory', FLEET, '--host', '10.213.0.11', '--module', 'pgsql', '--grep', '*port*');
    expect(both.stdout).toContain('pgbouncer_port: 6432');
    expect(both.stdout).not.toContain('etcd_port');

    expect((await corral('inventory', FLEET, '--module', 'pgsql')).code).toBe(2);
  });
});
