/**
 * `corral serve`: the daemon and its forge side (webhooks, statuses, PR previews) put together.
 * Sources: a git repository (URL or local path) or a folder watched on disk. The entry point hands
 * this command to the CLI (src/cli/serve-command.ts), which never imports the forge side.
 */
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { openAuthority, previewAuthority, type CertificateIssuer } from '../src/pki/authority.js';
import { createLogger } from '../src/util/log.js';
import { createTransport } from '../src/transport/index.js';
import { ageIdentityFile, type SecretOptions } from '../src/config/decrypt.js';
import type { Credentials } from '../src/git/source.js';
import { CorralMetrics } from '../src/daemon/metrics.js';
import { buildServer } from '../src/daemon/http/server.js';
import { Daemon } from '../src/daemon/daemon.js';
import { lockStateDir } from '../src/daemon/lock.js';
import { controllerOf } from '../src/daemon/controller.js';
import { EtcdCoordination } from '../src/daemon/coordination.js';
import { Etcd } from '../src/daemon/etcd.js';
import { folderRevisions, gitRevisions } from '../src/daemon/sources.js';
import { expandPath, type SshDefaults } from '../src/engine/targets.js';
import type { Output } from '../src/cli/output.js';
import type { ServeOptions } from '../src/cli/serve-command.js';
import type { GitSource } from '../src/git/source.js';
import { forgeIntegration } from './index.js';
import { webhookRoutes } from './routes.js';
import { DEFAULT_API, type NotifyConfig } from './notifiers/index.js';
import { PROVIDERS, type Provider } from './receivers/index.js';



/** Where notifications go, from flags, files and the environment; undefined fields are off. */
async function notifyConfig(opts: ServeOptions): Promise<NotifyConfig | string> {
  const env = process.env;
  const c: NotifyConfig = {};
  if (opts.forge) {
    const apiUrl = opts.forgeApi ?? DEFAULT_API[opts.forge];
    const token = opts.forgeTokenFile ? await fromFile(opts.forgeTokenFile) : env.CORRAL_FORGE_TOKEN;
    if (!apiUrl) return `--forge ${opts.forge} needs --forge-api (the API base URL of your ${opts.forge})`;
    if (!opts.forgeRepo) return `--forge ${opts.forge} needs --forge-repo owner/name`;
    if (!token) return `--forge ${opts.forge} needs a token: CORRAL_FORGE_TOKEN or --forge-token-file`;
    c.forge = { kind: opts.forge, apiUrl, repository: opts.forgeRepo, token, ...(opts.forgeLogin ? { login: opts.forgeLogin } : {}) };
  }
  const slack = opts.slackWebhookFile ? await fromFile(opts.slackWebhookFile) : env.CORRAL_SLACK_WEBHOOK_URL;
  if (slack) c.slackWebhookUrl = slack;
  if (opts.notifyWebhook?.length) {
    const secret = opts.notifySecretFile ? await fromFile(opts.notifySecretFile) : env.CORRAL_NOTIFY_SECRET;
    if (!secret) return '--notify-webhook needs a signing secret: CORRAL_NOTIFY_SECRET or --notify-secret-file';
    c.webhooks = opts.notifyWebhook.map((url) => ({ url, secret }));
  }
  return c;
}

/** `--webhook-secret-file github=/etc/corral/github.secret ...`, or what is wrong with it. */
function webhookSecretFiles(given: string[] = []): Partial<Record<Provider, string>> | string {
  const files: Partial<Record<Provider, string>> = {};
  for (const item of given) {
    const [provider, file] = [item.slice(0, item.indexOf('=')), item.slice(item.indexOf('=') + 1)];
    if (!(PROVIDERS as readonly string[]).includes(provider) || !file) return `--webhook-secret-file takes PROVIDER=FILE with a provider of ${PROVIDERS.join(', ')}; got ${JSON.stringify(item)}`;
    files[provider as Provider] = resolve(file);
  }
  return files;
}

const fromFile = async (file: string): Promise<string> => (await readFile(file, 'utf8')).trim();

