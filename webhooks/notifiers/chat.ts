/**
 * Events out to people and other tools: Slack-compatible incoming webhooks (Slack, Mattermost,
 * Rocket.Chat take `{text}`), and a generic JSON webhook signed like GitHub signs its own:
 * `X-Corral-Signature-256: sha256=<hex HMAC-SHA256(secret, raw body)>`, with the event name and a
 * delivery id the receiver can dedupe on.
 */
import { createHash } from 'node:crypto';
import { hmacHex } from '../receivers/signature.js';
import { sendJson } from './http.js';
import type { CorralEvent, Notice, Notifier } from './types.js';

const isEvent = (n: Notice): n is Extract<Notice, { kind: 'event' }> => n.kind === 'event';

export function slackText(e: CorralEvent): string {
  const icon = e.ok ? ':white_check_mark:' : ':x:';
  return `${icon} ${e.title}${e.url ? ` (<${e.url}|details>)` : ''}`;
}

export function slackNotifier(webhookUrl: string): Notifier {
  return {
    name: 'slack',
    provider: 'slack',
    accepts: isEvent,
    async deliver(n) {
      if (!isEvent(n)) return;
      // The URL is the secret: errors name the notifier only.
      await sendJson('slack webhook', webhookUrl, { method: 'POST', body: { text: slackText(n.event) } });
    },
  };
}

export function genericNotifier(index: number, url: string, secret: string): Notifier {
  return {
    name: `generic-${index}`,
    provider: 'generic',
    accepts: isEvent,
    async deliver(n) {
      if (!isEvent(n)) return;
      const body = JSON.stringify({ ...n.event, sentAt: new Date().toISOString() });
      const delivery = createHash('sha256').update(JSON.stringify(n.event)).digest('hex').slice(0, 32);
      await sendJson(`generic webhook ${index}`, url, {
        method: 'POST',
        headers: { 'x-corral-event': n.event.type, 'x-corral-delivery': delivery, 'x-corral-signature-256': `sha256=${hmacHex(secret, body)}` },
        body,
      });
    },
  };
}
