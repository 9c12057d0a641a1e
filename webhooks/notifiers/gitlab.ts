/** GitLab's API (/api/v4): commit statuses and merge request notes, with a PRIVATE-TOKEN. */
import { allPages, apiPath, cachedLogin, repositoryParts, type ForgeApi, type ForgeSettings } from './forge.js';
import { sendJson } from './http.js';
import { field, str } from '../receivers/types.js';
import type { StatusState } from './types.js';

const PER_PAGE = 100;
/** GitLab has no `error`; a failed sync and a broken one are both `failed` there. */
const STATE: Record<StatusState, string> = { pending: 'pending', success: 'success', failure: 'failed', error: 'failed' };

export function gitlabApi(s: ForgeSettings): ForgeApi {
  const base = s.apiUrl.replace(/\/+$/, '');
  // The project's path (group/name) is one segment, its slashes encoded as GitLab asks; no part of it may be a dot segment.
  const project = repositoryParts(s.repository).join('/');
  const call = (label: string, method: string, path: string, body?: unknown) => sendJson(`gitlab ${label}`, `${base}${path}`, { method, headers: { 'private-token': s.token }, body });
  return {
    provider: 'gitlab',
    login: cachedLogin(s.login, async () => {
      const { body } = await call('GET /user', 'GET', '/user');
      return str(field(body, 'username'));
    }),
    listComments: (mr) =>
      allPages(async (page) => {
        const { body } = await call('list notes', 'GET', apiPath`/projects/${project}/merge_requests/${mr}/notes?per_page=${PER_PAGE}&page=${page}&sort=asc`);
        return (body as { id: number; body?: string; author?: { username?: string } }[]).map((c) => ({ id: c.id, body: c.body ?? '', login: c.author?.username ?? '' }));
      }, PER_PAGE),
    createComment: async (mr, body) => {
      await call('create note', 'POST', apiPath`/projects/${project}/merge_requests/${mr}/notes`, { body });
    },
    updateComment: async (mr, id, body) => {
      await call('update note', 'PUT', apiPath`/projects/${project}/merge_requests/${mr}/notes/${id}`, { body });
    },
    postStatus: async (sha, st) => {
      await call('create status', 'POST', apiPath`/projects/${project}/statuses/${sha}`, { state: STATE[st.state], name: st.context, description: st.description, ...(st.targetUrl ? { target_url: st.targetUrl } : {}) });
    },
  };
}
