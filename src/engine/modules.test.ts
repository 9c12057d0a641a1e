import { describe, expect, it } from 'vitest';
import { phases } from './modules.js';

describe('phases (the daemon syncs a phase\'s units after the phase before; a host runs its modules\' changes in this order)', () => {
  it('INFRA first, whose nginx serves the repository NODE\'s APT sources may name; NODE next; PGSQL once etcd and MinIO have', () => {
    const layers = phases();
    const layerOf = (m: string): number => layers.findIndex((l) => l.includes(m));
    expect(layerOf('infra')).toBeLessThan(layerOf('node'));
    expect(layers).toEqual([['infra'], ['node'], ['etcd', 'redis', 'minio'], ['pgsql']]);
  });
});
