/**
 * NODE: hostname, /etc/hosts, APT sources, packages, sysctl, kernel modules, the data dir, the
 * admin user, time zone, chrony, crontab, node_exporter and HAProxy, with Pigsty's parameters and semantics.
 */
import type { HostView } from '../../src/config/hosts.js';
import type { Facts } from '../../src/engine/model.js';
import { resourceList, type ModuleDesired, type Reconciler } from '../../src/engine/reconciler.js';
import { group, user } from '../../src/engine/resources/account.js';
import { aptSource, aptSourcesOnly } from '../../src/engine/resources/apt-source.js';
import { block } from '../../src/engine/resources/block.js';
import { directory, file } from '../../src/engine/resources/file.js';
import { kernelModule, sysctl } from '../../src/engine/resources/kernel.js';
import { refTo, type Ref } from '../../src/engine/resources/kind.js';
import { packages, packagesId } from '../../src/engine/resources/packages.js';
import { service } from '../../src/engine/resources/service.js';
import { hostname, timezone } from '../../src/engine/resources/system.js';
import { nodeRepoModules, upstreamFor } from '../../src/engine/repos.js';
import { chronyConf, crontab, exporterDefaults, sudoers, sysctlConf } from './templates.js';
import { haproxyNotes, haproxyResources, runsHaproxy } from './haproxy.js';

export { HAPROXY, haproxyReloadId, haproxyServiceMarker, haproxyTime, runsHaproxy } from './haproxy.js';

/** Package list entries may hold several names: Pigsty writes `'lz4,unzip,bzip2'`. */
export function packageNames(list: unknown): string[] {
  if (!Array.isArray(list)) return [];
  // A Jinja expression is Ansible's to expand; Corral has no Jinja, so such entries are left out.
  return list.map(String).filter((item) => !item.includes('{{')).flatMap((item) => item.split(/[\s,]+/)).filter(Boolean);
}

/** Pigsty's hostname rule: `nodename`, else `<pg_cluster>-<pg_seq>` for PostgreSQL nodes when node_id_from_pg. */
export function nodename(h: HostView): string | undefined {
  const explicit = h.str('nodename');
  if (explicit) return explicit;
  if (h.param('node_id_from_pg') && h.has('pg_cluster') && h.str('pg_seq')) return `${h.str('pg_cluster')}-${h.str('pg_seq')}`;
  return undefined;
}

/** The APT source lines of one repo module, picked from repo_upstream by module, OS release and arch, as Pigsty does. */
export function repoLines(h: HostView, module: string, f: Facts): string[] {
  const region = h.str('region');
  return upstreamFor(h, f)
    .filter((r) => (r.module ?? '') === module)
    .map((r) => {
      const url = (r.baseurl[region] || r.baseurl.default || '').replace(/\$\{distro_codename\}/g, f.codename).replace(/\$\{distro_name\}/g, f.osId);
      return `deb [trusted=yes] ${url}`;
    })
    .filter((line) => line !== 'deb [trusted=yes] ');
}

/** The APT sources NODE writes on the host: each module of node_repo_modules that repo_upstream has lines for. */
export function repoSources(h: HostView, f: Facts): { name: string; lines: string[] }[] {
  if (f.packageManager !== 'apt') return [];
  return nodeRepoModules(h)
    .map((m) => ({ name: m, lines: repoLines(h, m, f) }))
    .filter((s) => s.lines.length);
}

/** The host part of an APT source line's URI (`deb [trusted=yes] http://10.0.0.10/pigsty ./` → 10.0.0.10); none for a URI that is not a URL. */
function sourceHost(line: string): string | undefined {
  const uri = line.replace(/^deb\s+(\[[^\]]*\]\s+)?/, '').split(/\s+/)[0] ?? '';
  try {
    return new URL(uri).hostname || undefined;
  } catch {
    return undefined;
  }
}

/** The hosts each APT source NODE writes on the host fetches from, by repo module. */
export const repoServers = (h: HostView, f: Facts): { module: string; hosts: string[] }[] =>
  repoSources(h, f).map((s) => ({ module: s.name, hosts: s.lines.map(sourceHost).filter((x): x is string => x !== undefined) }));

/** NODE's APT source of repo module `module`, and its package set: what waits for a repository another node serves. */
export const repoSourceRef = (module: string): Ref => refTo(aptSource, module);
export const nodePackagesRef: Ref = packagesId('node');

