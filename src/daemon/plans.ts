/** Plan records in the state directory (`plans/<id>.json`), served at /api/plans/:id, the last few kept per owner. */
import { randomUUID } from 'node:crypto';
import { renderJson, renderMarkdown, renderText } from '../engine/render.js';
import type { Plan } from '../engine/model.js';
import type { StateStore } from './store.js';
import type { PlanRecord } from './types.js';

/** Writes the record (secrets redacted in all three renderings) and removes the owner's older ones beyond `keep`. */
export function writePlanRecord(store: StateStore, owner: string, plan: Plan, keep: number): PlanRecord {
  const record: PlanRecord = {
    id: randomUUID(),
    cluster: owner,
    revision: plan.revision,
    createdAt: new Date().toISOString(),
    plan: JSON.parse(renderJson(plan)) as Plan,
    markdown: renderMarkdown(plan),
    text: renderText(plan),
  };
  store.write(`plans/${record.id}.json`, record);
  const mine = store
    .list('plans')
    .map((f) => store.read<PlanRecord | undefined>(`plans/${f}`, undefined))
    .filter((p): p is PlanRecord => p?.cluster === owner)
    .sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  for (const old of mine.slice(keep)) store.remove(`plans/${old.id}.json`);
  return record;
}
