/** Cross-field rules of the INFRA module. */
import { problem, type Problem } from '../../src/config/problems.js';
import { clustersOfModule, duplicates, isObject, type Check } from '../../src/config/checks/context.js';

/** A pg_exporters entry's `<pg_cluster>-<pg_seq>` names its unit (`pg_exporter_<ins>`) and its env file: a plain word. */
const UNIT_WORD = /^[A-Za-z0-9_.-]+$/;

export const infraMembers: Check = (ctx) => {
  const out: Problem[] = [];
  for (const c of clustersOfModule(ctx, 'infra')) {
    for (const [dup, first] of duplicates(c.members, (m) => m.str('infra_seq'))) {
      out.push(problem('infra/duplicate-seq', dup.origin('infra_seq'), `infra_seq ${dup.str('infra_seq')} is used by both ${first.name} and ${dup.name}`, { related: first.origin('infra_seq') }));
    }
  }
  const infra = new Set(clustersOfModule(ctx, 'infra').flatMap((c) => c.members));
  for (const h of ctx.hosts) {
    const entries = h.get('pg_exporters');
    if (!isObject(entries) || !Object.keys(entries).length) continue;
    if (!infra.has(h)) {
      out.push(problem('infra/pg-exporters', h.origin('pg_exporters'), `${h.name} is not an infra node (no infra_seq): its pg_exporters are not run`, { severity: 'warning' }));
      continue;
    }
    const seen = new Map<string, string>();
    for (const [port, e] of Object.entries(entries)) {
      if (!isObject(e)) continue;
      const ins = `${String(e.pg_cluster)}-${String(e.pg_seq)}`;
      if (!UNIT_WORD.test(ins)) out.push(problem('infra/pg-exporters', h.origin('pg_exporters', port, 'pg_cluster'), `pg_exporters ${port}: ${JSON.stringify(ins)} cannot name a unit; use letters, digits, ".", "-" and "_"`));
      const other = seen.get(ins);
      if (other) out.push(problem('infra/pg-exporters', h.origin('pg_exporters', port), `pg_exporters ${other} and ${port} on ${h.name} both watch ${ins}`, { related: h.origin('pg_exporters', other) }));
      else seen.set(ins, port);
    }
  }
  return out;
};
