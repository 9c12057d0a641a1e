/**
 * Stand-ins for github.com, a GitLab and a Gitea, on loopback, held to each forge's contract: every
 * request Corral makes is checked against the forge's description (GitHub: its REST description
 * from @octokit/openapi, request bodies validated with its schemas and answers built from its own
 * examples; GitLab and Gitea: the documented endpoints, fields and enums written out below), and
 * anything off contract is recorded in `violations`, which tests expect to stay empty.
 */
import { createRequire } from 'node:module';
import { Ajv, type ValidateFunction } from 'ajv';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';

export type ForgeKind = 'github' | 'gitlab' | 'gitea';

export interface FakeComment {
  id: number;
  body: string;
  login: string;
}

export interface FakeStatus {
  sha: string;
  state: string;
  context: string;
  description?: string;
  target_url?: string;
}

export interface FakeForge {
  /** The API base to give Corral. */
  apiUrl: string;
  statuses: FakeStatus[];
  comments: Map<number, FakeComment[]>;
  /** `METHOD /path` of every request, the path under the API base (or whole, for one outside it). */
  requests: string[];
  violations: string[];
  /** Answer every request with this status (a forge outage); undefined: behave. */
  failWith(status: number | undefined): void;
  seedComment(pr: number, login: string, body: string): void;
  close(): Promise<void>;
}

interface Call {
  method: string;
  path: string;
  query: Record<string, string>;
  body: unknown;
  headers: Record<string, string | string[] | undefined>;
}

// ---- GitHub: the REST description ------------------------------------------------------------

interface Operation {
  parameters?: { $ref?: string; name?: string; in?: string }[];
  requestBody?: unknown;
  responses: Record<string, { content?: Record<string, { examples?: Record<string, { $ref?: string; value?: unknown }> }> }>;
}
type Spec = { paths: Record<string, Record<string, Operation>>; components: { parameters: Record<string, { name: string; in: string }>; examples: Record<string, { value: unknown }> } };

let githubSpec: { spec: Spec; ajv: Ajv } | undefined;
function github(): { spec: Spec; ajv: Ajv } {
  if (!githubSpec) {
    const spec = createRequire(import.meta.url)('@octokit/openapi/generated/api.github.com.json') as Spec;
    const ajv = new Ajv({ strict: false, validateSchema: false, validateFormats: false, allErrors: true, logger: false });
    ajv.addSchema(spec, 'gh');
    githubSpec = { spec, ajv };
  }
  return githubSpec;
}

