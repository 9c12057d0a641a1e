/**
 * The pull request comment and the `corral/plan` status of a preview. Pure: a preview's outcome
 * in, Markdown and a status out. Secrets never reach here unredacted: plans are rendered with
 * renderMarkdown (secret fields show as "(redacted)", URLs without their passwords) and problems
 * carry no code frame; the problems' and errors' own text loses URL passwords here.
 */
import { redactUrlCredentials } from '../src/config/secrets.js';
import { renderMarkdown } from '../src/engine/render.js';
import { blockingNotes, type Plan } from '../src/engine/model.js';
import { position, type Problem } from '../src/config/problems.js';
import { COMMENT_MARKER, description, type StatusState } from './notifiers/types.js';

export type PreviewOutcome =
  | { kind: 'plan'; plan: Plan; planUrl?: string }
  | { kind: 'invalid'; problems: Problem[] }
  | { kind: 'error'; message: string };

export interface Preview {
  pr: number;
  sha: string;
  outcome: PreviewOutcome;
}

/** Under GitHub's 65,536-character limit for a comment body, with room for the header and footer. */
export const COMMENT_LIMIT = 60_000;
const PROBLEMS_SHOWN = 50;

/** Free text for the comment: no URL password, and no Markdown table or HTML breaking out. */
const esc = (s: string): string => redactUrlCredentials(s).replace(/\|/g, '\\|').replace(/</g, '&lt;');

/** A Markdown plan cut to `limit`: whole collapsed sections while they fit, then a link to the rest. */
export function fitPlan(markdown: string, limit: number, planUrl: string | undefined): string {
  if (markdown.length <= limit) return markdown;
  const [head = '', ...sections] = markdown.split(/(?=<details>)/);
  const more = (n: number): string => `\n**The plan is too long for a comment${n ? `: ${n} more section${n > 1 ? 's' : ''} not shown` : ''}.** ${planUrl ? `[Full plan](${planUrl})` : 'Run `corral plan` to see all of it.'}\n`;
  let out = head.length <= limit ? head : head.slice(0, head.lastIndexOf('\n', limit)) + '\n';
  let shown = 0;
  for (const s of sections) {
    if (out.length + s.length + 200 > limit) break;
    out += s;
    shown++;
  }
  return out + more(sections.length - shown);
}

export function planComment(p: Preview, limit = COMMENT_LIMIT): string {
  const head = [COMMENT_MARKER, `## Corral preview of #${p.pr} at \`${p.sha.slice(0, 12)}\``, ''];
  const o = p.outcome;
  if (o.kind === 'invalid') {
    const errors = o.problems.filter((x) => x.severity === 'error');
    const lines = errors.slice(0, PROBLEMS_SHOWN).map((x) => `| \`${esc(x.file)}:${x.line}:${x.col}\` | ${x.code} | ${esc(x.message)} |`);
    return [
      ...head,
      `❌ **This revision is invalid: ${errors.length} error${errors.length === 1 ? '' : 's'}.** Nothing would be applied if it were merged; the fleet would stay on the last good revision.`,
      '',
      '| where | code | problem |',
      '|---|---|---|',
      ...lines,
      ...(errors.length > PROBLEMS_SHOWN ? ['', `…and ${errors.length - PROBLEMS_SHOWN} more: run \`corral validate\`.`] : []),
      '',
    ].join('\n');
  }
  if (o.kind === 'error') return [...head, `⚠️ **The preview failed:** ${esc(o.message)}`, '', 'It is tried again on the next push.', ''].join('\n');
  const body = head.join('\n') + '\n';
  return body + fitPlan(renderMarkdown(o.plan), limit - body.length, o.planUrl);
}

export function planStatus(p: Preview): { state: StatusState; description: string } {
  const status = (state: StatusState, text: string): { state: StatusState; description: string } => ({ state, description: description(redactUrlCredentials(text)) });
  const o = p.outcome;
  if (o.kind === 'invalid') {
    const first = o.problems.find((x) => x.severity === 'error');
    return status('failure', first ? `invalid: ${position(first)} ${first.message}` : 'invalid');
  }
  if (o.kind === 'error') return status('error', `preview failed: ${o.message}`);
  const { changes, unreachable } = o.plan;
  if (unreachable.length) return status('failure', `${unreachable.length} host${unreachable.length > 1 ? 's' : ''} unreachable: ${unreachable.map((u) => u.host).join(', ')}`);
  const blocking = blockingNotes(o.plan)[0];
  if (blocking) return status('failure', `blocked: ${blocking.host}: ${blocking.message}`);
  const clusters = new Set(changes.map((c) => `${c.module}/${c.cluster}`)).size;
  const flags = [changes.some((c) => c.restarts) ? 'restarts' : '', changes.some((c) => c.destructive) ? 'REMOVES' : ''].filter(Boolean);
  return status('success', changes.length ? `${changes.length} change${changes.length > 1 ? 's' : ''} in ${clusters} cluster${clusters > 1 ? 's' : ''}${flags.length ? ` (${flags.join(', ')})` : ''}` : 'no changes');
}
