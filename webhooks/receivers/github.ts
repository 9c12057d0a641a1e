/** GitHub: X-GitHub-Event, X-GitHub-Delivery, X-Hub-Signature-256: sha256=<hex HMAC of the raw body>. */
import { branchOf, field, header, str, ZERO_SHA, type ForgeEvent, type Receiver } from './types.js';
import { validHmac } from './signature.js';

/** GitHub's and Gitea's payloads share a shape; Gitea names one action differently. */
export function parseGithubLike(eventName: string, body: unknown, previewActions: readonly string[]): ForgeEvent {
  if (eventName === 'ping') return { type: 'ping' };
  if (eventName === 'push') {
    const after = str(field(body, 'after'));
    return { type: 'push', branch: branchOf(field(body, 'ref')), after, deleted: field(body, 'deleted') === true || ZERO_SHA.test(after) };
  }
  if (eventName === 'pull_request') {
    const action = str(field(body, 'action'));
    const number = Number(field(body, 'number') ?? field(body, 'pull_request', 'number'));
    const headRepo = str(field(body, 'pull_request', 'head', 'repo', 'full_name'));
    const pr = {
      number,
      headSha: str(field(body, 'pull_request', 'head', 'sha')),
      ref: `refs/pull/${number}/head`,
      baseBranch: str(field(body, 'pull_request', 'base', 'ref')),
      // A deleted fork has no head repo: treat it as a fork.
      fromFork: headRepo !== str(field(body, 'pull_request', 'base', 'repo', 'full_name')),
    };
    if (!Number.isInteger(number) || !pr.headSha) return { type: 'other', why: 'pull_request without a number or head sha' };
    if (previewActions.includes(action)) return { type: 'pull-request', action: 'preview', pr };
    if (action === 'closed') {
      const mergeSha = field(body, 'pull_request', 'merged') === true ? str(field(body, 'pull_request', 'merge_commit_sha')) : '';
      return { type: 'pull-request', action: 'closed', pr, ...(mergeSha ? { mergeSha } : {}) };
    }
    return { type: 'other', why: `pull_request action ${action}` };
  }
  return { type: 'other', why: `event ${eventName}` };
}

export const github: Receiver = {
  provider: 'github',
  eventName: (h) => header(h, 'x-github-event') ?? '',
  deliveryId: (h) => header(h, 'x-github-delivery'),
  verify: (h, raw, secret) => validHmac(header(h, 'x-hub-signature-256'), raw, secret, 'sha256='),
  parse: (event, body) => parseGithubLike(event, body, ['opened', 'synchronize', 'reopened', 'ready_for_review']),
};
