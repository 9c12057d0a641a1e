"""Tests for patroni_ctl.py against fake Patroni REST APIs (one HTTP server per member), standard library only.

Run in this folder: python3 -m unittest -v patroni_ctl_test
The program's clock is a fake one, so its waits and retries take no real time.
"""
import collections, contextlib, io, json, os, ssl, subprocess, tempfile, threading, unittest
from http.server import BaseHTTPRequestHandler, HTTPServer
from unittest import mock

import patroni_ctl

Request = collections.namedtuple('Request', 'member method path headers body')


class FakeClock:
    """Stands in for the time module in patroni_ctl: sleeping moves the clock on and runs what became due."""

    def __init__(self):
        self.now = 1_000_000.0
        self.start = self.now
        self.due = []

    def time(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds
        ready = [action for at, action in self.due if at <= self.now]
        self.due = [(at, action) for at, action in self.due if at > self.now]
        for action in ready:
            action()

    def after(self, seconds, action):
        self.due.append((self.now + seconds, action))

    def elapsed(self):
        return self.now - self.start


class FakeControlData:
    """Stands in for subprocess in patroni_ctl: pg_controldata prints the settings this node's pg_control records."""

    def __init__(self, **settings):
        self.settings = settings

    def run(self, command, **_):
        assert command == ['/usr/lib/postgresql/15/bin/pg_controldata', '-D', '/pg/data'], command
        text = ''.join('%s setting:%s%s\n' % (name, ' ' * 16, value) for name, value in self.settings.items())
        return subprocess.CompletedProcess(command, 0, stdout='Database cluster state:               in production\n' + text)


class Member:
    """One member's Patroni REST API: GET /patroni, POST /restart here; /cluster, /config and /switchover act on the cluster."""

    def __init__(self, cluster, name, role, tls):
        self.cluster, self.name, self.role = cluster, name, role
        self.state = 'running'
        self.pending_restart = False
        self.streamed = True  # a replica: the leader streams WAL to it
        self.answers = {}  # (method, path) -> [(code, text)] answered before the usual behaviour
        self.after_restart = None
        self.dcs_seen = cluster.clock.now  # the last time this member's Patroni talked to the DCS
        self.server = HTTPServer(('127.0.0.1', 0), handler_for(self))
        if tls:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.address = '127.0.0.1:%d' % self.server.server_address[1]
        self.url = ('https://' if tls else 'http://') + self.address
        threading.Thread(target=self.server.serve_forever, kwargs={'poll_interval': 0.01}, daemon=True).start()

    def cluster_entry(self):
        return {'name': self.name, 'role': self.role, 'state': self.state, 'api_url': self.url + '/patroni', 'host': '127.0.0.1'}

    def status(self):
        status = {'state': self.state, 'role': 'primary' if self.role == 'leader' else 'replica', 'dcs_last_seen': int(self.dcs_seen)}
        if self.cluster.config.get('pause'):
            status['pause'] = True
        if self.pending_restart:
            status['pending_restart'] = True
        if self.role in ('leader', 'standby_leader'):
            replicas = [m for m in self.cluster.members.values() if m is not self and m.streamed]
            status['replication'] = [{'application_name': m.name, 'state': 'streaming'} for m in replicas]
        return status

    def handle(self, method, path, headers, body):
        self.cluster.requests.append(Request(self.name, method, path, headers, body))
        scripted = self.answers.get((method, path))
        if scripted:
            return scripted.pop(0)
        if (method, path) == ('GET', '/cluster'):
            return 200, {'members': [m.cluster_entry() for m in self.cluster.members.values()]}
        if (method, path) == ('GET', '/patroni'):
            return 200, self.status()
        if (method, path) == ('GET', '/config'):
            return 200, self.cluster.config
        if (method, path) == ('PATCH', '/config'):
            merge(self.cluster.config, body)
            return 200, self.cluster.config
        if (method, path) == ('POST', '/switchover'):
            return self.cluster.switch(body['leader'], body['candidate'])
        if (method, path) == ('POST', '/restart'):
            self.pending_restart = False
            if self.after_restart:
                self.after_restart()
            return 200, 'restarted successfully'
        return 404, 'no such path'


def merge(into, patch):
    # PATCH /config merges recursively, as Patroni does; null removes a key.
    for key, value in patch.items():
        if value is None:
            into.pop(key, None)
        elif isinstance(value, dict) and isinstance(into.get(key), dict):
            merge(into[key], value)
        else:
            into[key] = value


def handler_for(member):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_):
            pass  # keeps the test output to the test results

        def do_GET(self):
            self.answer('GET')

        def do_POST(self):
            self.answer('POST')

        def do_PATCH(self):
            self.answer('PATCH')

        def answer(self, method):
            length = int(self.headers.get('Content-Length') or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            code, payload = member.handle(method, self.path, dict(self.headers), body)
            data = (payload if isinstance(payload, str) else json.dumps(payload)).encode()
            self.send_response(code)
            self.send_header('Content-Type', 'application/json')
            self.send_header('Content-Length', str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


class Cluster:
    """A Patroni cluster of fake members: the DCS config they share and every request they got, in order."""

    def __init__(self, clock, names, leader, tls=None):
        self.clock = clock
        self.config = {'ttl': 30, 'postgresql': {'parameters': {'max_connections': 100}}}
        self.requests = []
        self.members = {name: Member(self, name, 'leader' if name == leader else 'replica', tls) for name in names}

    def switch(self, leader, candidate):
        old, new = self.members[leader], self.members[candidate]
        if old.role != 'leader':
            return 412, 'leader name does not match'
        old.role, old.state, new.role = 'replica', 'stopped', 'leader'
        # The old leader rejoins as a replica after a restart of its own.
        self.clock.after(2, lambda: setattr(old, 'state', 'running'))
        return 200, 'Successfully switched over to "%s"' % candidate

    def posts(self, path):
        return [r.member for r in self.requests if r.method == 'POST' and r.path == path]

    def close(self):
        for member in self.members.values():
            member.server.shutdown()
            member.server.server_close()


class PatroniCtlTest(unittest.TestCase):
    def setUp(self):
        self.clock = FakeClock()
        self.control = FakeControlData(max_connections=100)
        for name, fake in (('time', self.clock), ('subprocess', self.control)):
            patcher = mock.patch.object(patroni_ctl, name, fake)
            patcher.start()
            self.addCleanup(patcher.stop)
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)
        self.cluster = self.new_cluster()

    def new_cluster(self, tls=None):
        cluster = Cluster(self.clock, ['pg-1', 'pg-2', 'pg-3'], leader='pg-1', tls=tls)
        self.addCleanup(cluster.close)
        return cluster

    def patroni_yml(self, member, **restapi):
        path = os.path.join(self.dir.name, member.name + '.yml')
        conf = {'name': member.name, 'restapi': {'listen': '0.0.0.0:8008', 'connect_address': member.address, **restapi},
                'postgresql': {'bin_dir': '/usr/lib/postgresql/15/bin', 'data_dir': '/pg/data'}}
        with open(path, 'w') as f:
            json.dump(conf, f)  # JSON is YAML
        return path

    def run_ctl(self, member, command, *args, **restapi):
        """Runs one command as member's node would; returns what it printed to stderr."""
        stderr = io.StringIO()
        with contextlib.redirect_stderr(stderr):
            patroni_ctl.main(['patroni_ctl.py', self.patroni_yml(member, **restapi), command, *map(str, args)])
        return stderr.getvalue()

    def assert_exits(self, message, member, command, *args, **restapi):
        with self.assertRaises(SystemExit) as exit:
            self.run_ctl(member, command, *args, **restapi)
        self.assertEqual(exit.exception.code, message)

    def member(self, name):
        return self.cluster.members[name]


class WaitTest(PatroniCtlTest):
    def test_a_replica_is_running_only_once_the_leader_streams_to_it(self):
        replica = self.member('pg-2')
        replica.streamed = False
        self.clock.after(3, lambda: setattr(replica, 'streamed', True))
        self.run_ctl(replica, 'wait-running', 30)
        self.assertGreaterEqual(self.clock.elapsed(), 3)
        # The replication state comes from the leader's own REST API.
        self.assertIn(Request('pg-1', 'GET', '/patroni', mock.ANY, None), self.cluster.requests)

    def test_a_running_replica_the_leader_does_not_stream_to_times_out(self):
        replica = self.member('pg-2')
        replica.streamed = False
        self.assert_exits('timed out after 5s waiting for pg-2 running (a replica: streaming from the leader)', replica, 'wait-running', 5)

    def test_the_leader_is_running_once_it_runs(self):
        self.run_ctl(self.member('pg-1'), 'wait-running', 30)
        self.assertEqual(self.clock.elapsed(), 0)

    def test_wait_leader_times_out_without_a_running_leader(self):
        self.member('pg-1').state = 'starting'
        self.assert_exits('timed out after 5s waiting for a leader', self.member('pg-2'), 'wait-leader', 5)

    def test_wait_leader_is_done_once_a_leader_runs(self):
        self.member('pg-1').state = 'starting'
        self.clock.after(2, lambda: setattr(self.member('pg-1'), 'state', 'running'))
        self.run_ctl(self.member('pg-2'), 'wait-leader', 30)
        self.assertEqual(self.clock.elapsed(), 2)

    def standby_cluster(self):
        # A standby cluster: Patroni lists its leader as standby_leader, in the replication state it streams in from upstream.
        lead = self.member('pg-1')
        lead.role, lead.state = 'standby_leader', 'streaming'
        for name in ('pg-2', 'pg-3'):
            self.member(name).state = 'streaming'
        return lead

    def test_a_streaming_standby_leader_leads_a_standby_cluster(self):
        self.standby_cluster()
        self.run_ctl(self.member('pg-2'), 'wait-leader', 30)
        self.assertEqual(self.clock.elapsed(), 0)

    def test_a_replica_of_a_standby_cluster_is_running_once_the_standby_leader_streams_to_it(self):
        self.standby_cluster()
        replica = self.member('pg-2')
        replica.streamed = False
        self.clock.after(3, lambda: setattr(replica, 'streamed', True))
        self.run_ctl(replica, 'wait-running', 30)
        self.assertEqual(self.clock.elapsed(), 3)


class SwitchoverTest(PatroniCtlTest):
    def test_a_refused_switchover_is_retried_until_the_candidate_leads_and_the_old_leader_runs_as_a_replica(self):
        old = self.member('pg-1')
        old.answers[('POST', '/switchover')] = [(412, 'candidate not healthy')]
        stderr = self.run_ctl(old, 'switchover', 'pg-2', 30)
        self.assertIn('switchover to pg-2 refused (412): candidate not healthy; retrying', stderr)
        switchovers = [r.body for r in self.cluster.requests if r.path == '/switchover']
        self.assertEqual(switchovers, [{'leader': 'pg-1', 'candidate': 'pg-2'}] * 2)
        self.assertEqual((self.member('pg-2').role, old.role, old.state), ('leader', 'replica', 'running'))

    def test_no_switchover_when_the_candidate_leads_already(self):
        self.run_ctl(self.member('pg-1'), 'switchover', 'pg-1', 30)
        self.assertEqual(self.cluster.posts('/switchover'), [])


class RestartRequestTest(PatroniCtlTest):
    def setUp(self):
        super().setUp()
        patroni_ctl.configure(self.patroni_yml(self.member('pg-2')))
        self.replica = self.member('pg-2')
        self.replica.pending_restart = True

    def restart(self, timeout=30):
        stderr = io.StringIO()
        with contextlib.redirect_stderr(stderr):
            patroni_ctl.restart(self.replica.url, 'pg-2', timeout)
        return stderr.getvalue()

    def test_a_503_is_retried_while_the_member_is_busy(self):
        self.replica.answers[('POST', '/restart')] = [(503, 'demoting')] * 2
        stderr = self.restart()
        self.assertEqual(stderr.count('restart of pg-2 refused for now (503): demoting; retrying'), 2)
        self.assertEqual(self.cluster.posts('/restart'), ['pg-2'] * 3)
        self.assertFalse(self.replica.pending_restart)

    def test_any_other_refusal_ends_the_program(self):
        self.replica.answers[('POST', '/restart')] = [(500, 'restart failed')]
        with self.assertRaises(SystemExit) as exit:
            self.restart()
        self.assertEqual(exit.exception.code, 'restart of pg-2 refused (500): restart failed')
        self.assertEqual(self.cluster.posts('/restart'), ['pg-2'])

    def test_a_503_past_the_timeout_ends_the_program(self):
        self.replica.answers[('POST', '/restart')] = [(503, 'demoting')] * 100
        with self.assertRaises(SystemExit) as exit, contextlib.redirect_stderr(io.StringIO()):
            self.restart(timeout=5)
        self.assertEqual(exit.exception.code, 'restart of pg-2 refused (503): demoting')


class PatchConfigTest(PatroniCtlTest):
    def test_the_patch_is_merged_into_the_dcs(self):
        self.run_ctl(self.member('pg-2'), 'patch-config', json.dumps({'postgresql': {'parameters': {'work_mem': '64MB'}}}))
        self.assertEqual(self.cluster.config['postgresql']['parameters'], {'max_connections': 100, 'work_mem': '64MB'})
        self.assertNotIn('Authorization', self.cluster.requests[-1].headers)

    def test_a_refused_patch_ends_the_program(self):
        self.member('pg-2').answers[('PATCH', '/config')] = [(409, 'Config changed in the meantime')]
        self.assert_exits('PATCH /config refused (409): Config changed in the meantime', self.member('pg-2'), 'patch-config', '{"ttl": 20}')

    def test_a_503_is_retried_until_the_dcs_has_a_config(self):
        self.member('pg-2').answers[('PATCH', '/config')] = [(503, 'Service Unavailable')] * 3
        stderr = self.run_ctl(self.member('pg-2'), 'patch-config', '{"ttl": 20}')
        self.assertEqual(stderr.count('PATCH /config refused for now (503); retrying'), 3)
        self.assertEqual(self.cluster.config['ttl'], 20)

    def test_basic_auth_from_restapi_authentication(self):
        self.run_ctl(self.member('pg-2'), 'patch-config', '{"ttl": 20}', authentication={'username': 'postgres', 'password': 'Patroni.API'})
        self.assertEqual(self.cluster.requests[-1].headers['Authorization'], 'Basic cG9zdGdyZXM6UGF0cm9uaS5BUEk=')
        self.assertEqual(self.cluster.config['ttl'], 20)

    def test_an_unknown_command_ends_the_program(self):
        self.assert_exits('unknown command reboot', self.member('pg-2'), 'reboot')


class RestartDecisionTest(PatroniCtlTest):
    def restart(self, member, wanted, mode='rolling', settle=10):
        return self.run_ctl(member, 'restart', 60, settle, json.dumps(wanted), mode)

    def test_a_replica_restarts_once_patroni_reloaded_the_new_settings(self):
        self.cluster.config['postgresql']['parameters']['shared_buffers'] = '1GB'
        replica = self.member('pg-2')
        self.clock.after(3, lambda: setattr(replica, 'pending_restart', True))
        self.restart(replica, {'shared_buffers': '1GB'})
        self.assertGreaterEqual(self.clock.elapsed(), 3)
        self.assertEqual(self.cluster.posts('/restart'), ['pg-2'])
        self.assertFalse(replica.pending_restart)

    def test_no_restart_when_the_dcs_lacks_the_value(self):
        # The PATCH of an earlier step did not happen: the DCS still holds 100.
        stderr = self.restart(self.member('pg-2'), {'max_connections': 300})
        self.assertIn('not restarting pg-2: the DCS does not hold max_connections yet', stderr)
        self.assertEqual(self.cluster.posts('/restart'), [])
        self.assertGreaterEqual(self.clock.elapsed(), 10)  # waited the settle time for pending_restart first

    def test_no_restart_when_nothing_is_pending(self):
        self.restart(self.member('pg-2'), {'max_connections': 100})
        self.assertEqual(self.cluster.posts('/restart'), [])

    def test_the_dcs_value_matches_regardless_of_case_and_type(self):
        self.cluster.config['postgresql']['parameters']['hot_standby_feedback'] = True
        self.member('pg-2').pending_restart = True
        self.restart(self.member('pg-2'), {'hot_standby_feedback': 'true'})
        self.assertEqual(self.cluster.posts('/restart'), ['pg-2'])

    def test_primary_first_on_a_leader_a_replica_step_restarted_already(self):
        self.restart(self.member('pg-1'), {'max_connections': 100}, mode='primary-first')
        self.assertEqual(self.cluster.posts('/restart'), [])
        self.assertEqual(self.clock.elapsed(), 0)  # no settle wait either

    def test_primary_first_restarts_the_leader_then_this_replica_once_it_replayed_the_lower_value(self):
        # max_connections lowered to 100 in the DCS; this replica's pg_control still records the primary's 200.
        self.control.settings['max_connections'] = 200
        leader, replica = self.member('pg-1'), self.member('pg-2')
        leader.pending_restart = replica.pending_restart = True
        leader.after_restart = lambda: self.clock.after(3, lambda: self.control.settings.update(max_connections=100))
        self.restart(replica, {'max_connections': 100}, mode='primary-first')
        self.assertEqual(self.cluster.posts('/restart'), ['pg-1', 'pg-2'])
        self.assertFalse(leader.pending_restart or replica.pending_restart)

    def test_a_pg_control_above_the_dcs_restarts_primary_first_even_in_a_rolling_restart(self):
        # An interrupted apply lowered the DCS and left this replica's pg_control above it.
        self.control.settings['max_connections'] = 200
        self.member('pg-1').after_restart = lambda: self.control.settings.update(max_connections=100)
        self.restart(self.member('pg-2'), {'max_connections': 100})
        self.assertEqual(self.cluster.posts('/restart'), ['pg-1', 'pg-2'])

    def test_a_rolling_restart_of_the_leader_hands_over_restarts_and_takes_back(self):
        leader = self.member('pg-1')
        leader.pending_restart = True
        self.restart(leader, {'max_connections': 100})
        switchovers = [r.body['candidate'] for r in self.cluster.requests if r.path == '/switchover']
        self.assertEqual(switchovers, ['pg-2', 'pg-1'])
        self.assertEqual(self.cluster.posts('/restart'), ['pg-1'])
        self.assertEqual((leader.role, leader.pending_restart), ('leader', False))


class TlsTest(PatroniCtlTest):
    @classmethod
    def setUpClass(cls):
        cls.certs = tempfile.TemporaryDirectory()
        cls.cert, cls.key = os.path.join(cls.certs.name, 'server.crt'), os.path.join(cls.certs.name, 'server.key')
        subprocess.run(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
                        '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', cls.key, '-out', cls.cert],
                       check=True, capture_output=True)

    @classmethod
    def tearDownClass(cls):
        cls.certs.cleanup()

    def setUp(self):
        super().setUp()
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(self.cert, self.key)
        self.cluster = self.new_cluster(tls=tls)

    def test_https_with_the_ca_from_cafile_when_restapi_has_a_certfile(self):
        self.run_ctl(self.member('pg-2'), 'wait-leader', 5, certfile=self.cert, keyfile=self.key, cafile=self.cert,
                     authentication={'username': 'postgres', 'password': 'Patroni.API'})
        self.assertEqual(self.cluster.requests[0][:3], ('pg-2', 'GET', '/cluster'))
        self.assertEqual(self.cluster.requests[0].headers['Authorization'], 'Basic cG9zdGdyZXM6UGF0cm9uaS5BUEk=')

    def test_a_certificate_the_ca_does_not_sign_is_refused(self):
        # Without cafile only the system's CAs count, and none of them signed this certificate.
        self.assert_exits('timed out after 2s waiting for a leader', self.member('pg-2'), 'wait-leader', 2, certfile=self.cert, keyfile=self.key)
        self.assertEqual(self.cluster.requests, [])


