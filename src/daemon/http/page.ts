/**
 * The status page at GET / (and a page per cluster, cluster-page.ts): server-rendered HTML, inline
 * CSS, one same-origin script (/assets/page.js) that follows the daemon's events and runs the actions;
 * without it the page refreshes itself every 10 seconds. Everything that comes from the daemon is escaped.
 *
 * Hooks for tests and scrapers: rows carry `data-cluster`, `data-sync`, `data-health`; each last
 * plan sits in `<details id="last-plan-<cluster>">`.
 */
import type { FastifyPluginCallback, FastifyReply } from 'fastify';
import { renderClusterPage } from './cluster-page.js';
import { PAGE_SCRIPT } from './page-script.js';
import type { ClusterStatus, DaemonApi, DaemonStatus, HealthStatus, PlanRecord, SyncStatus } from '../types.js';
import { redactPlanRecord, sanitizeStatus } from './redact.js';
import { displayRevision } from '../../util/content-revision.js';

export interface PageOptions {
  api: DaemonApi;
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for HTML content and quoted attribute values alike. */
export const esc = (s: string | number | undefined): string => String(s ?? '').replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);

export const SYNC_TONE: Record<SyncStatus, string> = {
  Synced: 'good',
  OutOfSync: 'warn',
  Invalid: 'bad',
  Syncing: 'busy',
  Failed: 'bad',
  Suspended: 'idle',
  Unmanaged: 'idle',
  Unknown: 'idle',
};
export const HEALTH_TONE: Record<HealthStatus, string> = { Healthy: 'good', Degraded: 'warn', Down: 'bad', Unreachable: 'bad', Unmanaged: 'idle', Unknown: 'idle' };

export const badge = (text: string, tone: string | undefined): string => `<span class="badge ${tone ?? 'idle'}">${esc(text)}</span>`;

/** `2026-11-25 19:35:57 UTC`, in a <time> with the exact value; a string that is not a date is shown as it is. */
export function when(iso: string | undefined): string {
  if (!iso) return '<span class="dim">never</span>';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return esc(iso);
  return `<time datetime="${esc(iso)}">${esc(d.toISOString().replace('T', ' ').slice(0, 19))} UTC</time>`;
}

export function rev(r: string | undefined): string {
  return r ? `<code title="${esc(r)}">${esc(displayRevision(r))}</code>` : '<span class="dim">none</span>';
}

const STYLE = `
:root { color-scheme: light dark; --fg: #1d2330; --dim: #6b7280; --bg: #fff; --panel: #f5f6f8; --line: #e1e4ea;
  --good: #1a7f37; --warn: #9a6700; --bad: #cf222e; --busy: #0969da; --idle: #6b7280; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6e8eb; --dim: #9aa1ab; --bg: #111418; --panel: #1a1e24; --line: #2c323a;
  --good: #3fb950; --warn: #d29922; --bad: #f85149; --busy: #58a6ff; --idle: #8b949e; } }
* { box-sizing: border-box; }
body { margin: 0; padding: 24px 32px; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; align-items: baseline; gap: 12px; border-bottom: 1px solid var(--line); padding-bottom: 12px; }
h1 { font-size: 22px; margin: 0; }
h2 { font-size: 16px; margin: 28px 0 10px; }
code, pre { font: 12.5px/1.45 ui-monospace, "DejaVu Sans Mono", Menlo, monospace; }
.dim { color: var(--dim); }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 16px 0 0; }
dt { color: var(--dim); }
dd { margin: 0; }
.alert { margin-top: 12px; padding: 8px 12px; border-left: 4px solid var(--bad); background: var(--panel); white-space: pre-wrap; word-break: break-word; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; color: var(--dim); font-size: 12px; text-transform: uppercase; letter-spacing: .03em; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.msg { max-width: 38em; word-break: break-word; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600; border: 1px solid currentColor; white-space: nowrap; }
.good { color: var(--good); } .warn { color: var(--warn); } .bad { color: var(--bad); } .busy { color: var(--busy); } .idle { color: var(--idle); }
.policy { font-size: 11px; color: var(--dim); margin-left: 4px; }
details { border: 1px solid var(--line); border-radius: 6px; margin: 8px 0; background: var(--panel); }
summary { cursor: pointer; padding: 8px 12px; }
pre { margin: 0; padding: 12px; overflow-x: auto; border-top: 1px solid var(--line); background: var(--bg); }
footer { margin-top: 32px; color: var(--dim); font-size: 12px; }
a { color: var(--busy); }
.scroll { overflow-x: auto; }
.plan li { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, monospace; font-size: 12.5px; }
.create { color: var(--good); } .update { color: var(--warn); } .restart { color: var(--busy); } .removes { color: var(--bad); font-weight: 600; }
.actions button, #token-form button { font: inherit; padding: 3px 10px; margin-right: 6px; border: 1px solid var(--line); border-radius: 6px; background: var(--panel); color: var(--fg); cursor: pointer; }
#token-form input { font: inherit; padding: 3px 8px; border: 1px solid var(--line); border-radius: 6px; background: var(--bg); color: var(--fg); }
aside { margin-top: 12px; }
@media (max-width: 600px) { body { padding: 12px; } th, td { padding: 4px 6px; } dl { grid-template-columns: 1fr; } h1 { font-size: 18px; } }
`;

