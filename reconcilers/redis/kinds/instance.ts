/**
 * One Redis or Sentinel instance: its systemd unit, its config file and its process. The config is
 * compared setting by setting (directives.ts), because Redis and Sentinel rewrite it. What Redis
 * takes live (maxmemory, maxmemory-policy, save, appendonly) is set with CONFIG SET and written to
 * the file, without a restart; any other change restarts this instance alone, and the plan says
 * which settings ask for it. Rewriting the file keeps the lines Redis owns at run time (its
 * `replicaof`, Sentinel's state), so a rewrite never undoes a failover.
 */
import { sh, writeFileAtomic } from '../../../src/engine/shell.js';
import { attributeChanges, sha256 } from '../../../src/engine/resources/file.js';
import { keyValues, refTo, type FieldChange, type Kind, type Ref } from '../../../src/engine/resources/kind.js';
import { asInstance, cli, confPathOf, mustBeOk, pairs, secretHashProbe, section, unitPathOf, type RedisClient } from './cli.js';
import { parseConf, ROLE_KEYS, SECRET_KEYS, settingsOf, splitArgs, type Directive } from './directives.js';

export interface RedisInstanceWant {
  /** `<redis_cluster>-<redis_node>-<port>`: also the unit's name. */
  name: string;
  port: number;
  /** The address redis-cli reaches it at. */
  host: string;
  sentinel: boolean;
  /** The config Corral renders, without the role line. */
  conf: string;
  /** The `replicaof` line a new config starts with ('' for a primary); an existing config keeps the one Redis wrote. */
  role: string;
  unit: string;
}

interface ConfHave {
  owner: string;
  group: string;
  mode: number;
  /** Normalized settings, secrets left out. */
  settings: Record<string, string>;
  /** A salted hash of each secret setting the file has. */
  secrets: Record<string, string>;
}

export interface RedisInstanceHave {
  conf: ConfHave | null;
  unit: string | null;
  enabled: boolean;
  running: boolean;
  /** The running values of the live settings; null when the instance did not answer. */
  live: Record<string, string> | null;
}

/** What CONFIG SET changes at once, and that Corral sets so rather than restart. */
export const LIVE_KEYS = ['maxmemory', 'maxmemory-policy', 'save', 'appendonly'] as const;

/** Settings Corral writes only for some parameters: a line of them left in a file still counts. */
const OCCASIONAL_KEYS = [...SECRET_KEYS, 'rename-command', 'cluster-config-file'];

const CONF_ATTRS = { mode: 0o600, owner: 'redis', group: 'redis' };
const SECRET_LINE = '^[[:space:]]*(requirepass|masterauth|sentinel[[:space:]]+auth-pass)[[:space:]]';

const clientOf = (w: RedisInstanceWant): RedisClient => ({ host: w.host, port: w.port, confPath: confPathOf(w.name) });
export const secretHash = (instance: string, value: string): string => sha256(`${instance}:${value}`);

const wanted = (w: RedisInstanceWant): Directive[] => parseConf(w.conf);
const isSecret = (key: string): boolean => (SECRET_KEYS as readonly string[]).includes(key);
const isLive = (w: RedisInstanceWant, key: string): boolean => !w.sentinel && (LIVE_KEYS as readonly string[]).includes(key);

/** Each managed setting that differs between the file and the rendering. */
function settingChanges(w: RedisInstanceWant, conf: ConfHave): FieldChange[] {
  const directives = wanted(w);
  const settings = settingsOf(directives);
  const keys = new Set([...settings.keys(), ...OCCASIONAL_KEYS.filter((k) => k in conf.settings || k in conf.secrets)]);
  const out: FieldChange[] = [];
  for (const key of keys) {
    if (isSecret(key)) {
      const value = directives.filter((d) => d.key === key).at(-1)?.args.join(' ');
      if (conf.secrets[key] !== (value === undefined ? undefined : secretHash(w.name, value))) out.push({ field: key, from: key in conf.secrets ? 'set' : null, to: value === undefined ? null : 'set', secret: true });
    } else if ((conf.settings[key] ?? null) !== (settings.get(key) ?? null)) out.push({ field: key, from: conf.settings[key] ?? null, to: settings.get(key) ?? null });
  }
  return out;
}

/** Live settings whose running value is not the rendered one. */
function liveDrift(w: RedisInstanceWant, h: RedisInstanceHave | null): string[] {
  if (!h?.running || !h.live || w.sentinel) return [];
  const settings = settingsOf(wanted(w));
  return LIVE_KEYS.filter((k) => settings.has(k) && h.live![k] !== settings.get(k));
}

