/** The files users deploy: alert rules that Prometheus accepts and that name only metrics Corral exports. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CorralMetrics } from '../src/daemon/metrics.js';

const DEPLOY = join(import.meta.dirname, '../deploy');

describe('deploy/', () => {
  it('alert rules pass promtool check rules', () => {
    expect(execFileSync('promtool', ['check', 'rules', join(DEPLOY, 'alerts.yml')], { encoding: 'utf8' })).toContain('SUCCESS: 5 rules found');
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
