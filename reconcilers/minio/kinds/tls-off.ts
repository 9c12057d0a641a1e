/**
 * minio_https: false. MinIO serves https whenever its certs folder holds a certificate and key, so
 * plain http needs that folder gone, as Pigsty removes it; the server takes the change at its next
 * start (the service depends on this resource, so it restarts).
 */
import { sh } from '../../../src/engine/shell.js';
import { refTo, type Kind } from '../../../src/engine/resources/kind.js';

export interface MinioTlsOffWant {
  /** `~minio/.minio/certs`. */
  dir: string;
}

const KEY_FILES = ['public.crt', 'private.key'];

export const minioTlsOff: Kind<MinioTlsOffWant, { files: string[] }, 'minio-tls-off'> = {
  name: 'minio-tls-off',
  id: (w) => refTo(minioTlsOff, w.dir),
  probe: (w) => sh`for f in ${KEY_FILES}; do [ -e ${w.dir}/"$f" ] && echo "$f"; done; true`,
  parse: (out) => ({ files: out.split('\n').filter((f) => KEY_FILES.includes(f)) }),
  diff: (w, h) => (h?.files.length ? [{ field: 'tls certificates', from: h.files.map((f) => `${w.dir}/${f}`), to: null }] : []),
  apply: (w) => sh`rm -rf -- ${w.dir}`,
};
