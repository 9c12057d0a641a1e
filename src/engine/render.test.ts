import { describe, expect, it } from 'vitest';
import { renderJson, renderMarkdown, renderText } from './render.js';
import { URL_CANARY, URL_HOST, planWithUrlCredentials } from '../../test/helpers/url-credentials.js';

describe('URL credentials in plans', () => {
  const renderings = {
    text: renderText(planWithUrlCredentials()),
    'text in colour': renderText(planWithUrlCredentials(), { color: true }),
    json: renderJson(planWithUrlCredentials()),
    markdown: renderMarkdown(planWithUrlCredentials()),
  };
  for (const [format, out] of Object.entries(renderings)) {
    it(`${format}: no URL password in values, diffs, reasons, notes or messages; the hosts stay`, () => {
      expect(out).not.toContain(URL_CANARY);
      expect(out).toContain(`mirror:***@${URL_HOST}/debian`);
      expect(out).toContain('app:***@10.0.0.1/db');
      expect(out).toContain(`ops:***@${URL_HOST}:3128`);
    });
  }

  it('the file diff still shows what changed', () => {
    expect(renderings.text).toContain(`+deb https://mirror:***@${URL_HOST}/debian bookworm main contrib`);
  });

  it('JSON stays data: values keep their shape', () => {
    const plan = JSON.parse(renderings.json) as ReturnType<typeof planWithUrlCredentials>;
    expect(plan.changes[1]?.fields[1]?.to).toEqual([`https://mirror:***@${URL_HOST}/debian`, { url: `https://mirror:***@${URL_HOST}/debian` }]);
  });
});
