import { describe, expect, it } from 'vitest';
import { ASSUMED_FACTS } from './facts.js';
import { stateOf, type Observation } from './model.js';
import { moduleKinds } from './modules.js';
import { resourceList } from './reconciler.js';
import { file, type FileWant } from './resources/file.js';
import { service } from './resources/service.js';

describe('resourceList', () => {
  it('records each resource under its kind name, and returns the id the kind gives it for later deps', () => {
    const r = resourceList('node', 'nodes');
    const conf: FileWant = { path: '/etc/app.conf', content: 'port = 2\n', mode: 0o644 };
    const confId = r.add(file, conf);
    const svcId = r.add(service, { name: 'app', enabled: true, running: true }, [confId, undefined]);
    expect([confId, svcId]).toEqual(['file:/etc/app.conf', 'service:app']);
    expect(r.list).toEqual([
      { kind: 'file', want: conf, module: 'node', cluster: 'nodes' },
      { kind: 'service', want: { name: 'app', enabled: true, running: true }, module: 'node', cluster: 'nodes', deps: ['file:/etc/app.conf'] },
    ]);
  });

  it("takes the generic kinds and the module's own only: another's does not compile, nor pass at run time", () => {
    const r = resourceList('node', 'nodes');
    const other = moduleKinds().get('patroni-member')!;
    // @ts-expect-error a kind outside the module's list
    expect(() => r.add(other, {})).toThrow('resource kind patroni-member is not registered for module node');
    // Same name, another object: plans would find the registered one, not this.
    const copy = { ...file };
    expect(() => r.add(copy, { path: '/x', content: '', mode: 0o644 })).toThrow('resource kind file is not registered');
  });
});

describe('stateOf', () => {
  const observations: Observation[] = [
    { host: 'n1', ok: true, facts: ASSUMED_FACTS, durationMs: 1, states: { 'service:app': { enabled: true, running: false }, 'service:gone': null, 'service:odd': { unsupported: 'no systemd' } } },
    { host: 'n2', ok: false, error: 'timeout', errorKind: 'timeout' },
  ];
  const id = (name: string) => service.id({ name, enabled: true, running: true });

  it("reads a resource's state as its kind parsed it", () => {
    expect(stateOf(observations, 'n1', id('app'))?.running).toBe(false);
  });

  it('is null for an absent resource or one the node cannot take, undefined when nothing was observed', () => {
    expect(stateOf(observations, 'n1', id('gone'))).toBeNull();
    expect(stateOf(observations, 'n1', id('odd'))).toBeNull();
    expect(stateOf(observations, 'n1', id('never-probed'))).toBeUndefined();
    expect(stateOf(observations, 'n2', id('app'))).toBeUndefined();
    expect(stateOf(observations, 'n3', id('app'))).toBeUndefined();
  });
});
