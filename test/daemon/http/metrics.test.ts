import { afterEach, describe, expect, test } from 'vitest';
import { CorralMetrics, webhookEvent } from '../../../src/daemon/metrics.js';
import { FakeApi, REV_A, REV_B, clusterStatus } from './fake-api.js';
import { harness, type Harness } from './helpers.js';
import { need, run } from './tools.js';

/** Sample lines of the exposition (no comments), for exact assertions. */
const samples = (text: string): string[] => text.split('\n').filter((l) => l && !l.startsWith('#'));

/** Touches every Corral metric at least once, with every label value it can take. */
function exerciseAll(m: CorralMetrics): void {
  for (const phase of ['Succeeded', 'Failed', 'NotConverged', 'Error'] as const) m.recordSync('pg-test', phase, 1500);
  m.recordSync('etcd', 'Succeeded', 90_000);
  m.setDrift('pg-test', 3);
  for (const result of ['success', 'unreachable', 'auth', 'not-found', 'timeout', 'corrupt', 'invalid'] as const) m.gitFetch(result, 120);
  const ev = m.transportEvents();
  ev.onConnect?.('10.213.0.11', true);
  ev.onConnect?.('10.213.0.12', false, 'auth');
  ev.onExec?.('10.213.0.11', 'ok', 35);
  ev.onExec?.('10.213.0.11', 'failed', 120);
  ev.onExec?.('10.213.0.12', 'error', 10_000);
  m.webhookRequest('github', 'push', 'accepted');
  m.webhookRequest('gitlab', 'Merge Request Hook', 'ignored');
  m.webhookRequest('gitea', 'pull_request', 'duplicate');
  m.webhookRequest('github', 'star', 'rejected');
  m.notificationDelivery('slack', 'success');
  m.notificationDelivery('github', 'failure');
  m.notificationDelivery('generic', 'dropped');
  m.setOutboxDepth(2);
}

