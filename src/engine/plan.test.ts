import { describe, expect, it } from 'vitest';
import { plan } from './plan.js';
import { renderJson, renderMarkdown, renderText } from './render.js';
import { observeScript, parseObservation, splitSections } from './observe.js';
import type { Desired, Observation } from './model.js';
import type { Resource } from './resources/kind.js';
import { ASSUMED_FACTS } from './facts.js';
import { file, sha256, type FileWant } from './resources/file.js';

const target = { name: 'n1', address: '10.0.0.1', port: 22, user: 'root', connection: 'ssh' as const };
const res = (kind: string, want: unknown, deps?: string[]): Resource => ({ kind, want, module: 'node', cluster: 'nodes', ...(deps ? { deps } : {}) });

const confWant: FileWant = { path: '/etc/app.conf', content: 'port = 2\n', mode: 0o644 };
const conf = res('file', confWant);
const svc = res('service', { name: 'app', enabled: true, running: true }, ['file:/etc/app.conf']);
const secretFile = res('file', { path: '/etc/app.secret', content: 'password = hunter2-canary\n', mode: 0o600, secret: true });
const desired: Desired = { hosts: [{ host: 'n1', target, resources: [svc, conf, secretFile] }], edges: [] };

const seen = (states: Record<string, unknown>): Observation[] => [{ host: 'n1', ok: true, facts: ASSUMED_FACTS, states, durationMs: 1 }];
const inSync = {
  'file:/etc/app.conf': { type: 'regular file', owner: 'root', group: 'root', mode: 0o644, sha256: sha256('port = 2\n'), content: 'port = 2\n' },
  'service:app': { enabled: true, running: true },
  'file:/etc/app.secret': null,
};

