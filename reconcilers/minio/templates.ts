/** The files MINIO writes, laid out as Pigsty's minio role writes them for minio_type silo. */

export interface EnvSettings {
  port: number;
  adminPort: number;
  volumes: string;
  accessKey: string;
  secretKey: string;
  /** Where Pigsty's MinIO pushes metrics: `http://<admin_ip>:<vmetrics_port>`. */
  prometheusUrl: string;
  extraVars: string;
}

/**
 * /etc/default/<minio_type>: the server's environment (Pigsty's silo.env), root:minio 0640. It holds
 * the root password, so it is a secret file: plans never show it.
 */
export function envFile(s: EnvSettings): string {
  return [
    '# managed by corral (MINIO)',
    `MINIO_OPTS="--address :${s.port} --console-address :${s.adminPort}"`,
    `MINIO_VOLUMES="${s.volumes}"`,
    `MINIO_ROOT_USER="${s.accessKey}"`,
    `MINIO_ROOT_PASSWORD="${s.secretKey}"`,
    'MINIO_PROMETHEUS_AUTH_TYPE=public',
    'MINIO_PROMETHEUS_JOB_ID=minio',
    `MINIO_PROMETHEUS_URL=${s.prometheusUrl}`,
    '',
    '# ENVIRONMENT from minio_extra_vars',
    ...(s.extraVars.trim() ? [s.extraVars.trimEnd()] : []),
    '',
  ].join('\n');
}

/**
 * /etc/systemd/system/<minio_type>.service, Pigsty's silo.svc. One change: a start is bounded
 * (TimeoutStartSec=600 rather than infinity), so a member that cannot find its peers fails the
 * apply instead of holding it forever; stopping still waits as long as the server needs.
 */
export function unitFile(type: string, user: string): string {
  return [
    '# managed by corral (MINIO)',
    '[Unit]',
    'Description=Silo Object Storage Server',
    'Documentation=https://silo.pgsty.com/docs/',
    'Wants=network-online.target',
    'After=network-online.target minio.service',
    'Conflicts=minio.service',
    `AssertFileIsExecutable=/usr/bin/${type}`,
    '',
    '[Service]',
    'Type=notify',
    'WorkingDirectory=/usr/bin',
    '',
    `User=${user}`,
    'Group=minio',
    '',
    // As Pigsty's: settings of an older MinIO install stay readable; this file's win where both set a variable.
    'EnvironmentFile=-/etc/default/minio',
    `EnvironmentFile=-/etc/default/${type}`,
    `ExecStart=/usr/bin/${type} server $MINIO_OPTS $MINIO_VOLUMES`,
    '',
    'Restart=always',
    'LimitNOFILE=8388608',
    'TasksMax=infinity',
    'TimeoutStartSec=600',
    'TimeoutStopSec=infinity',
    'SendSIGKILL=no',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}

export interface McliAlias {
  name: string;
  url: string;
  accessKey: string;
  secretKey: string;
}

/**
 * mcli's config.json (version 10) holding exactly the given aliases, as `mcli alias set` writes
 * them (S3v4, path lookup auto). It holds the root password: a secret file, 0600.
 */
export function mcliConfig(aliases: readonly McliAlias[]): string {
  const entries = Object.fromEntries(aliases.map((a) => [a.name, { url: a.url, accessKey: a.accessKey, secretKey: a.secretKey, api: 'S3v4', path: 'auto' }]));
  return JSON.stringify({ version: '10', aliases: entries }, null, '\t') + '\n';
}

/** Pigsty's policy.json for a bucket: everything on the bucket and its objects. */
export function bucketPolicy(bucket: string): string {
  return JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['s3:*'], Resource: [`arn:aws:s3:::${bucket}`, `arn:aws:s3:::${bucket}/*`] }] });
}
