/** Point-in-time recovery from git (pg_pitr), as data: the steps, their order, when each is due, the notes. No node. */
import { describe, expect, it } from 'vitest';
import { validateInventory } from '../../src/config/validate.js';
import { ASSUMED_FACTS } from '../../src/engine/facts.js';
import { plan } from '../../src/engine/plan.js';
import type { Resource } from '../../src/engine/resources/kind.js';
import { certificatesFor } from '../../test/helpers/pki.js';
import { parsesAsBash } from '../../test/helpers/bash.js';
import { tmpRepo } from '../../test/helpers/tmp.js';
import { threeMemberPgTest } from '../../test/helpers/inventories.js';
import { pgsql } from './index.js';
import { pending, pgPitr, type PgPitrHave, type PgPitrWant } from './kinds/pg-pitr.js';
import { pitrId, pitrTarget, restoreArgs } from './pitr.js';

const INVENTORY = (pitr: string, vars = ''): string => threeMemberPgTest([pitr ? `pg_pitr: ${pitr}` : '', vars].filter(Boolean).join(', '));

async function desiredOf(pitr: string, vars = '', limit?: string[]) {
  const v = await validateInventory(tmpRepo({ 'pigsty.yml': INVENTORY(pitr, vars) }));
  expect(v.problems.filter((p) => p.severity === 'error')).toEqual([]);
  const whole = v.clusters.find((c) => c.module === 'pgsql')!;
  const cluster = limit ? { ...whole, members: whole.members.filter((h) => limit.includes(h.name)) } : whole;
  return pgsql.desired({ cluster, hosts: v.hosts, facts: () => ASSUMED_FACTS, certificates: await certificatesFor(v), together: () => true });
}

const steps = (list: Resource[] | undefined) => (list ?? []).filter((r) => r.kind === 'pg-pitr').map((r) => r.want as PgPitrWant);
const TIME = `{ time: '2026-12-07 10:00:00+00' }`;

