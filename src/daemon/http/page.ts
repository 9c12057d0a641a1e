/**
 * The status page at GET /: one server-rendered HTML page, no script, no external asset, inline CSS.
 * Everything that comes from the daemon is escaped. It refreshes itself every 10 seconds.
 *
 * Hooks for tests and scrapers: rows carry `data-cluster`, `data-sync`, `data-health`; each last
 * plan sits in `<details id="last-plan-<cluster>">`.
 */
import type { FastifyPluginCallback } from 'fastify';
import type { ClusterStatus, DaemonApi, DaemonStatus, HealthStatus, PlanRecord, SyncStatus } from '../types.js';
import { redactPlanRecord, sanitizeStatus } from './redact.js';
import { displayRevision } from '../../util/content-revision.js';

export interface PageOptions {
  api: DaemonApi;
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for HTML content and quoted attribute values alike. */
export const esc = (s: string | number | undefined): string => String(s ?? '').replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);

const SYNC_TONE: Record<SyncStatus, string> = {
  Synced: 'good',
  OutOfSync: 'warn',
  Invalid: 'bad',
  Syncing: 'busy',
  Failed: 'bad',
  Suspended: 'idle',
  Unmanaged: 'idle',
  Unknown: 'idle',
};
const HEALTH_TONE: Record<HealthStatus, string> = { Healthy: 'good', Degraded: 'warn', Down: 'bad', Unreachable: 'bad', Unmanaged: 'idle', Unknown: 'idle' };

const badge = (text: string, tone: string | undefined): string => `<span class="badge ${tone ?? 'idle'}">${esc(text)}</span>`;

/** `2026-11-25 19:35:57 UTC`, in a <time> with the exact value; a string that is not a date is shown as it is. */
function when(iso: string | undefined): string {
  if (!iso) return '<span class="dim">never</span>';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return esc(iso);
  return `<time datetime="${esc(iso)}">${esc(d.toISOString().replace('T', ' ').slice(0, 19))} UTC</time>`;
}

function rev(r: string | undefined): string {
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
  out.push('</section>');
  return out.join('\n');
}

function clusterRow(c: ClusterStatus): string {
  const policy = c.policy.suspend ? 'suspended' : c.policy.sync;
  return [
    `<tr data-cluster="${esc(c.name)}" data-sync="${esc(c.sync)}" data-health="${esc(c.health)}">`,
    `<td><strong>${esc(c.name)}</strong></td>`,
    `<td>${esc(c.module)}</td>`,
    `<td>${badge(c.sync, SYNC_TONE[c.sync])}<span class="policy">${esc(policy)}</span></td>`,
    `<td>${badge(c.health, HEALTH_TONE[c.health])}${c.healthMessage ? `<div class="policy">${esc(c.healthMessage)}</div>` : ''}</td>`,
    `<td>${rev(c.revision)}</td>`,
    `<td>${when(c.lastSyncAt)}</td>`,
    `<td class="num">${esc(c.driftChanges)}</td>`,
    `<td class="msg">${esc(c.message ?? '')}</td>`,
    '</tr>',
  ].join('');
}

function clustersSection(clusters: ClusterStatus[]): string {
  const head = '<tr><th>Cluster</th><th>Module</th><th>Sync</th><th>Health</th><th>Revision</th><th>Last sync</th><th>Drift</th><th>Message</th></tr>';
  const rows = clusters.length ? clusters.map(clusterRow).join('\n') : '<tr><td colspan="8" class="dim">No clusters yet.</td></tr>';
  return `<section><h2>Clusters</h2>\n<table id="clusters"><thead>${head}</thead><tbody>\n${rows}\n</tbody></table></section>`;
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
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="10">
<title>${esc(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<header><h1>Corral</h1><span class="dim">${esc(status.version)}</span>${status.ready ? badge('ready', 'good') : badge('starting', 'warn')}</header>
${gitSection(status)}
${clustersSection(status.clusters)}
${plansSection(plans)}
<footer>Refreshes every 10 seconds · <a href="/api/status">/api/status</a> · <a href="/metrics">/metrics</a></footer>
</body>
</html>
`;
}

// No script, no frames, no outside requests: the page only needs its own inline style.
const CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export const pageRoutes: FastifyPluginCallback<PageOptions> = (app, { api }, done) => {
  app.get('/', (_req, reply) => {
    const status = sanitizeStatus(api.status());
    const plans: PlanRecord[] = [];
    for (const c of status.clusters) {
      const last = api.cluster(c.name)?.lastPlan;
      if (last) plans.push(redactPlanRecord(last).record);
    }
    return reply
      .type('text/html; charset=utf-8')
      .header('content-security-policy', CSP)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .header('cache-control', 'no-store')
      .send(renderPage(status, plans));
  });
  done();
};
