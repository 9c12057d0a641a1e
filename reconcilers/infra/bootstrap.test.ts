/**
 * Pigsty's bootstrap order in one plan (`corral apply`): nodes whose APT sources fetch from the
 * infra node's repository write them, and install their packages, after that node's nginx serves.
 */
import { describe, expect, it } from 'vitest';
import { validateInventory } from '../../src/config/validate.js';
import { ASSUMED_FACTS } from '../../src/engine/facts.js';
import { changeId, type Desired, type Plan } from '../../src/engine/model.js';
import { plan } from '../../src/engine/plan.js';
import { compile } from '../../src/engine/run.js';
import { tmpRepo } from '../../test/helpers/tmp.js';
import { certificatesFor } from '../../test/helpers/pki.js';

const LOCAL = `{ name: pigsty-local, module: local, releases: [12], arch: [x86_64, aarch64], baseurl: { default: 'http://\${admin_ip}/pigsty ./' } }`;
const DEBIAN = `{ name: debian, module: debian, releases: [12], arch: [x86_64, aarch64], baseurl: { default: 'http://deb.debian.org/debian/ \${distro_codename} main' } }`;

/** An infra node, two nodes on its local repository and one on Debian's mirror only. */
const FLEET = `
all:
  children:
    infra: { hosts: { 10.0.0.10: { infra_seq: 1 } } }
    www: { hosts: { 10.0.0.11: {}, 10.0.0.12: {} }, vars: { node_cluster: www } }
    ext: { hosts: { 10.0.0.13: { node_repo_modules: debian } }, vars: { node_cluster: ext } }
  vars:
    admin_ip: 10.0.0.10
    node_repo_modules: local
    repo_upstream: [ ${LOCAL}, ${DEBIAN} ]
`;

/** Pigsty's three-node layout: the infra node is an etcd member and runs pg-meta, whose Patroni waits for every etcd member. */
const HA = `
all:
  children:
    infra: { hosts: { 10.0.0.10: { infra_seq: 1 } } }
    etcd: { hosts: { 10.0.0.10: { etcd_seq: 1 }, 10.0.0.11: { etcd_seq: 2 }, 10.0.0.12: { etcd_seq: 3 } }, vars: { etcd_cluster: etcd } }
    pg-meta: { hosts: { 10.0.0.10: { pg_seq: 1, pg_role: primary } }, vars: { pg_cluster: pg-meta } }
    pg-test: { hosts: { 10.0.0.11: { pg_seq: 1, pg_role: primary }, 10.0.0.12: { pg_seq: 2, pg_role: replica } }, vars: { pg_cluster: pg-test } }
  vars:
    admin_ip: 10.0.0.10
    node_repo_modules: local
    repo_upstream: [ ${LOCAL} ]
`;

const INFRA = '10.0.0.10';
const NGINX = 'reload:nginx';

/** The desired state of every module over the inventory, and the plan for nodes where nothing is installed yet. */
async function bootstrap(text: string): Promise<{ desired: Desired; plan: Plan }> {
  const v = await validateInventory(tmpRepo({ 'pigsty.yml': text }));
  expect(v.problems.filter((p) => p.severity === 'error')).toEqual([]);
  const targets = new Map(v.hosts.map((h) => [h.name, { name: h.name, address: h.address, port: 22, user: 'root', connection: 'ssh' as const }]));
  const { desired } = compile(v, v.hosts, () => ASSUMED_FACTS, await certificatesFor(v), targets);
  const bare = desired.hosts.map((h) => ({ host: h.host, ok: true as const, facts: ASSUMED_FACTS, states: {}, durationMs: 1 }));
  return { desired, plan: plan(desired, bare, 'test').plan };
}

const afterOf = (p: Plan, host: string, resource: string): string[] => {
  const c = p.changes.find((x) => x.id === changeId(host, resource));
  if (!c) throw new Error(`no change of ${resource} on ${host}`);
  return c.after;
};

