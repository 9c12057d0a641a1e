/**
 * redis-cli as Corral's scripts run it. The password never travels in a script or on a command
 * line: it is read on the node from the instance's own config (requirepass, in a 0600 file) into
 * REDISCLI_AUTH, which redis-cli reads from its environment, as etcdctl's root password is read
 * from /etc/etcd/etcd.pass.
 */
import { quote, sh } from '../../../src/engine/shell.js';

/** Where redis-cli reaches an instance, and the config file whose requirepass logs it in. */
export interface RedisClient {
  host: string;
  port: number;
  confPath: string;
}

export const confPathOf = (instance: string): string => `/etc/redis/${instance}.conf`;
export const unitPathOf = (instance: string): string => `/etc/systemd/system/${instance}.service`;

/** Sets REDISCLI_AUTH from the last requirepass of the file the shell word `confPath` names (quotes removed, as CONFIG REWRITE adds them), unset without one. */
export const authFromFile = (confPath: string): string =>
  `pw=$(sed -n 's/^requirepass[[:space:]]\\{1,\\}//p' ${confPath} 2>/dev/null | tail -n 1); ` +
  `pw=\${pw#\\"}; pw=\${pw%\\"}; if [ -n "$pw" ]; then export REDISCLI_AUTH="$pw"; else unset REDISCLI_AUTH; fi; unset pw; `;

/** One redis-cli call, bounded in time so a stuck instance never stalls a probe; `args` is shell text. */
export const cli = (c: RedisClient, args: string): string => sh`timeout 10 redis-cli --no-auth-warning -h ${c.host} -p ${c.port} ` + args;

/** redis-cli's cluster manager (`--cluster create|add-node|del-node ...`), which waits for the nodes to agree. */
export const clusterCli = (args: string): string => 'timeout 300 redis-cli --no-auth-warning --cluster ' + args;

/** A subshell logged in as the instance, running `body` (which uses `cli`). */
export const asInstance = (c: RedisClient, body: string): string => `(${authFromFile(quote(c.confPath))}${body})`;

/** A command whose answer must match the case pattern `expected`; anything else fails the script with Redis's answer. */
export const mustAnswer = (command: string, expected: string): string => `out=$(${command} 2>&1 | tr -d '\\r'); case "$out" in ${expected}) ;; *) echo "$out" >&2; exit 1 ;; esac`;

/** A command that must answer OK (REPLICAOF may add why). */
export const mustBeOk = (command: string): string => mustAnswer(command, 'OK*');

/** Lines of `key=value` printed by Redis (INFO, CLUSTER INFO), with a prefix so sections of one probe stay apart. */
export const prefixed = (prefix: string, command: string): string => `${command} 2>/dev/null | tr -d '\\r' | sed ${sh`${`s/^/${prefix}/`}`}`;

/** Replies that list names and values on alternate lines (CONFIG GET, SENTINEL MASTER) as `prefix` `name=value` lines. */
export const pairs = (prefix: string, command: string): string => `${command} 2>/dev/null | tr -d '\\r' | paste -d= - - | sed ${sh`${`s/^/${prefix}/`}`}`;

/** The lines of a probe's output that start with `prefix`, without it. */
export const section = (out: string, prefix: string): string[] =>
  out
    .split('\n')
    .filter((l) => l.startsWith(prefix))
    .map((l) => l.slice(prefix.length));

/** `key:value` lines (INFO) as a map. */
export function infoFields(lines: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const l of lines) {
    const i = l.indexOf(':');
    if (i > 0) out.set(l.slice(0, i), l.slice(i + 1).trim());
  }
  return out;
}

/** A salted hash of a secret, as probes print it: the value itself never leaves the node. */
export const secretHashProbe = (salt: string, valueShell: string): string => `printf '%s' ${sh`${salt}:`}"${valueShell}" | sha256sum | cut -d' ' -f1`;
