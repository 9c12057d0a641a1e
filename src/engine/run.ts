/**
 * One engine run over a validated inventory: compile the desired state, observe every host in one
 * round trip each, plan; and, for apply, apply the plan, then observe and plan again: the run
 * converged only when that second plan is empty.
 */
import type { Validated } from '../config/validate.js';
import type { HostView } from '../config/hosts.js';
import type { Module } from '../config/clusters.js';
import type { Transport, Target } from '../transport/types.js';
import { loadReconcilers, phases, reconcilerOf, unmanagedReason } from './modules.js';
import { ASSUMED_FACTS, compileKey } from './facts.js';
import { observe } from './observe.js';
import { plan as makePlan, type Planned } from './plan.js';
import { applyPlan, type ApplyEvent, type ChangeResult, type Fence } from './apply.js';
import type { Desired, Facts, HostDesired, Note, Observation } from './model.js';
import { targetOf, type SshDefaults } from './targets.js';
import { ignoredNotes } from './ignored.js';
import { concealDecrypted, concealResult } from './conceal.js';
import type { Certificates, Controller, Reconciler } from './reconciler.js';
import type { CertificateIssuer, CertificateRequest } from '../pki/authority.js';

export interface RunContext {
  validated: Validated;
  transport: Transport;
  ssh: SshDefaults;
  revision: string;
  /** Issues the certificates the modules ask for (a preview's issuer never writes). */
  pki: CertificateIssuer;
  /** Cluster names or host names/IPs; hosts outside are left out of the run. */
  limit?: string[];
  /** Only this cluster's module, on its members: the daemon's reconcile unit. */
  cluster?: { module: Module; name: string };
  /** The daemon this run is part of (the CLI has none). */
  controller?: Controller;
  /** Daemons that share the fleet: each change runs only while this one still owns the unit. */
  fence?: Fence;
}

export interface Planning extends Planned {
  desired: Desired;
  observations: Observation[];
  targets: Map<string, Target>;
}

/** Hosts selected by --limit: a cluster name selects its members, a name or address selects one host. */
export function selectHosts(v: Validated, limit: readonly string[] | undefined): HostView[] {
  if (!limit?.length) return v.hosts;
  const wanted = new Set(limit);
  const picked = new Set<HostView>();
  for (const c of v.clusters) if (wanted.has(c.name)) c.members.forEach((m) => picked.add(m));
  for (const h of v.hosts) if (wanted.has(h.name) || wanted.has(h.address)) picked.add(h);
  return v.hosts.filter((h) => picked.has(h));
}

/**
 * The modules that build their clusters (those without a reconciler are Unmanaged), in the daemon's
 * phases: a host runs its modules' changes in this order too, so a change that waits for another
 * host's change of an earlier module (a node for its infra node's repository) never waits behind
 * a change of a later module there that waits for it in turn.
 */
const reconcilers = (): Reconciler[] =>
  phases()
    .flat()
    .flatMap((m) => {
      const r = reconcilerOf(m);
      return r ? [r] : [];
    });

/** Each module's clusters in the run, with only their selected members (`whole`: all of them); clusters with none are left out. */
function* clustersInRun(v: Validated, hosts: readonly HostView[], only: RunContext['cluster']): Generator<{ reconciler: Reconciler; cluster: Validated['clusters'][number]; whole: boolean }> {
  const selected = new Set(hosts.map((h) => h.name));
  for (const reconciler of reconcilers()) {
    for (const cluster of v.clusters.filter((c) => c.module === reconciler.module && inScope(c, only))) {
      const members = cluster.members.filter((m) => selected.has(m.name));
      if (members.length) yield { reconciler, cluster: { ...cluster, members }, whole: members.length === cluster.members.length };
    }
  }
}

/** The certificates the run's clusters need, issued before compiling (compiling stays pure). */
export async function issueCertificates(v: Validated, hosts: readonly HostView[], pki: CertificateIssuer, only?: RunContext['cluster']): Promise<Certificates> {
  const requests: CertificateRequest[] = [];
  for (const { reconciler, cluster } of clustersInRun(v, hosts, only)) requests.push(...(reconciler.certificates?.({ cluster, hosts: v.hosts }) ?? []));
  const issued = await pki.issue(requests);
  return {
    ca: pki.ca,
    get(id) {
      const cert = issued.get(id);
      if (!cert) throw new Error(`no certificate was requested for ${id}`);
      return cert;
    },
  };
}

