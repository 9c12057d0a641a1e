/**
 * A second line of defence before anything leaves over HTTP. Plans arrive redacted (renderJson's
 * shape) and messages should hold no credentials, but a bug upstream (or a plan record saved by an
 * older version) must not become a leak here: secret fields are redacted again, and credentials in
 * URLs (a git remote with a token in it, in a fetch error; a password in a repo's baseurl) are cut
 * out, as Flux's sanitized errors do.
 */
import { REDACTED, redactUrlCredentials, withoutUrlCredentials } from '../../config/secrets.js';
import type { Change } from '../../engine/model.js';
import { redactedField } from '../../engine/render.js';
import type { ClusterStatus, DaemonStatus, HistoryEntry, PlanRecord } from '../types.js';

const SECRET_QUERY = /([?&][^=&#\s]*(?:token|secret|passw|sig|key|auth|credential)[^=&#\s]*=)[^&#\s]*/gi;

/** Text with the credentials of any URL in it replaced: `https://user:***@host/...`, `?token=(redacted)`. */
export function sanitizeText(text: string): string {
  return redactUrlCredentials(text).replace(SECRET_QUERY, `$1${REDACTED}`);
}

const clean = (s: string | undefined): string | undefined => (s === undefined ? undefined : sanitizeText(s));

export function sanitizeCluster(c: ClusterStatus): ClusterStatus {
  return { ...c, ...(c.message === undefined ? {} : { message: clean(c.message) }), ...(c.healthMessage === undefined ? {} : { healthMessage: clean(c.healthMessage) }) };
}

export function sanitizeHistory(h: HistoryEntry): HistoryEntry {
  return { ...h, subject: sanitizeText(h.subject), ...(h.message === undefined ? {} : { message: sanitizeText(h.message) }) };
}

export function sanitizeStatus(s: DaemonStatus): DaemonStatus {
  return {
    ...s,
    source: sanitizeText(s.source),
    git: { ...s.git, ...(s.git.lastError === undefined ? {} : { lastError: sanitizeText(s.git.lastError) }), ...(s.git.problems ? { problems: s.git.problems.map(sanitizeText) } : {}) },
    clusters: s.clusters.map(sanitizeCluster),
  };
}

/** Values shorter than this are not searched for in the renderings: replacing `1` everywhere would wreck the text. */
const MIN_LEAK_LENGTH = 4;

/**
 * The record with every `secret: true` field redacted, and any value such a field carried cut out of
 * the text and Markdown renderings too; no URL in it keeps its password. `leaked` says a secret had
 * reached this point (a bug upstream or an old record, worth a log line without the value).
 */
export function redactPlanRecord(rec: PlanRecord): { record: PlanRecord; leaked: boolean } {
  const leaks = new Set<string>();
  const changes: Change[] = rec.plan.changes.map((c) => ({
    ...c,
    fields: c.fields.map((f) => {
      if (!f.secret) return f;
      for (const v of [f.from, f.to, f.text?.before, f.text?.after]) {
        const s = typeof v === 'string' || typeof v === 'number' ? String(v) : v === undefined || v === null ? '' : JSON.stringify(v);
        if (s && s !== REDACTED) leaks.add(s);
      }
      return redactedField(f);
    }),
  }));
  let text = redactUrlCredentials(rec.text);
  let markdown = redactUrlCredentials(rec.markdown);
  const urlLeaked = text !== rec.text || markdown !== rec.markdown;
  for (const leak of leaks) {
    if (leak.length < MIN_LEAK_LENGTH) continue;
    text = text.split(leak).join(REDACTED);
    markdown = markdown.split(leak).join(REDACTED);
  }
  return { record: { ...rec, plan: withoutUrlCredentials({ ...rec.plan, changes }), text, markdown }, leaked: leaks.size > 0 || urlLeaked };
}
