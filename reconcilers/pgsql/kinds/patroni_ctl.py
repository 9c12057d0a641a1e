"""Changes to a node's Patroni through its REST API, run on the node by Corral's Patroni kinds (see main()).

usage: python3 patroni_ctl.py PATRONI_YML COMMAND ARGS...
The REST address and credentials come from patroni.yml, so no secret is part of the command line.
"""
import base64, json, ssl, subprocess, sys, time, urllib.error, urllib.request
import yaml

# Set by configure() from patroni.yml.
conf = tls = api = auth = me = None


def configure(path):
    global conf, tls, api, auth, me
    with open(path) as f:
        conf = yaml.safe_load(f)
    rest = conf['restapi']
    tls = ssl.create_default_context(cafile=rest.get('cafile')) if rest.get('certfile') else None
    api = ('https://' if tls else 'http://') + rest['connect_address']
    auth = rest.get('authentication')
    me = conf['name']


def call(method, path, body=None, base=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request((base or api) + path, data=data, method=method, headers={'Content-Type': 'application/json'})
    if auth:
        token = base64.b64encode((auth['username'] + ':' + auth['password']).encode()).decode()
        req.add_header('Authorization', 'Basic ' + token)
    try:
        with urllib.request.urlopen(req, timeout=30, context=tls) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except Exception as e:
        return 0, str(e)


def get(path, base=None):
    code, text = call('GET', path, None, base)
    try:
        return json.loads(text)
    except Exception:
        return {}


def members():
    return get('/cluster').get('members', [])


def leads(m):
    # Patroni lists a standby leader (a standby cluster's, replicating from outside) by its replication state: streaming.
    return m.get('role') in ('leader', 'master', 'standby_leader') and (m.get('state') == 'running' or (m.get('role') == 'standby_leader' and m.get('state') == 'streaming'))


def leader():
    return next((m['name'] for m in members() if leads(m)), None)


def wait(check, what, timeout):
    end = time.time() + timeout
    while time.time() < end:
        if check():
            return
        time.sleep(1)
    sys.exit('timed out after %ss waiting for %s' % (timeout, what))


def running(name):
    return any(m['name'] == name and m.get('state') in ('running', 'streaming') for m in members())


def streamed_to(name):
    # Patroni calls a replica running once its PostgreSQL accepts connections; it is ready once the leader streams WAL to it.
    lead = next((m for m in members() if leads(m)), None)
    if lead is None or lead['name'] == name:
        return lead is not None
    base = lead.get('api_url', '').rsplit('/patroni', 1)[0] or api
    return any(r.get('application_name') == name and r.get('state') == 'streaming' for r in get('/patroni', base).get('replication', []))


# pg_control keeps the values a standby checks against its primary's, under names of its own.
CONTROL = {'max_connections': 'max_connections', 'max_worker_processes': 'max_worker_processes', 'max_wal_senders': 'max_wal_senders',
           'max_prepared_transactions': 'max_prepared_xacts', 'max_locks_per_transaction': 'max_locks_per_xact'}


def recorded_above(wanted):
    pg = conf['postgresql']
    out = subprocess.run([pg['bin_dir'] + '/pg_controldata', '-D', pg['data_dir']], capture_output=True, text=True).stdout
    recorded = {}
    for line in out.splitlines():
        key, _, value = line.partition(' setting:')
        if _ and value.strip().isdigit():
            recorded[key.strip()] = int(value)
    return [k for k, v in wanted.items() if k in CONTROL and recorded.get(CONTROL[k], 0) > int(v)]


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
    # The old leader restarts as a replica: done when it runs again, so that what follows (and the check after the apply) sees a whole cluster.
    replica_again = lambda: any(m['name'] == current and m.get('role') in ('replica', 'sync_standby') and m.get('state') in ('running', 'streaming') for m in members())
    wait(replica_again, current + ' running as a replica', timeout)


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


def restart_for(wanted, timeout, settle, primary_first):
    """Restarts this member's PostgreSQL so that it runs the settings in wanted, when the DCS holds them."""
    dcs_lacks = lambda: [k for k, v in wanted.items() if str(get('/config').get('postgresql', {}).get('parameters', {}).get(k)).lower() != str(v).lower()]
    if primary_first and leader() == me and not recorded_above(wanted) and not dcs_lacks() and not get('/patroni').get('pending_restart'):
        return  # a replica's step restarted this leader first, in place
    # Patroni sets pending_restart once its loop reloaded the new DCS settings.
    end = time.time() + settle
    while time.time() < end and not get('/patroni').get('pending_restart'):
        time.sleep(1)
    unset = dcs_lacks()
    # Also when the DCS was lowered by an earlier, interrupted apply: this node's pg_control then still shows the higher value.
    floor = {k: v for k, v in get('/config').get('postgresql', {}).get('parameters', {}).items() if k in CONTROL}
    primary_first = primary_first or bool(recorded_above(floor))
    pending = get('/patroni').get('pending_restart')
    if unset and not pending:
        # The DCS change did not happen (its host failed or was unreachable): a restart would change nothing.
        print('not restarting %s: the DCS does not hold %s yet' % (me, ', '.join(unset)), file=sys.stderr)
        return
    if not pending and not recorded_above(floor):
        return  # restarted already (a leader, by a replica's step)
    current = leader()
    others = [m['name'] for m in members() if m['name'] != me and m.get('state') in ('running', 'streaming')]
    if primary_first:
        # A standby may not run max_connections (and the like) below its primary: the primary restarts first,
        # in place, and a replica only once it has replayed the primary's new settings (its pg_control shows them).
        if current != me and recorded_above(floor):
            lead = next(m for m in members() if m['name'] == current)
            restart(lead['api_url'].rsplit('/', 1)[0], current, timeout)
            wait(lambda: not recorded_above(floor), "the primary's new settings replayed on " + me, timeout)
        if current != me or recorded_above(floor) or get('/patroni').get('pending_restart'):
            restart(api, me, timeout)
    elif current == me and others:
        # The leader restarts last and as a replica: hand over to a restarted replica, restart, take back.
        switchover(others[0], timeout)
        restart(api, me, timeout)
        switchover(me, timeout)
    else:
        restart(api, me, timeout)


# Set in the DCS config when Corral paused the cluster, so that only a pause of Corral's is lifted by Corral.
PAUSED_BY_CORRAL = 'corral_paused'


def pause(timeout):
    """Pauses the cluster (Patroni's maintenance mode) unless this member runs paused already, and waits until it does.

    A member's own view, not the DCS: one that lost its DCS (its etcd moved to TLS) still runs paused."""
    if get('/patroni').get('pause') is not True:
        code, text = call('PATCH', '/config', {'pause': True, PAUSED_BY_CORRAL: True})
        if code != 200:
            sys.exit('pausing the cluster refused (%s): %s' % (code, text))
    wait(lambda: get('/patroni').get('pause') is True, me + ' paused', timeout)


def dcs_restart(record, wanted, others, timeout, fresh_seconds):
    """Restarts this member's Patroni, paused, so that it reads its new DCS settings; PostgreSQL keeps running.

    The cluster is resumed once every member (others: the REST URLs of the rest) talks to the DCS again, which is after the last of them restarted."""
    pause(timeout)
    started = time.time()
    # The unit's record line may be new: systemd reads the unit again first.
    subprocess.run(['systemctl', 'daemon-reload'], check=True)
    subprocess.run(['systemctl', 'restart', 'patroni'], check=True)
    seen = lambda base=None: get('/patroni', base).get('dcs_last_seen', 0)
    wait(lambda: get('/patroni').get('state') == 'running' and seen() >= started, me + ' running and talking to the DCS again', timeout)
    with open(record) as f:
        if f.read().strip() != wanted:
            sys.exit('%s started with other DCS settings than %s' % (me, wanted))
    config = get('/config')
    if not config.get(PAUSED_BY_CORRAL):
        return
    now = time.time()
    stale = [base for base in others if now - seen(base) > fresh_seconds]
    if stale:
        print('the cluster stays paused until %s talk to the DCS again' % ', '.join(stale), file=sys.stderr)
        return
    code, text = call('PATCH', '/config', {'pause': None, PAUSED_BY_CORRAL: None})
    if code != 200:
        sys.exit('resuming the cluster refused (%s): %s' % (code, text))
    wait(lambda: not get('/patroni').get('pause'), me + ' resumed', timeout)


def patch_config(patch, timeout):
    # A leader of data whose DCS was emptied (a point-in-time recovery) answers 503 until its HA loop has written /config.
    end = time.time() + timeout
    while True:
        code, text = call('PATCH', '/config', patch)
        if code == 200:
            return
        if code != 503 or time.time() > end:
            sys.exit('PATCH /config refused (%s): %s' % (code, text))
        print('PATCH /config refused for now (%s); retrying' % code, file=sys.stderr)
        time.sleep(1)


def main(argv):
    configure(argv[1])
    cmd, args = argv[2], argv[3:]
    if cmd == 'wait-running':
        wait(lambda: running(me) and streamed_to(me), me + ' running (a replica: streaming from the leader)', int(args[0]))
    elif cmd == 'wait-leader':
        wait(lambda: leader() is not None, 'a leader', int(args[0]))
    elif cmd == 'switchover':
        switchover(args[0], int(args[1]))
    elif cmd == 'patch-config':
        patch_config(json.loads(args[0]), 60)
    elif cmd == 'pause':
        pause(int(args[0]))
    elif cmd == 'dcs-restart':
        dcs_restart(args[0], args[1], json.loads(args[2]), int(args[3]), int(args[4]))
    elif cmd == 'restart':
        restart_for(json.loads(args[2]), int(args[0]), int(args[1]), args[3] == 'primary-first')
    else:
        sys.exit('unknown command ' + cmd)


if __name__ == '__main__':
    main(sys.argv)
