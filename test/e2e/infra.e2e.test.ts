/**
 * INFRA with Pigsty's single-node default (test/fixtures/lab-single, the shape of examples/single) on
 * one bare lab node: one apply gives NODE, etcd, pg-meta and the monitoring stack, and the next plan is
 * empty; VictoriaMetrics scrapes every target INFRA wrote and each is up; pg_up is 1 for pg-meta;
 * Alertmanager answers with Corral's config; vmalert has loaded Corral's rule groups and evaluates them.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { shippedRules } from '../../reconcilers/infra/index.js';
import { corral, nodeIp, useBareLab } from '../helpers/lab.js';
import { until } from '../helpers/until.js';

const FIXTURE = join(import.meta.dirname, '../fixtures/lab-single');
const IP = nodeIp(1);

/** The targets INFRA writes in /infra/targets for this inventory (reconcilers/infra/targets.ts), as `job instance`. */
const TARGETS = [
  `node ${IP}:9100`, // node_exporter (NODE)
  `node ${IP}:9101`, // HAProxy's admin page, its Prometheus endpoint (PGSQL)
  `ping ${IP}`, // the blackbox exporter's ICMP probe: the instance is the address pinged
  `infra ${IP}:9113`, // nginx's exporter
  `infra ${IP}:8428`, // VictoriaMetrics
  `infra ${IP}:8880`, // vmalert
  `infra ${IP}:9059`, // Alertmanager
  `infra ${IP}:9115`, // the blackbox exporter
  `etcd ${IP}:2379`, // https, with the infra node's client certificate of Corral's CA
  `pgsql ${IP}:9630`, // prometheus-postgres-exporter (PGSQL)
  `pgsql ${IP}:9631`, // prometheus-pgbouncer-exporter (PGSQL)
  `pgsql ${IP}:8008`, // Patroni's REST API
].sort();

interface Target {
  labels: Record<string, string>;
  health: string;
  lastError: string;
}
type Vector = { data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
type Rules = { data: { groups: { name: string; rules: { name: string; health: string; lastError: string; lastEvaluation: string }[] }[] } };

/** A JSON document from a port of n1 (the host reaches the lab's addresses over its bridge). */
async function get<T>(port: number, path: string): Promise<T> {
  const res = await fetch(`http://${IP}:${port}${path}`, { signal: AbortSignal.timeout(5000) });
  if (!res.ok) throw new Error(`GET :${port}${path}: HTTP ${res.status}`);
  return (await res.json()) as T;
}

/** Each target as `job instance health`, with the scrape error of one that is not up. */
const state = (ts: readonly Target[]): string[] => ts.map((t) => `${t.labels.job} ${t.labels.instance} ${t.health}${t.lastError ? ` (${t.lastError})` : ''}`).sort();

describe("INFRA: Pigsty's single node on one lab node", () => {
  useBareLab(1);

  it('one apply converges; every target INFRA wrote is up; pg_up is 1; Alertmanager and vmalert answer', async () => {
    const applied = await corral('apply', FIXTURE, '--yes');
    const ended = Date.now();
    if (!applied.out.includes('the nodes converged')) console.log(applied.out);
    expect(applied.out).toContain('the nodes converged');
    expect(applied.code).toBe(0);

    // VictoriaMetrics re-reads the target files every 5 s (vmetrics_options) and scrapes every 10 s.
    let targets: Target[] = [];
    const want = TARGETS.map((t) => `${t} up`);
    await until(
      'every target to be up',
      async () => {
        targets = await get<{ data: { activeTargets: Target[] } }>(8428, '/api/v1/targets').then((r) => r.data.activeTargets, () => targets);
        return state(targets).join('\n') === want.join('\n') ? true : undefined;
      },
      60_000,
      1000,
    ).catch(() => undefined);
    expect(state(targets)).toEqual(want);
    console.log(`apply's end to all ${TARGETS.length} targets up: ${((Date.now() - ended) / 1000).toFixed(1)} s`);
    expect(targets.filter((t) => t.labels.job === 'pgsql').map((t) => `${t.labels.cls} ${t.labels.ins}`)).toEqual(Array(3).fill('pg-meta pg-meta-1'));

    const again = await corral('plan', FIXTURE, '--detailed-exitcode');
    if (again.code !== 0) console.log(again.out);
    expect(again.code).toBe(0);

    // A sample shows in queries ~30 s after its scrape (VictoriaMetrics' -search.latencyOffset).
    const query = `/api/v1/query?query=${encodeURIComponent('pg_up{cls="pg-meta"}')}`;
    const pgUp = await until('pg_up of pg-meta', () => get<Vector>(8428, query).then((r) => r.data.result[0], () => undefined), 90_000, 2000);
    expect(pgUp.metric.ins).toBe('pg-meta-1');
    expect(pgUp.value[1]).toBe('1');

    // Alertmanager on alertmanager_port with Corral's config (Pigsty's default: its NodeDown inhibit rule).
    const am = await get<{ config: { original: string } }>(9059, '/api/v2/status');
    expect(am.config.original).toContain('NodeDown');

    // vmalert: agent.yml and Corral's rule files loaded, and every rule evaluated once without an error.
    const groups = ['agent-rules', ...shippedRules().flatMap(([, text]) => (parse(text) as { groups: { name: string }[] }).groups.map((g) => g.name))].sort();
    let loaded: Rules['data']['groups'] = [];
    const failing = (): string[] => loaded.flatMap((g) => g.rules.filter((r) => r.health !== 'ok' || r.lastEvaluation.startsWith('0001')).map((r) => `${g.name}/${r.name}: ${r.lastError || 'not evaluated'}`));
    await until(
      'vmalert to evaluate every rule',
      async () => {
        loaded = await get<Rules>(8880, '/api/v1/rules').then((r) => r.data.groups, () => loaded);
        return loaded.length > 0 && !failing().length ? true : undefined;
      },
      60_000,
      2000,
    ).catch(() => undefined);
    expect(loaded.map((g) => g.name).sort()).toEqual(groups);
    expect(failing()).toEqual([]);
  }, 20 * 60_000);
});