describe('CorralMetrics', () => {
  test('corral_cluster_info: one series per cluster, state in labels, revision cut to 12 characters', async () => {
    const m = new CorralMetrics({ defaultMetrics: false });
    m.setClusters([clusterStatus({ name: 'pg-test', sync: 'OutOfSync', health: 'Degraded', revision: REV_A, driftChanges: 3 })]);
    const lines = samples(await m.metricsText());
    expect(lines).toContain('corral_cluster_info{cluster="pg-test",module="pgsql",sync_status="OutOfSync",health_status="Degraded",revision="3f1c2a9b8d7e"} 1');
    expect(lines).toContain('corral_drift_changes{cluster="pg-test"} 3');
    // A new sync status replaces the series instead of adding one.
    m.setClusters([clusterStatus({ name: 'pg-test', sync: 'Synced', revision: REV_B })]);
    const info = samples(await m.metricsText()).filter((l) => l.startsWith('corral_cluster_info'));
    expect(info).toEqual(['corral_cluster_info{cluster="pg-test",module="pgsql",sync_status="Synced",health_status="Healthy",revision="a0b1c2d3e4f5"} 1']);
  });

  test('a cluster gone from the inventory loses all its series', async () => {
    const m = new CorralMetrics({ defaultMetrics: false });
    m.setClusters([clusterStatus({ name: 'pg-old' }), clusterStatus({ name: 'pg-test' })]);
    m.recordSync('pg-old', 'Succeeded', 1000);
    expect(await m.metricsText()).toContain('cluster="pg-old"');
    m.setClusters([clusterStatus({ name: 'pg-test' })]);
    const text = await m.metricsText();
    expect(text).not.toContain('pg-old');
    expect(samples(text)).toContain('corral_sync_total{cluster="pg-test",phase="Failed"} 0');
  });

  test('counters start at zero for every known label value', async () => {
    const m = new CorralMetrics({ defaultMetrics: false });
    m.setClusters([clusterStatus({ name: 'etcd', module: 'etcd' })]);
    const lines = samples(await m.metricsText());
    for (const phase of ['Succeeded', 'Failed', 'NotConverged', 'Error']) expect(lines).toContain(`corral_sync_total{cluster="etcd",phase="${phase}"} 0`);
    for (const result of ['success', 'unreachable', 'auth', 'not-found', 'timeout', 'corrupt', 'invalid']) expect(lines).toContain(`corral_git_fetch_total{result="${result}"} 0`);
    expect(lines).toContain('corral_ssh_connections_total{result="failure"} 0');
    expect(lines).toContain('corral_ssh_commands_total{result="error"} 0');
    expect(lines).toContain('corral_outbox_depth 0');
  });

  test('transport events count connections and commands, never by host', async () => {
    const m = new CorralMetrics({ defaultMetrics: false });
    const ev = m.transportEvents();
    ev.onConnect?.('10.213.0.11', true);
    ev.onConnect?.('10.213.0.12', false, 'hostkey-changed');
    ev.onExec?.('10.213.0.11', 'ok', 250);
    ev.onExec?.('10.213.0.11', 'failed', 250);
    const text = await m.metricsText();
    const lines = samples(text);
    expect(lines).toContain('corral_ssh_connections_total{result="success"} 1');
    expect(lines).toContain('corral_ssh_connections_total{result="failure"} 1');
    expect(lines).toContain('corral_ssh_commands_total{result="ok"} 1');
    expect(lines).toContain('corral_ssh_commands_total{result="failed"} 1');
    expect(lines).toContain('corral_ssh_command_duration_seconds_sum 0.5');
    expect(lines).toContain('corral_ssh_command_duration_seconds_count 2');
    expect(text).not.toContain('10.213.0');
  });

  test('sync durations are observed in seconds, per cluster', async () => {
    const m = new CorralMetrics({ defaultMetrics: false });
    m.recordSync('pg-test', 'NotConverged', 125_000);
    const lines = samples(await m.metricsText());
    expect(lines).toContain('corral_sync_total{cluster="pg-test",phase="NotConverged"} 1');
    expect(lines).toContain('corral_sync_duration_seconds_sum{cluster="pg-test"} 125');
    expect(lines).toContain('corral_sync_duration_seconds_bucket{le="120",cluster="pg-test"} 0');
    expect(lines).toContain('corral_sync_duration_seconds_bucket{le="300",cluster="pg-test"} 1');
    expect(lines).toContain('corral_sync_duration_seconds_bucket{le="1800",cluster="pg-test"} 1');
  });

  test('the revision in force is one series; none before a revision validates', async () => {
    const m = new CorralMetrics({ defaultMetrics: false });
    expect(await m.metricsText()).not.toMatch(/^corral_last_good_revision_info\{/m);
    m.setLastGoodRevision(REV_A);
    m.setLastGoodRevision(REV_B);
    expect(samples(await m.metricsText()).filter((l) => l.startsWith('corral_last_good_revision_info'))).toEqual(['corral_last_good_revision_info{revision="a0b1c2d3e4f5"} 1']);
  });

  test('webhook and notification labels come from fixed lists', async () => {
    expect(webhookEvent('push')).toBe('push');
    expect(webhookEvent('Push Hook')).toBe('push');
    expect(webhookEvent('repo:refs_changed')).toBe('push');
    expect(webhookEvent('Tag Push Hook')).toBe('tag_push');
    expect(webhookEvent('Merge Request Hook')).toBe('pull_request');
    expect(webhookEvent('issue_comment')).toBe('comment');
    expect(webhookEvent('Note Hook')).toBe('comment');
    expect(webhookEvent('pull_request_review')).toBe('review');
    expect(webhookEvent('ping')).toBe('ping');
    expect(webhookEvent('star')).toBe('other');
    expect(webhookEvent('<script>"')).toBe('other');

    const m = new CorralMetrics({ defaultMetrics: false });
    m.webhookRequest('github', 'watch', 'accepted');
    // A caller that went around the types still lands in a fixed value.
    m.webhookRequest('mystery' as 'github', 'push', 'weird' as 'accepted');
    m.notificationDelivery('teams' as 'slack', 'success');
    m.setOutboxDepth(7);
    const lines = samples(await m.metricsText());
    expect(lines).toContain('corral_webhook_requests_total{provider="github",event="other",result="accepted"} 1');
    expect(lines).toContain('corral_webhook_requests_total{provider="other",event="push",result="error"} 1');
    expect(lines).toContain('corral_notification_deliveries_total{provider="other",result="success"} 1');
    expect(lines).toContain('corral_outbox_depth 7');
  });

  test('two instances keep separate registries', async () => {
    const a = new CorralMetrics();
    const b = new CorralMetrics();
    a.setOutboxDepth(5);
    expect(samples(await b.metricsText())).toContain('corral_outbox_depth 0');
    expect(await a.metricsText()).toMatch(/^process_cpu_seconds_total /m);
  });
});

describe('GET /metrics', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.app.close();
    h = undefined;
  });

  test('serves the exposition with the state of the daemon at scrape time', async () => {
    const api = new FakeApi();
    h = harness({ api });
    let res = await h.app.inject('/metrics');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(samples(res.body)).toContain('corral_cluster_info{cluster="redis-test",module="redis",sync_status="Failed",health_status="Unreachable",revision="3f1c2a9b8d7e"} 1');
    expect(samples(res.body)).toContain('corral_last_good_revision_info{revision="a0b1c2d3e4f5"} 1');
    expect(res.body).toMatch(/^process_resident_memory_bytes /m);
    expect(res.body).toMatch(/^nodejs_heap_size_used_bytes /m);

    api.clusters[0]!.sync = 'OutOfSync';
    res = await h.app.inject('/metrics');
    expect(samples(res.body)).toContain('corral_cluster_info{cluster="etcd",module="etcd",sync_status="OutOfSync",health_status="Healthy",revision="3f1c2a9b8d7e"} 1');
  });

  test('promtool check metrics finds no problem, lint included, with every metric exercised', async () => {
    const promtool = need('promtool', 'prometheus');
    h = harness();
    exerciseAll(h.metrics);
    const res = await h.app.inject('/metrics');
    expect(res.statusCode).toBe(200);
    for (const name of [
      'corral_cluster_info',
      'corral_sync_total',
      'corral_sync_duration_seconds',
      'corral_drift_changes',
      'corral_git_fetch_total',
      'corral_git_fetch_duration_seconds',
      'corral_last_good_revision_info',
      'corral_ssh_connections_total',
      'corral_ssh_commands_total',
      'corral_ssh_command_duration_seconds',
      'corral_webhook_requests_total',
      'corral_notification_deliveries_total',
      'corral_outbox_depth',
    ]) {
      expect(res.body, name).toMatch(new RegExp(`^${name}(_bucket|_sum|_count)?(\\{[^}]*\\})? \\d`, 'm'));
    }
    const check = await run(promtool, ['check', 'metrics'], { input: res.body, timeoutMs: 20_000 });
    expect({ code: check.code, out: check.stdout + check.stderr }).toEqual({ code: 0, out: '' });
  });

  test('promtool as run here does report a lint problem (the check above can fail)', async () => {
    const promtool = need('promtool', 'prometheus');
    const check = await run(promtool, ['check', 'metrics'], { input: '# HELP corral_x_total A gauge named like a counter.\n# TYPE corral_x_total gauge\ncorral_x_total 1\n', timeoutMs: 20_000 });
    expect(check.code).not.toBe(0);
    expect(check.stdout + check.stderr).toContain('non-counter metrics should not have "_total" suffix');
  });
});
