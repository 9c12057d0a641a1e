/**
 * Talking to Patroni from a node: probes read its REST API with curl (no auth needed to read);
 * changes go through a small Python program run on the node (Patroni's own interpreter and YAML
 * module), which takes the REST address and credentials from patroni.yml, so no secret is ever
 * part of a script's text.
 */
import { sh } from '../shell.js';

/** Where each Patroni kind finds the node's Patroni. */
export interface PatroniTarget {
  /** patroni.yml on the node. */
  config: string;
  /** REST base URL, `http://10.213.0.11:8008`. */
  api: string;
}

/** Prints `<label>=<one line of JSON>` for each REST path, nothing for a path that does not answer. */
export function restProbe(api: string, paths: Record<string, string>): string {
  return Object.entries(paths)
    .map(([label, path]) => sh`v=$(curl -s -m 3 ${api + path} | tr -d '\n') && [ -n "$v" ] && printf '%s=%s\n' ${label} "$v"`)
    .join('; ') + '; true';
}

/** The JSON a probe printed under a label, or undefined. */
export function restJson<T>(kv: Map<string, string>, label: string): T | undefined {
  const text = kv.get(label);
  if (!text) return undefined;
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}

const PROGRAM = String.raw`
import base64, json, sys, time, urllib.error, urllib.request
import yaml
conf = yaml.safe_load(open(sys.argv[1]))
rest = conf['restapi']
api = 'http://' + rest['connect_address']
auth = rest.get('authentication')
me = conf['name']

def call(method, path, body=None, base=api):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method, headers={'Content-Type': 'application/json'})
    if auth:
        token = base64.b64encode((auth['username'] + ':' + auth['password']).encode()).decode()
        req.add_header('Authorization', 'Basic ' + token)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except Exception as e:
        return 0, str(e)

def get(path, base=api):
    code, text = call('GET', path, None, base)
    try:
        return json.loads(text)
    except Exception:
        return {}

def members():
    return get('/cluster').get('members', [])

def leader():
    return next((m['name'] for m in members() if m.get('role') in ('leader', 'master', 'standby_leader') and m.get('state') == 'running'), None)

def wait(check, what, timeout):
    end = time.time() + timeout
    while time.time() < end:
        if check():
            return
        time.sleep(1)
    sys.exit('timed out after %ss waiting for %s' % (timeout, what))

def running(name):
    return any(m['name'] == name and m.get('state') in ('running', 'streaming') for m in members())

def switchover(candidate, timeout):
    wait(leader, 'a leader', timeout)
    for _ in range(30):
        current = leader()
        if current == candidate:
            return
        code, text = call('POST', '/switchover', {'leader': current, 'candidate': candidate})
        if code == 200:
            break
        print('switchover to %s refused (%s): %s; retrying' % (candidate, code, text), file=sys.stderr)
        time.sleep(2)
    wait(lambda: leader() == candidate, candidate + ' to lead', timeout)

def restart(base, name, timeout):
    # Right after it hands over the lead, the old leader is still demoting: Patroni answers 503 until it is done.
    end = time.time() + timeout
    while True:
        code, text = call('POST', '/restart', {}, base)
        if code in (200, 202):
            break
        if code != 503 or time.time() > end:
            sys.exit('restart of %s refused (%s): %s' % (name, code, text))
        print('restart of %s refused for now (%s): %s; retrying' % (name, code, text), file=sys.stderr)
        time.sleep(2)
    done = lambda: get('/patroni', base).get('state') == 'running' and not get('/patroni', base).get('pending_restart')
    wait(done, name + ' back after restart', timeout)

cmd, args = sys.argv[2], sys.argv[3:]
if cmd == 'wait-running':
    wait(lambda: running(me), me + ' running', int(args[0]))
elif cmd == 'wait-leader':
    wait(lambda: leader() is not None, 'a leader', int(args[0]))
elif cmd == 'switchover':
    switchover(args[0], int(args[1]))
elif cmd == 'patch-config':
    code, text = call('PATCH', '/config', json.loads(args[0]))
    if code != 200:
        sys.exit('PATCH /config refused (%s): %s' % (code, text))
elif cmd == 'restart':
    timeout, settle, wanted, primary_first = int(args[0]), int(args[1]), json.loads(args[2]), args[3] == 'primary-first'
    # Patroni sets pending_restart once its loop reloaded the new DCS settings.
    end = time.time() + settle
    while time.time() < end and not get('/patroni').get('pending_restart'):
        time.sleep(1)
    dcs = get('/config').get('postgresql', {}).get('parameters', {})
    unset = [k for k, v in wanted.items() if str(dcs.get(k)).lower() != str(v).lower()]
    if not get('/patroni').get('pending_restart'):
        # Either the DCS change did not happen (its host failed), or this member was restarted already (a leader, primary-first).
        print('not restarting %s: %s' % (me, 'the DCS does not hold %s yet' % ', '.join(unset) if unset else 'no restart pending'), file=sys.stderr)
        sys.exit(0)
    current = leader()
    others = [m['name'] for m in members() if m['name'] != me and m.get('state') in ('running', 'streaming')]
    if primary_first:
        # A standby's max_connections (and the like) may not be below its primary's: a decrease restarts the leader first, in place.
        lead = next((m for m in members() if m['name'] == current), None)
        if lead and lead['name'] != me and get('/patroni', lead['api_url'].rsplit('/', 1)[0]).get('pending_restart'):
            restart(lead['api_url'].rsplit('/', 1)[0], lead['name'], timeout)
        restart(api, me, timeout)
    elif current == me and others:
        # The leader restarts last and as a replica: hand over to a restarted replica, restart, take back.
        switchover(others[0], timeout)
        restart(api, me, timeout)
        switchover(me, timeout)
    else:
        restart(api, me, timeout)
else:
    sys.exit('unknown command ' + cmd)
`;

/** Shell that runs one command of the program against the node's Patroni. */
export function patroniCtl(config: string, command: string, ...args: (string | number)[]): string {
  return `python3 - ${sh`${config} ${command} ${args}`} <<'CORRAL_PATRONI'\n${PROGRAM.trim()}\nCORRAL_PATRONI`;
}
