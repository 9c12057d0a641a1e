/**
 * Renderings of a plan: text for terminals (colour on a TTY, unified diffs for files), JSON, and
 * Markdown for PR comments. Secrets are redacted here, once, for every output: secret fields, and
 * the password of any URL in any value, diff, reason or message.
 */
import { createTwoFilesPatch } from 'diff';
import type { Change, Plan } from './model.js';
import type { FieldChange } from './resources/kind.js';
import { REDACTED, withoutUrlCredentials } from '../config/secrets.js';
import { displayRevision } from '../util/content-revision.js';

export interface Style {
  add: (s: string) => string;
  change: (s: string) => string;
  remove: (s: string) => string;
  dim: (s: string) => string;
  bold: (s: string) => string;
}

const plain: Style = { add: (s) => s, change: (s) => s, remove: (s) => s, dim: (s) => s, bold: (s) => s };
const color: Style = {
  add: (s) => `\u001b[32m${s}\u001b[39m`,
  change: (s) => `\u001b[33m${s}\u001b[39m`,
  remove: (s) => `\u001b[31m${s}\u001b[39m`,
  dim: (s) => `\u001b[2m${s}\u001b[22m`,
  bold: (s) => `\u001b[1m${s}\u001b[22m`,
};

export const SYMBOL: Record<Change['action'], string> = { create: '+', update: '~', restart: '↻' };

function value(v: unknown): string {
  if (v === null || v === undefined) return '(none)';
  if (typeof v === 'string') return v;
  return JSON.stringify(v);
}

/** A secret field as any output may show it: its name, never its value or its text. */
export const redactedField = (f: FieldChange): FieldChange => ({ field: f.field, from: REDACTED, to: REDACTED, secret: true });

/** The plan as any rendering may show it: a secret field keeps its name, never its value; no URL keeps its password. */
function shown(plan: Plan): Plan {
  const clean = withoutUrlCredentials(plan);
  return { ...clean, changes: clean.changes.map((c) => ({ ...c, fields: c.fields.map((f) => (f.secret ? redactedField(f) : f)) })) };
}

/** One field's change, redacted when secret; files get a unified diff. */
export function fieldText(f: FieldChange): { line: string; diff?: string } {
  if (f.secret) return { line: `${f.field}: changed ${REDACTED}` };
  if (f.text) {
    // A unified diff from its `---` line on (the library's `====` banner dropped, no tab after the names).
    const patch = createTwoFilesPatch('before', 'after', f.text.before, f.text.after, undefined, undefined, { context: 2 });
    const diff = patch.split('\n').slice(1).map((l) => (l.startsWith('--- ') || l.startsWith('+++ ') ? l.trimEnd() : l)).join('\n').trimEnd();
    // The diff shows a list's lines once: not again as JSON on the field's line. A digest (a file's content) stays.
    const plainValues = [f.from, f.to].every((v) => v === null || v === undefined || typeof v !== 'object');
    return { line: plainValues ? `${f.field}: ${value(f.from)} → ${value(f.to)}` : `${f.field}:`, diff };
  }
  return { line: `${f.field}: ${value(f.from)} → ${value(f.to)}` };
}

export function summary(plan: Plan): string {
  const count = (a: Change['action']): number => plan.changes.filter((c) => c.action === a).length;
  const parts = [`${count('create')} to create`, `${count('update')} to update`, `${count('restart')} to restart`];
  const restarts = plan.changes.filter((c) => c.restarts).length;
  const removes = plan.changes.filter((c) => c.destructive).length;
  if (restarts) parts.push(`${restarts} restarting a service`);
  if (removes) parts.push(`${removes} removing something`);
  const blocking = plan.notes.filter((n) => n.blocking).length;
  if (blocking) parts.push(`${blocking} blocking: not applicable until the inventory changes`);
  if (plan.notes.length > blocking) parts.push(`${plan.notes.length - blocking} not applicable`);
  if (plan.unreachable.length) parts.push(`${plan.unreachable.length} host${plan.unreachable.length > 1 ? 's' : ''} unreachable`);
  return parts.join(', ');
}

