#!/usr/bin/env bash
# Turns a converged lab PGSQL cluster (etcd with TLS and RBAC) into what Corral built before etcd
# had TLS: etcd over plain http with no auth, Patroni reaching it over http without a login, and
# no certificates on the etcd members. The old cluster's data is gone: etcd starts anew, PostgreSQL
# is bootstrapped again by Patroni on the first node. Run as root on the host: plain-etcd.sh n1 n2 n3.
set -euo pipefail
LAB="${CORRAL_LAB_DIR:-/var/lib/corral-lab}"
on() { ssh -F "$LAB/ssh_config" -o BatchMode=yes "$@"; }

for n in "$@"; do on "$n" 'systemctl stop patroni' & done; wait
for n in "$@"; do
  on "$n" 'set -e
    systemctl stop etcd
    rm -rf /data/etcd/member /pg/data/* /var/lib/corral/reloaded/patroni
    rm -f /etc/etcd/etcd.pass /etc/etcd/users.pass /etc/etcd/ca.crt /etc/etcd/server.crt /etc/etcd/server.key
    sed -i -e "s#https://#http://#g" -e "/^client-transport-security:/,/^  client-cert-auth: true/d" /etc/etcd/etcd.conf
    sed -i -e "/^etcd3:/,/^[a-z]/{s/protocol: https/protocol: http/;/^  \(cacert\|cert\|key\|username\|password\):/d}" /pg/conf/*.yml'
done
for n in "$@"; do on "$n" 'systemctl start --no-block etcd'; done
for n in "$@"; do on "$n" 'for i in $(seq 60); do ETCDCTL_API=3 etcdctl --endpoints=http://127.0.0.1:2379 endpoint health >/dev/null 2>&1 && exit 0; sleep 1; done; exit 1'; done
for n in "$@"; do
  on "$n" 'systemctl start patroni'
  # The first node bootstraps; each next one clones once the one before runs.
  on "$n" 'for i in $(seq 120); do curl -sf -m 2 http://$(hostname -I | cut -d" " -f1):8008/health >/dev/null && exit 0; sleep 1; done; exit 1'
done
