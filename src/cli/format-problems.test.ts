import { describe, expect, it } from 'vitest';
import { formatProblem, noPaint, toJson } from './format-problems.js';
import type { Problem } from '../config/problems.js';

const CANARY = 'Canary-Frame-Pa55word-7f3a';

const at = (line: number, col: number, message = 'pg_port must be integer, not "x"'): Problem => ({ file: 'pigsty.yml', line, col, pointer: '', code: 'schema/type', severity: 'error', message });
const frame = (text: string, line: number, col: number, message?: string): string => formatProblem(at(line, col, message), text, (f) => f, noPaint);

describe('code frames hide secrets', () => {
  it('a secret key two lines above the error shows as `key: ***`', () => {
    const text = ['pg-test:', '  vars:', `    pg_admin_password: ${CANARY}`, '    pg_cluster: pg-test', '    pg_port: x', ''].join('\n');
    const out = frame(text, 5, 14);
    expect(out).not.toContain(CANARY);
    expect(out).toContain('|     pg_admin_password: ***');
    expect(out).toContain('> 5 |     pg_port: x');
  });

  it('a password in a flow mapping, quoted or not, and the fields around it stay', () => {
    const text = ['pg_users:', `  - { name: dbuser_app, password: ${CANARY}, pgbouncer: true }`, `  - { name: dbuser_b, "password": "a,${CANARY}", roles: [x] }`, `  - name: c`, `    password: '${CANARY}'`].join('\n');
    const out = frame(text, 3, 5);
    expect(out).not.toContain(CANARY);
    expect(out).toContain('- { name: dbuser_app, password: ***, pgbouncer: true }');
    expect(out).toContain('- { name: dbuser_b, "password": ***, roles: [x] }');
    expect(out).toContain('|     password: ***');
    expect(out).toContain('|   - name: c');
  });

  it('a key the schema marks secret although its name does not say so', () => {
    const out = frame(['pg_exporter_url: ' + `postgres://x@h/${CANARY}`, 'pg_port: x'].join('\n'), 2, 10);
    expect(out).not.toContain(CANARY);
    expect(out).toContain('pg_exporter_url: ***');
  });

  it('a URL with credentials under any key keeps its host', () => {
    const out = frame(['repo_upstream:', `  - { name: mirror, baseurl: { default: 'https://mirror:${CANARY}@repo.example.test/debian' } }`, 'pg_port: x'].join('\n'), 3, 10);
    expect(out).not.toContain(CANARY);
    expect(out).toContain("'https://mirror:***@repo.example.test/debian'");
  });

  it('the lines that belong to a secret value: a block scalar, a mapping of secrets', () => {
    const text = ['ssh_private_key: |', '  -----BEGIN OPENSSH PRIVATE KEY-----', `  ${CANARY}`, 'nginx_users:', `  admin: ${CANARY}`, 'pg_port: x', 'pg_cluster: pg-test'].join('\n');
    for (const line of [3, 6]) {
      const out = frame(text, line, 1);
      expect(out, `line ${line}`).not.toContain(CANARY);
      expect(out, `line ${line}`).not.toContain('BEGIN OPENSSH');
    }
    expect(frame(text, 6, 10)).toContain('| pg_cluster: pg-test');
  });

  it('the caret still points at the value in error, after a hidden one on its line', () => {
    const line = `  - { name: app, password: ${CANARY}, pgbouncer: maybe }`;
    const out = frame(['pg_users:', line].join('\n'), 2, line.indexOf('maybe') + 1);
    const [shown, caret] = out.split('\n').slice(2, 4);
    expect(caret!.indexOf('^') - caret!.indexOf('|')).toBe(shown!.indexOf('maybe') - shown!.indexOf('|'));
  });

  it('messages lose URL passwords, in text and in JSON', () => {
    const message = `repo_endpoint is "https://mirror:${CANARY}@repo.example.test x", which does not match`;
    expect(frame('repo_endpoint: x', 1, 16, message)).toContain('https://mirror:***@repo.example.test x');
    expect(toJson(at(1, 16, message), (f) => f).message).not.toContain(CANARY);
  });
});
