/** The MINIO module's resource kinds, by name: registered with the engine from this one place. */
import { minioBucket } from './bucket.js';
import { minioHealth } from './health.js';
import { minioTlsOff } from './tls-off.js';
import { minioUser } from './user.js';

export const MINIO_KINDS = {
  'minio-bucket': minioBucket,
  'minio-user': minioUser,
  'minio-health': minioHealth,
  'minio-tls-off': minioTlsOff,
} as const;
