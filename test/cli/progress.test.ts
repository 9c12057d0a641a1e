/** apply's output: plain lines off a terminal; on one, the same lines with a footer redrawn in place. */
import { describe, expect, it } from 'vitest';
import type { Change, Plan } from '../../src/engine/model.js';
import type { ChangeResult } from '../../src/engine/apply.js';
import { applyDisplay, footerLines } from '../../src/cli/progress.js';
import type { Output } from '../../src/cli/output.js';

const change = (host: string, resource: string): Change => ({ id: `${host}|${resource}`, host, resource, kind: 'file', module: 'node', cluster: 'c', action: 'update', fields: [], reason: '', restarts: false, destructive: false, after: [] });
const result = (c: Change, status: ChangeResult['status'], durationMs = 1500): ChangeResult => ({ id: c.id, host: c.host, resource: c.resource, status, durationMs });

function capture(): { out: Output; text: () => string } {
  let text = '';
  return { out: { print: (s) => (text += s), error: (s) => (text += s), color: false }, text: () => text };
}

const a1 = change('10.0.0.11', 'packages:pgsql');
const a2 = change('10.0.0.11', 'service:patroni');
const b1 = change('10.0.0.12', 'packages:pgsql');
const plan: Plan = { revision: 'r', fingerprint: 'f', changes: [a1, a2, b1], notes: [], unreachable: [], hosts: ['10.0.0.11', '10.0.0.12'] };

describe('apply progress', () => {
  it('off a terminal: one plain line per finished change, nothing else', () => {
    const { out, text } = capture();
    const p = applyDisplay(out, plan, { live: false });
    p.event({ type: 'start', change: a1 });
    p.event({ type: 'done', change: a1, result: result(a1, 'applied') });
    p.event({ type: 'done', change: b1, result: { ...result(b1, 'failed', 100), error: 'exit 1: no' } });
    p.stop();
    expect(text()).toBe('[10.0.0.11] ✓ packages:pgsql applied (1.5s)\n[10.0.0.12] ✗ packages:pgsql failed (0.1s): exit 1: no\n');
  });

  it('on a terminal: the footer is erased and redrawn under each new line, and cleared at the end', () => {
    const { out, text } = capture();
    let t = 0;
    const p = applyDisplay(out, plan, { live: true, now: () => t });
    p.event({ type: 'start', change: a1 });
    const first = text();
    expect(first).not.toContain('\x1b[');
    expect(first).toContain('10.0.0.11 [                    ] 0/2  packages:pgsql 0.0s\n');
    t = 3200;
    p.event({ type: 'done', change: a1, result: result(a1, 'applied', 3200) });
    const second = text().slice(first.length);
    // Up over the footer's lines (two hosts and the total), cleared, the finished line, the new footer.
    expect(second.startsWith('\x1b[3A\x1b[J[10.0.0.11] ✓ packages:pgsql applied (3.2s)\n')).toBe(true);
    expect(second).toContain('10.0.0.11 [==========          ] 1/2  waiting\n');
    expect(second).toContain('1/3 changes\n');
    p.stop();
    expect(text().endsWith('\x1b[3A\x1b[J')).toBe(true);
  });

  it('lists running hosts first, leaves finished ones out, counts failures, and caps the hosts shown', () => {
    const hosts = Array.from({ length: 12 }, (_, i) => ({
      host: `h${String(i).padStart(2, '0')}`,
      planned: 4,
      applied: i === 0 ? 4 : i === 5 ? 0 : 1,
      failed: i === 5 ? 1 : 0,
      skipped: 0,
      ...(i === 7 ? { current: 'pg-pitr:restore:x' } : {}),
    }));
    const lines = footerLines(hosts, new Map([['h07', 0]]), 61_000);
    expect(lines[0]).toBe('h07 [=====               ] 1/4  pg-pitr:restore:x 61.0s');
    expect(lines.some((l) => l.startsWith('h00 '))).toBe(false);
    expect(lines.find((l) => l.startsWith('h05 '))).toContain('1/4 1 failed');
    expect(lines.slice(-2)).toEqual(['... and 3 more hosts', '15/48 changes']);
    expect(footerLines([{ host: 'h', planned: 1, applied: 1, failed: 0, skipped: 0 }], new Map(), 0)).toEqual([]);
  });
});
