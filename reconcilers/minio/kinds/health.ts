/**
 * A member's health, read in the same observation round trip as everything else: MinIO's
 * unauthenticated probes /minio/health/live (the server runs) and /minio/health/cluster (the cluster
 * has write quorum, 200; else 503), asked on loopback with curl, checked against Corral's CA under
 * https. Nothing to change: it only reports.
 */
import { sh } from '../../../src/engine/shell.js';
import { keyValues, refTo, type Kind, type Ref } from '../../../src/engine/resources/kind.js';

export interface MinioHealthWant {
  /** The instance, `<minio_cluster>-<minio_seq>`. */
  name: string;
  /** `https://127.0.0.1:9000`. */
  url: string;
  /** The CA that signed the member's certificate, under https. */
  caFile: string | null;
}

/** HTTP status of each probe; 0 when nothing answered. */
export interface MinioHealthHave {
  live: number;
  cluster: number;
}

export const HEALTH_PATHS = ['live', 'cluster'] as const;

/** Instance `name`'s health probes: what the module's health reads. */
export const minioHealthId = (name: string): Ref<MinioHealthHave> => refTo(minioHealth, name);

const status = (text: string | undefined): number => (/^\d{3}$/.test(text ?? '') ? Number(text) : 0);

export const minioHealth: Kind<MinioHealthWant, MinioHealthHave, 'minio-health'> = {
  name: 'minio-health',
  id: (w) => minioHealthId(w.name),
  probe: (w) =>
    HEALTH_PATHS.map(
      (p) => `echo "${p}=$(` + sh`curl -s -o /dev/null -w '%{http_code}' --max-time 5 ${w.caFile ? ['--cacert', w.caFile] : []} ${`${w.url}/minio/health/${p}`}` + ')"',
    ).join('\n'),
  parse: (out) => {
    const kv = keyValues(out);
    return { live: status(kv.get('live')), cluster: status(kv.get('cluster')) };
  },
  diff: () => [],
  apply: () => '',
};
