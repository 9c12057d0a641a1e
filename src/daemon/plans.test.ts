import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writePlanRecord } from './plans.js';
import { StateStore } from './store.js';
import { URL_CANARY, URL_HOST, planWithUrlCredentials } from '../../test/helpers/url-credentials.js';

describe('writePlanRecord', () => {
  it('saves no URL password in the record, in any of its renderings, and keeps the hosts', () => {
    const store = new StateStore(mkdtempSync(join(tmpdir(), 'corral-plans-')));
    const record = writePlanRecord(store, 'pg-test', planWithUrlCredentials(), 10);
    const [file] = readdirSync(store.path('plans'));
    expect(file).toBe(`${record.id}.json`);
    const saved = readFileSync(store.path('plans', file!), 'utf8');
    expect(saved).not.toContain(URL_CANARY);
    for (const part of [JSON.stringify(record.plan), record.text, record.markdown]) expect(part).toContain(`mirror:***@${URL_HOST}`);
  });
});
