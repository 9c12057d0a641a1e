/**
 * What a forge's delivery means to Corral, whichever forge sent it. Receivers turn each forge's own
 * headers and payloads into this shape; everything after them is forge-agnostic.
 */
import type { IncomingHttpHeaders } from 'node:http';

export type Provider = 'github' | 'gitlab' | 'gitea' | 'generic';
export const PROVIDERS: readonly Provider[] = ['github', 'gitlab', 'gitea', 'generic'];

/** A pull/merge request as the previews need it. */
export interface PullRequest {
  number: number;
  /** The commit to preview; the forge serves it at `ref` (refs/pull/N/head, refs/merge-requests/N/head). */
  headSha: string;
  ref: string;
  baseBranch: string;
  /** From another repository: previews run only when allowed, since the inventory decides which hosts are contacted. */
  fromFork: boolean;
}

export type ForgeEvent =
  /** branch: undefined for a tag or another kind of ref; ANY_BRANCH when the sender did not say. */
  | { type: 'push'; branch: string | undefined; after: string; deleted: boolean }
  | { type: 'pull-request'; action: 'preview' | 'closed'; pr: PullRequest; mergeSha?: string }
  | { type: 'ping' }
  | { type: 'other'; why: string };

export interface Receiver {
  provider: Provider;
  /** The forge's own event name (`push`, `Push Hook`, ...), for logs and metrics. */
  eventName(headers: IncomingHttpHeaders): string;
  /** The forge's delivery id (kept on redelivery), when it sends one. */
  deliveryId(headers: IncomingHttpHeaders): string | undefined;
  /** Whether the raw body carries a valid signature (or token) for this secret; constant time. */
  verify(headers: IncomingHttpHeaders, raw: Buffer, secret: string): boolean;
  parse(eventName: string, body: unknown): ForgeEvent;
}

export const header = (headers: IncomingHttpHeaders, name: string): string | undefined => {
  const v = headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
};

/** `refs/heads/main` -> `main`; tags and other refs -> undefined. */
export const branchOf = (ref: unknown): string | undefined => (typeof ref === 'string' && ref.startsWith('refs/heads/') ? ref.slice('refs/heads/'.length) : undefined);

/** A field of a parsed payload, without trusting its shape. */
export function field(obj: unknown, ...path: string[]): unknown {
  let cur = obj;
  for (const k of path) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Record<string, unknown>)[k];
  }
  return cur;
}

export const str = (v: unknown): string => (typeof v === 'string' ? v : '');
export const ZERO_SHA = /^0+$/;
/** A git commit id: SHA-1 (40 hex characters) or SHA-256 (64). */
export const COMMIT_SHA = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/i;

/**
 * Why an event's commit ids are not commit ids, if they are not: they end up in forge API paths
 * (`/repos/o/r/statuses/<sha>`), so `../../user/keys` must never get that far. A push's `after`
 * may be absent (the generic sender need not say).
 */
export function shaProblem(e: ForgeEvent): string | undefined {
  const shas: [string, string][] = [];
  if (e.type === 'push' && e.after) shas.push(["the push's after", e.after]);
  if (e.type === 'pull-request') {
    shas.push(["the pull request's head commit", e.pr.headSha]);
    if (e.mergeSha !== undefined) shas.push(["the pull request's merge commit", e.mergeSha]);
  }
  const bad = shas.find(([, sha]) => !COMMIT_SHA.test(sha));
  return bad && `${bad[0]} ${JSON.stringify(bad[1].slice(0, 80))} is not a commit id (40 or 64 hex characters)`;
}
export const ANY_BRANCH = '*';
