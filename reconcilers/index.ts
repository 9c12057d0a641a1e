/** Every module's reconciler. A new module is a folder shaped like reconcilers/node and one line here. */
import type { Reconciler } from '../src/engine/reconciler.js';
import { node } from './node/index.js';
import { etcd } from './etcd/index.js';
import { pgsql } from './pgsql/index.js';

/**
 * Modules that are built and unit-tested but whose lab tests do not all pass yet: off unless named in
 * CORRAL_EXPERIMENTAL (comma-separated). PGSQL is one (issue 6): a module that can leave a member down
 * in a rolling restart must not touch a fleet by default.
 */
const EXPERIMENTAL: Record<string, Reconciler> = { pgsql };
const enabled = new Set((process.env.CORRAL_EXPERIMENTAL ?? '').split(',').map((m) => m.trim()));

export const RECONCILERS: readonly Reconciler[] = [node, etcd, ...Object.entries(EXPERIMENTAL).filter(([m]) => enabled.has(m)).map(([, r]) => r)];
