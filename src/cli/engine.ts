/** `corral plan` and `corral apply`: the engine on an inventory folder, from the command line. */
import { contentRevision } from '../util/content-revision.js';
import { folderRevisionOf } from '../git/worktree.js';
import { readFile, writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline/promises';
import { validateInventory, type Validated } from '../config/validate.js';
import { ageIdentityFile, decryptValidated } from '../config/decrypt.js';
import { createTransport } from '../transport/index.js';
import type { Transport } from '../transport/types.js';
import { applyRun, planRun, unknownLimits, type Planning, type RunContext } from '../engine/run.js';
import { blockingNotes, type Change } from '../engine/model.js';
import { renderJson, renderMarkdown, renderText, summary } from '../engine/render.js';
import { expandPath, sshDefaultsFrom, type SshDefaults } from '../engine/targets.js';
import { ansiPaint, formatProblem, noPaint } from './format-problems.js';
import { displayPathOf } from './paths.js';
import { EXIT, type Output } from './output.js';
import { applyDisplay } from './progress.js';
import { resolve } from 'node:path';
import { openAuthority, type CertificateIssuer } from '../pki/authority.js';

export interface ConnectionFlags {
  limit?: string;
  sshUser?: string;
  sshKey?: string;
  knownHosts?: string;
  acceptNewHostKeys?: boolean;
  jump?: string;
  pkiDir?: string;
  ageIdentity?: string;
}

/** A plan saved with --out, applied with --plan: it holds no secrets, only what to check. */
interface SavedPlan {
  corralPlan: 1;
  revision: string;
  fingerprint: string;
  summary: string;
}

/**
 * The commit when the inventory is a git checkout as committed; else (edited, or no git) the content
 * of the inventory files, so any edit changes it.
 */
async function worktreeRevision(v: Validated): Promise<string> {
  const content = (): string => contentRevision('worktree', v.texts);
  return (await folderRevisionOf(v.inventory!.root, content))?.revision ?? content();
}

/** user@host:port, as ssh -J writes it. */
function parseJump(spec: string): SshDefaults['jump'] {
  const m = /^(?:([^@]+)@)?([^:]+)(?::(\d+))?$/.exec(spec);
  if (!m) throw new Error(`--jump takes user@host:port, not ${spec}`);
  return { address: m[2]!, ...(m[1] ? { user: m[1] } : {}), ...(m[3] ? { port: Number(m[3]) } : {}) };
}

async function setUp(path: string, flags: ConnectionFlags, out: Output): Promise<{ ctx: RunContext; transport: Transport } | number> {
  // Decrypted after validation, which needs no key; a revision that does not decrypt is not used.
  const validated = await decryptValidated(await validateInventory(path), ageIdentityFile(flags.ageIdentity));
  if (!validated.valid || !validated.inventory) {
    const paint = out.color ? ansiPaint : noPaint;
    for (const p of validated.problems.filter((x) => x.severity === 'error')) out.error(formatProblem(p, validated.texts.get(p.file), displayPathOf(validated, path), paint) + '\n');
    out.error(`corral: ${path} is not valid; nothing was observed or changed\n`);
    return validated.inventory ? EXIT.invalid : EXIT.usage;
  }
  const root = validated.inventory.root;
  const s = validated.inventory.settings.ssh;
  const env = process.env;
  const ssh = sshDefaultsFrom(s, root);
  const user = flags.sshUser ?? env.CORRAL_SSH_USER;
  const key = flags.sshKey ?? env.CORRAL_SSH_KEY;
  if (user) ssh.user = user;
  if (key) ssh.privateKeyFile = expandPath(key, root);
  if (env.SSH_AUTH_SOCK) ssh.agent = env.SSH_AUTH_SOCK;
  if (flags.jump) ssh.jump = parseJump(flags.jump);
  // Which host keys to trust is the user's call, never the repository's: a commit could otherwise
  // point known_hosts at a file of its own or turn on accept-new.
  const knownHosts = flags.knownHosts ?? env.CORRAL_KNOWN_HOSTS;
  if (s.knownHostsFile && !knownHosts) out.error(`corral: warning: ignored ssh.knownHostsFile (${s.knownHostsFile}) from corral.yml; host keys are checked against ~/.ssh/known_hosts, pass --known-hosts FILE (or CORRAL_KNOWN_HOSTS) for another file\n`);
  if (s.hostKeyPolicy === 'accept-new' && !flags.acceptNewHostKeys) out.error('corral: warning: ignored ssh.hostKeyPolicy (accept-new) from corral.yml; unknown host keys are refused, pass --accept-new-host-keys to trust new hosts\n');
  const transport = createTransport({
    hostKeys: {
      knownHostsFile: expandPath(knownHosts ?? '~/.ssh/known_hosts', root),
      mode: flags.acceptNewHostKeys ? 'accept-new' : 'strict',
    },
    connectTimeoutMs: (s.connectTimeoutSeconds ?? 10) * 1000,
    ...(s.maxConnections ? { maxConnections: s.maxConnections } : {}),
    ...(s.maxPerHost ? { maxPerHost: s.maxPerHost } : {}),
  });
  const limit = flags.limit?.split(',').map((x) => x.trim()).filter(Boolean);
  const unknown = unknownLimits(validated, limit ?? []);
  if (unknown.length) {
    await transport.close();
    const clusters = [...new Set(validated.clusters.map((c) => c.name))].sort();
    out.error(`corral: --limit ${unknown.join(',')} matches no cluster or host; clusters: ${clusters.join(', ')}; or a host name or address\n`);
    return EXIT.usage;
  }
  const pkiDir = resolve(flags.pkiDir ?? 'pki');
  let pki: CertificateIssuer;
  try {
    // Issuing is bookkeeping on this machine, not a change to the fleet: plan issues too, so apply --plan matches it.
    pki = await openAuthority(pkiDir, { create: true });
  } catch (e) {
    await transport.close();
    out.error(`corral: the certificate authority in ${pkiDir}: ${(e as Error).message} (--pki-dir or CORRAL_PKI_DIR names another folder)\n`);
    return EXIT.usage;
  }
  return { transport, ctx: { validated, transport, ssh, pki, revision: await worktreeRevision(validated), ...(limit?.length ? { limit } : {}) } };
}

function render(planning: Planning, format: string, color: boolean): string {
  if (format === 'json') return renderJson(planning.plan);
  if (format === 'markdown') return renderMarkdown(planning.plan);
  return renderText(planning.plan, { color });
}

export async function planCommand(path: string, opts: ConnectionFlags & { format: string; out?: string; detailedExitcode?: boolean }, out: Output): Promise<number> {
  const set = await setUp(path, opts, out);
  if (typeof set === 'number') return set;
  try {
    const planning = await planRun(set.ctx);
    out.print(render(planning, opts.format, out.color));
    if (opts.out) {
      const saved: SavedPlan = { corralPlan: 1, revision: planning.plan.revision, fingerprint: planning.plan.fingerprint, summary: summary(planning.plan) };
      await writeFile(opts.out, JSON.stringify(saved, null, 2) + '\n');
    }
    if (planning.plan.unreachable.length || blockingNotes(planning.plan).length) return EXIT.invalid;
    return opts.detailedExitcode && planning.plan.changes.length ? 2 : EXIT.ok;
  } finally {
    await set.transport.close();
  }
}

async function confirm(out: Output): Promise<boolean> {
  if (!process.stdin.isTTY) {
    out.error('corral: not a terminal; pass --yes to apply without asking\n');
    return false;
  }
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  const answer = await rl.question('Apply these changes? Only "yes" is accepted: ');
  rl.close();
  return answer.trim() === 'yes';
}

export async function applyCommand(path: string, opts: ConnectionFlags & { yes?: boolean; prune?: boolean; pitr?: boolean; plan?: string }, out: Output): Promise<number> {
  const set = await setUp(path, opts, out);
  if (typeof set === 'number') return set;
  try {
    const planning = await planRun(set.ctx);
    out.print(renderText(planning.plan, { color: out.color }));
    if (opts.plan) {
      const saved = JSON.parse(await readFile(opts.plan, 'utf8')) as SavedPlan;
      if (saved.fingerprint !== planning.plan.fingerprint) {
        out.error(`corral: the saved plan ${opts.plan} no longer matches: the inventory or the nodes changed since it was made (${saved.revision} → ${planning.plan.revision}). Run corral plan again.\n`);
        return EXIT.invalid;
      }
    }
    const blocking = blockingNotes(planning.plan);
    if (blocking.length) {
      out.error(`corral: not applied: ${blocking.map((n) => `${n.host}: ${n.message}`).join('; ')}\n`);
      return EXIT.invalid;
    }
    if (!planning.plan.changes.length) {
      out.print(planning.plan.unreachable.length ? 'Nothing applied.\n' : 'Nothing to apply: the nodes already match.\n');
      return planning.plan.unreachable.length ? EXIT.invalid : EXIT.ok;
    }
    // As the daemon's prune policy: removing something is never a side effect of --yes.
    const consented = (c: Change): boolean => Boolean(opts.prune || (c.consent === 'pitr' && opts.pitr));
    const removals = planning.plan.changes.filter((c) => c.destructive && !consented(c));
    if (removals.length) {
      const flags = removals.every((c) => c.consent === 'pitr') ? '--pitr (or --prune)' : '--prune';
      out.error(`corral: not applied: the plan removes ${removals.map((c) => `${c.resource} on ${c.host}`).join(', ')}; pass ${flags} to allow it\n`);
      return EXIT.invalid;
    }
    if (!opts.yes && !opts.plan && !(await confirm(out))) {
      out.error('corral: not applied\n');
      return EXIT.invalid;
    }
    const progress = applyDisplay(out, planning.plan, { live: Boolean(out.live), ...(out.columns ? { columns: out.columns } : {}) });
    const outcome = await applyRun(set.ctx, planning, progress.event).finally(progress.stop);
    const failed = outcome.results.filter((r) => r.status !== 'applied');
    for (const u of planning.plan.unreachable) out.print(`[${u.host}] ✗ unreachable: ${u.message}\n`);
    if (outcome.converged) {
      out.print(`Applied ${outcome.results.length} changes; the nodes converged.\n`);
      return EXIT.ok;
    }
    if (outcome.verify.plan.changes.length) {
      out.print('Not converged: after applying, the nodes still differ:\n' + renderText(outcome.verify.plan, { color: out.color }));
    }
    out.print(`Applied ${outcome.results.length - failed.length} of ${outcome.results.length} changes${planning.plan.unreachable.length ? `; ${planning.plan.unreachable.length} hosts unreachable` : ''}.\n`);
    return EXIT.invalid;
  } finally {
    await set.transport.close();
  }
}
