/**
 * ETCD: an etcd cluster from the hosts with `etcd_seq`, laid out as Pigsty lays it out
 * (/etc/etcd/etcd.conf, etcd.service, data in etcd_data), bootstrapped once, then grown and shrunk
 * through `etcdctl member add/remove`.
 */
import type { HostView } from '../../src/config/hosts.js';

/**
 * Client URLs of the `etcd` group's members, sorted by address as Pigsty sorts groups['etcd'],
 * for DCS clients such as patroni.yml's etcd3 hosts.
 */
export function etcdEndpoints(hosts: readonly HostView[]): string[] {
  return hosts
    .filter((h) => h.groups.includes('etcd') && h.has('etcd_seq'))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((h) => `http://${h.name}:${h.param('etcd_port') ?? 2379}`);
}
