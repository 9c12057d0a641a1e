/**
 * A cluster's membership as one of its nodes keeps it: a record Corral writes on every member
 * (`/var/lib/corral/redis/<cluster>.members`, `<ip> <instance> ...` per member of the inventory),
 * from which the module finds a node the inventory dropped (a standalone node no replica link
 * names, a Sentinel: index.ts, departed). A record forgets what left only once it no longer runs:
 * it is rewritten after the departed node's retirement (the module orders it so), an instance that
 * left and still answers stays in it, and while redis_safeguard holds what left, so does the record.
 * On a Sentinel node it also makes its Sentinels forget a Sentinel that left: SENTINEL RESET of
 * each master that still counts it, once it no longer answers, 30 s apart (as Redis asks, so the
 * others keep their quorum), the Sentinels of earlier nodes first.
 */
import { sh } from '../../../src/engine/shell.js';
import { refTo, type FieldChange, type Kind, type Ref } from '../../../src/engine/resources/kind.js';
import { asInstance, cli, confPathOf, mustAnswer, prefixed, section, type RedisClient } from './cli.js';

export interface RedisMembersWant {
  cluster: string;
  /** `<ip> <instance> ...` per member of the inventory, in redis_node order. */
  lines: string[];
  /** redis_safeguard: what left the inventory stays recorded, as it stays running. */
  safeguard: boolean;
  /** The Sentinels of this node (none on a Redis node), and the masters they watch. */
  sentinels: { name: string; host: string; port: number }[];
  masters: string[];
  /** Wait 30 s before the first reset: a Sentinel of another node may have been reset just before. */
  pause: boolean;
}

export interface RedisMembersHave {
  /** The record: instance names by node address. */
  nodes: Record<string, string[]>;
  /** `<sentinel> <master>` → `ip:port` of each other Sentinel it counts. */
  counted: Record<string, string[]>;
}

interface Left {
  ip: string;
  name: string;
  port: number;
}

export const membersPathOf = (cluster: string): string => `/var/lib/corral/redis/${cluster}.members`;
/** Cluster `cluster`'s membership record on a member: what a departed node's retirement comes before. */
export const redisMembersId = (cluster: string): Ref<RedisMembersHave> => refTo(redisMembers, cluster);

/** Record lines as instance names by address (a node on several lines is merged). */
function recordOf(lines: readonly string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const line of lines) {
    const [ip, ...names] = line.trim().split(/\s+/);
    if (!ip) continue;
    const known = (out[ip] ??= []);
    known.push(...names.filter((n) => !known.includes(n)));
  }
  return out;
}

const linesOf = (nodes: Record<string, string[]>): string[] => Object.entries(nodes).map(([ip, names]) => [ip, ...names].join(' '));

/** Instances the record names that the inventory no longer has; their port ends their name. */
function leftOf(w: RedisMembersWant, h: RedisMembersHave | null): Left[] {
  const want = recordOf(w.lines);
  return Object.entries(h?.nodes ?? {}).flatMap(([ip, names]) => names.filter((n) => !want[ip]?.includes(n)).map((name) => ({ ip, name, port: Number(name.slice(name.lastIndexOf('-') + 1)) })));
}

/** The record as it should read: the inventory's, with what left kept while redis_safeguard holds it. */
function targetOf(w: RedisMembersWant, h: RedisMembersHave | null): string[] {
  if (!w.safeguard) return w.lines;
  return linesOf(recordOf([...w.lines, ...linesOf(h?.nodes ?? {})]));
}

type Sentinel = RedisMembersWant['sentinels'][number];

/** The Sentinels of this node that count one that left, with the masters they count it for. */
function resetsOf(w: RedisMembersWant, h: RedisMembersHave | null): { sentinel: Sentinel; masters: string[]; left: string[] }[] {
  if (w.safeguard) return [];
  const left = leftOf(w, h).map((l) => `${l.ip}:${l.port}`);
  const counting = (s: Sentinel, m: string): string[] => (h?.counted[`${s.name} ${m}`] ?? []).filter((a) => left.includes(a));
  return w.sentinels
    .map((sentinel) => ({ sentinel, masters: w.masters.filter((m) => counting(sentinel, m).length), left: [...new Set(w.masters.flatMap((m) => counting(sentinel, m)))] }))
    .filter((r) => r.masters.length);
}

