/**
 * The fault suite: real `corral serve` processes (bin/corral.js) on a real git smart-HTTP server
 * (`git http-backend`), faults injected at several points, and after each run the daemon checked
 * from outside: it still serves, the expected revision is in force, every JSON file of its state dir
 * parses, nothing was forgotten. The hosts are this machine at a port nothing listens on, so every
 * sync ends Unreachable at once: these faults are about the revision in force and the state dir.
 * One table, a row per fault, is printed at the end (test/faults/table.ts). Needs root (tmpfs mounts).
 */
import { mkdtempSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DaemonStatus } from '../../src/daemon/types.js';
import { startGitServer, type GitServer, type TestRepo } from '../helpers/git-server.js';
import { until } from '../helpers/until.js';
import { brokenStateFiles, Exited, inForce, inventory, losses, serve, SETTINGS, snapshot, stopAll, type Served } from './daemon.js';
import { faultTable } from './table.js';
import { fillDisk, tmpfsMounts } from '../helpers/disk.js';

const table = faultTable('daemon');

/** The daemon's fetch timeout in these runs (CORRAL_GIT_TIMEOUT), seconds. */
const GIT_TIMEOUT_S = 2;
/** A run that fails waits out its timeouts and is still recorded in the table. */
const RUN_TIMEOUT_MS = 60_000;
/** /healthz and /api/status must answer within this while a fault is on. */
const ANSWER_BOUND_MS = 1000;

let server: GitServer;
let changes = 0;

beforeAll(async () => {
  server = await startGitServer();
});

afterAll(async () => {
  await stopAll();
  await server?.close();
});

async function newFleet(name: string): Promise<{ repo: TestRepo; first: string }> {
  const repo = await server.createRepo(name);
  const first = await repo.commit({ 'pigsty.yml': inventory(changes++), 'corral.yml': SETTINGS }, 'the fleet');
  await repo.push();
  return { repo, first };
}

/** A new commit on the branch, pushed; its sha. */
async function change(repo: TestRepo, push = true): Promise<string> {
  const sha = await repo.commit({ 'pigsty.yml': inventory(changes++) }, `change ${changes}`);
  if (push) await repo.push();
  return sha;
}

function daemonOn(repo: TestRepo, stateDir = mkdtempSync(join(tmpdir(), 'corral-faults-state-'))): Promise<Served> {
  return serve(['--repo', repo.url, '--log-level', 'info'], stateDir, { CORRAL_GIT_TIMEOUT: String(GIT_TIMEOUT_S) });
}

/** The status once `check` holds for it. */
const statusWhen = (d: Served, what: string, check: (s: DaemonStatus) => boolean, timeoutMs = 15_000): Promise<DaemonStatus> =>
  until(what, async () => {
    const s = await d.status().catch(() => undefined);
    return s && check(s) ? s : undefined;
  }, timeoutMs, 100);

/** Waits for `n` more fetches (each changes git.lastFetchAt); returns the status after the last. */
async function polls(d: Served, n: number): Promise<DaemonStatus> {
  let last = (await d.status()).git.lastFetchAt;
  let s: DaemonStatus | undefined;
  for (let i = 0; i < n; i++) {
    s = await statusWhen(d, `fetch ${i + 1} of ${n}`, (x) => x.git.lastFetchAt !== last, 5000 + GIT_TIMEOUT_S * 1000);
    last = s.git.lastFetchAt;
  }
  return s!;
}

