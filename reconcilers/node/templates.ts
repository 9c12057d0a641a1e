/** The files NODE writes, laid out as Pigsty's node role writes them. */

export function chronyConf(servers: readonly string[]): string {
  return [
    '# managed by corral (node_ntp_servers)',
    ...servers,
    '',
    'driftfile /var/lib/chrony/drift',
    'makestep 1.0 3',
    'rtcsync',
    'logdir /var/log/chrony',
    '',
  ].join('\n');
}

export function crontab(entries: readonly string[]): string {
  return ['SHELL=/bin/bash', 'PATH=/sbin:/bin:/usr/sbin:/usr/bin', 'MAILTO=root', '', '# managed by corral (node_crontab)', '# m h dom mon dow user command', ...entries, ''].join('\n');
}

/** node_admin_sudo: `nopass` and `all` grant the admin group sudo, without and with a password; `limited` only service control; `none` nothing. */
export function sudoers(mode: string): string | undefined {
  switch (mode) {
    case 'nopass':
      return '%admin ALL=(ALL) NOPASSWD: ALL\n';
    case 'all':
      return '%admin ALL=(ALL) ALL\n';
    case 'limited':
      return '%admin ALL=(ALL) NOPASSWD: /usr/bin/systemctl, /usr/bin/journalctl\n';
    default:
      return undefined;
  }
}

export function sysctlConf(params: readonly [string, string | number | boolean][]): string {
  return ['# managed by corral (node_sysctl_params)', ...params.map(([k, v]) => `${k} = ${typeof v === 'boolean' ? Number(v) : v}`), ''].join('\n');
}

export function exporterDefaults(port: number, options: string): string {
  return `# managed by corral (node_exporter_port, node_exporter_options)\nARGS="--web.listen-address=:${port}${options ? ' ' + options : ''}"\n`;
}
