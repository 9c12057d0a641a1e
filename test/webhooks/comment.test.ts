/** The PR comment and the corral/plan status: pure renderings of a preview's outcome. */
import { describe, expect, it } from 'vitest';
import type { Change, Plan } from '../../src/engine/model.js';
import { COMMENT_LIMIT, planComment, planStatus } from '../../webhooks/comment.js';
import { COMMENT_MARKER } from '../../webhooks/notifiers/types.js';
import { syncStatus } from '../../webhooks/reporter.js';
import type { ClusterStatus } from '../../src/daemon/types.js';
import { URL_CANARY, URL_HOST, planWithUrlCredentials } from '../helpers/url-credentials.js';

const SHA = 'f00dfeed'.padEnd(40, '1');
const CANARY = 'Canary-Pa55word-7f3a';

function change(i: number, over: Partial<Change> = {}): Change {
  const host = `10.10.${Math.floor(i / 250)}.${i % 250}`;
  return { id: `${host}|file:/etc/x${i}`, host, resource: `file:/etc/x${i}`, kind: 'file', module: 'node', cluster: `cls-${i % 40}`, action: 'update', fields: [{ field: 'content', from: 'a', to: 'b', text: { before: 'old line\n'.repeat(5), after: 'new line\n'.repeat(5) } }], reason: 'content differs', restarts: false, destructive: false, after: [], ...over };
}

const plan = (changes: Change[]): Plan => ({ revision: SHA, fingerprint: 'fp'.repeat(20), changes, notes: [], unreachable: [], hosts: [...new Set(changes.map((c) => c.host))] });

describe('the plan comment', () => {
  it('starts with the hidden marker, has the summary table, and calls out restarts and removals', () => {
    const body = planComment({ pr: 12, sha: SHA, outcome: { kind: 'plan', plan: plan([change(1, { restarts: true }), change(2, { destructive: true, action: 'update' })]) } });
    expect(body.startsWith(COMMENT_MARKER)).toBe(true);
    expect(body).toContain(`## Corral preview of #12 at \`${SHA.slice(0, 12)}\``);
    expect(body).toContain('| cluster | create | update |');
    expect(body).toContain('↻ restarts');
    expect(body).toContain('⚠️ removes');
    expect(body).toContain('<details>');
  });

  it('a secret field shows as redacted: its value never reaches the comment', () => {
    const secret = change(3, { kind: 'pg-role', resource: 'pg-role:dbuser_app', fields: [{ field: 'password', from: 'md5deadbeef', to: CANARY, secret: true }] });
    const body = planComment({ pr: 1, sha: SHA, outcome: { kind: 'plan', plan: plan([secret]) } });
    expect(body).toContain('password');
    expect(body).toContain('(redacted)');
    expect(body).not.toContain(CANARY);
    expect(body).not.toContain('md5deadbeef');
  });

  it('a plan too long for a comment is cut at whole sections and links to the full plan', () => {
    const big = plan(Array.from({ length: 3000 }, (_, i) => change(i)));
    const url = 'http://corral.example:8080/api/plans/123?format=markdown';
    const body = planComment({ pr: 5, sha: SHA, outcome: { kind: 'plan', plan: big, planUrl: url } });
    expect(body.length).toBeLessThanOrEqual(COMMENT_LIMIT);
    expect(body).toContain('| node/cls-39 |');
    expect(body).toMatch(/The plan is too long for a comment: \d+ more sections? not shown/);
    expect(body).toContain(`[Full plan](${url})`);
    // Every <details> that was opened is closed: no section is cut in half.
    expect(body.match(/<details>/g)?.length).toBe(body.match(/<\/details>/g)?.length);
  });

  it('an invalid revision lists file:line:col of each error and says nothing would be applied', () => {
    const body = planComment({
      pr: 2,
      sha: SHA,
      outcome: { kind: 'invalid', problems: [{ file: 'pigsty.yml', line: 12, col: 9, code: 'schema/type', severity: 'error', message: 'pg_port is "x"; expected an integer', pointer: '' } as never] },
    });
    expect(body).toContain('| `pigsty.yml:12:9` | schema/type | pg_port is "x"; expected an integer |');
    expect(body).toContain('Nothing would be applied');
    expect(planStatus({ pr: 2, sha: SHA, outcome: { kind: 'invalid', problems: [{ file: 'pigsty.yml', line: 12, col: 9, code: 'schema/type', severity: 'error', message: 'bad' } as never] } })).toEqual({ state: 'failure', description: 'invalid: pigsty.yml:12:9 bad' });
  });
});

