/** The INFRA module's resource kinds: registered with the engine from this one place (the reconciler's `kinds`, index.ts), and the only module kinds its builder takes. */
import { retiredUnits } from './retired-units.js';

export const INFRA_KINDS = [retiredUnits] as const;