/** Clusters of modules Corral does not build, said once each on their first member selected: never shown as in sync. */
function unmanagedNotes(v: Validated, hosts: readonly HostView[], only: RunContext['cluster']): Note[] {
  const selected = new Set(hosts.map((h) => h.name));
  const notes: Note[] = [];
  for (const c of v.clusters.filter((x) => inScope(x, only))) {
    const reason = unmanagedReason(c.module);
    const first = c.members.find((m) => selected.has(m.name));
    if (reason && first) notes.push({ host: first.name, resource: c.module, message: `${c.module.toUpperCase()} cluster ${c.name} is Unmanaged: ${reason}` });
  }
  return notes;
}

/** The --limit names that match no cluster (of any module, NODE's node_cluster too), host name or address. */
export function unknownLimits(v: Validated, limit: readonly string[]): string[] {
  const known = new Set([...v.clusters.map((c) => c.name), ...v.hosts.flatMap((h) => [h.name, h.address])]);
  return limit.filter((name) => !known.has(name));
}

export function compile(v: Validated, hosts: readonly HostView[], facts: (host: string) => Facts, certificates: Certificates, targets: Map<string, Target>, scope: Pick<RunContext, 'cluster' | 'controller'> = {}): { desired: Desired; notes: Note[] } {
  const only = scope.cluster;
  const perHost = new Map<string, HostDesired>(hosts.map((h) => [h.name, { host: h.name, target: targets.get(h.name)!, resources: [] }]));
  const desired: Desired = { hosts: [...perHost.values()], edges: [] };
  const notes: Note[] = [];
  const inRun = [...clustersInRun(v, hosts, only)];
  // A cluster is together with the others only whole: a --limit that leaves out some of its members leaves it out.
  const whole = new Set(inRun.filter((c) => c.whole).map(({ cluster }) => `${cluster.module}/${cluster.name}`));
  const together = (module: string, name: string): boolean => whole.has(`${module}/${name}`);
  for (const { reconciler, cluster } of inRun) {
    const out = reconciler.desired({ cluster, hosts: v.hosts, facts, certificates, together, ...(scope.controller ? { controller: scope.controller } : {}) });
    for (const [host, resources] of out.resources) perHost.get(host)?.resources.push(...resources);
    desired.edges.push(...out.edges);
    notes.push(...out.notes);
  }
  return { desired, notes };
}

/**
 * Members that clusters still run but the inventory dropped (a host taken out of pg-test), as
 * their modules read them from the observations: their retirement joins `desired` on the
 * addresses the clusters know them by, reached as an inventory host is, with the edges that order
 * it before the remaining members' steps. Only for clusters whose every member is in the run, so
 * a --limit never retires what it did not select. Returns the hosts that gained resources (to
 * observe them) and the modules' notes.
 */
function departures(ctx: RunContext, hosts: readonly HostView[], desired: Desired, observations: readonly Observation[]): { hosts: HostDesired[]; notes: Note[] } {
  const selected = new Set(hosts.map((h) => h.name));
  const touched = new Set<HostDesired>();
  const notes: Note[] = [];
  const root = ctx.validated.inventory?.root ?? '.';
  for (const reconciler of reconcilers()) {
    if (!reconciler.departed) continue;
    for (const cluster of ctx.validated.clusters.filter((c) => c.module === reconciler.module && inScope(c, ctx.cluster))) {
      if (!cluster.members.every((m) => selected.has(m.name))) continue;
      const out = reconciler.departed({ cluster, hosts: ctx.validated.hosts, observations });
      notes.push(...out.notes);
      desired.edges.push(...(out.edges ?? []));
      for (const d of out.departures) {
        let host = desired.hosts.find((h) => h.target.address === d.address);
        if (!host) {
          host = { host: d.address, target: { ...targetOf(d.reachedAs, ctx.ssh, root), name: d.address, address: d.address }, resources: [] };
          desired.hosts.push(host);
        }
        host.resources.push(...d.resources);
        touched.add(host);
      }
    }
  }
  return { hosts: [...touched], notes };
}

