/**
 * A forge (GitHub, GitLab, Gitea) as the notifier needs it: post a commit status, and keep one
 * comment per pull request. The comment is found again by the hidden marker AND the login of the
 * account Corral posts as, so a user who quotes the marker never gets their comment overwritten.
 */
import type { NotificationProvider } from '../../src/daemon/metrics.js';
import { COMMIT_SHA } from '../receivers/types.js';
import { DeliveryError } from './http.js';
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

/** One segment of a forge API path, encoded; `.`, `..` and empty are refused, since URL parsers resolve dot segments even when encoded. */
function pathSegment(value: string | number): string {
  const s = String(value);
  if (s === '' || s === '.' || s === '..') throw new DeliveryError(`${JSON.stringify(s)} cannot be a segment of a forge API path`, false);
  return encodeURIComponent(s);
}

/**
 * A forge API path in which every interpolated value is one encoded segment, so no value (a sha
 * from a webhook, a repository name, an id from an answer) can add segments or climb out of the
 * repository's prefix: apiPath`/repos/${owner}/${name}/statuses/${sha}`.
 */
export function apiPath(literals: TemplateStringsArray, ...values: (string | number)[]): string {
  return values.reduce<string>((path, value, i) => path + pathSegment(value) + literals[i + 1]!, literals[0]!);
}

/** The parts of a repository's path (owner/name; GitLab: group/subgroup/name), each a real path segment. */
export function repositoryParts(repository: string): string[] {
  const parts = repository.split('/');
  parts.forEach(pathSegment);
  return parts;
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
      // What comes from a webhook never reaches an API path unchecked: refused, not retried.
      if (n.kind === 'status' && !COMMIT_SHA.test(n.sha)) throw new DeliveryError(`${api.provider} status: ${JSON.stringify(n.sha.slice(0, 80))} is not a commit id`, false);
      if (n.kind === 'comment' && !(Number.isSafeInteger(n.pr) && n.pr > 0)) throw new DeliveryError(`${api.provider} comment: ${JSON.stringify(n.pr)} is not a pull request number`, false);
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
