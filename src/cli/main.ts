/** The `corral` command line: argument parsing only; the work lives in the layers below. */
import { Command, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../util/package-root.js';
// Each command loads its module when it runs (plan and apply: the engine, the transport and the
// renderer; the daemon's commands: its client), so that a command starts without the others' code.
import type { InventoryOptions } from './inventory.js';
import type { ConnectionFlags } from './engine.js';
import { LOG_FORMATS, serveCommand, type ServeOptions } from './serve-command.js';
import type { ClientOptions, WaitOptions } from './client.js';
import { initCommand, templateNames } from './init.js';
import { EXIT, processOutput, type Output } from './output.js';

/** The CLI and the daemon share one CA by default, so that neither replaces the other's certificates on the nodes. */
const defaultPkiDir = (): string => process.env.CORRAL_PKI_DIR ?? join(process.env.CORRAL_STATE_DIR ?? '/var/lib/corral', 'pki');

export function buildProgram(out: Output, setExit: (code: number) => void): Command {
  const { version } = JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version: string };
  const program = new Command('corral')
    .description('GitOps for self-hosted PostgreSQL fleets described by Pigsty inventories')
    .version(version)
    .showHelpAfterError()
    .configureOutput({ writeOut: (s) => out.print(s), writeErr: (s) => out.error(s) })
    .exitOverride();

  program
    .command('validate')
    .description('check inventories: YAML, schema and cross-field rules; exit 0 valid, 1 invalid, 2 usage or I/O error')
    .argument('[paths...]', 'repo folders or YAML files, each judged on its own', ['.'])
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .action(async (paths: string[], opts: { format: 'text' | 'json' }) => setExit(await (await import('./validate.js')).validateCommand(paths, opts, out)));

  program
    .command('inventory')
    .description("print a host's effective variables (secrets redacted), or list the hosts")
    .argument('[path]', 'repo folder or YAML file', '.')
    .option('--host <ip>', 'the host to show')
    .option('--origins', 'show where each variable was set', false)
    .option('--module <module>', "with --host: only this module's variables (node, etcd, pgsql, redis, minio, infra, connection)")
    .option('--grep <pattern>', "with --host: only the variables whose name matches this glob (e.g. 'pg_*', '*port*')")
    .addOption(new Option('--format <format>', 'output format').choices(['yaml', 'json']).default('yaml'))
    .action(async (path: string, opts: InventoryOptions) => setExit(await (await import('./inventory.js')).inventoryCommand(path, opts, out)));

  const ageIdentity = (): Option => new Option('--age-identity <file>', 'age identity file that decrypts the SOPS-encrypted values of the inventory (env CORRAL_AGE_IDENTITY_FILE, then SOPS_AGE_KEY_FILE)');
  const connection = (cmd: Command): Command =>
    cmd
      .option('--limit <clusters|hosts>', 'only these clusters or hosts (comma-separated)')
      .option('--ssh-user <user>', 'SSH user when the inventory sets no ansible_user (env CORRAL_SSH_USER)')
      .option('--ssh-key <file>', 'SSH private key (env CORRAL_SSH_KEY)')
      .option('--known-hosts <file>', 'known_hosts file (env CORRAL_KNOWN_HOSTS; default ~/.ssh/known_hosts)')
      .option('--accept-new-host-keys', 'trust a host key on first use and pin it; a changed key is still refused', false)
      .option('--jump <user@host:port>', 'reach the nodes through this bastion')
      .option('--pki-dir <dir>', "Corral's certificate authority, created on first use (env CORRAL_PKI_DIR; default: <state dir>/pki)", defaultPkiDir())
      .addOption(ageIdentity());

  connection(program.command('plan'))
    .description('observe the nodes and show what apply would change; changes nothing')
    .argument('[path]', 'repo folder or YAML file', '.')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json', 'markdown']).default('text'))
    .option('--out <file>', 'save the plan, to apply exactly it with apply --plan')
    .option('--detailed-exitcode', 'exit 0 when there are no changes, 2 when there are, 1 on error', false)
    .action(async (path: string, opts: ConnectionFlags & { format: string; out?: string; detailedExitcode: boolean }) => setExit(await (await import('./engine.js')).planCommand(path, opts, out)));

  connection(program.command('apply'))
    .description('plan, ask, apply, then check the nodes converged; exit non-zero if anything failed or did not converge')
    .argument('[path]', 'repo folder or YAML file', '.')
    .option('--yes', 'apply without asking', false)
    .option('--prune', 'allow changes that remove something (a member, a database); without it such a plan is not applied', false)
    .option('--pitr', "allow a point-in-time recovery (pg_pitr), which replaces a cluster's data, and no other removal", false)
    .option('--plan <file>', 'apply only if the nodes and inventory still match this saved plan')
    .action(async (path: string, opts: ConnectionFlags & { yes: boolean; prune: boolean; pitr: boolean; plan?: string }) => setExit(await (await import('./engine.js')).applyCommand(path, opts, out)));

  program
    .command('serve')
    .description('run the daemon: follow a git branch (or watch a folder), sync each cluster by its policy, serve the API, page and /metrics')
    .option('--repo <url|path>', 'git repository to follow: https:// URL or local path (credentials: CORRAL_GIT_TOKEN, CORRAL_GIT_USERNAME/PASSWORD, --git-token-file)')
    .option('--branch <name>', 'branch to follow', 'main')
    .option('--watch <dir>', 'a plain folder instead of git: every saved change is validated and planned, and nothing is applied unless asked')
    .option('--state-dir <dir>', 'where history, plans and the clone live', process.env.CORRAL_STATE_DIR ?? '/var/lib/corral')
    .option('--pki-dir <dir>', "Corral's certificate authority, created on first use (env CORRAL_PKI_DIR; default: STATE_DIR/pki)", process.env.CORRAL_PKI_DIR)
    .addOption(ageIdentity())
    .option('--require-encrypted-secrets', 'a secret written in plaintext makes a revision invalid, whatever its corral.yml says', false)
    .option('--listen <host:port>', 'HTTP address of the API, page and /metrics (env CORRAL_LISTEN)', process.env.CORRAL_LISTEN ?? '127.0.0.1:8080')
    .option('--ssh-user <user>', 'SSH user when the inventory sets no ansible_user (env CORRAL_SSH_USER)')
    .option('--ssh-key <file>', 'SSH private key (env CORRAL_SSH_KEY)')
    .option('--known-hosts <file>', 'known_hosts file (env CORRAL_KNOWN_HOSTS; default ~/.ssh/known_hosts)')
    .option('--accept-new-host-keys', 'trust a host key on first use and pin it', false)
    .option('--git-token-file <file>', 'file holding the git token')
    .addOption(new Option('--forge <kind>', 'report to this forge: commit statuses and PR plan comments (token: CORRAL_FORGE_TOKEN or --forge-token-file)').choices(['github', 'gitlab', 'gitea']))
    .option('--forge-api <url>', 'forge API base URL (default for github: https://api.github.com; gitlab: https://HOST/api/v4; gitea: https://HOST/api/v1)')
    .option('--forge-repo <owner/name>', 'the repository on the forge (GitLab: the project path or id)')
    .option('--forge-token-file <file>', 'file holding the forge API token')
    .option('--forge-login <login>', 'the account Corral posts as (asked from the forge when not given)')
    .option('--preview-forks', 'also preview pull requests from forks (they make Corral contact the hosts their inventory names)', false)
    .option('--allow-local-previews', "let a pull request's ansible_connection: local run Corral's probe scripts on this machine (refused by default)", false)
    .option('--webhook-secret-file <provider=file...>', 'per provider (github, gitlab, gitea, generic), a file holding the webhook secret (default: env CORRAL_WEBHOOK_SECRET for all)')
    .option('--slack-webhook-file <file>', 'file holding a Slack-compatible incoming webhook URL (or env CORRAL_SLACK_WEBHOOK_URL)')
    .option('--notify-webhook <url...>', 'generic JSON webhooks for sync events, signed with CORRAL_NOTIFY_SECRET (or --notify-secret-file)')
    .option('--notify-secret-file <file>', 'file holding the HMAC secret of the generic webhooks')
    .option('--public-url <url>', 'where people reach this daemon, for links in statuses and comments (env CORRAL_PUBLIC_URL)')
    .option('--etcd <urls>', 'share the fleet with other corral serve through this etcd (comma-separated client URLs; env CORRAL_ETCD): each cluster is synced by one daemon at a time', process.env.CORRAL_ETCD)
    .option('--etcd-ca <file>', "CA of the etcd's certificates (default: Corral's CA)")
    .option('--etcd-user <name>', 'with --etcd, for an etcd with users and roles: a user with read and write on /corral/ (password: CORRAL_ETCD_PASSWORD or --etcd-password-file)')
    .option('--etcd-password-file <file>', "file holding the etcd user's password")
    .option('--lease-ttl <seconds>', 'with --etcd: how long the clusters of a daemon that died wait before another takes them', '15')
    .option('--name <name>', 'with --etcd: this daemon among the others (env CORRAL_DAEMON_NAME; default HOSTNAME:PORT)', process.env.CORRAL_DAEMON_NAME)
    .option('--log-level <level>', 'pino log level; debug adds a line per HTTP request (env CORRAL_LOG_LEVEL)', process.env.CORRAL_LOG_LEVEL ?? 'info')
    .addOption(new Option('--log-format <format>', 'pretty lines on a terminal and JSON otherwise (auto), or always one (env CORRAL_LOG_FORMAT)').choices(LOG_FORMATS).default(process.env.CORRAL_LOG_FORMAT ?? 'auto'))
    .action(async (opts: ServeOptions) => setExit(await serveCommand(opts, out, version)));

  const client = () => import('./client.js');
  const server = (): Option => new Option('--server <url>', 'the daemon (env CORRAL_SERVER)').default(process.env.CORRAL_SERVER ?? 'http://127.0.0.1:8080');
  const format = (): Option => new Option('--format <format>', 'output format').choices(['text', 'json']).default('text');
  program
    .command('status')
    .description("the daemon's clusters: sync and health status, revision, drift; with CLUSTER, that one in detail")
    .argument('[cluster]')
    .addOption(server())
    .addOption(format())
    .action(async (name: string | undefined, opts: ClientOptions) => setExit(await (await client()).statusCommand(name, opts, out)));
  program
    .command('diff')
    .description("the daemon's current plan for a cluster: what a sync would change")
    .argument('<cluster>')
    .addOption(server())
    .addOption(format())
    .action(async (name: string, opts: ClientOptions) => setExit(await (await client()).diffCommand(name, opts, out)));
  program
    .command('sync')
    .description('ask the daemon to sync a cluster now (the bearer token comes from CORRAL_API_TOKEN)')
    .argument('<cluster>')
    .addOption(server())
    .option('--wait', 'follow the sync host by host until it ends; exit 0 only when the cluster is Synced', false)
    .addOption(new Option('--timeout <seconds>', 'how long --wait waits').argParser((v) => Number(v)).default(1800))
    .action(async (name: string, opts: WaitOptions) => setExit(await (await client()).syncCommand(name, opts, out)));
  for (const action of ['suspend', 'resume'] as const) {
    program
      .command(action)
      .description(action === 'suspend' ? 'stop the daemon planning and applying a cluster (CORRAL_API_TOKEN)' : 'let the daemon sync a suspended cluster again (CORRAL_API_TOKEN)')
      .argument('<cluster>')
      .addOption(server())
      .action(async (name: string, opts: ClientOptions) => setExit(await (await client()).suspendCommand(action, name, opts, out)));
  }
  program
    .command('history')
    .description("list a cluster's past syncs")
    .argument('<cluster>')
    .addOption(server())
    .addOption(format())
    .action(async (name: string, opts: ClientOptions) => setExit(await (await client()).historyCommand(name, opts, out)));

  program
    .command('init')
    .description('start a config repository from one of the bundled inventory shapes; it validates as it is')
    .argument('[dir]', 'the folder to write (created; must be empty)', '.')
    .addOption(new Option('--template <name>', 'the inventory shape').choices(templateNames()).default('single'))
    .option('--list', 'list the templates and what each holds', false)
    .action((dir: string, opts: { template: string; list: boolean }) => setExit(initCommand(dir, opts, out)));

  return program;
}

export async function run(argv: string[], out: Output = processOutput): Promise<number> {
  let exit: number = EXIT.ok;
  const program = buildProgram(out, (code) => (exit = code));
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (e) {
    const code = (e as { code?: string; exitCode?: number }).code;
    if (code === 'commander.helpDisplayed' || code === 'commander.version' || code === 'commander.help') return EXIT.ok;
    if (typeof code === 'string' && code.startsWith('commander.')) return EXIT.usage;
    out.error(`corral: ${(e as Error).stack ?? String(e)}\n`);
    return EXIT.usage;
  }
  return exit;
}