describe('pg_pitr plans a recovery over the whole cluster', async () => {
  const out = await desiredOf(TIME);

  it('checks the backups, holds each replica, restores the primary, clones each replica again, then records it: in that order across hosts', () => {
    expect(steps(out.resources.get('10.0.0.11')).map((w) => w.step)).toEqual(['check', 'restore', 'done']);
    for (const r of ['10.0.0.12', '10.0.0.13']) expect(steps(out.resources.get(r)).map((w) => w.step)).toEqual(['hold', 'reclone']);
    const edges = out.edges.filter((e) => e.before.resource.startsWith('pg-pitr') && e.after.resource.startsWith('pg-pitr')).map((e) => `${e.before.host} ${e.before.resource} -> ${e.after.host} ${e.after.resource}`);
    expect(edges).toEqual([
      '10.0.0.11 pg-pitr:check:pg-test-1 -> 10.0.0.12 pg-pitr:hold:pg-test-2',
      '10.0.0.12 pg-pitr:hold:pg-test-2 -> 10.0.0.11 pg-pitr:restore:pg-test-1',
      '10.0.0.11 pg-pitr:restore:pg-test-1 -> 10.0.0.12 pg-pitr:reclone:pg-test-2',
      '10.0.0.12 pg-pitr:reclone:pg-test-2 -> 10.0.0.11 pg-pitr:done:pg-test-1',
      '10.0.0.11 pg-pitr:check:pg-test-1 -> 10.0.0.13 pg-pitr:hold:pg-test-3',
      '10.0.0.13 pg-pitr:hold:pg-test-3 -> 10.0.0.11 pg-pitr:restore:pg-test-1',
      '10.0.0.11 pg-pitr:restore:pg-test-1 -> 10.0.0.13 pg-pitr:reclone:pg-test-3',
      '10.0.0.13 pg-pitr:reclone:pg-test-3 -> 10.0.0.11 pg-pitr:done:pg-test-1',
    ]);
  });

  it("keeps every member's Patroni service behind its recovery step: nothing starts it behind the recovery's back", () => {
    const startsAfter = (host: string) => out.edges.filter((e) => e.after.host === host && e.after.resource === 'service:patroni').map((e) => e.before.resource);
    expect(startsAfter('10.0.0.11')).toContain('pg-pitr:restore:pg-test-1');
    expect(startsAfter('10.0.0.12')).toContain('pg-pitr:reclone:pg-test-2');
    // Ordered, not restarted: the steps start Patroni themselves, and a restart after them would catch it starting.
    const service = (host: string) => out.resources.get(host)!.find((r) => r.kind === 'service' && (r.want as { name: string }).name === 'patroni')!;
    expect(service('10.0.0.11').deps ?? []).toEqual([]);
  });

  it('restores the stanza to the time with pgBackRest, promoted at the target, and writes the DCS settings and the intended primary back', () => {
    const restore = steps(out.resources.get('10.0.0.11'))[1]!;
    expect(restore.restoreArgs).toEqual(['--stanza=pg-test', '--pg1-path=/pg/data', '--delta', '--type=time', '--target=2026-12-07 10:00:00+00', '--target-action=promote']);
    expect(restore.targetTime).toBe('2026-12-07 10:00:00+00');
    expect(restore.dcsPatch).toMatchObject({ corral_intended_primary: 'pg-test-1', postgresql: { parameters: {} } });
    expect(restore.apis).toEqual(['http://10.0.0.11:8008', 'http://10.0.0.12:8008', 'http://10.0.0.13:8008']);
  });

  it('needs prune or --pitr: the restore and the reclones are destructive, the check, the hold and the record are not', () => {
    for (const w of [...steps(out.resources.get('10.0.0.11')), ...steps(out.resources.get('10.0.0.12'))]) {
      expect(pgPitr.effects!(w, null), w.step).toMatchObject({ destructive: w.step === 'restore' || w.step === 'reclone', consent: 'pitr' });
    }
  });

  it('resets pgBackRest\'s recovery settings one statement a -c (ALTER SYSTEM refuses a transaction block), and clears the DCS before Patroni starts again', () => {
    const [check, restore] = steps(out.resources.get('10.0.0.11')).map((w) => pgPitr.apply(w, null));
    expect(restore).toContain("-c 'ALTER SYSTEM RESET restore_command' -c 'ALTER SYSTEM RESET recovery_target' -c");
    expect(restore!.indexOf('patronictl -c /etc/patroni/patroni.yml remove pg-test')).toBeLessThan(restore!.indexOf('systemctl start patroni'));
    // Before anything stops (the check runs before every hold): no backup to serve the target, nothing stopped; the last WAL archived.
    expect(check).toContain('pgbackrest --stanza=pg-test check');
    expect(check).toContain('has no backup to restore from');
    expect(check).not.toContain('systemctl');
  });

  it("puts the member's own pg_hba.conf back after its data is replaced (a backup or a clone brings another's), saved once per recovery", () => {
    const [, reclone] = steps(out.resources.get('10.0.0.12')).map((w) => pgPitr.apply(w, null));
    const at = (s: string) => reclone!.indexOf(s);
    expect(at('cp -p /pg/data/pg_hba.conf /var/lib/corral/pgsql/pitr-kept/.new/')).toBeGreaterThan(at('systemctl stop patroni'));
    expect(at('cp -p /pg/data/pg_hba.conf /var/lib/corral/pgsql/pitr-kept/.new/')).toBeLessThan(at('rm -rf /pg/data'));
    expect(reclone).toMatch(/if \[ ! -e \/var\/lib\/corral\/pgsql\/pitr-kept\/[0-9a-f]+ \]/);
    expect(reclone!.lastIndexOf('/pg_hba.conf /pg/data/pg_hba.conf')).toBeGreaterThan(at('wait-running'));
    expect(reclone!.lastIndexOf('pg_ctl -D /pg/data reload')).toBeGreaterThan(reclone!.lastIndexOf('/pg_hba.conf /pg/data/pg_hba.conf'));
    const [, restore] = steps(out.resources.get('10.0.0.11')).map((w) => pgPitr.apply(w, null));
    const putBack = restore!.lastIndexOf('/pg_hba.conf /pg/data/pg_hba.conf');
    expect(putBack).toBeGreaterThan(restore!.indexOf('runuser -u postgres -- pgbackrest'));
    expect(putBack).toBeLessThan(restore!.indexOf('-w -t 3600'));
  });

  it('sends scripts that parse as bash', () => {
    for (const w of [...steps(out.resources.get('10.0.0.11')), ...steps(out.resources.get('10.0.0.12'))]) {
      expect(parsesAsBash(pgPitr.probe(w)), `${w.step} probe`).toBe(true);
      expect(parsesAsBash(pgPitr.apply(w, null)), `${w.step} apply`).toBe(true);
    }
  });

  it('a plan over observed members: due while a leader runs and the id is not recorded done; nothing once it is', () => {
    const all = [...out.resources.entries()].map(([host, resources]) => ({ host, target: { name: host, address: host, port: 22, user: 'root', connection: 'ssh' as const }, resources }));
    const states = (have: PgPitrHave) => Object.fromEntries(all.flatMap((h) => h.resources.filter((r) => r.kind === 'pg-pitr').map((r) => [pgPitr.id(r.want as PgPitrWant), have])));
    const observe = (have: PgPitrHave) => all.map((h) => ({ host: h.host, ok: true as const, facts: ASSUMED_FACTS, states: states(have), durationMs: 1 }));
    const desired = { hosts: all, edges: out.edges };
    const id = pitrId({ time: '2026-12-07 10:00:00+00' });
    const due = plan(desired, observe({ recorded: null, leader: true, marker: '' }), 'r').plan.changes.filter((c) => c.kind === 'pg-pitr');
    expect(due.map((c) => `${c.host} ${c.resource}`).sort()).toHaveLength(7);
    expect(due.find((c) => c.resource === 'pg-pitr:restore:pg-test-1')!.fields[0]).toEqual({ field: 'point-in-time recovery', from: null, to: `${id}: time 2026-12-07 10:00:00+00` });
    expect(plan(desired, observe({ recorded: { id, phase: 'done' }, leader: true, marker: '' }), 'r').plan.changes.filter((c) => c.kind === 'pg-pitr')).toEqual([]);
  });
});