/** Git credentials from the environment or a file, never from the repository. */
/** With --etcd, the daemons sharing the fleet; an error message for a flag that is wrong. */
async function coordination(opts: ServeOptions, ca: string, listen: string, logger: Logger): Promise<EtcdCoordination | string | undefined> {
  if (!opts.etcd) return undefined;
  const endpoints = opts.etcd.split(',').map((u) => u.trim()).filter(Boolean);
  const bad = endpoints.find((u) => !/^https?:\/\/[^/]+\/?$/.test(u));
  if (bad !== undefined || !endpoints.length) return `--etcd takes etcd client URLs like https://10.10.10.10:2379, not ${JSON.stringify(bad ?? opts.etcd)}`;
  const ttl = Number(opts.leaseTtl);
  if (!Number.isInteger(ttl) || ttl < 5 || ttl > 3600) return `--lease-ttl takes whole seconds from 5 to 3600, not ${JSON.stringify(opts.leaseTtl)}`;
  const name = opts.name ?? `${hostname()}:${listen.slice(listen.lastIndexOf(':') + 1)}`;
  if (!/^[\w.:@-]{1,100}$/.test(name)) return `--name takes letters, digits and . : @ - _, not ${JSON.stringify(name)}`;
  const etcdCa = opts.etcdCa ? await readFile(resolve(opts.etcdCa), 'utf8').catch((e: Error) => e) : ca;
  if (etcdCa instanceof Error) return `--etcd-ca: ${etcdCa.message}`;
  let auth: { user: string; password: string } | undefined;
  if (opts.etcdUser) {
    const password = opts.etcdPasswordFile ? await readFile(resolve(opts.etcdPasswordFile), 'utf8').then((p) => p.trim(), (e: Error) => e) : process.env.CORRAL_ETCD_PASSWORD;
    if (password instanceof Error) return `--etcd-password-file: ${password.message}`;
    if (!password) return `--etcd-user ${opts.etcdUser} needs its password: CORRAL_ETCD_PASSWORD or --etcd-password-file`;
    auth = { user: opts.etcdUser, password };
  }
  return new EtcdCoordination({ etcd: new Etcd({ endpoints, ca: etcdCa, ...(auth ? { auth } : {}) }), id: name, ttlSeconds: ttl, logger: logger.child({ daemon: name }) });
}

function gitCredentials(tokenFile: string | undefined): () => Promise<Credentials | undefined> {
  return async () => {
    const env = process.env;
    if (tokenFile) return { token: await fromFile(tokenFile) };
    if (env.CORRAL_GIT_TOKEN) return { token: env.CORRAL_GIT_TOKEN };
    if (env.CORRAL_GIT_USERNAME) return { username: env.CORRAL_GIT_USERNAME, password: env.CORRAL_GIT_PASSWORD ?? '' };
    return undefined;
  };
}

