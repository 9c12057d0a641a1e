/**
 * GitHub's REST API, and Gitea's and Forgejo's (/api/v1), which copies its shape: commit statuses
 * and issue comments (a pull request is an issue for comments). They differ in the token header and
 * in paging: Gitea lists all of an issue's comments at once.
 */
import type { NotificationProvider } from '../../src/daemon/metrics.js';
import { allPages, apiPath, cachedLogin, repositoryParts, type ForgeApi, type ForgeSettings } from './forge.js';
import { sendJson } from './http.js';
import { field, str } from '../receivers/types.js';

interface Dialect {
  provider: NotificationProvider;
  headers: (token: string) => Record<string, string>;
  pageSize?: { param: string; max: number };
}

const GITHUB: Dialect = {
  provider: 'github',
  headers: (token) => ({ authorization: `Bearer ${token}`, accept: 'application/vnd.github+json', 'x-github-api-version': '2022-11-28' }),
  pageSize: { param: 'per_page', max: 100 },
};
const GITEA: Dialect = { provider: 'gitea', headers: (token) => ({ authorization: `token ${token}` }) };

function githubShaped(d: Dialect, s: ForgeSettings): ForgeApi {
  const base = s.apiUrl.replace(/\/+$/, '');
  const [owner, name, ...more] = repositoryParts(s.repository);
  if (!owner || !name || more.length) throw new Error(`the ${d.provider} repository must be owner/name, not ${JSON.stringify(s.repository)}`);
  const call = (label: string, method: string, path: string, body?: unknown) => sendJson(`${d.provider} ${label}`, `${base}${path}`, { method, headers: d.headers(s.token), body });
  return {
    provider: d.provider,
    login: cachedLogin(s.login, async () => {
      const { body } = await call('GET /user', 'GET', '/user');
      return str(field(body, 'login'));
    }),
    listComments: async (pr) => {
      const list = async (query: string) => {
        const { body } = await call('list comments', 'GET', apiPath`/repos/${owner}/${name}/issues/${pr}/comments` + query);
        return (body as { id: number; body?: string; user?: { login?: string } }[]).map((c) => ({ id: c.id, body: c.body ?? '', login: c.user?.login ?? '' }));
      };
      const size = d.pageSize;
      return size ? allPages((page) => list(`?${size.param}=${size.max}&page=${page}`), size.max) : list('');
    },
    createComment: async (pr, body) => {
      await call('create comment', 'POST', apiPath`/repos/${owner}/${name}/issues/${pr}/comments`, { body });
    },
    updateComment: async (_pr, id, body) => {
      await call('update comment', 'PATCH', apiPath`/repos/${owner}/${name}/issues/comments/${id}`, { body });
    },
    postStatus: async (sha, st) => {
      await call('create status', 'POST', apiPath`/repos/${owner}/${name}/statuses/${sha}`, { state: st.state, context: st.context, description: st.description, ...(st.targetUrl ? { target_url: st.targetUrl } : {}) });
    },
  };
}

export const githubApi = (s: ForgeSettings): ForgeApi => githubShaped(GITHUB, s);
export const giteaApi = (s: ForgeSettings): ForgeApi => githubShaped(GITEA, s);
