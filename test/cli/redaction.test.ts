/** `corral validate` and `corral inventory` print no password: not in a code frame, a message or a value. */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { corral } from '../helpers/cli.js';
import { tmpRepo } from '../helpers/tmp.js';

const CANARY = 'Canary-Cli-Pa55word-7f3a';

const INVENTORY = `all:
  vars:
    repo_upstream:
      - { name: mirror, module: node, releases: [12], arch: [x86_64], baseurl: { default: 'https://mirror:${CANARY}@repo.example.test/debian' } }
    app_db_url: postgres://app:${CANARY}@10.0.0.1/db
  children:
    pg-test:
      hosts:
        10.10.10.11: { pg_seq: 1, pg_role: primary }
      vars:
        pg_cluster: pg-test
        pg_users:
          - { name: dbuser_app, password: ${CANARY}, pgbouncer: true }
        pg_admin_password: ${CANARY}
        pg_port: fivefourthreetwo
        repo_endpoint: 'https://mirror:${CANARY}@repo.example.test x'
`;

describe('corral validate', () => {
  it('code frames and messages hide secret values and URL passwords, and keep the hosts', async () => {
    const r = await corral('validate', join(tmpRepo({ 'pigsty.yml': INVENTORY }), 'pigsty.yml'));
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('> 15 |         pg_port: fivefourthreetwo');
    expect(r.stdout).toContain('- { name: dbuser_app, password: ***, pgbouncer: true }');
    expect(r.stdout).toContain('pg_admin_password: ***');
    expect(r.stdout).toContain('https://mirror:***@repo.example.test x');
    expect(r.stdout + r.stderr).not.toContain(CANARY);
  });
});

describe('corral inventory', () => {
  it('shows URLs without their passwords, in YAML and JSON', async () => {
    const valid = INVENTORY.replace(/ {8}pg_port: .*\n {8}repo_endpoint: .*\n/, '');
    const path = join(tmpRepo({ 'pigsty.yml': valid }), 'pigsty.yml');
    for (const format of ['yaml', 'json']) {
      const r = await corral('inventory', path, '--host', '10.10.10.11', '--format', format);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).not.toContain(CANARY);
      expect(r.stdout).toContain('postgres://app:***@10.0.0.1/db');
      expect(r.stdout).toContain('https://mirror:***@repo.example.test/debian');
    }
  });

  it('a path it cannot read is reported without the password a URL given as the path holds', async () => {
    const r = await corral('inventory', `https://mirror:${CANARY}@repo.example.test/fleet`, '--host', '10.10.10.11');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('https://mirror:***@repo.example.test/fleet');
    expect(r.stderr).not.toContain(CANARY);
  });
});