export async function serveCommand(opts: ServeOptions, out: Output, version: string): Promise<number> {
  if (!opts.repo === !opts.watch) {
    out.error('corral serve: give either --repo URL|PATH (a git repository) or --watch DIR (a plain folder)\n');
    return 2;
  }
  const logger = createLogger({ level: opts.logLevel, redact: { paths: ['*.password', '*.token', '*.secret', 'req.headers.authorization'], censor: '(redacted)' } }, opts.logFormat);
  const metrics = new CorralMetrics();
  const env = process.env;
  const idle = env.CORRAL_SSH_IDLE_TIMEOUT;
  if (idle !== undefined && !/^[1-9][0-9]*$/.test(idle)) {
    out.error(`corral serve: CORRAL_SSH_IDLE_TIMEOUT takes a whole number of seconds, not ${JSON.stringify(idle)}\n`);
    return 2;
  }
  // A git server that accepts and never answers (or stalls mid-pack) costs one poll this long, not the daemon.
  const gitTimeout = env.CORRAL_GIT_TIMEOUT;
  if (gitTimeout !== undefined && !/^[1-9][0-9]*$/.test(gitTimeout)) {
    out.error(`corral serve: CORRAL_GIT_TIMEOUT takes a whole number of seconds, not ${JSON.stringify(gitTimeout)}\n`);
    return 2;
  }
  const transport = createTransport({
    hostKeys: {
      knownHostsFile: expandPath(opts.knownHosts ?? env.CORRAL_KNOWN_HOSTS ?? '~/.ssh/known_hosts', process.cwd()),
      mode: opts.acceptNewHostKeys ? 'accept-new' : 'strict',
    },
    events: metrics.transportEvents(),
    // Connections stay open between syncs; one idle this long is closed (the next sync reopens it).
    ...(idle ? { idleTimeoutMs: Number(idle) * 1000 } : {}),
  });
  const ssh: SshDefaults = {};
  const user = opts.sshUser ?? env.CORRAL_SSH_USER;
  const key = opts.sshKey ?? env.CORRAL_SSH_KEY;
  if (user) ssh.user = user;
  if (key) ssh.privateKeyFile = expandPath(key, process.cwd());
  if (env.SSH_AUTH_SOCK) ssh.agent = env.SSH_AUTH_SOCK;

  const notify = await notifyConfig(opts);
  if (typeof notify === 'string') {
    out.error(`corral serve: ${notify}\n`);
    return 2;
  }
  const secretFiles = webhookSecretFiles(opts.webhookSecretFile);
  if (typeof secretFiles === 'string') {
    out.error(`corral serve: ${secretFiles}\n`);
    return 2;
  }
  const stateDir = resolve(opts.stateDir);
  const lock = await lockStateDir(stateDir);
  if ('heldBy' in lock) {
    out.error(`corral serve: the state dir ${stateDir} is in use by another corral serve (${lock.heldBy}); stop that one, or give this one its own --state-dir\n`);
    return 2;
  }
  const pkiDir = resolve(opts.pkiDir ?? join(stateDir, 'pki'));
  let pki: CertificateIssuer;
  try {
    pki = await openAuthority(pkiDir, { create: true });
  } catch (e) {
    out.error(`corral serve: the certificate authority in ${pkiDir}: ${(e as Error).message} (--pki-dir names another folder)\n`);
    await lock.release();
    return 2;
  }
  // A git repository or a watched folder, each loaded only when used (isomorphic-git, chokidar): the idle daemon's memory.
  const { createGitSource } = opts.watch ? { createGitSource: undefined } : await import('../src/git/source.js');
  const gitSource = (dir: string): GitSource => createGitSource!({ url: opts.repo!, branch: opts.branch, stateDir: resolve(stateDir, dir), credentials: gitCredentials(opts.gitTokenFile), ...(gitTimeout ? { timeoutMs: Number(gitTimeout) * 1000 } : {}) });
  const source = opts.watch ? folderRevisions(resolve(opts.watch)) : gitRevisions(gitSource('git'), `${opts.repo} (${opts.branch})`);
  const forge = forgeIntegration({
    stateDir,
    metrics,
    logger,
    notify,
    ...(opts.watch ? {} : { previewGit: gitSource('previews') }),
    transport,
    ssh,
    previewPki: await previewAuthority(pkiDir),
    branch: opts.branch,
    previewForks: opts.previewForks,
    webhookSecretFiles: secretFiles,
    ...(opts.publicUrl ?? env.CORRAL_PUBLIC_URL ? { publicUrl: opts.publicUrl ?? env.CORRAL_PUBLIC_URL } : {}),
  });
  // From the daemon's flags and environment, never from the repository; a relative file is the daemon's own.
  const identity = ageIdentityFile(opts.ageIdentity);
  const secrets: SecretOptions = { requireEncrypted: opts.requireEncryptedSecrets, ...(identity ? { ageIdentityFile: resolve(identity) } : {}) };
  const [host, port] = opts.listen.includes(':') ? [opts.listen.slice(0, opts.listen.lastIndexOf(':')), Number(opts.listen.slice(opts.listen.lastIndexOf(':') + 1))] : ['127.0.0.1', Number(opts.listen)];
  const controller = controllerOf({ host, port });
  const shared = await coordination(opts, pki.ca, opts.listen, logger);
  if (typeof shared === 'string') {
    out.error(`corral serve: ${shared}\n`);
    await transport.close();
    await lock.release();
    return 2;
  }
  const daemon = new Daemon({ source, stateDir, transport, metrics, logger, ssh, pki, version, neverAutoApply: Boolean(opts.watch), events: forge.events, secrets, controller, ...(shared ? { coordination: shared } : {}) });
  forge.previews?.connectWith({ inForce: () => daemon.inForce(), allowLocal: opts.allowLocalPreviews, secrets });
  const token = env.CORRAL_API_TOKEN;
  const app = buildServer({ api: daemon, metrics, logger, ...(token ? { token } : {}) });
  app.register(webhookRoutes, forge.routes(daemon));
  try {
    await app.listen({ host, port });
  } catch (e) {
    await app.close();
    await transport.close();
    await lock.release();
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EADDRINUSE' && code !== 'EADDRNOTAVAIL' && code !== 'EACCES') throw e;
    // One line with the fix, not a stack trace.
    const why = code === 'EADDRINUSE' ? 'is in use (another corral serve, or npm start, running?)' : code === 'EACCES' ? 'needs privileges this user does not have' : 'is not an address of this machine';
    out.error(`corral serve: cannot listen on ${host}:${port}: the address ${why}; stop what holds it, or listen elsewhere: --listen ${host}:${port + 1} or CORRAL_LISTEN=${host}:${port + 1}\n`);
    return 2;
  }
  const bound = app.server.address();
  const listening = typeof bound === 'object' && bound ? bound.port : port;
  logger.info({ listen: `http://${host}:${listening}/`, source: source.describe, stateDir }, 'corral is serving');
  const watcher = opts.watch ? (await import('../src/git/watch.js')).watchFolder(resolve(opts.watch), () => daemon.nudge('watch')) : undefined;

  const shutdown = async (signal: string): Promise<void> => {
    logger.info({ signal }, 'stopping');
    await watcher?.close();
    await daemon.stop();
    await forge.stop();
    await app.close();
    await transport.close();
    await lock.release();
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
  forge.start();
  await daemon.start();
  return new Promise<number>(() => {});
}