function hostResources(h: HostView, f: Facts, cluster: string, notes: ModuleDesired['notes']): ReturnType<typeof resourceList>['list'] {
  const r = resourceList('node', cluster);
  const name = nodename(h);
  if (name && h.param('nodename_overwrite')) r.add(hostname, { name });

  if (h.param('node_write_etc_hosts')) {
    const lines = [...h.param('node_default_etc_hosts'), ...h.param('node_etc_hosts')];
    if (lines.length) r.add(block, { path: '/etc/hosts', marker: 'corral node_etc_hosts', lines, mode: 0o644 });
  }

  // APT sources: each module in node_repo_modules that repo_upstream has entries for.
  let repoDone: Ref | undefined;
  if (f.packageManager === 'apt') {
    const modules = nodeRepoModules(h);
    const sources = repoSources(h, f);
    const ids: Ref[] = sources.map((s) => r.add(aptSource, { name: s.name, content: `# managed by corral: repo module ${s.name}\n${s.lines.join('\n')}\n` }));
    if (sources.length && h.param('node_repo_remove')) ids.push(r.add(aptSourcesOnly, { keep: sources.map((s) => s.name) }, ids));
    else if (modules.length && !sources.length) {
      notes.push({ host: h.name, resource: 'apt-sources', message: `no repo_upstream entry matches node_repo_modules "${modules.join(',')}" on ${f.osId} ${f.osVersion} ${f.arch}: APT sources are left as they are` });
    }
    repoDone = ids[ids.length - 1];
  }

  const crontabLines = h.param('node_crontab');
  const ntp = h.param('node_ntp_enabled');
  const exporter = h.param('node_exporter_enabled');
  const pkgs = [
    ...packageNames(h.param('node_default_packages')),
    ...packageNames(h.param('node_packages')),
    ...(ntp ? ['chrony'] : []),
    ...(exporter ? ['prometheus-node-exporter'] : []),
    ...(runsHaproxy(h) ? ['haproxy'] : []),
    ...(crontabLines.length ? ['cron'] : []),
    ...(h.str('node_timezone') ? ['tzdata'] : []),
  ];
  const pkgId = f.packageManager === 'unknown' ? undefined : r.add(packages, { name: 'node', manager: f.packageManager, packages: [...new Set(pkgs)] }, [repoDone]);

  const sysctls = Object.entries(h.param('node_sysctl_params') as Record<string, string | number | boolean>);
  if (sysctls.length) {
    r.add(file, { path: '/etc/sysctl.d/90-corral-node.conf', content: sysctlConf(sysctls), mode: 0o644 });
    for (const [key, value] of sysctls) r.add(sysctl, { key, value: typeof value === 'boolean' ? Number(value) : value });
  }

  const modules = h.param('node_kernel_modules');
  if (modules.length) {
    r.add(file, { path: '/etc/modules-load.d/corral-node.conf', content: modules.join('\n') + '\n', mode: 0o644 });
    for (const name of modules) r.add(kernelModule, { name });
  }

  const data = h.str('node_data');
  if (data && data !== '/') r.add(directory, { path: data, mode: 0o755 });

  if (h.param('node_admin_enabled')) {
    const admin = h.str('node_admin_username');
    const uid = h.int('node_admin_uid');
    const groupId = r.add(group, { name: 'admin', gid: uid });
    const userId = r.add(user, { name: admin, uid, group: 'admin', home: `/home/${admin}`, shell: '/bin/bash' }, [groupId]);
    const rule = sudoers(h.str('node_admin_sudo'));
    if (rule) r.add(file, { path: `/etc/sudoers.d/${admin}`, content: rule, mode: 0o440, validate: 'visudo -cf %s' }, [groupId]);
    const keys = h.param('node_admin_pk_list');
    if (keys.length) {
      const sshDir = r.add(directory, { path: `/home/${admin}/.ssh`, mode: 0o700, owner: admin, group: 'admin' }, [userId]);
      r.add(block, { path: `/home/${admin}/.ssh/authorized_keys`, marker: 'corral node_admin_pk_list', lines: keys, mode: 0o600, owner: admin, group: 'admin' }, [sshDir]);
    }
  }

  const tz = h.str('node_timezone');
  if (tz) r.add(timezone, { name: tz }, [pkgId]);

  if (ntp) {
    const conf = r.add(file, { path: '/etc/chrony/chrony.conf', content: chronyConf(h.param('node_ntp_servers')), mode: 0o644 }, [pkgId]);
    r.add(service, { name: 'chrony', enabled: true, running: true }, [pkgId, conf]);
  }

  if (crontabLines.length) {
    const tab = h.param('node_crontab_overwrite')
      ? r.add(file, { path: '/etc/crontab', content: crontab(crontabLines), mode: 0o644 })
      : r.add(block, { path: '/etc/crontab', marker: 'corral node_crontab', lines: crontabLines, mode: 0o644 });
    r.add(service, { name: 'cron', enabled: true, running: true }, [pkgId, tab]);
  }

  if (exporter) {
    const port = h.int('node_exporter_port');
    // Pigsty's default flags target its own node_exporter build; Debian's may not know them, so
    // only flags the inventory sets explicitly are passed on.
    const options = h.has('node_exporter_options') ? h.str('node_exporter_options') : '';
    const conf = r.add(file, { path: '/etc/default/prometheus-node-exporter', content: exporterDefaults(port, options), mode: 0o644 }, [pkgId]);
    r.add(service, { name: 'prometheus-node-exporter', enabled: true, running: true }, [pkgId, conf]);
  }

  if (runsHaproxy(h)) {
    notes.push(...haproxyNotes(h));
    haproxyResources(r, h, pkgId, name ?? h.name);
  }
  return r.list;
}

export const node: Reconciler = {
  module: 'node',
  kinds: [],
  desired({ cluster, facts }) {
    const out: ModuleDesired = { resources: new Map(), edges: [], notes: [] };
    for (const h of cluster.members) out.resources.set(h.name, hostResources(h, facts(h.name), cluster.name, out.notes));
    return out;
  },
};
