import { describe, expect, it } from 'vitest';
import { schemas, paramDefault } from './schema.js';
import { validators } from './validators.js';

describe('the schemas', () => {
  const set = schemas();

  it('never use unevaluated* keywords, which the validator is set not to track', () => {
    for (const s of set.byId.values()) expect(JSON.stringify(s)).not.toMatch(/"unevaluated(Properties|Items)"/);
  });

  it('give every parameter a default that its own schema accepts', async () => {
    const vars: Record<string, unknown> = {};
    for (const [name, { schema }] of set.params) if ('default' in schema) vars[name] = schema.default;
    expect(Object.keys(vars).length).toBeGreaterThan(350);
    const { validateInventory } = await validators();
    const ok = validateInventory({ all: { vars } });
    expect(validateInventory.errors ?? []).toEqual([]);
    expect(ok).toBe(true);
  });

  it('mark secret fields', () => {
    const secret = (name: string) => set.params.get(name)?.schema['x-secret'];
    for (const name of ['pg_admin_password', 'pg_replication_password', 'pg_monitor_password', 'patroni_password', 'redis_password', 'minio_secret_key', 'etcd_root_password']) {
      expect(secret(name), name).toBe(true);
    }
  });

  it('share frozen defaults, so no caller can change them for the next', () => {
    const rules = paramDefault('pg_default_hba_rules') as object[];
    expect(Object.isFrozen(rules)).toBe(true);
    expect(Object.isFrozen(rules[0])).toBe(true);
  });

  it('reject a wrong type inside a structured entry', async () => {
    expect((await validators()).validateInventory({ all: { vars: { pg_users: [{ name: 'x', pgbouncer: 'sometimes' }] } } })).toBe(false);
  });
});