const inScope = (c: { module: Module; name: string }, only: RunContext['cluster']): boolean => !only || (only.module === c.module && only.name === c.name);

export async function planRun(ctx: RunContext, knownFacts = new Map<string, Facts>()): Promise<Planning> {
  await loadReconcilers();
  const unit = ctx.cluster && ctx.validated.clusters.find((c) => c.module === ctx.cluster!.module && c.name === ctx.cluster!.name);
  const hosts = unit ? unit.members : selectHosts(ctx.validated, ctx.limit);
  const root = ctx.validated.inventory?.root ?? '.';
  const targets = new Map(hosts.map((h) => [h.name, targetOf(h, ctx.ssh, root)]));
  const factsOf = (host: string): Facts => knownFacts.get(host) ?? ASSUMED_FACTS;
  const certificates = await issueCertificates(ctx.validated, hosts, ctx.pki, ctx.cluster);
  let { desired, notes } = compile(ctx.validated, hosts, factsOf, certificates, targets, ctx);
  let observations = await observe(ctx.transport, desired.hosts);
  // A node that is not what was assumed (another OS or arch) wants other resources: compile for
  // what was seen and look again. Nodes seen before are compiled right the first time.
  const learned = new Map(knownFacts);
  for (const o of observations) if (o.ok) learned.set(o.host, o.facts);
  const wrong = observations.filter((o) => o.ok && compileKey(o.facts) !== compileKey(factsOf(o.host)));
  if (wrong.length) {
    ({ desired, notes } = compile(ctx.validated, hosts, (h) => learned.get(h) ?? ASSUMED_FACTS, certificates, targets, ctx));
    const again = await observe(ctx.transport, desired.hosts.filter((h) => wrong.some((w) => w.host === h.host)));
    observations = observations.map((o) => again.find((a) => a.host === o.host) ?? o);
  }
  const departed = departures(ctx, hosts, desired, observations);
  if (departed.hosts.length) {
    for (const h of departed.hosts) targets.set(h.host, h.target);
    const again = await observe(ctx.transport, departed.hosts);
    observations = [...observations.filter((o) => !again.some((a) => a.host === o.host)), ...again];
  }
  notes.push(...departed.notes);
  const planned = makePlan(desired, observations, ctx.revision);
  planned.plan.notes.unshift(...notes.filter((n) => !planned.plan.unreachable.some((u) => u.host === n.host)));
  // Said whether or not the host answered: they are about Corral, not the node.
  planned.plan.notes.unshift(...unmanagedNotes(ctx.validated, hosts, ctx.cluster), ...[...clustersInRun(ctx.validated, hosts, ctx.cluster)].flatMap(({ cluster }) => ignoredNotes(cluster)));
  // The one place decrypted secrets are marked, for every plan: CLI, daemon, previews, verification.
  return { ...planned, plan: concealDecrypted(planned.plan, ctx.validated.inventory?.decrypted ?? []), desired, observations, targets };
}

export interface ApplyOutcome {
  results: ChangeResult[];
  /** The plan made after applying: empty when the nodes converged. */
  verify: Planning;
  converged: boolean;
}

export async function applyRun(ctx: RunContext, planning: Planning, onEvent?: (e: ApplyEvent) => void): Promise<ApplyOutcome> {
  const decrypted = ctx.validated.inventory?.decrypted ?? [];
  const concealedEvents = onEvent && ((e: ApplyEvent): void => onEvent(e.type === 'done' ? { ...e, result: concealResult(e.result, decrypted) } : e));
  const results = (await applyPlan(ctx.transport, planning.plan, { targets: planning.targets, scripts: planning.scripts, ...(concealedEvents ? { onEvent: concealedEvents } : {}), ...(ctx.fence ? { fence: ctx.fence } : {}) })).map((r) => concealResult(r, decrypted));
  const facts = new Map<string, Facts>();
  for (const o of planning.observations) if (o.ok) facts.set(o.host, o.facts);
  const verify = await planRun(ctx, facts);
  const converged = verify.plan.changes.length === 0 && verify.plan.unreachable.length === 0 && results.every((r) => r.status === 'applied');
  return { results, verify, converged };
}
