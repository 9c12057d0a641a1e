/** The files ETCD writes, laid out as Pigsty's etcd role writes them (TLS left out: see the module's notes). */

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

/** /etc/etcd/etcd.conf: etcd's YAML config file. Logs go to the journal rather than Pigsty's /var/log/etcd.log. */
export function etcdConf(c: EtcdConf): string {
  const peer = `http://${c.ip}:${c.peerPort}`;
  return [
    '# managed by corral (ETCD)',
    `name: ${c.name}`,
    `data-dir: ${c.dataDir}`,
    `initial-cluster-token: "${c.token}"`,
    `initial-cluster-state: "${c.state}"`,
    `initial-cluster: "${c.initialCluster.join(',')}"`,
    `initial-advertise-peer-urls: "${peer}"`,
    `listen-peer-urls: "${peer}"`,
    `listen-client-urls: "http://${c.ip}:${c.port},http://127.0.0.1:${c.port}"`,
    `advertise-client-urls: "http://${c.ip}:${c.port}"`,
    `election-timeout: ${c.electionTimeout}`,
    `heartbeat-interval: ${c.heartbeatInterval}`,
    'quota-backend-bytes: 17179869184',
    // Patroni's etcd3 client speaks the gRPC gateway (/v3/...), which a config file leaves off.
    'enable-grpc-gateway: true',
    'auto-compaction-mode: periodic',
    'auto-compaction-retention: "24h"',
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
export function etcdctlProfile(endpoints: readonly string[]): string {
  return ['# managed by corral (ETCD)', 'alias e="etcdctl"', 'alias em="etcdctl member"', 'export ETCDCTL_API=3', `export ETCDCTL_ENDPOINTS="${endpoints.join(',')}"`, ''].join('\n');
}
