/**
 * INFRA's alert rules (rules/*.yml, and agent.yml rendered from the inventory's ports): Prometheus
 * accepts them, and each alert fires on a bad series and clears once it recovers (promtool test rules,
 * rules-test.yml), as deploy/alerts.yml is checked in test/deploy.test.ts.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { shippedRules } from './index.js';
import { agentRules } from './templates.js';

// Not under test/fixtures: every YAML file there seeds the fuzz test (test/config/fuzz.test.ts).
const FIXTURE = join(import.meta.dirname, 'rules-test.yml');
const dirs: string[] = [];

/** The rules as an infra node has them in /infra/rules (Pigsty's default ports), with the promtool test beside them. */
const rules = (): [string, string][] => [['agent.yml', agentRules({ node: [9100], haproxy: [9101], patroni: [8008], pgExporter: [9630], pgbouncerExporter: [9631] })], ...shippedRules()];

function rulesDir(omit: string[] = []): string {
  const dir = mkdtempSync(join(tmpdir(), 'corral-infra-rules-'));
  dirs.push(dir);
  for (const [name, text] of rules()) if (!omit.includes(name)) writeFileSync(join(dir, name), text);
  copyFileSync(FIXTURE, join(dir, 'test.yml'));
  return dir;
}

const promtool = (dir: string, ...args: string[]): string => execFileSync('promtool', args, { cwd: dir, encoding: 'utf8', stdio: 'pipe' });

afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

interface Group {
  rules: { alert?: string; record?: string }[];
}
const alertsOf = (text: string): string[] => ((parse(text) as { groups: Group[] }).groups ?? []).flatMap((g) => g.rules.flatMap((r) => (r.alert ? [r.alert] : [])));

describe('INFRA alert rules', () => {
  it('pass promtool check rules, with Pigsty alert names for node, pgsql, patroni, pgbouncer, etcd, haproxy, redis', () => {
    const dir = rulesDir();
    expect(promtool(dir, 'check', 'rules', ...rules().map(([name]) => name))).not.toContain('FAILED');
    const alerts = rules().flatMap(([, text]) => alertsOf(text));
    for (const name of ['NodeDown', 'HaproxyDown', 'PostgresDown', 'PatroniDown', 'PgbouncerDown', 'PgExporterDown', 'EtcdServerDown', 'EtcdNoLeader', 'RedisDown', 'InfraDown']) expect(alerts).toContain(name);
    expect(new Set(alerts).size).toBe(alerts.length);
    // Each file is Corral's (its marker), so stale-files may remove one the module no longer ships.
    for (const [name, text] of rules()) expect(text.split('\n')[0], name).toBe('# managed by corral (INFRA rules)');
  });

  it('every alert fires and clears (promtool test rules)', () => {
    expect(promtool(rulesDir(), 'test', 'rules', 'test.yml')).toContain('SUCCESS');
  });

  it('the test covers each alert: a case where it fires, then a later one where it is gone', () => {
    const tests = (parse(readFileSync(FIXTURE, 'utf8')) as { tests: { alert_rule_test: { alertname: string; eval_time: string; exp_alerts: unknown[] }[] }[] }).tests.flatMap((t) => t.alert_rule_test);
    const minutes = (t: string): number => (t.endsWith('m') ? Number(t.slice(0, -1)) : Number(t.slice(0, -1)) / 60);
    for (const alert of rules().flatMap(([, text]) => alertsOf(text))) {
      const cases = tests.filter((c) => c.alertname === alert);
      const fired = cases.filter((c) => c.exp_alerts.length).map((c) => minutes(c.eval_time));
      const cleared = cases.filter((c) => !c.exp_alerts.length).map((c) => minutes(c.eval_time));
      expect(fired.length, `${alert} fires`).toBeGreaterThan(0);
      expect(cleared.some((t) => t > Math.min(...fired)), `${alert} clears`).toBe(true);
    }
  });

  it('promtool test rules does fail when a rule is missing (the test above can fail)', () => {
    expect(() => promtool(rulesDir(['node.yml']), 'test', 'rules', 'test.yml')).toThrow();
    expect(() => promtool(rulesDir(['agent.yml']), 'test', 'rules', 'test.yml')).toThrow();
  });
});