export function renderText(raw: Plan, opts: { color?: boolean } = {}): string {
  const plan = shown(raw);
  const s = opts.color ? color : plain;
  const out: string[] = [s.bold(`Plan for revision ${displayRevision(plan.revision)}`) + s.dim(` (fingerprint ${plan.fingerprint.slice(0, 12)})`)];
  for (const host of plan.hosts) {
    const changes = plan.changes.filter((c) => c.host === host);
    const notes = plan.notes.filter((n) => n.host === host);
    const down = plan.unreachable.find((u) => u.host === host);
    if (down) {
      out.push(`${s.bold(host)}: ${s.remove('unreachable')}: ${down.message}`);
      for (const n of notes) out.push(`  ${s.change('!')} ${n.resource}: ${n.message}`);
      continue;
    }
    if (!changes.length && !notes.length) {
      out.push(`${s.bold(host)}: ${s.dim('in sync')}`);
      continue;
    }
    out.push(s.bold(host));
    for (const c of changes) {
      const paint = c.action === 'create' ? s.add : s.change;
      const marks = [c.restarts ? 'restarts' : '', c.destructive ? 'REMOVES' : ''].filter(Boolean).map((m) => s.remove(`[${m}]`));
      out.push(`  ${paint(`${SYMBOL[c.action]} ${c.resource}`)}  ${s.dim(c.reason)} ${marks.join(' ')}`.trimEnd());
      for (const f of c.fields) {
        const { line, diff } = fieldText(f);
        out.push(`      ${line}`);
        if (diff) for (const d of diff.split('\n')) out.push(`      ${d.startsWith('+') ? s.add(d) : d.startsWith('-') ? s.remove(d) : s.dim(d)}`);
      }
    }
    for (const n of notes) out.push(`  ${n.blocking ? s.remove('✗') : s.change('!')} ${n.resource}: ${n.message}`);
  }
  if (plan.notes.some((n) => n.blocking)) out.push(`Blocked, nothing is applied: ${summary(plan)}.`);
  else if (plan.changes.length) out.push(`Plan: ${summary(plan)}.`);
  else if (plan.unreachable.length) out.push(`No changes on the hosts that answered; ${summary(plan)}.`);
  else out.push(`No changes: the nodes match the inventory${plan.notes.length ? ` (${summary(plan)})` : ''}.`);
  return out.join('\n') + '\n';
}

/** The plan as data, secrets redacted (a secret field keeps its name, never its value or diff). */
export function renderJson(raw: Plan): string {
  const plan = shown(raw);
  const withDiffs = {
    ...plan,
    changes: plan.changes.map((c) => ({
      ...c,
      fields: c.fields.map((f) => (f.secret ? f : { field: f.field, from: f.from, to: f.to, ...(f.text ? { diff: fieldText(f).diff } : {}) })),
    })),
  };
  return JSON.stringify(withDiffs, null, 2) + '\n';
}

const md = (s: string): string => s.replace(/\|/g, '\\|').replace(/</g, '&lt;');

/** Markdown for a PR comment: a summary table per cluster, details collapsed, restarts and removals called out. */
export function renderMarkdown(raw: Plan): string {
  const plan = shown(raw);
  const out: string[] = [`### Corral plan for \`${displayRevision(plan.revision)}\``, ''];
  if (plan.notes.some((n) => n.blocking)) out.push('**Blocked**: nothing is applied until the inventory changes (see below).', '');
  else if (!plan.changes.length) out.push('**No changes**: the nodes match the inventory.', '');
  const clusters = [...new Set(plan.changes.map((c) => `${c.module}/${c.cluster}`))].sort();
  if (clusters.length) {
    out.push('| cluster | create | update | restart | restarts a service | removes |', '|---|---:|---:|---:|---:|---:|');
    for (const cl of clusters) {
      const cs = plan.changes.filter((c) => `${c.module}/${c.cluster}` === cl);
      const n = (p: (c: Change) => boolean): number => cs.filter(p).length;
      out.push(`| ${md(cl)} | ${n((c) => c.action === 'create')} | ${n((c) => c.action === 'update')} | ${n((c) => c.action === 'restart')} | ${n((c) => c.restarts) || ''} | ${n((c) => c.destructive) ? `⚠️ ${n((c) => c.destructive)}` : ''} |`);
    }
    out.push('');
  }
  const flagged = plan.changes.filter((c) => c.restarts || c.destructive);
  if (flagged.length) {
    out.push('**Needs attention:**', ...flagged.map((c) => `- ${c.destructive ? '⚠️ removes' : '↻ restarts'}: \`${md(c.resource)}\` on ${c.host}`), '');
  }
  for (const cl of clusters) {
    const cs = plan.changes.filter((c) => `${c.module}/${c.cluster}` === cl);
    out.push(`<details><summary>${md(cl)}: ${cs.length} change${cs.length > 1 ? 's' : ''}</summary>`, '');
    for (const c of cs) {
      out.push(`- ${SYMBOL[c.action]} \`${md(c.resource)}\` on **${c.host}**: ${md(c.reason)}`);
      for (const f of c.fields) {
        const { line, diff } = fieldText(f);
        out.push(`  - ${md(line)}`);
        if (diff) out.push('', '    ```diff', ...diff.split('\n').map((l) => `    ${l}`), '    ```', '');
      }
    }
    out.push('', '</details>', '');
  }
  const note = (n: Plan['notes'][number]): string => `- ${n.host} \`${md(n.resource)}\`: ${md(n.message)}`;
  if (plan.notes.some((n) => n.blocking)) out.push('**Blocking (nothing is applied until the inventory changes):**', ...plan.notes.filter((n) => n.blocking).map(note), '');
  if (plan.notes.some((n) => !n.blocking)) out.push('**Not applicable on these nodes:**', ...plan.notes.filter((n) => !n.blocking).map(note), '');
  if (plan.unreachable.length) out.push('**Unreachable:**', ...plan.unreachable.map((u) => `- ${u.host}: ${md(u.message)}`), '');
  out.push(`<sub>${summary(plan)} · fingerprint \`${plan.fingerprint.slice(0, 12)}\`</sub>`);
  return out.join('\n') + '\n';
}
