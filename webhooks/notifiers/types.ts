/** What Corral tells the outside world, and the notifiers that carry it there. */
import type { NotificationProvider } from '../../src/daemon/metrics.js';

/** GitHub's four states; GitLab and Gitea adapters map them to their own names. */
export type StatusState = 'pending' | 'success' | 'failure' | 'error';

/** Something that happened, for chat and generic webhooks. */
export interface CorralEvent {
  type: 'sync' | 'preview';
  ok: boolean;
  /** One line a person reads first: "pg-test synced to 1a2b3c4d5e6f". */
  title: string;
  revision: string;
  cluster?: string;
  pr?: number;
  url?: string;
}

export type Notice =
  /** A commit status: `corral/plan` on a PR head, `corral/sync` on a commit of the tracked branch. */
  | { kind: 'status'; sha: string; context: string; state: StatusState; description: string; targetUrl?: string }
  /** The one plan comment of a PR, created or updated in place. */
  | { kind: 'comment'; pr: number; body: string }
  | { kind: 'event'; event: CorralEvent };

export interface Notifier {
  /** Unique among the notifiers: names the outbox lane (`github`, `slack`, `generic-1`). */
  name: string;
  provider: NotificationProvider;
  accepts(notice: Notice): boolean;
  /** Throws DeliveryError; anything else thrown counts as a retryable failure. */
  deliver(notice: Notice): Promise<void>;
}

/** The marker that finds Corral's comment on a PR again; invisible in the rendered comment. */
export const COMMENT_MARKER = '<!-- corral:plan -->';
/** GitHub refuses a status description over 140 characters (422); so does Corral, everywhere. */
export const MAX_DESCRIPTION = 140;

export function description(text: string): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length <= MAX_DESCRIPTION ? oneLine : `${oneLine.slice(0, MAX_DESCRIPTION - 1)}…`;
}