if __name__ == '__main__':
    unittest.main()


class FakeSystemd:
    """Stands in for subprocess in patroni_ctl's dcs-restart: restarting patroni makes the member talk to the DCS again and its unit record what it read."""

    def __init__(self, clock, member, record, recorded):
        self.clock, self.member, self.record, self.recorded = clock, member, record, recorded
        self.commands = []

    def run(self, command, check=False, **_):
        self.commands.append(command)
        if command == ['systemctl', 'restart', 'patroni']:
            with open(self.record, 'w') as f:
                f.write(self.recorded + '\n')
            self.member.dcs_seen = self.clock.now + 1
        return subprocess.CompletedProcess(command, 0)


class DcsRestartTest(PatroniCtlTest):
    """Patroni restarted, paused, to read new etcd settings: PostgreSQL is not touched; the cluster resumes once every member talks to the DCS."""

    def restart(self, name, recorded='new-sha', wanted='new-sha'):
        member = self.member(name)
        record = os.path.join(self.dir.name, 'dcs-client')
        systemd = FakeSystemd(self.clock, member, record, recorded)
        patcher = mock.patch.object(patroni_ctl, 'subprocess', systemd)
        patcher.start()
        self.addCleanup(patcher.stop)
        others = json.dumps([m.url for m in self.cluster.members.values() if m is not member])
        err = self.run_ctl(member, 'dcs-restart', record, wanted, others, 60, 20)
        return systemd, err

    def test_pause_marks_a_pause_of_corrals(self):
        self.run_ctl(self.member('pg-1'), 'pause', 30)
        self.assertEqual((self.cluster.config.get('pause'), self.cluster.config.get('corral_paused')), (True, True))

    def test_pause_leaves_a_pause_of_someone_else_unmarked(self):
        self.cluster.config['pause'] = True
        self.run_ctl(self.member('pg-1'), 'pause', 30)
        self.assertNotIn('corral_paused', self.cluster.config)
        self.assertEqual([r for r in self.cluster.requests if r.method == 'PATCH'], [])

    def test_a_member_restarts_paused_and_the_cluster_stays_paused_while_another_has_not_talked_to_the_dcs(self):
        self.member('pg-3').dcs_seen = self.clock.now - 600  # still on the old etcd settings
        systemd, err = self.restart('pg-2')
        self.assertEqual(systemd.commands, [['systemctl', 'daemon-reload'], ['systemctl', 'restart', 'patroni']])
        self.assertEqual((self.cluster.config.get('pause'), self.cluster.config.get('corral_paused')), (True, True))
        self.assertIn('stays paused until %s' % self.member('pg-3').url, err)
        self.assertEqual(self.cluster.posts('/restart'), [])  # PostgreSQL itself is never restarted

    def test_the_last_member_resumes_a_pause_of_corrals(self):
        self.restart('pg-1')
        self.assertNotIn('pause', self.cluster.config)
        self.assertNotIn('corral_paused', self.cluster.config)

    def test_a_pause_of_someone_else_outlives_the_restart(self):
        self.cluster.config['pause'] = True
        self.restart('pg-1')
        self.assertEqual(self.cluster.config.get('pause'), True)

    def test_patroni_that_started_with_other_settings_ends_the_program(self):
        with self.assertRaises(SystemExit) as exit:
            self.restart('pg-2', recorded='old-sha')
        self.assertEqual(exit.exception.code, 'pg-2 started with other DCS settings than new-sha')