function gitSection(s: DaemonStatus): string {
  const g = s.git;
  const fetched = g.lastFetchAt ? `${rev(g.fetchedRevision)} at ${when(g.lastFetchAt)} ${g.lastFetchOk ? badge('ok', 'good') : badge('failed', 'bad')}` : '<span class="dim">not yet</span>';
  const out = [
    '<section class="git"><dl>',
    `<dt>Source</dt><dd><code>${esc(s.source)}</code></dd>`,
    `<dt>Revision in force</dt><dd id="last-good-revision">${rev(g.lastGoodRevision)}</dd>`,
    `<dt>Last fetch</dt><dd id="fetched-revision">${fetched}</dd>`,
    '</dl>',
  ];
  if (g.lastError) out.push(`<div class="alert" id="git-error" role="alert"><strong>Last fetch failed:</strong> ${esc(g.lastError)}</div>`);
  if (g.invalidAt) out.push(`<div class="alert" id="git-invalid" role="alert"><strong>Revision ${esc(displayRevision(g.fetchedRevision ?? ''))} is invalid:</strong> ${esc(g.invalidAt)}</div>`);
  out.push(problemsList(g.problems), '</section>');
  return out.join('\n');
}

/** The sync policy beside the sync badge; nothing where the badge says it already ("Suspended"). */
export const policyNote = (c: ClusterStatus): string => (c.sync === 'Suspended' ? '' : `<span class="policy">${esc(c.policy.suspend ? 'suspended' : c.policy.sync)}</span>`);

export const clusterHref = (name: string): string => `/clusters/${encodeURIComponent(name)}`;

/** When it last synced, or how to make it sync when it never did. */
export const lastSync = (c: ClusterStatus): string =>
  c.lastSyncAt ? when(c.lastSyncAt) : `<span class="dim">never: <code>corral sync ${esc(c.name)}</code> or POST /api/clusters/${esc(c.name)}/sync</span>`;

function clusterRow(c: ClusterStatus): string {
  return [
    `<tr data-cluster="${esc(c.name)}" data-sync="${esc(c.sync)}" data-health="${esc(c.health)}">`,
    `<td><a href="${esc(clusterHref(c.name))}"><strong>${esc(c.name)}</strong></a></td>`,
    `<td>${esc(c.module)}</td>`,
    `<td>${badge(c.sync, SYNC_TONE[c.sync])}${policyNote(c)}</td>`,
    `<td>${badge(c.health, HEALTH_TONE[c.health])}${c.healthMessage ? `<div class="policy">${esc(c.healthMessage)}</div>` : ''}</td>`,
    `<td>${rev(c.revision)}</td>`,
    `<td>${lastSync(c)}</td>`,
    `<td class="num">${esc(c.driftChanges)}</td>`,
    `<td class="msg">${esc(c.message ?? '')}</td>`,
    '</tr>',
  ].join('');
}

/** Every error and warning of the fetched revision, as validate reports them. */
export function problemsList(problems: string[] | undefined): string {
  if (!problems?.length) return '';
  const tone = (p: string): string => (/^\S+ error: /.test(p) ? 'bad' : 'warn');
  return `<details id="problems"${problems.some((p) => tone(p) === 'bad') ? ' open' : ''}><summary>${esc(problems.length)} problem${problems.length === 1 ? '' : 's'} in the fetched revision</summary><ul>${problems.map((p) => `<li class="${tone(p)}"><code>${esc(p)}</code></li>`).join('')}</ul></details>`;
}

