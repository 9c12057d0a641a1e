/** The MINIO module's resource kinds: registered with the engine from this one place (the reconciler's `kinds`, index.ts), and the only module kinds its builder takes. */
import { minioBucket } from './bucket.js';
import { minioHealth } from './health.js';
import { minioTlsOff } from './tls-off.js';
import { minioUser } from './user.js';

export const MINIO_KINDS = [minioBucket, minioUser, minioHealth, minioTlsOff] as const;
