/** Every module's reconciler. A new module is a folder shaped like reconcilers/node and one line here. */
import type { Reconciler } from '../src/engine/reconciler.js';
import { node } from './node/index.js';
import { etcd } from './etcd/index.js';
import { pgsql } from './pgsql/index.js';

export const RECONCILERS: readonly Reconciler[] = [node, etcd, pgsql];