describe('when each step is due', () => {
  const w = (step: PgPitrWant['step']) => ({ step, id: 'abc' }) as PgPitrWant;
  const have = (recorded: PgPitrHave['recorded'], leader: boolean, marker = ''): PgPitrHave => ({ recorded, leader, marker });
  const table = (h: PgPitrHave | null) => (['check', 'hold', 'restore', 'reclone', 'done'] as const).filter((s) => pending(w(s), h));

  it('a running cluster without this recovery recorded: every step', () => expect(table(have({ id: 'old', phase: 'done' }, true))).toEqual(['check', 'hold', 'restore', 'reclone', 'done']));
  it('recorded done: none (removing pg_pitr later plans nothing either: no steps are built)', () => expect(table(have({ id: 'abc', phase: 'done' }, true))).toEqual([]));
  it('restored, replicas not yet cloned: the reclones and the record', () => expect(table(have({ id: 'abc', phase: 'restored' }, true, 'abc hold'))).toEqual(['reclone', 'done']));
  it('restored, this replica cloned: only the record', () => expect(table(have({ id: 'abc', phase: 'restored' }, true, 'abc recloned'))).toEqual(['done']));
  it('cut off while no member leads, this member having begun it: resumed', () => expect(table(have(null, false, 'abc restore'))).toEqual(['check', 'hold', 'restore', 'reclone', 'done']));
  it('no member leads and none began it (a cluster not built yet): nothing to recover', () => {
    expect(table(have(null, false))).toEqual([]);
    expect(table(null)).toEqual([]);
  });
});

