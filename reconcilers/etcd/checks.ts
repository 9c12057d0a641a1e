/** Cross-field rules of the ETCD module. */
import { problem, type Problem } from '../../src/config/problems.js';
import { clustersOfModule, duplicates, type Check } from '../../src/config/checks/context.js';

export const etcdMembers: Check = (ctx) => {
  const out: Problem[] = [];
  for (const c of clustersOfModule(ctx, 'etcd')) {
    // Pigsty's playbooks address the etcd members by a group named after the cluster.
    const misnamed = new Set<string>();
    for (const m of c.members) {
      if (m.int('etcd_seq') === undefined) out.push(problem('etcd/missing-seq', m.origin('etcd_seq'), `etcd member ${m.name} has no integer etcd_seq`));
      if (!m.groups.includes(c.name)) for (const e of m.def.entries) misnamed.add(e.group);
    }
    for (const group of misnamed) {
      const def = ctx.inventory.groups.get(group)!;
      out.push(problem('etcd/group-name', def.at, `group "${group}" holds members of etcd cluster "${c.name}"; name the group "${c.name}"`));
    }
    for (const [dup, first] of duplicates(c.members, (m) => m.str('etcd_seq'))) {
      out.push(problem('etcd/duplicate-seq', dup.origin('etcd_seq'), `etcd_seq ${dup.str('etcd_seq')} is used by both ${first.name} and ${dup.name}`, { related: first.origin('etcd_seq') }));
    }
    if (c.members.length % 2 === 0) {
      out.push(problem('etcd/even-members', c.members[0]!.origin('etcd_seq'), `etcd cluster ${c.name} has ${c.members.length} members; an odd number (1, 3, 5) gives the same fault tolerance for fewer nodes`));
    }
  }
  return out;
};