/**
 * The changes an apply could never run: each host runs its changes in plan order, and a change
 * also waits for those in its `after` (apply.ts). Empty when every change can run.
 */
function stuck(p: Plan): string[] {
  const waits = new Map(p.changes.map((c) => [c.id, new Set(c.after.filter((a) => p.changes.some((x) => x.id === a)))]));
  const previous = new Map<string, string>();
  for (const c of p.changes) {
    const prior = previous.get(c.host);
    if (prior) waits.get(c.id)!.add(prior);
    previous.set(c.host, c.id);
  }
  const done = new Set<string>();
  for (let progress = true; progress; ) {
    progress = false;
    for (const [id, on] of waits) {
      if (!done.has(id) && [...on].every((d) => done.has(d))) {
        done.add(id);
        progress = true;
      }
    }
  }
  return p.changes.filter((c) => !done.has(c.id)).map((c) => c.id);
}

describe('nodes install from the repository the infra node serves (Pigsty\'s bootstrap order)', () => {
  it('a node whose APT sources fetch from the infra node writes them, and installs its packages, after the infra node\'s nginx serves', async () => {
    const { plan: p } = await bootstrap(FLEET);
    const nginx = changeId(INFRA, NGINX);
    expect(p.changes.some((c) => c.id === nginx)).toBe(true);
    for (const host of ['10.0.0.11', '10.0.0.12']) {
      expect(afterOf(p, host, 'apt-source:local')).toContain(nginx);
      expect(afterOf(p, host, 'packages:node')).toContain(nginx);
    }
  });

  it('a node whose sources do not name the infra node does not wait for it; nor does the infra node wait for itself', async () => {
    const { desired, plan: p } = await bootstrap(FLEET);
    expect(afterOf(p, '10.0.0.13', 'apt-source:debian')).not.toContain(changeId(INFRA, NGINX));
    expect(afterOf(p, '10.0.0.13', 'packages:node')).not.toContain(changeId(INFRA, NGINX));
    // The infra node's own sources name it (admin_ip): no edge; INFRA runs before NODE there, as the daemon's phases have it.
    expect(afterOf(p, INFRA, 'apt-source:local')).not.toContain(changeId(INFRA, NGINX));
    const onInfra = p.changes.filter((c) => c.host === INFRA).map((c) => c.resource);
    expect(onInfra.indexOf(NGINX)).toBeGreaterThanOrEqual(0);
    expect(onInfra.indexOf(NGINX)).toBeLessThan(onInfra.indexOf('apt-source:local'));
    expect(desired.edges.filter((e) => e.before.resource === NGINX).map((e) => `${e.after.host} ${e.after.resource}`)).toEqual([
      '10.0.0.11 apt-source:local',
      '10.0.0.11 packages:node',
      '10.0.0.12 apt-source:local',
      '10.0.0.12 packages:node',
    ]);
  });

  it('leaves no change an apply could not run, also where the infra node waits for other nodes (Patroni on its etcd)', async () => {
    for (const text of [FLEET, HA]) {
      const { plan: p } = await bootstrap(text);
      expect(p.changes.length).toBeGreaterThan(0);
      expect(stuck(p)).toEqual([]);
    }
    const { plan: ha } = await bootstrap(HA);
    expect(afterOf(ha, '10.0.0.11', 'packages:node')).toContain(changeId(INFRA, NGINX));
    expect(afterOf(ha, INFRA, 'service:patroni')).toContain(changeId('10.0.0.11', 'service:etcd'));
  });

  it('the cycle check finds a change that waits for one after it on its own host', async () => {
    const { plan: p } = await bootstrap(FLEET);
    const first = p.changes.find((c) => c.host === INFRA)!;
    const last = p.changes.filter((c) => c.host === INFRA).at(-1)!;
    const looped = { ...p, changes: p.changes.map((c) => (c === first ? { ...c, after: [...c.after, last.id] } : c)) };
    expect(stuck(looped)).toContain(first.id);
  });
});
