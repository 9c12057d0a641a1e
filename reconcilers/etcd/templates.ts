/** The files ETCD writes, laid out as Pigsty's etcd role writes them: https for clients and peers, certificates in /etc/etcd. */

export interface EtcdConf {
  name: string;
  dataDir: string;
  token: string;
  state: 'new' | 'existing';
  /** `name=peerURL` of every member. */
  initialCluster: string[];
  ip: string;
  port: number;
  peerPort: number;
  electionTimeout: number;
  heartbeatInterval: number;
}

export const ETCD_TLS = { ca: '/etc/etcd/ca.crt', cert: '/etc/etcd/server.crt', key: '/etc/etcd/server.key' };

/**
 * /etc/etcd/etcd.conf: etcd's YAML config file. Logs go to the journal rather than Pigsty's
 * /var/log/etcd.log. A trusted CA makes etcd ask every client for a certificate of that CA (as in
 * Pigsty); peers must show one too (Pigsty leaves that off). `client-cert-auth` stays off on the client
 * port, so a certificate's CN is never taken for a user: clients log in with a password (RBAC).
 */
export function etcdConf(c: EtcdConf): string {
  const peer = `https://${c.ip}:${c.peerPort}`;
  const tls = [`  cert-file: "${ETCD_TLS.cert}"`, `  key-file: "${ETCD_TLS.key}"`, `  trusted-ca-file: "${ETCD_TLS.ca}"`];
  return [
    '# managed by corral (ETCD)',
    `name: ${c.name}`,
    `data-dir: ${c.dataDir}`,
    `initial-cluster-token: "${c.token}"`,
    `initial-cluster-state: "${c.state}"`,
    `initial-cluster: "${c.initialCluster.join(',')}"`,
    `initial-advertise-peer-urls: "${peer}"`,
    `listen-peer-urls: "${peer}"`,
    `listen-client-urls: "https://${c.ip}:${c.port},https://127.0.0.1:${c.port}"`,
    `advertise-client-urls: "https://${c.ip}:${c.port}"`,
    `election-timeout: ${c.electionTimeout}`,
    `heartbeat-interval: ${c.heartbeatInterval}`,
    'quota-backend-bytes: 17179869184',
    // Patroni's etcd3 client speaks the gRPC gateway (/v3/...), which a config file leaves off.
    'enable-grpc-gateway: true',
    'auto-compaction-mode: periodic',
    'auto-compaction-retention: "24h"',
    'client-transport-security:',
    ...tls,
    'peer-transport-security:',
    ...tls,
    '  client-cert-auth: true',
    'logger: zap',
    'log-level: info',
    '',
  ].join('\n');
}

/**
 * Our own etcd.service in /etc/systemd/system, which shadows the one Debian ships (that one reads
 * /etc/default/etcd and keeps data in /var/lib/etcd/default).
 */
export function etcdUnit(dataDir: string): string {
  return [
    '# managed by corral (ETCD)',
    '[Unit]',
    'Description=Etcd Server',
    'After=network.target network-online.target',
    'Wants=network-online.target',
    '',
    '[Service]',
    'Type=notify',
    `WorkingDirectory=${dataDir}`,
    'User=etcd',
    'ExecStart=/usr/bin/etcd --config-file /etc/etcd/etcd.conf',
    'Restart=on-failure',
    'RestartSec=5',
    'TimeoutStartSec=60',
    'TimeoutStopSec=60',
    'LimitNOFILE=65536',
    // Do not OOM-kill etcd.
    'OOMScoreAdjust=-1000',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}

/** /etc/profile.d/etcdctl.sh: etcdctl in a login shell talks to this cluster, as Pigsty sets it up. */
export function etcdctlProfile(endpoints: readonly string[], rootPasswordFile: string): string {
  return [
    '# managed by corral (ETCD)',
    'alias e="etcdctl"',
    'alias em="etcdctl member"',
    'export ETCDCTL_API=3',
    `export ETCDCTL_ENDPOINTS="${endpoints.join(',')}"`,
    `export ETCDCTL_CACERT=${ETCD_TLS.ca}`,
    `export ETCDCTL_CERT=${ETCD_TLS.cert}`,
    `export ETCDCTL_KEY=${ETCD_TLS.key}`,
    // Only root can read the password file: other users get no credentials rather than an error.
    `[ -r ${rootPasswordFile} ] && export ETCDCTL_USER="root:$(cat ${rootPasswordFile})"`,
    '',
  ].join('\n');
}