describe('URL credentials', () => {
  const withUrl = `https://mirror:${URL_CANARY}@${URL_HOST}/debian`;
  const invalid = { kind: 'invalid' as const, problems: [{ file: 'pigsty.yml', line: 3, col: 5, code: 'schema/pattern', severity: 'error', message: `repo_endpoint is "${withUrl} x", which does not match`, pointer: '' } as never] };

  it('no URL password in the plan, the problems or the error of a comment; the hosts stay', () => {
    for (const outcome of [{ kind: 'plan' as const, plan: planWithUrlCredentials() }, invalid, { kind: 'error' as const, message: `fetch ${withUrl} failed` }]) {
      const body = planComment({ pr: 7, sha: SHA, outcome });
      expect(body, outcome.kind).not.toContain(URL_CANARY);
      expect(body, outcome.kind).toContain(`mirror:***@${URL_HOST}`);
    }
  });

  it('nor in the corral/plan status', () => {
    const blocked = { ...planWithUrlCredentials(), unreachable: [], notes: [{ host: '10.0.0.1', resource: 'apt-sources', message: `${withUrl} has no release here`, blocking: true }] };
    for (const outcome of [invalid, { kind: 'error' as const, message: `fetch ${withUrl} failed` }, { kind: 'plan' as const, plan: blocked }]) {
      const { description } = planStatus({ pr: 7, sha: SHA, outcome });
      expect(description, outcome.kind).not.toContain(URL_CANARY);
      expect(description, outcome.kind).toContain(`mirror:***@${URL_HOST}`);
    }
  });
});

describe('statuses', () => {
  it('corral/plan: changes and flags in at most 140 characters; unreachable hosts fail it', () => {
    expect(planStatus({ pr: 1, sha: SHA, outcome: { kind: 'plan', plan: plan([change(1, { restarts: true }), change(2)]) } })).toEqual({ state: 'success', description: '2 changes in 2 clusters (restarts)' });
    expect(planStatus({ pr: 1, sha: SHA, outcome: { kind: 'plan', plan: plan([]) } })).toEqual({ state: 'success', description: 'no changes' });
    const down = { ...plan([]), unreachable: Array.from({ length: 40 }, (_, i) => ({ host: `10.0.0.${i}`, message: 'connection refused' })) };
    const s = planStatus({ pr: 1, sha: SHA, outcome: { kind: 'plan', plan: down } });
    expect(s.state).toBe('failure');
    expect(s.description.length).toBeLessThanOrEqual(140);
    const blocked = { ...plan([]), notes: [{ host: '10.0.0.1', resource: 'packages:pgsql', message: 'pg_version 16 is not in Debian 12', blocking: true }] };
    expect(planStatus({ pr: 1, sha: SHA, outcome: { kind: 'plan', plan: blocked } })).toEqual({ state: 'failure', description: 'blocked: 10.0.0.1: pg_version 16 is not in Debian 12' });
    expect(planComment({ pr: 1, sha: SHA, outcome: { kind: 'plan', plan: blocked } })).toContain('**Blocked**: nothing is applied until the inventory changes');
  });

  it('corral/sync: pending while clusters sync or wait, failure when one failed, success when all are in sync', () => {
    const unit = (name: string, sync: ClusterStatus['sync'], revision = SHA, message?: string): ClusterStatus => ({ name, module: 'pgsql', sync, health: 'Healthy', revision, driftChanges: 0, policy: { sync: 'auto', prune: false, selfHeal: false, suspend: false, driftIntervalSeconds: 300 }, hosts: [], ...(message ? { message } : {}) });
    expect(syncStatus(SHA, [unit('a', 'Synced'), unit('b', 'Synced', 'old')])).toEqual({ state: 'pending', description: 'syncing: 1 of 2 clusters done' });
    expect(syncStatus(SHA, [unit('a', 'Synced'), unit('b', 'Syncing')]).state).toBe('pending');
    expect(syncStatus(SHA, [unit('a', 'Synced'), unit('b', 'OutOfSync', SHA, '3 changes wait for a manual sync')])).toEqual({ state: 'pending', description: '1 cluster out of sync: 3 changes wait for a manual sync' });
    expect(syncStatus(SHA, [unit('a', 'Failed', SHA, 'file:/etc/x on 10.0.0.1 failed'), unit('b', 'Synced')])).toEqual({ state: 'failure', description: 'a failed: file:/etc/x on 10.0.0.1 failed' });
    expect(syncStatus(SHA, [unit('a', 'Synced'), unit('b', 'Suspended', 'old')])).toEqual({ state: 'success', description: '1 cluster in sync, 1 suspended' });
  });
});
