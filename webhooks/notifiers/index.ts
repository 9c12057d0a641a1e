/** The notifiers a daemon sends to, from its own flags and environment (never from the repository). */
import { genericNotifier, slackNotifier } from './chat.js';
import { forgeNotifier, type ForgeSettings } from './forge.js';
import { giteaApi, githubApi } from './github.js';
import { gitlabApi } from './gitlab.js';
import type { Notifier } from './types.js';

export type ForgeKind = 'github' | 'gitlab' | 'gitea';
export const FORGES: readonly ForgeKind[] = ['github', 'gitlab', 'gitea'];

export interface NotifyConfig {
  forge?: { kind: ForgeKind } & ForgeSettings;
  slackWebhookUrl?: string;
  webhooks?: { url: string; secret: string }[];
}

export function buildNotifiers(c: NotifyConfig): Notifier[] {
  const out: Notifier[] = [];
  if (c.forge) out.push(forgeNotifier({ github: githubApi, gitlab: gitlabApi, gitea: giteaApi }[c.forge.kind](c.forge)));
  if (c.slackWebhookUrl) out.push(slackNotifier(c.slackWebhookUrl));
  c.webhooks?.forEach((w, i) => out.push(genericNotifier(i + 1, w.url, w.secret)));
  return out;
}

/** Default API base URLs; GitLab and Gitea are self-hosted as often as not, so they have none. */
export const DEFAULT_API: Partial<Record<ForgeKind, string>> = { github: 'https://api.github.com' };
