/**
 * The masters one Sentinel watches (redis_sentinel_monitor), registered as Pigsty's redis.yml
 * does: SENTINEL MONITOR, SENTINEL SET <name> auth-pass, SENTINEL REMOVE for `remove: true`. After
 * a failover Sentinel reports another address for a master than the inventory's: while the
 * inventory's address is still that master or one of its replicas, it is the same group and left
 * alone; an address outside the group is a master the inventory moved, registered again.
 * Passwords are read on the node from a secret file, sent to redis-cli on stdin, and compared by
 * a salted hash of what Sentinel wrote to its config.
 */
import { sh } from '../../../src/engine/shell.js';
import { refTo, type FieldChange, type Kind, type Ref } from '../../../src/engine/resources/kind.js';
import { asInstance, cli, confPathOf, mustBeOk, pairs, prefixed, secretHashProbe, section, type RedisClient } from './cli.js';

export interface SentinelMaster {
  name: string;
  host: string;
  port: number;
  quorum: number;
  remove: boolean;
  /** Salted hash of its password (secretHash of `<sentinel>:<master>`), null without one. */
  passwordHash: string | null;
}

export interface RedisSentinelWant {
  /** The Sentinel instance. */
  name: string;
  host: string;
  port: number;
  /** `<master> <password>` lines (a secret file on the node). */
  passwordsFile: string;
  masters: SentinelMaster[];
}

export interface MasterView {
  ip: string;
  port: number;
  quorum: number;
  flags: string[];
  /** Other Sentinels that watch it. */
  otherSentinels: number;
  /** `ip:port` of the replicas Sentinel knows. */
  replicas: string[];
  authHash: string | null;
}

export interface RedisSentinelHave {
  /** The masters it watches, of those the inventory names. */
  masters: Record<string, MasterView>;
}

type Step = 'monitor' | 'move' | 'remove' | 'none';

const clientOf = (w: RedisSentinelWant): RedisClient => ({ host: w.host, port: w.port, confPath: confPathOf(w.name) });
const address = (m: { host?: string; ip?: string; port: number }): string => `${m.host ?? m.ip} ${m.port}`;

function stepFor(m: SentinelMaster, seen: MasterView | undefined): Step {
  if (m.remove) return seen ? 'remove' : 'none';
  if (!seen) return 'monitor';
  const group = [`${seen.ip}:${seen.port}`, ...seen.replicas];
  return group.includes(`${m.host}:${m.port}`) ? 'none' : 'move';
}

function changesFor(m: SentinelMaster, seen: MasterView | undefined): FieldChange[] {
  const step = stepFor(m, seen);
  const field = `monitor ${m.name}`;
  if (step === 'remove') return [{ field, from: address(seen!), to: 'removed (remove: true)' }];
  if (m.remove) return [];
  const out: FieldChange[] = [];
  if (step !== 'none') out.push({ field, from: seen ? address(seen) : null, to: `${address(m)} quorum ${m.quorum}` });
  else if (seen!.quorum !== m.quorum) out.push({ field: `quorum ${m.name}`, from: seen!.quorum, to: m.quorum });
  if (step !== 'none' || (seen?.authHash ?? null) !== m.passwordHash) out.push({ field: `auth-pass ${m.name}`, from: seen?.authHash ? 'set' : null, to: m.passwordHash ? 'set' : null, secret: true });
  return out;
}

/** Sentinel `name`: it registers its masters after they run. */
export const redisSentinelId = (name: string): Ref<RedisSentinelHave> => refTo(redisSentinel, name);

export const redisSentinel: Kind<RedisSentinelWant, RedisSentinelHave, 'redis-sentinel'> = {
  name: 'redis-sentinel',
  id: (w) => redisSentinelId(w.name),
  probe: (w) => {
    const c = clientOf(w);
    const conf = confPathOf(w.name);
    return w.masters
      .flatMap((m) => [
        pairs(`m.${m.name}.`, asInstance(c, cli(c, sh`SENTINEL MASTER ${m.name}`))),
        // A replica's `name` field is its ip:port.
        prefixed(`r.${m.name}=`, asInstance(c, cli(c, sh`SENTINEL REPLICAS ${m.name}`)) + ` | awk 'prev == "name" { print } { prev = $0 }'`),
        sh`v=$(grep -iE ${`^[[:space:]]*sentinel[[:space:]]+auth-pass[[:space:]]+${m.name}[[:space:]]`} ${conf} 2>/dev/null | tail -n 1 | awk '{ print $4 }'); v=\${v#\\"}; v=\${v%\\"}; ` +
          `[ -z "$v" ] || echo "a.${m.name}=$(${secretHashProbe(`${w.name}:${m.name}`, '$v')})"`,
      ])
      .join('\n');
  },
  parse: (out, w) => {
    const masters: Record<string, MasterView> = {};
    for (const m of w.masters) {
      const f = new Map(section(out, `m.${m.name}.`).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
      if (!f.has('ip')) continue;
      masters[m.name] = {
        ip: f.get('ip')!,
        port: Number(f.get('port')),
        quorum: Number(f.get('quorum')),
        flags: (f.get('flags') ?? '').split(','),
        otherSentinels: Number(f.get('num-other-sentinels') ?? 0),
        replicas: section(out, `r.${m.name}=`),
        authHash: section(out, `a.${m.name}=`)[0] ?? null,
      };
    }
    return { masters };
  },
  diff: (w, h) => w.masters.flatMap((m) => changesFor(m, h?.masters[m.name])),
  apply: (w, h) => {
    const c = clientOf(w);
    const lines = w.masters.flatMap((m) => {
      const seen = h?.masters[m.name];
      const step = stepFor(m, seen);
      if (m.remove) return step === 'remove' ? [mustBeOk(cli(c, sh`SENTINEL REMOVE ${m.name}`))] : [];
      const out: string[] = [];
      if (step === 'move') out.push(mustBeOk(cli(c, sh`SENTINEL REMOVE ${m.name}`)));
      // A Sentinel that was down when the plan was made may know the master already: it keeps it.
      if (step !== 'none') out.push(`out=$(${cli(c, sh`SENTINEL MONITOR ${m.name} ${m.host} ${m.port} ${m.quorum}`)} 2>&1 | tr -d '\\r'); case "$out" in OK|*'Duplicated master name'*) ;; *) echo "$out" >&2; exit 1 ;; esac`);
      else if (seen!.quorum !== m.quorum) out.push(mustBeOk(cli(c, sh`SENTINEL SET ${m.name} quorum ${m.quorum}`)));
      if (step !== 'none' || (seen?.authHash ?? null) !== m.passwordHash) {
        const password = sh`"$(sed -n ${`s/^${m.name} //p`} ${w.passwordsFile} | head -n 1)"`;
        out.push(m.passwordHash ? mustBeOk(`printf 'SENTINEL SET %s auth-pass %s\\n' ${sh`${m.name}`} ${password} | ${cli(c, '')}`) : mustBeOk(cli(c, sh`SENTINEL SET ${m.name} auth-pass ''`)));
      }
      return out;
    });
    return lines.length ? asInstance(c, lines.join('\n')) : 'true';
  },
};
