/** Every forge Corral receives webhooks from, by the path segment of `POST /webhooks/<provider>`. */
import { generic } from './generic.js';
import { gitea } from './gitea.js';
import { github } from './github.js';
import { gitlab } from './gitlab.js';
import type { Provider, Receiver } from './types.js';

export const RECEIVERS: Record<Provider, Receiver> = { github, gitlab, gitea, generic };
export * from './types.js';
