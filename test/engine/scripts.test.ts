/**
 * Every script Corral would send to a node parses as bash: the observation script of each host and
 * each resource's apply, for the lab inventories (etcd, PGSQL). A quoting slip (an unquoted `(`, a
 * `$((` read as arithmetic) otherwise shows only on a real node, as "output cut short".
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parsesAsBash as parses } from '../helpers/bash.js';
import { validateInventory } from '../../src/config/validate.js';
import { ASSUMED_FACTS } from '../../src/engine/facts.js';
import { observeScript } from '../../src/engine/observe.js';
import { kindOf } from '../../src/engine/resources/index.js';
import { compile } from '../../src/engine/run.js';
import { certificatesFor } from '../helpers/pki.js';


describe('scripts sent to nodes', () => {
  it('bash -n tells a broken script from a good one', () => {
    expect(parses('r=$( (echo a) ) && echo "$r"')).toBe(true);
    expect(parses('grep -c -F (prefix /pg/)')).toBe(false);
  });

  for (const fixture of ['lab-pg', 'lab-etcd']) {
    it(`parse for every host and resource of ${fixture}`, async () => {
      const v = await validateInventory(join(import.meta.dirname, '../fixtures', fixture));
      const targets = new Map(v.hosts.map((h) => [h.name, { name: h.name, address: h.address, port: 22, user: 'root', connection: 'ssh' as const }]));
      const { desired } = compile(v, v.hosts, () => ASSUMED_FACTS, await certificatesFor(v), targets);
      const broken: string[] = [];
      for (const host of desired.hosts) {
        if (!parses(observeScript(host.resources, 'n0nce'))) broken.push(`${host.host} observation`);
        for (const r of host.resources) if (!parses(kindOf(r.kind).apply(r.want, null))) broken.push(`${host.host} ${kindOf(r.kind).id(r.want)} apply`);
      }
      expect(desired.hosts.length).toBeGreaterThan(0);
      expect(broken).toEqual([]);
    });
  }
});
