/** Gitea and Forgejo: X-Gitea-Event (or X-Forgejo-Event), X-Gitea-Delivery, X-Gitea-Signature: <hex HMAC of the raw body>. */
import { parseGithubLike } from './github.js';
import { header, type Receiver } from './types.js';
import { validHmac } from './signature.js';

export const gitea: Receiver = {
  provider: 'gitea',
  eventName: (h) => header(h, 'x-gitea-event') ?? header(h, 'x-forgejo-event') ?? '',
  deliveryId: (h) => header(h, 'x-gitea-delivery') ?? header(h, 'x-forgejo-delivery'),
  verify: (h, raw, secret) => validHmac(header(h, 'x-gitea-signature') ?? header(h, 'x-forgejo-signature'), raw, secret),
  parse: (event, body) => parseGithubLike(event, body, ['opened', 'synchronized', 'reopened']),
};