function clustersSection(clusters: ClusterStatus[]): string {
  const head = '<tr><th>Cluster</th><th>Module</th><th>Sync</th><th>Health</th><th>Revision</th><th>Last sync</th><th>Drift</th><th>Message</th></tr>';
  const rows = clusters.length ? clusters.map(clusterRow).join('\n') : '<tr><td colspan="8" class="dim">No clusters yet.</td></tr>';
  return `<section><h2>Clusters</h2>\n<div class="scroll"><table id="clusters"><thead>${head}</thead><tbody>\n${rows}\n</tbody></table></div></section>`;
}

function plansSection(plans: PlanRecord[]): string {
  if (!plans.length) return '';
  // Most recent first, and only that one open.
  const sorted = [...plans].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  const blocks = sorted.map(
    (p, i) =>
      `<details id="last-plan-${esc(p.cluster)}"${i === 0 ? ' open' : ''}><summary><strong>${esc(p.cluster)}</strong> <span class="dim">plan for</span> ${rev(p.revision)} <span class="dim">·</span> ${when(p.createdAt)} <span class="dim">· ${esc(p.plan.changes.length)} change${p.plan.changes.length === 1 ? '' : 's'}</span></summary><pre>${esc(p.text)}</pre></details>`,
  );
  return `<section><h2>Last plans</h2>\n${blocks.join('\n')}\n</section>`;
}

/** The page, from data alone (status already sanitized, plans already redacted). */
export function renderPage(status: DaemonStatus, plans: PlanRecord[]): string {
  const out = status.clusters.filter((c) => c.sync !== 'Synced').length;
  const title = `Corral: ${status.clusters.length} cluster${status.clusters.length === 1 ? '' : 's'}${out ? `, ${out} not synced` : ''}`;
  return layout(status, title, `${gitSection(status)}\n${clustersSection(status.clusters)}\n${plansSection(plans)}`, '');
}

/**
 * A whole page: `main` is what the script swaps on an event; `aside` (the token field, the action's
 * answer) stays, so what a person typed is kept.
 */
export function layout(status: DaemonStatus, title: string, main: string, aside: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<noscript><meta http-equiv="refresh" content="10"></noscript>
<title>${esc(title)}</title>
<style>${STYLE}</style>
<script src="/assets/page.js" defer></script>
</head>
<body>
<header><h1><a href="/">Corral</a></h1><span class="dim">${esc(status.version)}</span>${status.ready ? badge('ready', 'good') : badge('starting', 'warn')}</header>
${aside}
<main>
${main}
</main>
<footer>Live (refreshes every 10 seconds without JavaScript) · <a href="/api/status">/api/status</a> · <a href="/metrics">/metrics</a></footer>
</body>
</html>
`;
}

// Its own script and nothing else: no inline script, no frames, no outside requests; connections only to itself (the events).
export const CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export const sendHtml = (reply: FastifyReply, html: string, code = 200): FastifyReply =>
  reply
    .code(code)
    .type('text/html; charset=utf-8')
    .header('content-security-policy', CSP)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('cache-control', 'no-store')
    .send(html);

export const pageRoutes: FastifyPluginCallback<PageOptions> = (app, { api }, done) => {
  app.get('/', (_req, reply) => {
    const status = sanitizeStatus(api.status());
    const plans: PlanRecord[] = [];
    for (const c of status.clusters) {
      const last = api.cluster(c.name)?.lastPlan;
      if (last) plans.push(redactPlanRecord(last).record);
    }
    return sendHtml(reply, renderPage(status, plans));
  });
  app.get<{ Params: { name: string } }>('/clusters/:name', (req, reply) => {
    const status = sanitizeStatus(api.status());
    const found = api.cluster(req.params.name);
    if (!found) return sendHtml(reply, layout(status, 'Corral: no such cluster', `<p class="alert" role="alert">No cluster named <code>${esc(req.params.name)}</code>. <a href="/">All clusters</a></p>`, ''), 404);
    return sendHtml(reply, renderClusterPage(status, found));
  });
  app.get('/assets/page.js', (_req, reply) => reply.type('text/javascript; charset=utf-8').header('x-content-type-options', 'nosniff').header('cache-control', 'no-cache').send(PAGE_SCRIPT));
  done();
};
