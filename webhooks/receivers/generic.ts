/**
 * Any other sender (a CI job, a script, Bitbucket through a relay): POST a JSON body signed with
 * `X-Corral-Signature-256: sha256=<hex HMAC-SHA256(secret, raw body)>`, optionally with an
 * `X-Corral-Delivery` id. It only nudges a fetch of the tracked branch; a body `{"ref": "refs/heads/x"}`
 * for another branch is ignored.
 */
import { ANY_BRANCH, branchOf, field, header, str, type Receiver } from './types.js';
import { validHmac } from './signature.js';

export const generic: Receiver = {
  provider: 'generic',
  eventName: (h) => header(h, 'x-corral-event') ?? 'push',
  deliveryId: (h) => header(h, 'x-corral-delivery'),
  verify: (h, raw, secret) => validHmac(header(h, 'x-corral-signature-256'), raw, secret, 'sha256='),
  parse: (_event, body) => {
    const ref = field(body, 'ref');
    return { type: 'push', branch: ref === undefined ? ANY_BRANCH : branchOf(ref), after: str(field(body, 'after')), deleted: false };
  },
};
