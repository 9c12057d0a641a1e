/**
 * The status page in a real headless Chromium (Debian's `chromium`), over a real socket on
 * 127.0.0.1: what a person opening the page gets, after the browser parsed it under its CSP.
 */
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { harness, TOKEN, type Harness } from './helpers.js';
import { need, run } from './tools.js';

/** Where the screenshot is left for a person to look at. */
export const SCREENSHOT = join(tmpdir(), 'corral-status-page.png');

let h: Harness;
let url: string;
let profiles: string;

beforeAll(async () => {
  // Event streams end after 300 ms (the page reconnects), so Chromium's virtual time is not held by an open one.
  h = harness({ token: TOKEN, eventStreamMs: 300 });
  await h.app.listen({ host: '127.0.0.1', port: 0 });
  url = `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}/`;
  profiles = await mkdtemp(join(tmpdir(), 'corral-chromium-'));
});

afterAll(async () => {
  await h.app.close();
  await rm(profiles, { recursive: true, force: true });
});

/** One headless Chromium run with a fresh profile, no network but the page, nothing left running. */
async function chromium(...args: string[]): Promise<string> {
  return chromiumAt('/', ...args);
}

async function chromiumAt(path: string, ...args: string[]): Promise<string> {
  const bin = need('chromium', 'chromium');
  const profile = await mkdtemp(join(profiles, 'p-'));
  const flags = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', `--user-data-dir=${profile}`];
  const r = await run(bin, [...flags, ...args, new URL(path, url).href], { timeoutMs: 120_000 });
  if (r.code !== 0) throw new Error(`chromium exited ${r.code}: ${r.stderr.slice(-2000)}`);
  return r.stdout;
}

describe('the status page in headless Chromium', () => {
  test('the DOM lists every cluster with its sync and health, and shows the last plan', async () => {
    const dom = await chromium('--dump-dom');
    expect(dom).toMatch(/<title>Corral: 3 clusters, 2 not synced<\/title>/);

    const rows = [...dom.matchAll(/<tr data-cluster="([^"]+)" data-sync="([^"]+)" data-health="([^"]+)">([^]*?)<\/tr>/g)];
    expect(rows.map((m) => [m[1], m[2], m[3]])).toEqual([
      ['etcd', 'Synced', 'Healthy'],
      ['pg-test', 'OutOfSync', 'Degraded'],
      ['redis-test', 'Failed', 'Unreachable'],
    ]);
    // The badges a person reads say the same as the attributes.
    for (const m of rows) {
      expect(m[4]).toContain(`>${m[2]}</span>`);
      expect(m[4]).toContain(`>${m[3]}</span>`);
    }

    const plan = /<details id="last-plan-pg-test" open="">([^]*?)<\/details>/.exec(dom)?.[1];
    expect(plan, 'the most recent plan is open').toBeDefined();
    expect(plan).toContain('Plan for revision a0b1c2d3e4f5');
    expect(plan).toContain('~ file:/etc/pgbouncer/pgbouncer.ini');
    expect(plan).toContain('+pool_mode = transaction');
    expect(plan).toContain('password: changed (redacted)');
    expect(dom).toMatch(/<details id="last-plan-etcd">/);
    expect(dom).toContain('No changes: the nodes match the inventory.');
  });

  test('a screenshot at 1280x900 renders (left at /tmp for a person to look at)', async () => {
    await rm(SCREENSHOT, { force: true });
    await chromium(`--screenshot=${SCREENSHOT}`, '--window-size=1280,900', '--hide-scrollbars');
    const png = await readFile(SCREENSHOT);
    expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
    expect(png.readUInt32BE(16)).toBe(1280);
    expect(png.readUInt32BE(20)).toBe(900);
    // A blank page compresses to a few KB; text, badges and the plan make it much larger.
    expect((await stat(SCREENSHOT)).size).toBeGreaterThan(30_000);
  });

  test('a cluster page at 480 px: members, plan and history fit, without "Suspended suspended" (screenshot left at /tmp)', async () => {
    const shot = join(tmpdir(), 'corral-cluster-page-480.png');
    await rm(shot, { force: true });
    await chromiumAt('/clusters/pg-test', `--screenshot=${shot}`, '--window-size=480,900', '--hide-scrollbars');
    const png = await readFile(shot);
    expect(png.readUInt32BE(16)).toBe(480);
    expect((await stat(shot)).size).toBeGreaterThan(15_000);
    console.log(`cluster page at 480 px: ${shot}`);
    const dom = await chromiumAt('/clusters/pg-test', '--window-size=480,900', '--dump-dom');
    expect(dom).toContain('<section id="cluster" data-cluster="pg-test" data-sync="OutOfSync" data-health="Degraded">');
    expect(dom).toMatch(/<li class="update" data-action="update">~ <strong>file:\/etc\/pgbouncer\/pgbouncer.ini<\/strong>/);
    expect(dom).toContain('<table id="history">');
    expect(dom).not.toMatch(/Suspended<\/span><span class="policy">suspended/);
  });

  test('live: the page follows the events and shows a change without a reload', async () => {
    // The first event comes as the page connects; the state changes just before, so only a page that follows the events shows it.
    const subscribe = h.api.onChange.bind(h.api);
    const before = h.api.clusters[1]!.sync;
    h.api.onChange = (listener) => {
      h.api.clusters[1]!.sync = 'Synced';
      h.api.clusters[1]!.message = 'synced live';
      return subscribe(listener);
    };
    try {
      const dom = await chromiumAt('/clusters/pg-test', '--virtual-time-budget=3000', '--dump-dom');
      expect(dom).toContain('data-cluster="pg-test" data-sync="Synced"');
      expect(dom).toContain('synced live');
    } finally {
      h.api.onChange = subscribe;
      h.api.clusters[1]!.sync = before;
      delete h.api.clusters[1]!.message;
    }
  });
});
