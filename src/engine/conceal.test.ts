import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { concealDecrypted, concealResult } from './conceal.js';
import { renderJson, renderMarkdown, renderText } from './render.js';
import { writePlanRecord } from '../daemon/plans.js';
import { StateStore } from '../daemon/store.js';
import type { Plan } from './model.js';

const SECRET = 'Decrypted-Canary-58f1';
const KEY = `-----BEGIN KEY-----\n${SECRET}\n-----END KEY-----\n`;

const plan = (): Plan => ({
  revision: 'abc123',
  fingerprint: 'f00d',
  hosts: ['10.0.0.1'],
  unreachable: [],
  notes: [{ host: '10.0.0.1', resource: 'file:/etc/app.conf', message: `cannot take ${SECRET}` }],
  changes: [
    {
      id: '10.0.0.1|file:/etc/app.conf',
      host: '10.0.0.1',
      resource: 'file:/etc/app.conf',
      kind: 'file',
      module: 'node',
      cluster: 'n',
      action: 'update',
      fields: [
        { field: 'content', from: 'user = app\n', to: `user = app\npassword = ${SECRET}\n`, text: { before: 'user = app\n', after: `user = app\npassword = ${SECRET}\n` } },
        { field: 'mode', from: '0644', to: '0600' },
      ],
      reason: 'differs: content, mode',
      restarts: false,
      destructive: false,
      after: [],
    },
    {
      id: '10.0.0.1|block:/etc/keys',
      host: '10.0.0.1',
      resource: 'block:/etc/keys',
      kind: 'block',
      module: 'node',
      cluster: 'n',
      action: 'create',
      // A value inside a structure: JSON writes its newlines as \n.
      fields: [{ field: 'lines', from: null, to: [{ key: KEY }] }],
      reason: 'absent on the node',
      restarts: false,
      destructive: false,
      after: [],
    },
  ],
});

describe('decrypted values in a plan', () => {
  const concealed = concealDecrypted(plan(), [KEY, SECRET]);

  it('mark every field that shows one secret, and leave the others as they are', () => {
    expect(concealed.changes.map((c) => c.fields.map((f) => `${f.field}:${f.secret === true}`))).toEqual([['content:true', 'mode:false'], ['lines:true']]);
    expect(concealed.notes[0]!.message).toBe('cannot take (redacted)');
  });

  it('show in no rendering: text, Markdown, JSON and the saved plan record', () => {
    const record = writePlanRecord(new StateStore(mkdtempSync(join(tmpdir(), 'corral-plans-'))), 'n', concealed, 3);
    for (const out of [renderText(concealed), renderMarkdown(concealed), renderJson(concealed), JSON.stringify(record)]) {
      expect(out).not.toContain(SECRET);
      expect(out).toContain('(redacted)');
      expect(out).toContain('0600');
    }
    expect(renderText(plan())).toContain(SECRET);
  });

  it('are cut out of a change result error (a command may echo what it was given)', () => {
    const result = { id: 'x', host: '10.0.0.1', resource: 'file:/etc/app.conf', status: 'failed' as const, durationMs: 1, error: `exit 1: bad password ${SECRET}` };
    expect(concealResult(result, [SECRET]).error).toBe('exit 1: bad password (redacted)');
  });

  it('leave a plan alone when nothing was decrypted', () => {
    const p = plan();
    expect(concealDecrypted(p, [])).toBe(p);
  });
});