const clientOf = (s: Sentinel): RedisClient => ({ host: s.host, port: s.port, confPath: confPathOf(s.name) });

/** Whether an instance answers at all (a NOAUTH is an answer): its node reached or not, it still runs. */
const ANSWERS = `answers() { local out; out=$(timeout 3 redis-cli -h "$1" -p "$2" PING 2>&1 || true); case "$out" in ''|*'Could not connect'*) return 1 ;; esac; }`;

export const redisMembers: Kind<RedisMembersWant, RedisMembersHave, 'redis-members'> = {
  name: 'redis-members',
  id: (w) => redisMembersId(w.cluster),
  probe: (w) => {
    const path = membersPathOf(w.cluster);
    const counted = w.sentinels.flatMap((s) =>
      // An entry of SENTINEL SENTINELS lists its ip before its port.
      w.masters.map((m) => prefixed(`c.${s.name} ${m}=`, asInstance(clientOf(s), cli(clientOf(s), sh`SENTINEL SENTINELS ${m}`)) + ` 2>/dev/null | tr -d '\\r' | awk 'prev == "ip" { ip = $0 } prev == "port" { print ip ":" $0 } { prev = $0 }'`)),
    );
    return [sh`if [ -f ${path} ]; then echo record=1; sed 's/^/rec=/' ${path}; fi`, ...counted].join('\n');
  },
  parse: (out, w) => {
    if (!out.split('\n').includes('record=1')) return null;
    const counted: Record<string, string[]> = {};
    for (const s of w.sentinels) for (const m of w.masters) counted[`${s.name} ${m}`] = section(out, `c.${s.name} ${m}=`);
    return { nodes: recordOf(section(out, 'rec=')), counted };
  },
  diff: (w, h) => {
    const out: FieldChange[] = [];
    const target = targetOf(w, h);
    const seen = h ? linesOf(h.nodes) : null;
    if (seen?.join('\n') !== target.join('\n')) out.push({ field: 'members', from: seen?.join('; ') ?? null, to: target.join('; ') });
    const resets = resetsOf(w, h);
    if (resets.length) out.push({ field: 'sentinels', from: [...new Set(resets.flatMap((r) => r.left))].join(', '), to: `forgotten: SENTINEL RESET ${resets.map((r) => `${r.masters.join(' ')} on ${r.sentinel.name}`).join(', ')}, 30 s apart` });
    return out;
  },
  apply: (w, h) => {
    const path = membersPathOf(w.cluster);
    const tmp = `${path}.corral-tmp`;
    const left = w.safeguard ? [] : leftOf(w, h);
    const resets = resetsOf(w, h);
    const lines = [ANSWERS];
    // A Sentinel that left and still runs would be counted again: it must be stopped first.
    for (const a of new Set(resets.flatMap((r) => r.left))) {
      const [ip, port] = a.split(':') as [string, string];
      lines.push(sh`if answers ${ip} ${port}; then echo ${`the Sentinel at ${a} left the inventory but still answers: not forgotten until it is stopped`} >&2; exit 1; fi`);
    }
    resets.forEach((r, i) => {
      const c = clientOf(r.sentinel);
      // SENTINEL RESET answers with the number of masters it reset.
      const reset = r.masters.map((m) => mustAnswer(cli(c, sh`SENTINEL RESET ${m}`), '[0-9]*'));
      lines.push(asInstance(c, [...(i > 0 || w.pause ? ['sleep 30'] : []), ...reset].join('\n')));
    });
    lines.push(sh`mkdir -p "$(dirname ${path})"`, sh`printf '%s\\n' ${targetOf(w, h)} > ${tmp}`);
    // What left is forgotten once it no longer answers (its retirement ran before this); until then it stays listed.
    for (const l of left) lines.push(sh`if answers ${l.ip} ${l.port}; then printf '%s\\n' ${`${l.ip} ${l.name}`} >> ${tmp}; fi`);
    lines.push(sh`chmod 0644 ${tmp}`, sh`mv -f ${tmp} ${path}`);
    return lines.join('\n');
  },
};

