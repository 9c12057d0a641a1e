/** URL passwords never leave over HTTP: not from a plan record saved before they were redacted, not in any format. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PlanRecord } from '../../../src/daemon/types.js';
import { URL_CANARY, URL_HOST, planWithUrlCredentials } from '../../helpers/url-credentials.js';
import { harness, type Harness } from './helpers.js';

let h: Harness;
beforeEach(() => {
  h = harness();
  // As an older Corral saved it: plan, text and Markdown all hold the passwords.
  const plan = planWithUrlCredentials();
  const raw = JSON.stringify(plan, null, 2);
  const record: PlanRecord = { id: 'plan-url', cluster: 'pg-test', revision: plan.revision, createdAt: '2026-11-25T19:40:00.000Z', plan, text: raw, markdown: raw };
  h.api.plans.set(record.id, record);
  h.api.clusters.find((c) => c.name === 'pg-test')!.lastPlanId = record.id;
});
afterEach(async () => {
  await h.app.close();
});

describe('URL credentials over HTTP', () => {
  for (const url of ['/api/clusters/pg-test', '/api/plans/plan-url', '/api/plans/plan-url?format=json', '/api/plans/plan-url?format=text', '/api/plans/plan-url?format=markdown', '/']) {
    it(`${url}: no URL password, the host still shown`, async () => {
      const res = await h.app.inject(url);
      expect(res.statusCode).toBe(200);
      expect(res.body).not.toContain(URL_CANARY);
      expect(res.body).toContain(`mirror:***@${URL_HOST}`);
    });
  }

  it('a record that held one is logged, without the password', async () => {
    await h.app.inject('/api/plans/plan-url');
    expect(h.logs.some((l) => l.plan === 'plan-url' && String(l.msg).includes('redacted before serving'))).toBe(true);
    expect(h.logText()).not.toContain(URL_CANARY);
  });
});
