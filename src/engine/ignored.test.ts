import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateInventory } from '../config/validate.js';
import { packageRoot } from '../util/package-root.js';
import { tmpRepo } from '../../test/helpers/tmp.js';
import { honourOf, ignoredNotes, type Honour } from './ignored.js';

/** The schema files are the project's copy of Pigsty's parameter list (and Ansible's connection variables). */
const PARAMS_DIR = join(packageRoot, 'schema/params');
const files = readdirSync(PARAMS_DIR).filter((f) => f.endsWith('.schema.json'));
const params = files.flatMap((f) => Object.keys((JSON.parse(readFileSync(join(PARAMS_DIR, f), 'utf8')) as { properties: object }).properties).map((name) => ({ name, file: f })));

const kindOf = (h: Honour | undefined): string | undefined => {
  if (h === 'honoured' || h === 'no-effect') return h;
  if (h && typeof h === 'object') {
    const keys = Object.keys(h).sort().join(',');
    if ('partly' in h && keys === 'partly' && h.partly) return 'partly';
    if ('ignored' in h && (keys === 'ignored' || keys === 'as,ignored') && h.ignored) return 'ignored';
  }
  return undefined;
};

/** Honoured parameters the code reads without naming them in a string literal, and why. None today. */
const READ_UNNAMED: Record<string, string> = {};

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sources(path);
    return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') && !e.name.endsWith('.gen.ts') ? [path] : [];
  });
}

describe('x-corral in the schema', () => {
  it('marks every parameter once, with one of its four values', () => {
    expect(params.length).toBeGreaterThan(400);
    expect(params.filter((p) => kindOf(honourOf(p.name)) === undefined).map((p) => `${p.file}: ${p.name}`)).toEqual([]);
    // JSON keeps the last of two keys of the same name: count them in the text.
    for (const f of files) {
      const text = readFileSync(join(PARAMS_DIR, f), 'utf8');
      const count = (JSON.parse(text) as { properties: object }).properties;
      expect(text.match(/"x-corral"/g)?.length, f).toBe(Object.keys(count).length);
    }
  });

  it('marks honoured only what the code reads: each such parameter is named in a string literal under src/ or reconcilers/', () => {
    const code = [...sources(join(packageRoot, 'src')), ...sources(join(packageRoot, 'reconcilers'))].map((p) => readFileSync(p, 'utf8')).join('\n');
    const unread = params.filter((p) => ['honoured', 'partly'].includes(kindOf(honourOf(p.name))!) && !(p.name in READ_UNNAMED) && !new RegExp(`['"\`]${p.name}['"\`]`).test(code));
    expect(unread.map((p) => p.name)).toEqual([]);
    for (const name of Object.keys(READ_UNNAMED)) expect(kindOf(honourOf(name)), name).toBe('honoured');
  });
});

const INVENTORY = (pgVars: string, hostVars = ['', '']): string => `
all:
  children:
    pg-test:
      hosts:
        10.0.0.11: { pg_seq: 1, pg_role: primary${hostVars[0]} }
        10.0.0.12: { pg_seq: 2, pg_role: replica${hostVars[1]} }
      vars: { pg_cluster: pg-test${pgVars} }
`;

async function notesOf(text: string): Promise<{ module: string; cluster: string; host: string; message: string }[]> {
  const v = await validateInventory(tmpRepo({ 'pigsty.yml': text }));
  expect(v.problems.filter((p) => p.severity === 'error')).toEqual([]);
  return v.clusters.flatMap((c) => ignoredNotes(c).map((n) => ({ module: c.module, cluster: c.name, host: n.host, message: n.message })));
}

describe('ignoredNotes', () => {
  it('names an ignored parameter a cluster sets, once, on its first member, with what Corral does instead', async () => {
    expect(await notesOf(INVENTORY(', pg_dummy_filesize: 1GiB'))).toEqual([{ module: 'pgsql', cluster: 'pg-test', host: '10.0.0.11', message: 'pg_dummy_filesize: not done: no /pg/dummy is made' }]);
  });

  it('says it once per cluster, not per host that sets it', async () => {
    const notes = await notesOf(INVENTORY('', [', pg_dummy_filesize: 1GiB', ', pg_dummy_filesize: 2GiB']));
    expect(notes.map((n) => [n.host, n.message.split(':')[0]])).toEqual([['10.0.0.11', 'pg_dummy_filesize']]);
  });

  it('says nothing of an ignored parameter left at, or set to, Pigsty default', async () => {
    expect(await notesOf(INVENTORY(''))).toEqual([]);
    expect(await notesOf(INVENTORY(', pg_dummy_filesize: 64MiB, pg_lc_collate: C'))).toEqual([]);
  });

  it("compares with the value Corral's behaviour amounts to (`as`) where that is not Pigsty's default", async () => {
    // pg_rm_data: Pigsty's default true asks for what Corral never does; false is what it does.
    expect(honourOf('pg_rm_data')).toMatchObject({ as: false });
    expect(await notesOf(INVENTORY(', pg_rm_data: false'))).toEqual([]);
    expect((await notesOf(INVENTORY(', pg_rm_data: true'))).map((n) => n.message)).toEqual(["pg_rm_data: not honoured: a retired member's data, backups and packages stay"]);
  });

  it('says nothing of a honoured parameter, whatever its value', async () => {
    expect(honourOf('pg_port')).toBe('honoured');
    expect(await notesOf(INVENTORY(', pg_port: 5532, pg_version: 16'))).toEqual([]);
  });

  it('names parameters that share what Corral does instead in one note', async () => {
    expect((await notesOf(INVENTORY(', pg_lc_collate: en_US.UTF-8, pg_lc_ctype: en_US.UTF-8'))).map((n) => n.message)).toEqual(['pg_lc_collate and pg_lc_ctype: not read: the cluster is initialised with pg_locale']);
  });

  it("notes a parameter on its module's clusters: NODE's, the connection variables and those of modules Corral has none of on the node cluster", async () => {
    const notes = await notesOf(INVENTORY('', [', node_tune: oltp, docker_enabled: true, ansible_become: true', '']));
    expect(notes.map((n) => [n.module, n.cluster, n.host, n.message.split(':')[0]])).toEqual([
      ['node', 'nodes', '10.0.0.11', 'node_tune'],
      ['node', 'nodes', '10.0.0.11', 'docker_enabled'],
      ['node', 'nodes', '10.0.0.11', 'ansible_become'],
    ]);
  });
});
