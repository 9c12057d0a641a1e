/** The files users deploy: alert rules that Prometheus accepts and that name only metrics Corral exports. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CorralMetrics } from '../src/daemon/metrics.js';

const DEPLOY = join(import.meta.dirname, '../deploy');

describe('deploy/', () => {
  it('alert rules pass promtool check rules', () => {
    expect(execFileSync('promtool', ['check', 'rules', join(DEPLOY, 'alerts.yml')], { encoding: 'utf8' })).toContain('SUCCESS: 7 rules found');
  });
  it('the forge alerts fire on the series Corral exports, and only then (promtool test rules)', () => {
    const out = execFileSync('promtool', ['test', 'rules', join(import.meta.dirname, 'fixtures/alerts.test.yml')], { encoding: 'utf8' });
    expect(out).toContain('SUCCESS');
  });
  it('promtool test rules does fail when an alert is expected and does not fire (the test above can fail)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-alerts-'));
    const wrong = readFileSync(join(import.meta.dirname, 'fixtures/alerts.test.yml'), 'utf8').replace('../../deploy/alerts.yml', join(DEPLOY, 'alerts.yml')).replace(/exp_alerts: \[\]/, 'exp_alerts:\n          - exp_labels: { severity: warning, provider: slack }');
    writeFileSync(join(dir, 'wrong.yml'), wrong);
    expect(() => execFileSync('promtool', ['test', 'rules', join(dir, 'wrong.yml')], { encoding: 'utf8', stdio: 'pipe' })).toThrow();
    rmSync(dir, { recursive: true, force: true });
  });
  it('alert rules use only metrics Corral exports', async () => {
    const exported = await new CorralMetrics().metricsText();
    const used = [...readFileSync(join(DEPLOY, 'alerts.yml'), 'utf8').matchAll(/\b(corral_[a-z_]+)\b/g)].map((m) => m[1]!);
    expect(used.length).toBeGreaterThan(0);
    for (const name of new Set(used)) expect(exported, name).toContain(`# TYPE ${name} `);
  });
  it('the systemd unit runs corral serve as its own user, hardened', () => {
    const unit = readFileSync(join(DEPLOY, 'corral.service'), 'utf8');
    expect(unit).toMatch(/^ExecStart=.*corral\.js serve /m);
    for (const line of ['User=corral', 'NoNewPrivileges=yes', 'ProtectSystem=strict', 'CapabilityBoundingSet=']) expect(unit).toContain(line);
  });
});