describe('plan', () => {
  it('is empty when the node matches', () => {
    const states = { ...inSync, 'file:/etc/app.secret': { type: 'regular file', owner: 'root', group: 'root', mode: 0o600, sha256: sha256('password = hunter2-canary\n') } };
    const { plan: p } = plan(desired, seen(states), 'r1');
    expect(p.changes).toEqual([]);
    expect(renderText(p)).toContain('No changes');
  });

  it('orders a service after the file it reads and restarts it when the file changes', () => {
    const states = { ...inSync, 'file:/etc/app.conf': { ...inSync['file:/etc/app.conf'], sha256: 'old', content: 'port = 1\n' } };
    const { plan: p, scripts } = plan(desired, seen(states), 'r1');
    const ids = p.changes.map((c) => c.resource);
    expect(ids.indexOf('file:/etc/app.conf')).toBeLessThan(ids.indexOf('service:app'));
    const restart = p.changes.find((c) => c.resource === 'service:app')!;
    expect(restart).toMatchObject({ action: 'restart', restarts: true, after: ['n1|file:/etc/app.conf'] });
    expect(scripts.get(restart.id)).toContain('systemctl restart app.service');
  });

  it('records the restart on the node before the file is written, so a crash between the two still restarts it', () => {
    const states = { ...inSync, 'file:/etc/app.conf': { ...inSync['file:/etc/app.conf'], sha256: 'old', content: 'port = 1\n' } };
    const { plan: p, scripts } = plan(desired, seen(states), 'r1');
    const fileScript = scripts.get('n1|file:/etc/app.conf')!;
    expect(fileScript.indexOf('touch /var/lib/corral/restart/app.service')).toBeGreaterThan(-1);
    expect(fileScript.indexOf('touch /var/lib/corral/restart/app.service')).toBeLessThan(fileScript.indexOf('/etc/app.conf'));
    const restartScript = scripts.get(p.changes.find((c) => c.resource === 'service:app')!.id)!;
    expect(restartScript.indexOf('rm -f /var/lib/corral/restart/app.service')).toBeGreaterThan(restartScript.indexOf('systemctl restart app.service'));
    // The file written, the daemon gone before the restart: the next plan finds the record and restarts it.
    const { plan: next, scripts: nextScripts } = plan(desired, seen({ ...inSync, 'service:app': { ...inSync['service:app'], pendingRestart: true } }), 'r1');
    const restart = next.changes.filter((c) => c.resource === 'service:app');
    expect(restart).toMatchObject([{ action: 'restart', restarts: true, reason: 'restart: recorded by an apply that stopped before it', after: [] }]);
    expect(nextScripts.get(restart[0]!.id)).toContain('systemctl restart app.service');
    // A recorded restart of a service that is stopped is not made: starting it reads the file, and removes the record.
    const stopped = plan(desired, seen({ ...inSync, 'service:app': { enabled: true, running: false, pendingRestart: true } }), 'r1');
    const start = stopped.plan.changes.filter((c) => c.resource === 'service:app');
    expect(start.map((c) => c.action)).toEqual(['update']);
    expect(stopped.scripts.get(start[0]!.id)).toMatch(/systemctl start app\.service\nrm -f \/var\/lib\/corral\/restart\/app\.service/);
  });

  it('reloads after a file it reads is written, even when the record says that content was loaded; not after its unit starts', () => {
    const reloadWant = { name: 'app', sha256: sha256('port = 2\n'), action: 'reload', firstTime: 'reload' };
    // The unit does not depend on the file (no restart): the reload record does.
    const unit = res('service', { name: 'app', enabled: true, running: true });
    const withReload: Desired = { hosts: [{ host: 'n1', target, resources: [conf, unit, res('reload', reloadWant, ['file:/etc/app.conf', 'service:app'])] }], edges: [] };
    const loaded = { ...inSync, 'reload:app': { sha256: reloadWant.sha256 } };
    expect(plan(withReload, seen(loaded), 'r1').plan.changes).toEqual([]);
    // The file edited by hand (and maybe reloaded so): written back, then reloaded again.
    const edited = plan(withReload, seen({ ...loaded, 'file:/etc/app.conf': { ...inSync['file:/etc/app.conf'], sha256: 'old', content: 'port = 1\n' } }), 'r1');
    const again = edited.plan.changes.find((c) => c.resource === 'reload:app')!;
    expect(again).toMatchObject({ action: 'update', restarts: false, fields: [{ field: 'reload', from: null, to: 'after file:/etc/app.conf' }], after: ['n1|file:/etc/app.conf'] });
    expect(edited.scripts.get(again.id)).toContain('systemctl reload app');
    // Only the unit started: it read the file as it started.
    const started = plan(withReload, seen({ ...loaded, 'service:app': { enabled: true, running: false } }), 'r1');
    expect(started.plan.changes.map((c) => c.resource)).toEqual(['service:app']);
  });

  it('does not restart a service that this change starts', () => {
    const states = { ...inSync, 'file:/etc/app.conf': null, 'service:app': { enabled: false, running: false } };
    const svcChange = plan(desired, seen(states), 'r1').plan.changes.find((c) => c.resource === 'service:app')!;
    expect(svcChange.action).toBe('update');
    expect(svcChange.fields.map((f) => f.field)).toEqual(['enabled', 'running']);
  });

  it('reports an unreachable host and still plans the others', () => {
    const two: Desired = { hosts: [...desired.hosts, { host: 'n2', target: { ...target, name: 'n2' }, resources: [conf] }], edges: [] };
    const p = plan(two, [...seen(inSync), { host: 'n2', ok: false, error: 'connect ETIMEDOUT', errorKind: 'unreachable' }], 'r1').plan;
    expect(p.unreachable).toEqual([{ host: 'n2', message: 'connect ETIMEDOUT' }]);
    expect(p.changes.every((c) => c.host === 'n1')).toBe(true);
  });

  it('turns an unsupported resource into a note, not a change', () => {
    const d: Desired = { hosts: [{ host: 'n1', target, resources: [res('sysctl', { key: 'vm.swappiness', value: 10 })] }], edges: [] };
    const p = plan(d, seen({ 'sysctl:vm.swappiness': { unsupported: 'read-only here' } }), 'r1').plan;
    expect(p.changes).toEqual([]);
    expect(p.notes).toEqual([{ host: 'n1', resource: 'sysctl:vm.swappiness', message: 'read-only here' }]);
    const blocked = plan(d, seen({ 'sysctl:vm.swappiness': { unsupported: 'not on this node', blocking: true } }), 'r1').plan;
    expect(blocked.notes).toEqual([{ host: 'n1', resource: 'sysctl:vm.swappiness', message: 'not on this node', blocking: true }]);
  });

  it('adds cross-host edges for changes planned on both sides', () => {
    const d: Desired = {
      hosts: [
        { host: 'n1', target, resources: [conf] },
        { host: 'n2', target: { ...target, name: 'n2' }, resources: [conf] },
      ],
      edges: [{ before: { host: 'n1', resource: file.id(confWant) }, after: { host: 'n2', resource: file.id(confWant) } }],
    };
    const obs: Observation[] = ['n1', 'n2'].map((host) => ({ host, ok: true, facts: ASSUMED_FACTS, states: { 'file:/etc/app.conf': null }, durationMs: 1 }));
    const c = plan(d, obs, 'r1').plan.changes.find((x) => x.host === 'n2')!;
    expect(c.after).toEqual(['n1|file:/etc/app.conf']);
  });

  it('orders two resources of one host by an edge between them (a host applies in plan order), without restarting for it', () => {
    const other = res('file', { path: '/etc/other.conf', content: 'x\n', mode: 0o644 });
    const d: Desired = { hosts: [{ host: 'n1', target, resources: [conf, other] }], edges: [{ before: { host: 'n1', resource: file.id({ path: '/etc/other.conf', content: '', mode: 0o644 }) }, after: { host: 'n1', resource: file.id(confWant) } }] };
    const obs: Observation[] = [{ host: 'n1', ok: true, facts: ASSUMED_FACTS, states: { 'file:/etc/app.conf': null, 'file:/etc/other.conf': null }, durationMs: 1 }];
    const changes = plan(d, obs, 'r1').plan.changes;
    expect(changes.map((c) => c.resource)).toEqual(['file:/etc/other.conf', 'file:/etc/app.conf']);
    expect(changes[1]!.after).toEqual(['n1|file:/etc/other.conf']);
    expect(changes.every((c) => c.action === 'create')).toBe(true);
  });

  it('fingerprints what it saw: another observation, another fingerprint', () => {
    const a = plan(desired, seen(inSync), 'r1').plan.fingerprint;
    expect(plan(desired, seen(inSync), 'r1').plan.fingerprint).toBe(a);
    expect(plan(desired, seen({ ...inSync, 'service:app': { enabled: true, running: false } }), 'r1').plan.fingerprint).not.toBe(a);
    expect(plan(desired, seen(inSync), 'r2').plan.fingerprint).not.toBe(a);
  });
});