const pointer = (...parts: string[]): string => parts.map((p) => p.replace(/~/g, '~0').replace(/\//g, '~1')).join('/');
const validators = new Map<string, ValidateFunction>();
function schemaAt(ref: string): ValidateFunction {
  let v = validators.get(ref);
  if (!v) validators.set(ref, (v = github().ajv.compile({ $ref: `gh#/${ref}` })));
  return v;
}

/** The description's path template for a concrete path: literal segments must match, `{x}` takes one segment. */
function githubTemplate(path: string): string | undefined {
  const segs = path.split('/');
  const candidates = Object.keys(github().spec.paths).filter((t) => {
    const ts = t.split('/');
    return ts.length === segs.length && ts.every((s, i) => s.startsWith('{') || s === segs[i]);
  });
  // The most literal template wins (/repos/{o}/{r}/issues/comments/{id} over .../issues/{n}/{x}).
  return candidates.sort((a, b) => (a.match(/\{/g)?.length ?? 0) - (b.match(/\{/g)?.length ?? 0))[0];
}

function checkGithub(call: Call, status: number, response: unknown): string[] {
  const out: string[] = [];
  const where = `${call.method} ${call.path}`;
  const template = githubTemplate(call.path);
  const op = template ? github().spec.paths[template]?.[call.method.toLowerCase()] : undefined;
  if (!template || !op) return [`${where}: no such operation in GitHub's REST description`];
  const params = (op.parameters ?? []).map((p) => (p.$ref ? github().spec.components.parameters[p.$ref.split('/').at(-1)!]! : (p as { name: string; in: string })));
  for (const q of Object.keys(call.query)) if (!params.some((p) => p.in === 'query' && p.name === q)) out.push(`${where}: query parameter ${q} is not in the description`);
  if (op.requestBody) {
    const v = schemaAt(pointer('paths', template, call.method.toLowerCase(), 'requestBody', 'content', 'application/json', 'schema'));
    if (!v(call.body)) out.push(`${where}: body ${JSON.stringify(call.body).slice(0, 200)} breaks the schema: ${github().ajv.errorsText(v.errors)}`);
  } else if (call.body !== undefined) out.push(`${where}: sends a body the operation does not take`);
  if (!String(call.headers.authorization ?? '').startsWith('Bearer ')) out.push(`${where}: no Bearer token`);
  if (!op.responses[String(status)]) out.push(`${where}: answers ${status}, which the description does not list`);
  else if (response !== undefined) {
    const v = schemaAt(pointer('paths', template, call.method.toLowerCase(), 'responses', String(status), 'content', 'application/json', 'schema'));
    if (!v(response)) out.push(`${where}: the fake's answer breaks the schema (a bug in the fake): ${github().ajv.errorsText(v.errors)}`);
  }
  return out;
}

/** GitHub's own example of an answer, with the fields the test controls put in. */
function githubExample(name: string, patch: Record<string, unknown>): Record<string, unknown> {
  const ex = structuredClone(github().spec.components.examples[name]!.value) as Record<string, unknown> | Record<string, unknown>[];
  return { ...(Array.isArray(ex) ? ex[0]! : ex), ...patch };
}

// ---- GitLab and Gitea: their documented endpoints ---------------------------------------------

interface Documented {
  method: string;
  path: RegExp;
  query?: string[];
  body?: { required: string[]; fields: Record<string, 'string' | 'number' | readonly string[]> };
}

// docs.gitlab.com/api/commits/#set-the-pipeline-status-of-a-commit, /api/notes/#merge-requests, /api/users/
const GITLAB: Documented[] = [
  { method: 'GET', path: /^\/user$/ },
  {
    method: 'POST',
    path: /^\/projects\/[^/]+\/statuses\/[0-9a-f]{40}$/,
    body: { required: ['state'], fields: { state: ['pending', 'running', 'success', 'failed', 'canceled', 'skipped'], ref: 'string', name: 'string', context: 'string', target_url: 'string', description: 'string', coverage: 'number', pipeline_id: 'number' } },
  },
  { method: 'GET', path: /^\/projects\/[^/]+\/merge_requests\/\d+\/notes$/, query: ['sort', 'order_by', 'per_page', 'page'] },
  { method: 'POST', path: /^\/projects\/[^/]+\/merge_requests\/\d+\/notes$/, body: { required: ['body'], fields: { body: 'string', created_at: 'string', merge_request_diff_head_sha: 'string', internal: 'string' } } },
  { method: 'PUT', path: /^\/projects\/[^/]+\/merge_requests\/\d+\/notes\/\d+$/, body: { required: ['body'], fields: { body: 'string' } } },
];

// Gitea's swagger (/api/swagger): CreateStatusOption, CreateIssueCommentOption, EditIssueCommentOption.
const GITEA: Documented[] = [
  { method: 'GET', path: /^\/user$/ },
  { method: 'POST', path: /^\/repos\/[^/]+\/[^/]+\/statuses\/[0-9a-f]{40}$/, body: { required: [], fields: { state: ['pending', 'success', 'error', 'failure', 'warning'], target_url: 'string', description: 'string', context: 'string' } } },
  { method: 'GET', path: /^\/repos\/[^/]+\/[^/]+\/issues\/\d+\/comments$/, query: ['since', 'before'] },
  { method: 'POST', path: /^\/repos\/[^/]+\/[^/]+\/issues\/\d+\/comments$/, body: { required: ['body'], fields: { body: 'string' } } },
  { method: 'PATCH', path: /^\/repos\/[^/]+\/[^/]+\/issues\/comments\/\d+$/, body: { required: ['body'], fields: { body: 'string' } } },
];

function checkDocumented(table: Documented[], call: Call, auth: (h: Call['headers']) => boolean): string[] {
  const where = `${call.method} ${call.path}`;
  const doc = table.find((d) => d.method === call.method && d.path.test(call.path));
  if (!doc) return [`${where}: not a documented endpoint`];
  const out: string[] = [];
  for (const q of Object.keys(call.query)) if (!doc.query?.includes(q)) out.push(`${where}: undocumented query parameter ${q}`);
  if (!auth(call.headers)) out.push(`${where}: missing or wrong authentication header`);
  if (!doc.body) return call.body === undefined ? out : [...out, `${where}: sends a body the endpoint does not take`];
  const body = call.body as Record<string, unknown> | undefined;
  if (typeof body !== 'object' || body === null) return [...out, `${where}: no JSON object body`];
  for (const r of doc.body.required) if (!(r in body)) out.push(`${where}: required field ${r} missing`);
  for (const [k, v] of Object.entries(body)) {
    const want = doc.body.fields[k];
    if (!want) out.push(`${where}: undocumented field ${k}`);
    else if (Array.isArray(want) ? !want.includes(v) : typeof v !== want) out.push(`${where}: field ${k}=${JSON.stringify(v)} is not ${Array.isArray(want) ? `one of ${want.join('|')}` : `a ${want as string}`}`);
  }
  return out;
}

// ---- the server --------------------------------------------------------------------------------

export async function startFakeForge(kind: ForgeKind, o: { login: string; token: string }): Promise<FakeForge> {
  const app = Fastify();
  const statuses: FakeStatus[] = [];
  const comments = new Map<number, FakeComment[]>();
  const requests: string[] = [];
  const violations: string[] = [];
  let failing: number | undefined;
  let nextId = 1000;
  const prefix = kind === 'github' ? '' : kind === 'gitlab' ? '/api/v4' : '/api/v1';

  const commentOut = (c: FakeComment, pr: number): unknown => {
    if (kind === 'github') return githubExample('issue-comment', { id: c.id, body: c.body, user: { ...(githubExample('issue-comment', {}).user as object), login: c.login }, issue_url: `https://api.github.com/repos/o/r/issues/${pr}` });
    if (kind === 'gitlab') return { id: c.id, body: c.body, author: { username: c.login }, noteable_iid: pr, system: false };
    return { id: c.id, body: c.body, user: { login: c.login } };
  };

  const route = (call: Call): { status: number; body?: unknown } => {
    const p = call.path;
    let m: RegExpMatchArray | null;
    if (p === '/user') return { status: 200, body: kind === 'github' ? githubExample('private-user', { login: o.login }) : kind === 'gitlab' ? { id: 1, username: o.login } : { id: 1, login: o.login } };
    if ((m = p.match(/\/statuses\/([0-9a-f]{40})$/)) && call.method === 'POST') {
      const b = call.body as Record<string, string>;
      const st: FakeStatus = { sha: m[1]!, state: b.state!, context: (b.context ?? b.name)!, ...(b.description === undefined ? {} : { description: b.description }), ...(b.target_url === undefined ? {} : { target_url: b.target_url }) };
      statuses.push(st);
      return { status: 201, body: kind === 'github' ? githubExample('status', { state: st.state, context: st.context, description: st.description ?? null, target_url: st.target_url ?? null }) : { id: statuses.length, ...st } };
    }
    if ((m = p.match(/\/(?:issues|merge_requests)\/(\d+)\/(?:comments|notes)$/))) {
      const pr = Number(m[1]);
      const list = comments.get(pr) ?? [];
      if (call.method === 'GET') {
        const per = Number(call.query.per_page ?? 1e9);
        const page = Number(call.query.page ?? 1);
        return { status: 200, body: list.slice((page - 1) * per, page * per).map((c) => commentOut(c, pr)) };
      }
      const c = { id: nextId++, body: (call.body as { body: string }).body, login: o.login };
      comments.set(pr, [...list, c]);
      return { status: 201, body: commentOut(c, pr) };
    }
    if ((m = p.match(/\/(?:issues\/comments|merge_requests\/(\d+)\/notes)\/(\d+)$/))) {
      const id = Number(m[2]);
      for (const [pr, list] of comments) {
        const c = list.find((x) => x.id === id);
        if (!c) continue;
        if (c.login !== o.login) return { status: 403, body: { message: 'not your comment' } };
        c.body = (call.body as { body: string }).body;
        return { status: 200, body: commentOut(c, pr) };
      }
      return { status: 404, body: { message: 'Not Found' } };
    }
    return { status: 404, body: { message: 'Not Found' } };
  };

  const handle = (req: FastifyRequest, reply: FastifyReply): FastifyReply => {
    const url = new URL(req.url, 'http://fake');
    if (!url.pathname.startsWith(prefix)) {
      // Recorded too (by its whole path), so a request that climbed out of the API is seen.
      requests.push(`${req.method} ${url.pathname}`);
      return reply.code(404).send({ message: 'Not Found' });
    }
    const call: Call = { method: req.method, path: decodeURIComponentSafe(url.pathname.slice(prefix.length)), query: Object.fromEntries(url.searchParams), body: req.body ?? undefined, headers: req.headers };
    requests.push(`${call.method} ${call.path}`);
    if (failing) return reply.code(failing).send({ message: 'the fake forge is failing on purpose' });
    const { status, body } = route(call);
    if (kind === 'github') violations.push(...checkGithub(call, status, status < 300 ? body : undefined));
    else if (kind === 'gitlab') violations.push(...checkDocumented(GITLAB, call, (h) => h['private-token'] === o.token));
    else violations.push(...checkDocumented(GITEA, call, (h) => h.authorization === `token ${o.token}`));
    if (kind === 'github' && call.method === 'POST' && /\/statuses\//.test(call.path) && ((call.body as { description?: string }).description?.length ?? 0) > 140) {
      return reply.code(422).send({ message: 'description is too long (maximum is 140 characters)' });
    }
    if (kind === 'github' && (call.body as { body?: string } | undefined)?.body && (call.body as { body: string }).body.length > 65_536) return reply.code(422).send({ message: 'Body is too long (maximum is 65536 characters)' });
    return reply.code(status).send(body);
  };
  app.all('/*', handle);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as { port: number };
  return {
    apiUrl: `http://127.0.0.1:${port}${prefix}`,
    statuses,
    comments,
    requests,
    violations,
    failWith: (s) => (failing = s),
    seedComment: (pr, login, body) => comments.set(pr, [...(comments.get(pr) ?? []), { id: nextId++, body, login }]),
    close: () => app.close(),
  };
}

/** GitLab's project ids are URL-encoded paths (group%2Fname): decode each segment for matching. */
function decodeURIComponentSafe(path: string): string {
  return path
    .split('/')
    .map((s) => {
      try {
        return decodeURIComponent(s).replace(/\//g, '%2F');
      } catch {
        return s;
      }
    })
    .join('/');
}