interface Assessment {
  fields: FieldChange[];
  confChanged: boolean;
  unitChanged: boolean;
  /** Settings that take effect only at a restart (empty: no restart). */
  restartFor: string[];
  /** Live settings to CONFIG SET. */
  live: string[];
}

function assess(w: RedisInstanceWant, h: RedisInstanceHave | null): Assessment {
  const settings = h?.conf ? settingChanges(w, h.conf) : [];
  const attributes = h?.conf ? attributeChanges(CONF_ATTRS, h.conf) : [];
  const unitChanged = h?.unit !== w.unit;
  const running = h?.running === true;
  // Without an answer from the instance a live setting cannot be set: it waits for the restart too.
  const canSetLive = running && (h?.live ?? null) !== null;
  const restartFor = running ? [...(unitChanged ? ['unit'] : []), ...settings.map((f) => f.field).filter((k) => !isLive(w, k) || !canSetLive)] : [];
  const drift = liveDrift(w, h).filter((k) => !settings.some((f) => f.field === k));
  const live = restartFor.length || !canSetLive ? [] : [...settings.map((f) => f.field).filter((k) => isLive(w, k)), ...drift];
  const fields: FieldChange[] = [
    ...(h?.conf ? [] : [{ field: 'config', from: null, to: confPathOf(w.name) }]),
    ...(unitChanged ? [{ field: 'unit', from: h?.unit ? sha256(h.unit).slice(0, 12) : null, to: sha256(w.unit).slice(0, 12), text: { before: h?.unit ?? '', after: w.unit } }] : []),
    ...settings,
    ...drift.map((k) => ({ field: `${k} (running)`, from: h!.live![k] ?? null, to: settingsOf(wanted(w)).get(k) ?? null })),
    ...attributes,
    ...(h?.enabled ? [] : [{ field: 'enabled', from: h?.enabled ?? null, to: true }]),
    ...(running ? [] : [{ field: 'running', from: h?.running ?? null, to: true }]),
    ...(restartFor.length ? [{ field: 'restart', from: null, to: `Redis reads ${restartFor.join(', ')} only when it starts` }] : []),
    ...(live.length ? [{ field: 'live', from: null, to: `CONFIG SET ${live.join(', ')}, no restart` }] : []),
  ];
  return { fields, confChanged: !h?.conf || settings.length > 0 || attributes.length > 0, unitChanged, restartFor, live };
}

/** The arguments CONFIG SET takes for a key: what the rendering says, `save`'s lines joined. */
function setArgs(w: RedisInstanceWant, key: string): string {
  const lines = wanted(w).filter((d) => d.key === key);
  return (key === 'save' ? lines.flatMap((d) => d.args).filter(Boolean) : (lines.at(-1)?.args ?? [])).join(' ');
}

/** Lines of the current file that Redis or Sentinel owns at run time, kept when Corral rewrites it. */
function runtimeLines(w: RedisInstanceWant): string {
  const conf = confPathOf(w.name);
  if (!w.sentinel) return sh`grep -iE ${`^[[:space:]]*(${ROLE_KEYS.join('|')})[[:space:]]`} ${conf} || true`;
  const rendered = [...new Set(wanted(w).filter((d) => d.key.startsWith('sentinel ')).map((d) => d.key.slice('sentinel '.length)))];
  const managed = rendered.length ? sh` | grep -viE ${`^[[:space:]]*sentinel[[:space:]]+(${rendered.join('|')})[[:space:]]`}` : '';
  return sh`grep -iE '^[[:space:]]*sentinel[[:space:]]' ${conf}` + managed + ' || true';
}

function writeConf(w: RedisInstanceWant): string {
  const conf = confPathOf(w.name);
  const tmp = `${conf}.corral-tmp`;
  return [
    sh`printf '%s' ${Buffer.from(w.conf, 'utf8').toString('base64')} | base64 -d > ${tmp}`,
    sh`if [ -f ${conf} ]; then { ` + runtimeLines(w) + sh`; } >> ${tmp}; ` + (w.role ? sh`else printf '%s\\n' ${w.role} >> ${tmp}; ` : '') + 'fi',
    sh`chown redis:redis ${tmp}`,
    sh`chmod 0600 ${tmp}`,
    sh`mv -f ${tmp} ${conf}`,
  ].join('\n');
}

const SERVICE = (w: RedisInstanceWant): string => `${w.name}.service`;

