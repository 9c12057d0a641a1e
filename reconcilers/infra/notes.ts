/**
 * What INFRA does not build, said once per cluster (on its first infra node) where the inventory
 * asks for it, so nothing is skipped without a word.
 */
import type { HostView } from '../../src/config/hosts.js';
import type { Note } from '../../src/engine/model.js';
import type { Targets, UnservedExporter } from './targets.js';

/** The portal entries Corral does not serve, and why: an Ansible template, or basic auth it does not build. */
export function unservedEntry(e: { conf?: string; auth?: unknown }): string | undefined {
  if (e.conf) return `names an Ansible template (conf: ${e.conf}), which Corral does not read`;
  if (e.auth === true) return 'asks for basic auth (nginx_users), which Corral does not build, so it is not served open';
  return undefined;
}

const list = (items: readonly string[]): string => (items.length > 1 ? `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}` : (items[0] ?? ''));

const UNSERVED: Record<UnservedExporter, { what: string; off: string }> = {
  keepalived: { what: "keepalived's exporter (vip_exporter_port)", off: 'vip_enabled' },
};

/** Once per cluster, on `anchor`: what the inventory asks of INFRA that is not built here, where it takes more than the schema's x-corral to tell. */
export function clusterNotes(anchor: HostView, members: readonly HostView[], targets: Targets): Note[] {
  const out: Note[] = [];
  const note = (message: string): number => out.push({ host: anchor.name, resource: 'infra', message });

  const missing = [
    ...(anchor.param('grafana_enabled') ? ['Grafana (grafana_enabled)'] : []),
    ...(anchor.param('vlogs_enabled') ? ['VictoriaLogs (vlogs_enabled)'] : []),
    ...(anchor.param('vtraces_enabled') ? ['VictoriaTraces (vtraces_enabled)'] : []),
    ...(targets.leftOut.has('vector') ? ['vector (vector_enabled)'] : []),
  ];
  if (missing.length) note(`${list(missing)} are not built: Debian 12 does not package them (nor Grafana's dashboards); turn those switches off to silence this`);
  if (targets.leftOut.has('pgbackrest_exporter')) note('pgbackrest_exporter is not in Debian 12: its targets (pgbackrest_exporter_port) are left out');

  if (anchor.param('dns_enabled')) note('dns_enabled: dnsmasq and dns_records are not built here; the nodes resolve as their own resolv.conf says');
  if (anchor.param('repo_enabled')) {
    const dir = `${anchor.param('repo_home')}/${anchor.param('repo_name')}`;
    note(
      `repo_enabled: the local software repository is not built (nothing is downloaded or indexed; repo_packages, repo_extra_packages, repo_url_packages and repo_upstream are not read here): nginx serves ${dir} as it is. ` +
        "Pigsty's bootstrap has NODE wait for this repo; Corral syncs NODE before INFRA, so nodes install from the APT sources NODE gives them",
    );
  }

  for (const [what, where] of targets.unserved) {
    const u = UNSERVED[what];
    note(`targets for ${u.what} are written as Pigsty writes them (${list([...new Set(where)].slice(0, 5))}${where.length > 5 ? ', ...' : ''}), but no Corral module runs it yet: they show down until one does; ${u.off}: false leaves them out`);
  }

  const portal = Object.entries(anchor.param('infra_portal')).flatMap(([name, e]) => (e ? [[name, e] as const] : []));
  const unserved = portal.flatMap(([name, e]) => {
    const why = e.domain ? unservedEntry(e) : undefined;
    return why ? [`${name} ${why}`] : [];
  });
  if (unserved.length) note(`infra_portal entries not served: ${unserved.join('; ')}`);
  // nginx_users, certbot_sign and the *_clean switches are the schema's (x-corral): src/engine/ignored.ts notes them.
  const certbot = portal.filter(([, e]) => e.certbot).map(([name]) => name);
  if (certbot.length) note(`certbot is not run (infra_portal ${certbot.join(', ')}): the servers use Corral's certificate for nginx`);
  const v2 = Object.keys(anchor.all()).filter((k) => k.startsWith('prometheus_') && anchor.has(k));
  if (v2.length) note(`${list(v2)} (Pigsty v2's Prometheus) are not read: VictoriaMetrics takes vmetrics_* (retention in vmetrics_options)`);

  // pg_exporters: Debian's prometheus-postgres-exporter, whose metrics and flags are its own.
  const pigstyOnly = ['pg_exporter_config', 'pg_exporter_cache_ttls', 'pg_exporter_connect_timeout', 'pg_exporter_options'];
  const set = new Set<string>();
  for (const h of members) {
    const entries = Object.values(h.param('pg_exporters')).filter((e) => e !== undefined);
    if (!entries.length) continue;
    for (const p of pigstyOnly) if (h.has(p) || entries.some((e) => p in e)) set.add(p);
  }
  if (set.size) note(`${list([...set])} are Pigsty's pg_exporter settings: pg_exporters run Debian's prometheus-postgres-exporter, which has its own metrics and does not read them`);
  return out;
}