/** Asks /healthz and /api/status every 100 ms until `stop()`; resolves to the slowest answer, ms (Infinity: one failed). */
function probe(d: Served): { stop: () => Promise<number> } {
  let on = true;
  const running = (async () => {
    let slowest = 0;
    while (on) {
      for (const path of ['/healthz', '/api/status']) {
        const started = performance.now();
        const ok = await fetch(`${d.base}${path}`, { signal: AbortSignal.timeout(10_000) }).then((r) => r.ok, () => false);
        slowest = Math.max(slowest, ok ? performance.now() - started : Infinity);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    return slowest;
  })();
  return {
    stop: async () => {
      on = false;
      return running;
    },
  };
}

interface Run {
  /** The revision the daemon must end with in force (set as soon as it is known). */
  expected?: string;
  /** Resolves once the daemon has converged to it. */
  converge?: () => Promise<unknown>;
}

/**
 * One run of a fault, recorded in the table whatever happens: `body` injects the fault, checks the
 * daemon while it lasts and ends it; then the run converged if `converge` resolves, and lost what
 * `losses` finds. A check of `body` that fails fails the test after the run is recorded.
 */
async function faultRun(fault: string, injection: string, daemon: () => Served, body: (run: Run) => Promise<void>): Promise<void> {
  const before = snapshot(daemon().stateDir);
  const run: Run = {};
  const failure = await body(run).then(() => undefined, (e: unknown) => (e instanceof Error ? e : new Error(String(e))));
  const converged = run.converge ? await run.converge().then(() => true, () => false) : false;
  const lost = run.expected ? await losses(daemon(), before, run.expected) : ['the run ended before its fault was injected'];
  table.record({ fault, injection, converged, lost });
  if (failure) throw failure;
  expect(lost, `${fault} (${injection}): lost`).toEqual([]);
  expect(converged, `${fault} (${injection}): converged to ${run.expected}`).toBe(true);
}

/** Sets the run to end with `sha` in force and synced. */
const toward = (run: Run, d: () => Served, sha: string): string => {
  run.expected = sha;
  run.converge = () => inForce(d(), sha);
  return sha;
};

describe('git server down', { timeout: RUN_TIMEOUT_MS }, () => {
  const FAULT = 'git server down';
  let repo: TestRepo;
  let d: Served;

  beforeAll(async () => {
    const fleet = await newFleet('down');
    repo = fleet.repo;
    d = await daemonOn(repo);
    await inForce(d, fleet.first);
  });

  const downFor3Polls = async (good: string): Promise<void> => {
    const s = await polls(d, 3);
    expect(s.git.lastFetchOk).toBe(false);
    expect(s.git.lastError).toMatch(/cannot reach the server \(ECONNREFUSED\)|ECONNRESET|socket hang up/);
    expect(s.git.lastGoodRevision).toBe(good);
    expect(s.clusters.map((c) => c.revision)).toEqual([good]);
    expect((await fetch(`${d.base}/healthz`)).status).toBe(200);
  };

  it('between polls: stopped for 3 polls, the last good revision stays in force; the commit pushed meanwhile is taken once it is back', async () => {
    const good = (await d.status()).git.lastGoodRevision!;
    await faultRun(FAULT, 'between polls', () => d, async (run) => {
      await server.stop();
      try {
        await statusWhen(d, 'the fetch failure reported', (s) => !s.git.lastFetchOk);
        toward(run, () => d, await change(repo));
        await downFor3Polls(good);
        expect(d.logs().filter((l) => l.msg === 'fetch failed; the last good revision stays in force')).toHaveLength(1);
      } finally {
        await server.start();
      }
    });
    expect((await d.status()).git.lastFetchOk).toBe(true);
    expect(d.logs().some((l) => l.msg === 'fetch succeeded again; the newest revision is read')).toBe(true);
  });

  it('during a fetch: the server goes down with the request open', async () => {
    const good = (await d.status()).git.lastGoodRevision!;
    await faultRun(FAULT, 'during a fetch', () => d, async (run) => {
      server.hang(true);
      try {
        await until('a fetch in flight', () => (server.connections() > 0 ? true : undefined), 5000, 20);
        await server.stop();
        server.hang(false);
        toward(run, () => d, await change(repo));
        await downFor3Polls(good);
      } finally {
        server.hang(false);
        await server.start();
      }
    });
  });

  it('at a restart: the daemon starts while the server is down, with the last good revision in force', async () => {
    const good = (await d.status()).git.lastGoodRevision!;
    await faultRun(FAULT, 'at a restart', () => d, async (run) => {
      await d.stop();
      await server.stop();
      try {
        toward(run, () => d, await change(repo));
        d = await daemonOn(repo, d.stateDir);
        const s = await statusWhen(d, 'the fetch failure reported', (x) => !x.git.lastFetchOk && x.git.lastError !== undefined);
        expect(s.git.lastGoodRevision).toBe(good);
        // Kept in force across the restart: its clusters are known and synced to it, read from the clone.
        await inForce(d, good, 10_000);
        const ready = await fetch(`${d.base}/readyz`);
        expect(ready.status).toBe(503);
        expect(((await ready.json()) as { reason: string }).reason).toMatch(/^no revision fetched yet: .*ECONNREFUSED/);
      } finally {
        await server.start();
      }
    });
    expect((await fetch(`${d.base}/readyz`)).status).toBe(200);
  });
});

describe('git server slow', { timeout: RUN_TIMEOUT_MS }, () => {
  const FAULT = 'git server slow (hangs)';
  let repo: TestRepo;
  let d: Served;

  beforeAll(async () => {
    const fleet = await newFleet('slow');
    repo = fleet.repo;
    d = await daemonOn(repo);
    await inForce(d, fleet.first);
  });

  /** While the fault is on: fetches time out one after another, the API answers at once, no connection is left open. */
  const hungFor2Polls = async (good: string): Promise<void> => {
    const probes = probe(d);
    const s = await polls(d, 2);
    const slowest = await probes.stop();
    expect(s.git.lastFetchOk).toBe(false);
    expect(s.git.lastError).toBe(`${repo.url}: no answer within ${GIT_TIMEOUT_S * 1000} ms`);
    expect(s.git.lastGoodRevision).toBe(good);
    expect(slowest).toBeLessThan(ANSWER_BOUND_MS);
    // The fetch that timed out closed its connection: at most the one of the fetch in flight now.
    expect(server.connections()).toBeLessThanOrEqual(1);
  };

  it('the first request hangs (accepted, never answered): each fetch times out, the next poll works once it answers', async () => {
    const good = (await d.status()).git.lastGoodRevision!;
    await faultRun(FAULT, 'refs request hangs', () => d, async (run) => {
      server.hang(true);
      try {
        toward(run, () => d, await change(repo));
        await hungFor2Polls(good);
      } finally {
        server.hang(false);
      }
    });
  });

  it('the pack stalls after its headers: the fetch times out, the new commit comes once it answers', async () => {
    const good = (await d.status()).git.lastGoodRevision!;
    await faultRun(FAULT, 'pack stalls mid-answer', () => d, async (run) => {
      server.stall(true);
      try {
        toward(run, () => d, await change(repo));
        await hungFor2Polls(good);
      } finally {
        server.stall(false);
      }
    });
  });
});

describe('force-pushed history', { timeout: RUN_TIMEOUT_MS }, () => {
  const FAULT = 'git history force-pushed';
  let repo: TestRepo;
  let d: Served;
  const shas: string[] = [];

  beforeAll(async () => {
    const fleet = await newFleet('forced');
    repo = fleet.repo;
    shas.push(fleet.first);
    d = await daemonOn(repo);
    await inForce(d, fleet.first);
    for (let i = 0; i < 2; i++) {
      shas.push(await change(repo));
      await inForce(d, shas.at(-1)!);
    }
  });

  it('reset to an older commit plus a new one: the new head is adopted', async () => {
    await faultRun(FAULT, 'older commit + new one', () => d, async (run) => {
      await repo.reset(shas[0]!);
      toward(run, () => d, await change(repo, false));
      await repo.forcePush();
    });
  });

  it('back to a commit the daemon fetched before (no new objects): adopted', async () => {
    await faultRun(FAULT, 'back to a known commit', () => d, async (run) => {
      await repo.reset(toward(run, () => d, shas[1]!));
      await repo.forcePush();
    });
  });

  it('while the daemon is stopped: the restarted daemon adopts the rewritten head', async () => {
    await faultRun(FAULT, 'while the daemon is stopped', () => d, async (run) => {
      await d.stop();
      await repo.reset(shas[0]!);
      toward(run, () => d, await change(repo, false));
      await repo.forcePush();
      d = await daemonOn(repo, d.stateDir);
    });
  });
});

describe('state dir on a full disk', { timeout: RUN_TIMEOUT_MS }, () => {
  const FAULT = 'state dir disk full';
  const mounts = tmpfsMounts();
  let state: string;
  let repo: TestRepo;
  let d: Served;

  const enospcWarned = (file: RegExp): boolean =>
    d.logs().some((l) => l.level === 40 && typeof l['file'] === 'string' && file.test(l['file']) && /the disk of .* is full \(ENOSPC\)/.test(l.msg));

  beforeAll(async () => {
    // The state dir a small tmpfs; its git clone and its plan records each on one of their own, so
    // each can be filled alone.
    state = mkdtempSync(join(tmpdir(), 'corral-faults-disk-'));
    mounts.mount(state, '2m');
    mounts.mount(join(state, 'git'), '8m');
    mounts.mount(join(state, 'plans'), '1m');
    const fleet = await newFleet('disk');
    repo = fleet.repo;
    d = await daemonOn(repo, state);
    await inForce(d, fleet.first);
  });

  afterAll(async () => {
    await d?.stop();
    mounts.unmountAll();
    if (state) rmdirSync(state);
  });

  it('before the fetch (the clone cannot grow): the fetch fails with ENOSPC, the daemon goes on; after freeing, the commit is taken', async () => {
    const good = (await d.status()).git.lastGoodRevision!;
    await faultRun(FAULT, 'before the fetch', () => d, async (run) => {
      const fillers = [fillDisk(state), fillDisk(join(state, 'git')), fillDisk(join(state, 'plans'))];
      try {
        toward(run, () => d, await change(repo));
        const s = await statusWhen(d, 'the fetch to fail', (x) => !x.git.lastFetchOk);
        expect(s.git.lastError).toContain('ENOSPC');
        await polls(d, 2);
        expect((await d.status()).git.lastGoodRevision).toBe(good);
        expect(brokenStateFiles(state)).toEqual([]);
      } finally {
        for (const f of fillers) rmSync(f);
      }
    });
  });

  it('before state.json (the clone has room): the revision is in force in memory, state.json is written once there is room', async () => {
    const before = snapshot(state);
    await faultRun(FAULT, 'before state.json', () => d, async (run) => {
      const filler = fillDisk(state);
      try {
        const next = await change(repo);
        run.expected = next;
        // No new commit after the disk is freed: the next poll writes what the full disk kept out.
        run.converge = () => until('state.json written', () => (snapshot(state).lastGoodRevision === next ? true : undefined), 10_000, 100);
        await inForce(d, next);
        expect(enospcWarned(/^state\.json$/)).toBe(true);
        // On disk meanwhile: the revision before, whole.
        expect(snapshot(state).lastGoodRevision).toBe(before.lastGoodRevision);
        expect(brokenStateFiles(state)).toEqual([]);
        await polls(d, 2);
      } finally {
        rmSync(filler);
      }
    });
    expect(d.logs().some((l) => l.msg === 'the state dir is written again')).toBe(true);
  });

  it('before the plan record: the plan is served from memory; the next plan is written once there is room', async () => {
    await faultRun(FAULT, 'before the plan record', () => d, async (run) => {
      const filler = fillDisk(join(state, 'plans'));
      try {
        const next = toward(run, () => d, await change(repo));
        const s = await inForce(d, next);
        expect(enospcWarned(/^plans\//)).toBe(true);
        const id = s.clusters[0]!.lastPlanId!;
        const served = await fetch(`${d.base}/api/plans/${id}`);
        expect(served.status).toBe(200);
        expect(((await served.json()) as { revision: string }).revision).toBe(next);
        expect(brokenStateFiles(state)).toEqual([]);
      } finally {
        rmSync(filler);
      }
      // Once there is room, the next commit's plan is written.
      const after = toward(run, () => d, await change(repo));
      run.converge = async () => {
        const s = await inForce(d, after);
        JSON.parse(readFileSync(join(state, 'plans', `${s.clusters[0]!.lastPlanId}.json`), 'utf8'));
      };
    });
  });
});

describe('two daemons on one state dir', { timeout: RUN_TIMEOUT_MS }, () => {
  const FAULT = 'two daemons, one state dir';

  /** `corral serve --watch` on a folder: the lock is taken before anything is read. */
  const watch = (state: string, folder: string): Promise<Served> => serve(['--watch', folder], state);
  const exited = (p: Promise<Served>): Promise<Exited> =>
    p.then(
      async (d) => {
        await d.stop();
        throw new Error('the second corral serve served');
      },
      (e: unknown) => {
        if (e instanceof Exited) return e;
        throw e;
      },
    );

  it("the second refuses with the first one's pid and exits 2; after a kill -9 of the first, a new one serves", async () => {
    const folder = mkdtempSync(join(tmpdir(), 'corral-lock-inv-'));
    writeFileSync(join(folder, 'pigsty.yml'), inventory(0));
    writeFileSync(join(folder, 'corral.yml'), SETTINGS);
    const state = join(mkdtempSync(join(tmpdir(), 'corral-lock-state-')), 'state');
    const first = await watch(state, folder);
    await until('the first to judge its folder', async () => ((await first.status()).git.lastGoodRevision ? true : undefined), 15_000, 100);
    const good = (await first.status()).git.lastGoodRevision!;
    const before = snapshot(state);

    const second = await exited(watch(state, folder));
    const message = `corral serve: the state dir ${state} is in use by another corral serve (pid ${first.child.pid}); stop that one, or give this one its own --state-dir\n`;
    const lost = await losses(first, before, good);
    table.record({ fault: FAULT, injection: 'second while the first serves', converged: second.code === 2 && second.out === message && first.alive(), lost });
    expect(second.code).toBe(2);
    expect(second.out).toBe(message);
    expect(lost).toEqual([]);

    let third: Served | undefined;
    await faultRun(FAULT, 'after a kill -9 of the first', () => third ?? first, async (run) => {
      await first.kill();
      run.expected = good;
      third = await watch(state, folder);
      run.converge = () => inForce(third!, good);
    });
  });
});
