/**
 * Every module Corral knows, in the order their clusters are listed. A new module is a folder shaped
 * like reconcilers/redis (its descriptor in module.ts) and one line here. The entry points hand this
 * list to the core (src/engine/modules.ts useModules); nothing under src/ imports it.
 */
import type { ModuleDescriptor } from '../src/engine/modules.js';
import { NODE } from './node/module.js';
import { ETCD } from './etcd/module.js';
import { PGSQL } from './pgsql/module.js';
import { REDIS } from './redis/module.js';
import { MINIO } from './minio/module.js';
import { INFRA } from './infra/module.js';

export const MODULES: readonly ModuleDescriptor[] = [NODE, ETCD, PGSQL, REDIS, MINIO, INFRA];

/** Where this list is, for the validation child process to load it too. */
export const MODULES_SOURCE = import.meta.url;
