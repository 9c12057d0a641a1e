/**
 * Planning is a pure function of (desired state, observations): no I/O, no clock. It returns the
 * changes with their order, and, kept apart from the plan so that a saved plan never holds one,
 * the scripts that make each change.
 */
import { createHash } from 'node:crypto';
import { kindOf, isUnsupported, type FieldChange, type Resource } from './resources/index.js';
import { recordRestart, restartScript, service, type ServiceHave } from './resources/service.js';
import { reload } from './resources/reload.js';
import { changeId, type Change, type Desired, type Note, type Observation, type Plan } from './model.js';

export interface Planned {
  plan: Plan;
  /** The shell of each change, by change id: may hold secrets, so it is never rendered or saved. */
  scripts: Map<string, string>;
}

const idOf = (r: Resource): string => kindOf(r.kind).id(r.want);
const isRunning = (x: unknown): boolean => typeof x === 'object' && x !== null && (x as { running?: unknown }).running === true;

/**
 * Resources in dependency order (stable: the module's order where deps allow). `before` adds
 * prerequisites by id that are not deps (another module's resource on the same host, from an edge):
 * they order, but a change to them does not restart anything.
 */
export function ordered(resources: readonly Resource[], before: ReadonlyMap<string, readonly string[]> = new Map()): Resource[] {
  const byId = new Map(resources.map((r) => [idOf(r), r]));
  const out: Resource[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (r: Resource): void => {
    const id = idOf(r);
    if (state.get(id) === 'done') return;
    if (state.get(id) === 'visiting') throw new Error(`dependency cycle at ${id}`);
    state.set(id, 'visiting');
    for (const dep of [...(r.deps ?? []), ...(before.get(id) ?? [])]) {
      const d = byId.get(dep);
      if (d) visit(d);
    }
    state.set(id, 'done');
    out.push(r);
  };
  resources.forEach(visit);
  return out;
}

function describe(action: Change['action'], fields: FieldChange[]): string {
  if (action === 'restart') return 'restart: a file it reads changed';
  if (action === 'create') return 'absent on the node';
  return `differs: ${fields.map((f) => f.field).join(', ')}`;
}

export function plan(desired: Desired, observations: readonly Observation[], revision: string): Planned {
  const changes: Change[] = [];
  const notes: Note[] = [];
  const unreachable: Plan['unreachable'] = [];
  const scripts = new Map<string, string>();
  const observed = new Map(observations.map((o) => [o.host, o]));
  // A host runs its changes in plan order (apply.ts): an edge between two of its own resources must order them too.
  const sameHost = new Map<string, Map<string, string[]>>();
  for (const e of desired.edges) {
    if (e.before.host !== e.after.host) continue;
    const before = sameHost.get(e.after.host) ?? sameHost.set(e.after.host, new Map()).get(e.after.host)!;
    before.set(e.after.resource, [...(before.get(e.after.resource) ?? []), e.before.resource]);
  }

  for (const host of desired.hosts) {
    const obs = observed.get(host.host);
    if (!obs || !obs.ok) {
      unreachable.push({ host: host.host, message: obs && !obs.ok ? obs.error : 'not observed' });
      continue;
    }
    const changedHere = new Set<string>();
    const kindById = new Map(host.resources.map((r) => [idOf(r), r.kind]));
    for (const r of ordered(host.resources, sameHost.get(host.host))) {
      const kind = kindOf(r.kind);
      const id = idOf(r);
      const have = obs.states[id] ?? null;
      if (isUnsupported(have)) {
        notes.push({ host: host.host, resource: id, message: have.unsupported, ...(have.blocking ? { blocking: true } : {}) });
        continue;
      }
      let fields = kind.diff(r.want, have);
      const depsChanged = (r.deps ?? []).filter((d) => changedHere.has(d));
      // A running service whose config changed restarts, unless this very change starts it; so does one
      // whose restart an earlier apply recorded and did not make.
      const recorded = r.kind === service.name && (have as ServiceHave | null)?.pendingRestart === true;
      const restart = r.kind === service.name && (depsChanged.length > 0 || recorded) && isRunning(have) && isRunning(r.want);
      // Files written now are re-read even when the record says their content was: the service may have
      // been made to read them since, edited by hand (a unit of its own that just started needs no reload).
      const filesChanged = depsChanged.filter((d) => kindById.get(d) !== service.name);
      if (r.kind === reload.name && !fields.length && filesChanged.length) fields = [{ field: 'reload', from: null, to: `after ${filesChanged.join(', ')}` }];
      if (!fields.length && !restart) continue;
      const action: Change['action'] = !fields.length ? 'restart' : have === null ? 'create' : 'update';
      const cause = depsChanged.length ? `${depsChanged.join(', ')} changed` : 'recorded by an apply that stopped before it';
      if (restart && fields.length) fields = [...fields, { field: 'restart', from: null, to: depsChanged.length ? `after ${depsChanged.join(', ')}` : cause }];
      const effects = kind.effects?.(r.want, have) ?? {};
      const cid = changeId(host.host, id);
      changes.push({
        id: cid,
        host: host.host,
        resource: id,
        kind: r.kind,
        module: r.module,
        cluster: r.cluster,
        action,
        fields,
        reason: restart ? `restart: ${cause}` : describe(action, fields),
        restarts: restart || Boolean(effects.restarts),
        destructive: Boolean(effects.destructive),
        ...(effects.destructive && effects.consent ? { consent: effects.consent } : {}),
        after: depsChanged.map((d) => changeId(host.host, d)),
      });
      const apply = fields.some((f) => f.field !== 'restart') ? kind.apply(r.want, have) : '';
      const name = (r.want as { name: string }).name;
      scripts.set(cid, [apply, restart ? restartScript(name) : ''].filter(Boolean).join('\n'));
      // Recorded before the file is written, so that a crash between the two still restarts it.
      if (restart) for (const d of depsChanged) scripts.set(changeId(host.host, d), `${recordRestart(name)}\n${scripts.get(changeId(host.host, d))}`);
      changedHere.add(id);
    }
  }

  const planned = new Set(changes.map((c) => c.id));
  for (const e of desired.edges) {
    const after = changeId(e.after.host, e.after.resource);
    const before = changeId(e.before.host, e.before.resource);
    const c = changes.find((x) => x.id === after);
    if (c && planned.has(before) && !c.after.includes(before)) c.after.push(before);
  }

  const fingerprint = fingerprintOf(revision, desired, observations);
  return { plan: { revision, fingerprint, changes, notes, unreachable, hosts: desired.hosts.map((h) => h.host) }, scripts };
}

/** Of what the plan was made from. Timing is left out: it differs on every observation. */
export function fingerprintOf(revision: string, desired: Desired, observations: readonly Observation[]): string {
  const h = createHash('sha256');
  h.update(revision);
  h.update(JSON.stringify(desired.hosts.map((d) => [d.host, d.resources.map((r) => [r.kind, r.want, r.deps ?? []])])));
  h.update(JSON.stringify(desired.edges));
  const seen = [...observations].sort((a, b) => a.host.localeCompare(b.host)).map((o) => (o.ok ? [o.host, o.facts, o.states] : [o.host, o.errorKind]));
  h.update(JSON.stringify(seen));
  return h.digest('hex');
}
