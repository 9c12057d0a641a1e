/** Cross-field rules of the MINIO module. */
import { problem, type Problem } from '../../src/config/problems.js';
import { clustersOfModule, duplicates, type Check } from '../../src/config/checks/context.js';

export const minioMembers: Check = (ctx) => {
  const out: Problem[] = [];
  for (const c of clustersOfModule(ctx, 'minio')) {
    for (const [dup, first] of duplicates(c.members, (m) => m.str('minio_seq'))) {
      out.push(problem('minio/duplicate-seq', dup.origin('minio_seq'), `minio_seq ${dup.str('minio_seq')} is used by both ${first.name} and ${dup.name}`, { related: first.origin('minio_seq') }));
    }
  }
  return out;
};
