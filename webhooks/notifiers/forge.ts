/**
 * A forge (GitHub, GitLab, Gitea) as the notifier needs it: post a commit status, and keep one
 * comment per pull request. The comment is found again by the hidden marker AND the login of the
 * account Corral posts as, so a user who quotes the marker never gets their comment overwritten.
 */
import type { NotificationProvider } from '../../src/daemon/metrics.js';
import { COMMENT_MARKER, description, type Notice, type Notifier, type StatusState } from './types.js';

export interface ForgeComment {
  id: number;
  body: string;
  login: string;
}

export interface ForgeApi {
  provider: NotificationProvider;
  /** The login Corral posts as (asked once, then kept). */
  login(): Promise<string>;
  listComments(pr: number): Promise<ForgeComment[]>;
  createComment(pr: number, body: string): Promise<void>;
  updateComment(pr: number, id: number, body: string): Promise<void>;
  postStatus(sha: string, status: { state: StatusState; context: string; description: string; targetUrl?: string }): Promise<void>;
}

export interface ForgeSettings {
  /** API base: https://api.github.com, https://gitlab.example.com/api/v4, https://gitea.example.com/api/v1. */
  apiUrl: string;
  /** owner/name (GitLab: the project path, group/name, or its numeric id). */
  repository: string;
  token: string;
  /** The account Corral posts as; asked from the forge when not given. */
  login?: string;
}

/** Pages of a listing, following `?page=`, until a short page: enough for any PR's comments. */
export async function allPages<T>(page: (n: number) => Promise<T[]>, perPage: number, maxPages = 20): Promise<T[]> {
  const out: T[] = [];
  for (let n = 1; n <= maxPages; n++) {
    const items = await page(n);
    out.push(...items);
    if (items.length < perPage) break;
  }
  return out;
}

export function cachedLogin(given: string | undefined, ask: () => Promise<string>): () => Promise<string> {
  let known: Promise<string> | undefined = given ? Promise.resolve(given) : undefined;
  return () => {
    known ??= ask().catch((e: unknown) => {
      known = undefined;
      throw e;
    });
    return known;
  };
}

export function forgeNotifier(api: ForgeApi): Notifier {
  return {
    name: api.provider,
    provider: api.provider,
    accepts: (n) => n.kind === 'status' || n.kind === 'comment',
    async deliver(n: Notice) {
      if (n.kind === 'status') {
        await api.postStatus(n.sha, { state: n.state, context: n.context, description: description(n.description), ...(n.targetUrl ? { targetUrl: n.targetUrl } : {}) });
      } else if (n.kind === 'comment') {
        const login = await api.login();
        const mine = (await api.listComments(n.pr)).find((c) => c.login === login && c.body.includes(COMMENT_MARKER));
        if (mine) {
          if (mine.body !== n.body) await api.updateComment(n.pr, mine.id, n.body);
        } else await api.createComment(n.pr, n.body);
      }
    },
  };
}