describe('rendering never shows a secret', () => {
  const p = plan(desired, seen({ ...inSync, 'file:/etc/app.secret': { type: 'regular file', owner: 'root', group: 'root', mode: 0o600, sha256: 'x', content: 'password = old-canary\n' } }), 'r1').plan;
  for (const [name, text] of [
    ['text', renderText(p)],
    ['json', renderJson(p)],
    ['markdown', renderMarkdown(p)],
  ] as const) {
    it(name, () => {
      expect(text).toContain('/etc/app.secret');
      expect(text).toContain('(redacted)');
      expect(text).not.toMatch(/canary/);
    });
  }
  it('shows a unified diff for other files', () => {
    const p2 = plan(desired, seen({ ...inSync, 'file:/etc/app.conf': { ...inSync['file:/etc/app.conf'], sha256: 'old', content: 'port = 1\n' } }), 'r1').plan;
    expect(renderText(p2)).toContain('-port = 1');
    expect(renderText(p2)).toContain('+port = 2');
    expect(renderMarkdown(p2)).toContain('```diff');
  });
});

describe('observation script', () => {
  it('splits sections by marker and parses each resource', () => {
    const script = observeScript(desired.hosts[0]!.resources, 'abc');
    expect(script.match(/@@corral-abc:/g)).toHaveLength(5);
    // As the script prints it: every marker on its own line, probes' output as it came, newline or not.
    const out = ['', '@@corral-abc:facts', 'os_id=debian', 'pm=apt', '@@corral-abc:0', 'LoadState=loaded\nActiveState=active\nUnitFileState=enabled', '@@corral-abc:1', 'absent', '@@corral-abc:2', 'absent', '@@corral-abc:end', ''].join('\n');
    const o = parseObservation(desired.hosts[0]!, out, 'abc', 5);
    expect(o.ok && o.facts.osId).toBe('debian');
    expect(o.ok && o.states).toEqual({ 'service:app': { enabled: true, running: true }, 'file:/etc/app.conf': null, 'file:/etc/app.secret': null });
  });
  it('treats output without the end marker as cut short', () => {
    expect(splitSections('\n@@corral-abc:facts\nos_id=debian\n', 'abc')).toBeUndefined();
  });
  it('keeps a section exactly as printed, even without a final newline', () => {
    expect(splitSections('\n@@corral-abc:0\nbase64==\n@@corral-abc:1\nline\n\n@@corral-abc:end\n', 'abc')).toEqual(new Map([['0', 'base64=='], ['1', 'line\n']]));
  });
});
