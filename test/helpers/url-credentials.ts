/**
 * A plan whose every kind of text holds a URL with a password in it: a field's values, a file's
 * diff, a reason, a note, an unreachable host's message. Whatever renders it must show the hosts
 * and never the password.
 */
import type { Plan } from '../../src/engine/model.js';

export const URL_CANARY = 'Canary-Url-Pa55word-7f3a';
/** The host part every rendering must still show. */
export const URL_HOST = 'repo.example.test';

const mirror = `https://mirror:${URL_CANARY}@${URL_HOST}/debian`;

export function planWithUrlCredentials(): Plan {
  return {
    revision: 'c0ffee'.padEnd(40, '0'),
    fingerprint: 'f'.repeat(64),
    hosts: ['10.10.10.11', '10.10.10.12'],
    unreachable: [{ host: '10.10.10.12', message: `proxy https://ops:${URL_CANARY}@${URL_HOST}:3128 refused the connection` }],
    notes: [{ host: '10.10.10.11', resource: 'apt-sources', message: `no release of ${mirror} for this node` }],
    changes: [
      {
        id: '10.10.10.11|file:/etc/apt/sources.list.d/corral-node.list',
        host: '10.10.10.11',
        resource: 'file:/etc/apt/sources.list.d/corral-node.list',
        kind: 'file',
        module: 'node',
        cluster: 'pg-test',
        action: 'update',
        fields: [{ field: 'content', from: 'sha 1', to: 'sha 2', text: { before: `deb ${mirror} bookworm main\n`, after: `deb ${mirror} bookworm main contrib\n` } }],
        reason: `the sources of ${mirror} differ`,
        restarts: false,
        destructive: false,
        after: [],
      },
      {
        id: '10.10.10.11|app:env',
        host: '10.10.10.11',
        resource: 'app:env',
        kind: 'app',
        module: 'node',
        cluster: 'pg-test',
        action: 'update',
        fields: [
          { field: 'DATABASE_URL', from: `postgres://app:${URL_CANARY}@10.0.0.1/db`, to: `postgres://app:${URL_CANARY}@${URL_HOST}/db` },
          { field: 'mirrors', from: null, to: [mirror, { url: mirror }] },
        ],
        reason: 'differs from the inventory',
        restarts: true,
        destructive: false,
        after: [],
      },
    ],
  };
}
