/** The `corral` command line: argument parsing only; the work lives in the layers below. */
import { Command, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../util/package-root.js';
import { validateCommand } from './validate.js';
import { inventoryCommand } from './inventory.js';
import { applyCommand, planCommand, type ConnectionFlags } from './engine.js';
import { EXIT, processOutput, type Output } from './output.js';

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
    .action(async (paths: string[], opts: { format: 'text' | 'json' }) => setExit(await validateCommand(paths, opts, out)));

  program
    .command('inventory')
    .description("print a host's effective variables (secrets redacted), or list the hosts")
    .argument('[path]', 'repo folder or YAML file', '.')
    .option('--host <ip>', 'the host to show')
    .option('--origins', 'show where each variable was set', false)
    .addOption(new Option('--format <format>', 'output format').choices(['yaml', 'json']).default('yaml'))
    .action(async (path: string, opts: { host?: string; format: 'yaml' | 'json'; origins: boolean }) => setExit(await inventoryCommand(path, opts, out)));

  const connection = (cmd: Command): Command =>
    cmd
      .option('--limit <clusters|hosts>', 'only these clusters or hosts (comma-separated)')
      .option('--ssh-user <user>', 'SSH user when the inventory sets no ansible_user (env CORRAL_SSH_USER)')
      .option('--ssh-key <file>', 'SSH private key (env CORRAL_SSH_KEY)')
      .option('--known-hosts <file>', 'known_hosts file (env CORRAL_KNOWN_HOSTS; default ~/.ssh/known_hosts)')
      .option('--accept-new-host-keys', 'trust a host key on first use and pin it; a changed key is still refused', false)
      .option('--jump <user@host:port>', 'reach the nodes through this bastion');

  connection(program.command('plan'))
    .description('observe the nodes and show what apply would change; changes nothing')
    .argument('[path]', 'repo folder or YAML file', '.')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json', 'markdown']).default('text'))
    .option('--out <file>', 'save the plan, to apply exactly it with apply --plan')
    .option('--detailed-exitcode', 'exit 0 when there are no changes, 2 when there are, 1 on error', false)
    .action(async (path: string, opts: ConnectionFlags & { format: string; out?: string; detailedExitcode: boolean }) => setExit(await planCommand(path, opts, out)));

  connection(program.command('apply'))
    .description('plan, ask, apply, then check the nodes converged; exit non-zero if anything failed or did not converge')
    .argument('[path]', 'repo folder or YAML file', '.')
    .option('--yes', 'apply without asking', false)
    .option('--plan <file>', 'apply only if the nodes and inventory still match this saved plan')
    .action(async (path: string, opts: ConnectionFlags & { yes: boolean; plan?: string }) => setExit(await applyCommand(path, opts, out)));

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
