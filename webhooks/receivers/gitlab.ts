/**
 * GitLab: X-Gitlab-Event (`Push Hook`, `Merge Request Hook`), X-Gitlab-Event-UUID, and
 * X-Gitlab-Token: the shared secret itself (GitLab does not sign bodies), compared in constant time.
 */
import { branchOf, field, header, str, ZERO_SHA, type ForgeEvent, type Receiver } from './types.js';
import { sameSecret } from './signature.js';

function parse(eventName: string, body: unknown): ForgeEvent {
  if (eventName === 'Push Hook') {
    const after = str(field(body, 'after'));
    return { type: 'push', branch: branchOf(field(body, 'ref')), after, deleted: ZERO_SHA.test(after) };
  }
  if (eventName === 'Merge Request Hook') {
    const attrs = field(body, 'object_attributes');
    const number = Number(field(attrs, 'iid'));
    const action = str(field(attrs, 'action'));
    const pr = {
      number,
      headSha: str(field(attrs, 'last_commit', 'id')),
      ref: `refs/merge-requests/${number}/head`,
      baseBranch: str(field(attrs, 'target_branch')),
      fromFork: field(attrs, 'source_project_id') !== field(attrs, 'target_project_id'),
    };
    if (!Number.isInteger(number) || !pr.headSha) return { type: 'other', why: 'merge request without an iid or last commit' };
    if (['open', 'reopen', 'update'].includes(action)) return { type: 'pull-request', action: 'preview', pr };
    if (action === 'merge' || action === 'close') {
      const mergeSha = action === 'merge' ? str(field(attrs, 'merge_commit_sha')) : '';
      return { type: 'pull-request', action: 'closed', pr, ...(mergeSha ? { mergeSha } : {}) };
    }
    return { type: 'other', why: `merge request action ${action}` };
  }
  return { type: 'other', why: `event ${eventName}` };
}

export const gitlab: Receiver = {
  provider: 'gitlab',
  eventName: (h) => header(h, 'x-gitlab-event') ?? '',
  deliveryId: (h) => header(h, 'x-gitlab-event-uuid') ?? header(h, 'idempotency-key'),
  verify: (h, _raw, secret) => sameSecret(header(h, 'x-gitlab-token'), secret),
  parse,
};
