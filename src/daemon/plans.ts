/** Plan records in the state directory (`plans/<id>.json`), served at /api/plans/:id, the last few kept per owner. */
import { randomUUID } from 'node:crypto';
import { renderJson, renderMarkdown, renderText } from '../engine/render.js';
import type { Plan } from '../engine/model.js';
import type { StateStore } from './store.js';
import type { PlanRecord } from './types.js';

/** The record of a plan: secrets redacted in all three renderings. */
export function planRecord(owner: string, plan: Plan): PlanRecord {
  return {
    id: randomUUID(),
    cluster: owner,
    revision: plan.revision,
    createdAt: new Date().toISOString(),
    plan: JSON.parse(renderJson(plan)) as Plan,
    markdown: renderMarkdown(plan),
    text: renderText(plan),
  };
}

/** Writes the record and removes the owner's older ones beyond `keep`. */
export function savePlanRecord(store: StateStore, record: PlanRecord, keep: number): void {
  store.write(`plans/${record.id}.json`, record);
  const mine = store
    .list('plans')
    .map((f) => store.read<PlanRecord | undefined>(`plans/${f}`, undefined))
    .filter((p): p is PlanRecord => p?.cluster === record.cluster)
    .sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  for (const old of mine.slice(keep)) store.remove(`plans/${old.id}.json`);
}

/** Writes the record (secrets redacted in all three renderings) and removes the owner's older ones beyond `keep`. */
export function writePlanRecord(store: StateStore, owner: string, plan: Plan, keep: number): PlanRecord {
  const record = planRecord(owner, plan);
  savePlanRecord(store, record, keep);
  return record;
}
