/**
 * A cluster's page (GET /clusters/:name): its sync and health, each member as its service lists it,
 * the actions (sync, suspend, resume: the script sends them with the API token), the last plan as a
 * coloured list with every note, its full text with the diffs, and the history of its syncs.
 */
import type { Change, Note } from '../../engine/model.js';
import { summary, SYMBOL } from '../../engine/render.js';
import type { ClusterStatus, DaemonApi, DaemonStatus, HistoryEntry, PlanRecord, SyncResult } from '../types.js';
import { badge, esc, HEALTH_TONE, lastSync, layout, policyNote, problemsList, rev, SYNC_TONE, when } from './page.js';
import { redactPlanRecord, sanitizeCluster, sanitizeHistory } from './redact.js';

const RESULT_TONE: Record<SyncResult, string> = { Succeeded: 'good', Failed: 'bad', NotConverged: 'warn', Error: 'bad' };

function changeItem(c: Change): string {
  const marks = [c.restarts ? '[restarts]' : '', c.destructive ? '<span class="removes">[REMOVES]</span>' : ''].filter(Boolean).join(' ');
  return `<li class="${c.destructive ? 'removes' : c.action}" data-action="${esc(c.action)}">${SYMBOL[c.action]} <strong>${esc(c.resource)}</strong> <span class="dim">on ${esc(c.host)}: ${esc(c.reason)}</span> ${marks}</li>`;
}

const noteItem = (n: Note): string => `<li class="${n.blocking ? 'bad' : 'warn'}">${n.blocking ? '✗' : '!'} <strong>${esc(n.resource)}</strong> <span class="dim">on ${esc(n.host)}:</span> ${esc(n.message)}</li>`;

function planSection(p: PlanRecord | undefined): string {
  if (!p) return '<section><h2>Last plan</h2><p class="dim">No plan yet.</p></section>';
  const { changes, notes, unreachable } = p.plan;
  return [
    `<section id="last-plan"><h2>Last plan</h2><p>${rev(p.revision)} <span class="dim">·</span> ${when(p.createdAt)} <span class="dim">· ${esc(summary(p.plan))}</span></p>`,
    changes.length ? `<ul class="plan">${changes.map(changeItem).join('')}</ul>` : '<p class="good">No changes: the nodes match the inventory.</p>',
    unreachable.length ? `<ul class="plan">${unreachable.map((u) => `<li class="bad">✗ <strong>${esc(u.host)}</strong> unreachable: ${esc(u.message)}</li>`).join('')}</ul>` : '',
    notes.length ? `<h3>${esc(notes.length)} note${notes.length === 1 ? '' : 's'}</h3><ul class="plan" id="notes">${notes.map(noteItem).join('')}</ul>` : '',
    `<details id="plan-text"><summary>The plan with its diffs</summary><pre>${esc(p.text)}</pre></details>`,
    '</section>',
  ].join('\n');
}

function membersSection(c: ClusterStatus): string {
  const rows = c.members?.length
    ? c.members.map((m) => `<tr data-member="${esc(m.name)}"><td>${esc(m.name)}</td><td>${esc(m.role)}</td><td>${esc(m.state)}</td><td>${esc(m.lag ?? '')}</td></tr>`).join('')
    : c.hosts.map((h) => `<tr data-member="${esc(h)}"><td>${esc(h)}</td><td colspan="3" class="dim">no role reported</td></tr>`).join('');
  return `<section><h2>Members</h2><div class="scroll"><table id="members"><thead><tr><th>Member</th><th>Role</th><th>State</th><th>Lag</th></tr></thead><tbody>${rows}</tbody></table></div></section>`;
}

function historySection(history: HistoryEntry[]): string {
  if (!history.length) return '<section><h2>History</h2><p class="dim">No sync yet.</p></section>';
  const rows = [...history]
    .reverse()
    .map(
      (e) =>
        `<tr data-result="${esc(e.result)}"><td>${when(e.startedAt)}</td><td>${rev(e.revision)}</td><td>${esc(e.author)}</td><td class="msg">${esc(e.subject)}</td><td>${badge(e.result, RESULT_TONE[e.result])}</td><td class="num">${esc(e.changes.applied)}/${esc(e.changes.planned)}${e.changes.failed ? ` <span class="bad">${esc(e.changes.failed)} failed</span>` : ''}</td><td>${esc(e.trigger)}</td><td class="msg">${esc(e.message ?? '')}</td></tr>`,
    )
    .join('\n');
  return `<section><h2>History</h2><div class="scroll"><table id="history"><thead><tr><th>Started</th><th>Revision</th><th>Author</th><th>Subject</th><th>Result</th><th>Applied</th><th>Trigger</th><th>Message</th></tr></thead><tbody>\n${rows}\n</tbody></table></div></section>`;
}

const actions = (c: ClusterStatus): string =>
  `<p class="actions">${['sync', c.policy.suspend ? 'resume' : 'suspend'].map((a) => `<button type="button" data-action="${a}" data-cluster="${esc(c.name)}">${a[0]!.toUpperCase() + a.slice(1)}</button>`).join('')}</p>`;

/** The page of one cluster, from data alone (sanitized and redacted here). */
export function renderClusterPage(status: DaemonStatus, found: NonNullable<ReturnType<DaemonApi['cluster']>>): string {
  const c = sanitizeCluster(found.status);
  const plan = found.lastPlan ? redactPlanRecord(found.lastPlan).record : undefined;
  const head = [
    `<section id="cluster" data-cluster="${esc(c.name)}" data-sync="${esc(c.sync)}" data-health="${esc(c.health)}"><h2>${esc(c.name)} <span class="dim">${esc(c.module)}</span></h2>`,
    `<p>${badge(c.sync, SYNC_TONE[c.sync])}${policyNote(c)} ${badge(c.health, HEALTH_TONE[c.health])} <span class="dim">revision</span> ${rev(c.revision)} <span class="dim">· last sync</span> ${lastSync(c)} <span class="dim">· drift</span> ${esc(c.driftChanges)}${c.checkedAt ? ` <span class="dim">checked</span> ${when(c.checkedAt)}` : ''}${c.owner ? ` <span class="dim">· synced by</span> ${esc(c.owner)}` : ''}</p>`,
    c.message ? `<p class="msg" id="message">${esc(c.message)}</p>` : '',
    c.healthMessage ? `<div class="alert" id="health-message" role="alert">${esc(c.healthMessage)}</div>` : '',
    actions(c),
    problemsList(status.git.problems),
    '</section>',
  ].join('\n');
  const main = [head, membersSection(c), planSection(plan), historySection(found.history.map(sanitizeHistory))].join('\n');
  const aside = `<aside><form id="token-form"><input id="token" type="password" autocomplete="off" placeholder="API token (kept for this tab only)" aria-label="API token"> <button type="submit">Use token</button></form><p id="action-result" class="dim" role="status"></p></aside>`;
  return layout(status, `Corral: ${c.name} ${c.sync}, ${c.health}`, main, aside);
}