/** `name=value` lines of CONFIG GET, normalized as the file's settings are; null when none of them came (no answer, or an error). */
function liveSettings(lines: readonly string[]): Record<string, string> | null {
  const out: Record<string, string> = {};
  for (const line of lines) {
    const i = line.indexOf('=');
    const key = line.slice(0, i);
    if (i > 0 && (LIVE_KEYS as readonly string[]).includes(key)) out[key] = settingsOf([{ key, args: splitArgs(line.slice(i + 1)) }]).get(key) ?? '';
  }
  return Object.keys(out).length ? out : null;
}

/** Instance `name` (`redis-ms-1-6379`): what its replicas, Sentinels and the native cluster wait for. */
export const redisInstanceId = (name: string): Ref<RedisInstanceHave> => refTo(redisInstance, name);

export const redisInstance: Kind<RedisInstanceWant, RedisInstanceHave, 'redis-instance'> = {
  name: 'redis-instance',
  id: (w) => redisInstanceId(w.name),
  probe: (w) => {
    const conf = confPathOf(w.name);
    const unit = unitPathOf(w.name);
    const secrets = SECRET_KEYS.map(
      (k) => sh`v=$(sed -n ${`s/^${k}[[:space:]]\\{1,\\}//p`} ${conf} | tail -n 1); v=\${v#\\"}; v=\${v%\\"}; ` + `[ -z "$v" ] || echo "secret.${k}=$(${secretHashProbe(w.name, '$v')})"`,
    );
    const live = w.sentinel ? [] : [sh`if systemctl is-active -q ${SERVICE(w)}; then ` + pairs('live.', asInstance(clientOf(w), cli(clientOf(w), sh`CONFIG GET ${LIVE_KEYS}`))) + '; fi'];
    return [
      sh`if [ -f ${conf} ]; then stat --printf 'owner=%U\\ngroup=%G\\nmode=%a\\n' ${conf}; echo "text=$(grep -viE ${SECRET_LINE} ${conf} | base64 -w0)"; ` + secrets.join('; ') + '; fi',
      sh`[ -f ${unit} ] && echo "unit=$(base64 -w0 < ${unit})"`,
      sh`systemctl show -p UnitFileState -p ActiveState ${SERVICE(w)} 2>/dev/null`,
      ...live,
    ].join('\n');
  },
  parse: (out) => {
    const kv = keyValues(out);
    const text = kv.get('text');
    const secrets: Record<string, string> = {};
    for (const k of SECRET_KEYS) if (kv.has(`secret.${k}`)) secrets[k] = kv.get(`secret.${k}`)!;
    const conf: ConfHave | null =
      text === undefined
        ? null
        : { owner: kv.get('owner') ?? '', group: kv.get('group') ?? '', mode: parseInt(kv.get('mode') ?? '0', 8), settings: Object.fromEntries(settingsOf(parseConf(Buffer.from(text, 'base64').toString('utf8')))), secrets };
    const live = liveSettings(section(out, 'live.'));
    const unit = kv.get('unit');
    return {
      conf,
      unit: unit === undefined ? null : Buffer.from(unit, 'base64').toString('utf8'),
      enabled: ['enabled', 'enabled-runtime'].includes(kv.get('UnitFileState') ?? ''),
      running: ['active', 'activating', 'reloading'].includes(kv.get('ActiveState') ?? ''),
      live,
    };
  },
  diff: (w, h) => assess(w, h).fields,
  apply: (w, h) => {
    const a = assess(w, h);
    const lines: string[] = [];
    if (a.unitChanged) lines.push(writeFileAtomic(unitPathOf(w.name), w.unit, { mode: 0o644 }), 'systemctl daemon-reload');
    // Set live first: a CONFIG REWRITE by Sentinel in between then writes the new values, not the old.
    if (a.live.length) lines.push(asInstance(clientOf(w), a.live.map((k) => mustBeOk(cli(clientOf(w), sh`CONFIG SET ${k} ${setArgs(w, k)}`))).join('\n')));
    if (a.confChanged) lines.push(writeConf(w));
    if (!h?.enabled) lines.push(sh`systemctl enable ${SERVICE(w)}`);
    if (!h?.running) lines.push(sh`systemctl start ${SERVICE(w)}`);
    else if (a.restartFor.length) lines.push(sh`systemctl restart ${SERVICE(w)}`);
    return lines.join('\n');
  },
  effects: (w, h) => ({ restarts: assess(w, h).restartFor.length > 0 }),
};
