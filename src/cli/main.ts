/** The `corral` command line: argument parsing only; the work lives in the layers below. */
import { Command, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../util/package-root.js';
import { validateCommand } from './validate.js';
import { inventoryCommand } from './inventory.js';
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