describe('pg_pitr fields', () => {
  const h = { str: (k: string) => ({ pg_cluster: 'pg-test', pg_data: '/pg/data' })[k] } as never;
  it('maps each to pgBackRest restore options', () => {
    expect(restoreArgs({ lsn: '0/7C82CB8', exclusive: true, set: '20261207-100000F', timeline: 2, archive: false, db_include: ['app'], link_map: { pg_wal: '/wal' }, process: 4 }, h)).toEqual([
      '--stanza=pg-test', '--pg1-path=/pg/data', '--delta', '--type=lsn', '--target=0/7C82CB8', '--target-action=promote', '--target-exclusive', '--set=20261207-100000F', '--target-timeline=2', '--archive-mode=off', '--db-include=app', '--link-map=pg_wal=/wal', '--process-max=4',
    ]);
    expect(restoreArgs({ type: 'immediate' }, h)).toEqual(['--stanza=pg-test', '--pg1-path=/pg/data', '--delta', '--type=immediate', '--target-action=promote']);
    expect(restoreArgs({}, h)).toEqual(['--stanza=pg-test', '--pg1-path=/pg/data', '--delta']);
  });
  it('names the target for the plan, and one id per distinct value whatever its key order', () => {
    expect(pitrTarget({ name: 'before-migration', set: '20261207-100000F' })).toBe('name before-migration, from backup 20261207-100000F');
    expect(pitrTarget({})).toBe('the end of the WAL archive');
    expect(pitrId({ time: 't', action: 'promote' })).toBe(pitrId({ action: 'promote', time: 't' }));
    expect(pitrId({ time: 't' })).not.toBe(pitrId({ time: 'u' }));
  });
});

describe('pg_pitr refused or noted', () => {
  const blocking = async (pitr: string, vars = '', limit?: string[]) => (await desiredOf(pitr, vars, limit)).notes.filter((n) => n.blocking).map((n) => n.message);
  it('is refused while pg_safeguard is on, and builds no step', async () => {
    const out = await desiredOf(TIME, 'pg_safeguard: true');
    expect(out.notes.filter((n) => n.blocking).map((n) => n.message)).toEqual(['pg_pitr of pg-test: refused while pg_safeguard is on (set pg_safeguard: false in the same commit to allow the restore); nothing is restored']);
    expect(steps(out.resources.get('10.0.0.11'))).toEqual([]);
  });
  it("refuses action shutdown, another cluster's stanza, a repository of its own, a type without its target, a run over part of the cluster", async () => {
    expect(await blocking(`{ time: 't', action: shutdown }`)).toEqual([expect.stringContaining('action: shutdown would leave the cluster down')]);
    expect(await blocking(`{ time: 't', cluster: pg-other }`)).toEqual([expect.stringContaining("restoring another cluster's stanza")]);
    expect(await blocking(`{ time: 't', repo: { type: s3 } }`)).toEqual([expect.stringContaining('a repository of its own')]);
    expect(await blocking(`{ type: xid }`)).toEqual([expect.stringContaining('type: xid needs xid')]);
    expect(await blocking(TIME, '', ['10.0.0.11'])).toEqual([expect.stringContaining('the run must take the whole cluster')]);
  });
  it('notes (without blocking) that action pause is carried out as promote', async () => {
    const out = await desiredOf(`{ time: 't', action: pause }`);
    expect(out.notes.filter((n) => !n.blocking && n.message.startsWith('pg_pitr')).map((n) => n.message)).toEqual([expect.stringContaining('action: pause is carried out as promote')]);
    expect(steps(out.resources.get('10.0.0.11')).map((s) => s.step)).toEqual(['check', 'restore', 'done']);
  });
  it('builds nothing without pg_pitr', async () => {
    const out = await desiredOf('');
    expect([...out.resources.values()].flatMap(steps)).toEqual([]);
  });
});
