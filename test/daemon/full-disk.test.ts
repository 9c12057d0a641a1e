/**
 * The daemon with its state dir on a full disk (a real tmpfs, so this needs root): writes of
 * state.json, history and plan records fail with ENOSPC, and the daemon goes on. What it could not
 * write is kept in memory (the API shows its history; test/faults serves a plan record from it), the
 * warning says the disk is full, the files on disk stay as they were, whole; once there is room, the
 * next poll writes it all.
 */
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { Daemon, type Revision, type RevisionSource } from '../../src/daemon/daemon.js';
import { CorralMetrics } from '../../src/daemon/metrics.js';
import type { HistoryEntry } from '../../src/daemon/types.js';
import type { Transport } from '../../src/transport/types.js';
import { testAuthority } from '../helpers/pki.js';
import { tmpRepo } from '../helpers/tmp.js';
import { fillDisk, useSmallDisk } from '../helpers/disk.js';

const INVENTORY = 'all:\n  children:\n    nodes: { hosts: { 127.0.0.1: {} }, vars: { node_cluster: nodes } }\n';

const disk = useSmallDisk('512k');

describe('the daemon on a full disk', () => {
  it('keeps running and serving what it could not write, and writes it once there is room', async () => {
    const state = join(disk(), 'state');
    const revision = (n: number): Revision => ({ revision: String(n).repeat(40), author: 't', subject: `change ${n}`, dir: tmpRepo({ 'pigsty.yml': `# ${n}\n${INVENTORY}` }) });
    let latest = revision(1);
    const source: RevisionSource = { describe: 'test', latest: () => Promise.resolve(latest), at: () => Promise.resolve(latest) };
    // A transport that fails as none should (a bug): every sync ends Error, and so writes history.
    const transport: Transport = { exec: () => Promise.reject(new Error('the transport broke')), stats: () => ({ connects: {}, execs: {} }), close: () => Promise.resolve() };
    const lines: { level: number; msg: string; file?: string }[] = [];
    const logger = pino({ level: 'info' }, new Writable({ write: (chunk: Buffer, _enc, done) => (lines.push(JSON.parse(chunk.toString()) as (typeof lines)[number]), done()) }));
    const d = new Daemon({ source, stateDir: state, transport, metrics: new CorralMetrics(), logger, ssh: {}, pki: await testAuthority(), version: 'test' });
    const onDisk = <T>(name: string): T => JSON.parse(readFileSync(join(state, name), 'utf8')) as T;
    try {
      await d.fetchAndSync('startup');
      expect(onDisk<{ lastGoodRevision: string }>('state.json').lastGoodRevision).toBe(latest.revision);
      expect(onDisk<HistoryEntry[]>('history/nodes.json').map((e) => e.result)).toEqual(['Error']);

      const filler = fillDisk(disk());
      latest = revision(2);
      await d.fetchAndSync('poll');
      const s = d.status();
      expect(s.git.lastGoodRevision).toBe(latest.revision);
      expect(d.history('nodes').map((e) => e.revision)).toEqual([revision(2).revision, revision(1).revision]);
      expect(lines.filter((l) => l.level === 40 && /the disk of .* is full \(ENOSPC\)/.test(l.msg)).map((l) => l.file)).toContain('state.json');
      // On disk: as it was, whole, and no temp file.
      expect(onDisk<{ lastGoodRevision: string }>('state.json').lastGoodRevision).toBe(revision(1).revision);
      expect(onDisk<HistoryEntry[]>('history/nodes.json')).toHaveLength(1);
      for (const sub of ['', 'history', 'plans']) expect(readdirSync(join(state, sub)).filter((f) => f.includes('.tmp-'))).toEqual([]);

      rmSync(filler);
      await d.fetchAndSync('poll');
      expect(onDisk<{ lastGoodRevision: string }>('state.json').lastGoodRevision).toBe(revision(2).revision);
      expect(onDisk<HistoryEntry[]>('history/nodes.json').map((e) => e.revision)).toEqual([revision(2).revision, revision(1).revision]);
      expect(lines.some((l) => l.msg === 'the state dir is written again')).toBe(true);
    } finally {
      await d.stop();
    }
  });
});
