/**
 * The daemon's forge integration, put together: webhook receivers that nudge the sync loop and
 * start previews, the reporter that turns the daemon's events into notifications, and the durable
 * outbox that delivers them.
 */
import { readFileSync } from 'node:fs';
import type { CertificateIssuer } from '../src/pki/authority.js';
import type { Logger } from 'pino';
import type { CorralMetrics } from '../src/daemon/metrics.js';
import type { Daemon, DaemonEvents } from '../src/daemon/daemon.js';
import { Previews } from './previews.js';
import { StateStore } from '../src/daemon/store.js';
import type { SshDefaults } from '../src/engine/targets.js';
import type { GitSource } from '../src/git/source.js';
import type { Transport } from '../src/transport/types.js';
import { SeenDeliveries } from './deliveries.js';
import { dispatcher } from './dispatch.js';
import { buildNotifiers, type NotifyConfig } from './notifiers/index.js';
import type { Notice } from './notifiers/types.js';
import { Outbox } from './outbox.js';
import type { Provider } from './receivers/types.js';
import { reporter } from './reporter.js';
import type { WebhookOptions } from './routes.js';

export interface ForgeOptions {
  stateDir: string;
  metrics: CorralMetrics;
  logger: Logger;
  notify: NotifyConfig;
  /** A clone for previews, apart from the daemon's; none for a watched folder. */
  previewGit?: GitSource;
  transport: Transport;
  ssh: SshDefaults;
  /** The issuer previews plan with: one that never writes. */
  previewPki: CertificateIssuer;
  branch: string;
  previewForks: boolean;
  publicUrl?: string;
  /** Per provider, a file on this machine holding the shared secret (corral serve --webhook-secret-file). */
  webhookSecretFiles?: Partial<Record<Provider, string>>;
}

export interface ForgeIntegration {
  events: DaemonEvents;
  outbox: Outbox;
  previews?: Previews;
  routes(daemon: Pick<Daemon, 'settings' | 'nudge'>): WebhookOptions;
  start(): void;
  stop(): Promise<void>;
}

/**
 * The shared secret of a provider: the file the daemon's flags name, else CORRAL_WEBHOOK_SECRET.
 * Read at each delivery, so a rotated secret needs no restart. Never a file a repository names: a
 * commit could make a file of known content the key, and so let anyone sign deliveries.
 */
export function webhookSecret(files: ForgeOptions['webhookSecretFiles'], provider: Provider, logger: Logger): string | undefined {
  const file = files?.[provider];
  if (file) {
    try {
      return readFileSync(file, 'utf8').trim() || undefined;
    } catch (e) {
      logger.error({ provider, file, err: (e as Error).message }, 'cannot read the webhook secret file named by --webhook-secret-file');
      return undefined;
    }
  }
  return process.env.CORRAL_WEBHOOK_SECRET || undefined;
}

/** corral.yml's `webhooks.<provider>.secretFile`, which earlier versions read: said once per revision and provider, not honoured. */
function ignoredSecretFiles(daemon: Pick<Daemon, 'settings'>, logger: Logger): (provider: Provider) => void {
  const said = new WeakMap<object, Set<Provider>>();
  return (provider) => {
    const settings = daemon.settings();
    if (!settings?.webhooks[provider]?.secretFile) return;
    const providers = said.get(settings) ?? new Set();
    if (providers.has(provider)) return;
    said.set(settings, providers.add(provider));
    logger.warn({ provider }, `corral.yml sets webhooks.${provider}.secretFile: ignored, a repository does not choose which file of this machine is read; use corral serve --webhook-secret-file ${provider}=FILE`);
  };
}

export function forgeIntegration(o: ForgeOptions): ForgeIntegration {
  const store = new StateStore(o.stateDir);
  const logger = o.logger.child({ component: 'forge' });
  const outbox = new Outbox({ store, notifiers: buildNotifiers(o.notify), metrics: o.metrics, logger });
  const notify = (n: Notice): void => void outbox.enqueue(n);
  const previews = o.previewGit && o.notify.forge ? new Previews({ git: o.previewGit, transport: o.transport, ssh: o.ssh, pki: o.previewPki, store, logger, notify, ...(o.publicUrl ? { publicUrl: o.publicUrl } : {}) }) : undefined;
  return {
    events: reporter(notify, o.publicUrl),
    outbox,
    ...(previews ? { previews } : {}),
    routes: (daemon) => {
      const dispatch = dispatcher({ branch: o.branch, nudge: () => daemon.nudge('webhook'), previewForks: o.previewForks, ...(previews ? { preview: (pr) => previews.request(pr) } : {}) });
      const sayIgnored = ignoredSecretFiles(daemon, logger);
      return {
        secretFor: (provider) => {
          sayIgnored(provider);
          return webhookSecret(o.webhookSecretFiles, provider, logger);
        },
        seen: new SeenDeliveries(store),
        metrics: o.metrics,
        dispatch: (_provider, event) => dispatch(event),
      };
    },
    start: () => outbox.start(),
    stop: async () => {
      await previews?.idle();
      await outbox.stop();
    },
  };
}
