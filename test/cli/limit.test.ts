/** --limit takes cluster names (NODE's node_cluster too), host names and addresses; any other name is an error naming the choices. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateInventory } from '../../src/config/validate.js';
import { selectHosts, unknownLimits } from '../../src/engine/run.js';
import { corral } from '../helpers/cli.js';
import { tmpRepo } from '../helpers/tmp.js';

const INVENTORY = `
all:
  children:
    etcd: { hosts: { 10.0.0.11: { etcd_seq: 1 } }, vars: { etcd_cluster: etcd } }
    web: { hosts: { 10.0.0.12: { ansible_host: web-1 } }, vars: { node_cluster: web } }
`;

describe('--limit', () => {
  it('selects by cluster of any module, by host name and by address', async () => {
    const v = await validateInventory(tmpRepo({ 'pigsty.yml': INVENTORY }));
    expect(selectHosts(v, ['web']).map((h) => h.name)).toEqual(['10.0.0.12']);
    expect(selectHosts(v, ['etcd']).map((h) => h.name)).toEqual(['10.0.0.11']);
    expect(selectHosts(v, ['web-1']).map((h) => h.name)).toEqual(['10.0.0.12']);
    expect(unknownLimits(v, ['etcd', 'web', '10.0.0.11', 'web-1'])).toEqual([]);
    expect(unknownLimits(v, ['local', 'etcd'])).toEqual(['local']);
  });

  it('refuses a name that matches nothing, naming the clusters, before contacting any host', async () => {
    const r = await corral('plan', tmpRepo({ 'pigsty.yml': INVENTORY }), '--limit', 'local', '--pki-dir', mkdtempSync(join(tmpdir(), 'corral-pki-')));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--limit local matches no cluster or host; clusters: etcd, nodes, web');
    expect(r.stdout).toBe('');
  });
});
