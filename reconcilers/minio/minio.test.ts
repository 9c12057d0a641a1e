import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { validateInventory } from '../../src/config/validate.js';
import type { HostView } from '../../src/config/hosts.js';
import { ASSUMED_FACTS } from '../../src/engine/facts.js';
import { ignoredNotes } from '../../src/engine/ignored.js';
import type { Desired, Note, Observation } from '../../src/engine/model.js';
import { observeScript } from '../../src/engine/observe.js';
import { plan } from '../../src/engine/plan.js';
import { renderJson, renderMarkdown, renderText } from '../../src/engine/render.js';
import { kindOf } from '../../src/engine/resources/index.js';
import type { Resource, Unsupported } from '../../src/engine/resources/kind.js';
import type { FileWant } from '../../src/engine/resources/file.js';
import { tmpRepo } from '../../test/helpers/tmp.js';
import { certificatesFor } from '../../test/helpers/pki.js';
import { clusterHealth, minio, USERS_FILE } from './index.js';
import { expandEllipses } from './params.js';
import { minioBucket, policyStatements, type MinioBucketWant } from './kinds/bucket.js';
import { minioUser, secretHash, type MinioUserWant } from './kinds/user.js';
import { minioHealth, type MinioHealthWant } from './kinds/health.js';
import { minioTlsOff, type MinioTlsOffWant } from './kinds/tls-off.js';

const ROOT_SECRET = 'Canary.Root.MinIO.1';
const USER_SECRETS = ['Canary.User.Backup.2', 'Canary.User.Meta.3', 'Canary.User.Data.4'];
const SECRETS = [ROOT_SECRET, ...USER_SECRETS];

const PIGSTY_LOCAL = `
    node_repo_modules: local
    repo_upstream:
      - { name: pigsty-local, description: 'Pigsty Local', module: local, releases: [11, 12, 13], baseurl: { default: 'http://\${admin_ip}/pigsty ./' } }`;

/** Shaped like Pigsty's conf/ha/full.yml, with the 4-node x 4-drive MinIO cluster of its larger templates. */
const FULL = (vars = '', global = PIGSTY_LOCAL): string => `
all:
  children:
    etcd:
      hosts: { 10.10.10.10: { etcd_seq: 1 } }
      vars: { etcd_cluster: etcd }
    minio:
      hosts:
        10.10.10.21: { minio_seq: 1 }
        10.10.10.22: { minio_seq: 2 }
        10.10.10.23: { minio_seq: 3 }
        10.10.10.24: { minio_seq: 4 }
      vars:
        minio_cluster: minio
        minio_data: '/data{1...4}'
        minio_buckets: [ { name: pgsql }, { name: meta, versioning: true }, { name: data, lock: true } ]
        minio_users:
          - { access_key: pgbackrest  ,secret_key: ${USER_SECRETS[0]} ,policy: pgsql }
          - { access_key: s3user_meta ,secret_key: ${USER_SECRETS[1]} ,policy: meta  }
          - { access_key: s3user_data ,secret_key: ${USER_SECRETS[2]} ,policy: data  }${vars ? `\n        ${vars}` : ''}
    pg-meta:
      hosts: { 10.10.10.10: { pg_seq: 1, pg_role: primary } }
      vars: { pg_cluster: pg-meta, pg_version: 15 }
  vars:
    admin_ip: 10.10.10.10
    node_etc_hosts: [ '\${admin_ip} i.pigsty sss.pigsty' ]
    pgbackrest_method: minio
    minio_secret_key: ${ROOT_SECRET}${global}
`;

const SINGLE = (vars = ''): string => `
all:
  children:
    minio: { hosts: { 10.10.10.10: { minio_seq: 1 } }, vars: { minio_cluster: minio${vars} } }
  vars:
    minio_secret_key: ${ROOT_SECRET}${PIGSTY_LOCAL}
`;

interface Loaded {
  hosts: HostView[];
  desired: Desired;
  notes: Note[];
  /** What the plan says of the cluster's parameters that Corral does not honour (the schema's x-corral). */
  ignored: Note[];
  certificates: ReturnType<NonNullable<typeof minio.certificates>>;
}

async function load(text: string): Promise<Loaded> {
  const v = await validateInventory(tmpRepo({ 'pigsty.yml': text }));
  expect(v.problems.filter((p) => p.severity === 'error')).toEqual([]);
  const cluster = v.clusters.find((c) => c.module === 'minio')!;
  const out = minio.desired({ cluster, hosts: v.hosts, facts: () => ASSUMED_FACTS, certificates: await certificatesFor(v), together: () => true });
  const target = (name: string) => ({ name, address: name, port: 22, user: 'root', connection: 'ssh' as const });
  return {
    hosts: v.hosts,
    notes: out.notes,
    ignored: ignoredNotes(cluster),
    certificates: minio.certificates!({ cluster, hosts: v.hosts }),
    desired: { hosts: [...out.resources].map(([host, resources]) => ({ host, target: target(host), resources })), edges: out.edges },
  };
}

const on = (d: Desired, host: string): Resource[] => d.hosts.find((h) => h.host === host)!.resources;
const find = <W>(d: Desired, host: string, kind: string, key?: string): W =>
  on(d, host).find((r) => {
    const w = r.want as { name?: string; path?: string; accessKey?: string };
    return r.kind === kind && (key === undefined || w.name === key || w.path === key || w.accessKey === key);
  })?.want as W;
const resource = (d: Desired, host: string, id: string): Resource => on(d, host).find((r) => kindOf(r.kind).id(r.want) === id)!;
/** A parsed state a test knows is supported. */
const seen = <H>(x: H | Unsupported | null): H | null => x as H | null;
const bare = (d: Desired): Observation[] => d.hosts.map((h) => ({ host: h.host, ok: true as const, facts: ASSUMED_FACTS, states: {}, durationMs: 1 }));

describe('MINIO rendering of a distributed cluster (full.yml shape, 4 nodes x 4 drives)', async () => {
  const { desired, notes, certificates } = await load(FULL());
  const first = '10.10.10.21';
  const other = '10.10.10.23';

  it('has nothing to note', () => expect(notes).toEqual([]));

  it('installs minio_type\'s package and mcli, and makes the minio user and its drives from the {1...4} expansion', () => {
    expect(find<{ packages: string[] }>(desired, other, 'packages').packages).toEqual(['silo', 'mcli', 'curl']);
    expect(find(desired, other, 'group', 'minio')).toEqual({ name: 'minio' });
    expect(find(desired, other, 'user', 'minio')).toEqual({ name: 'minio', group: 'minio', home: '/home/minio', shell: '/usr/sbin/nologin' });
    const drives = on(desired, other).filter((r) => r.kind === 'directory' && /^\/data\d$/.test((r.want as { path: string }).path));
    expect(drives.map((r) => r.want)).toEqual(['/data1', '/data2', '/data3', '/data4'].map((path) => ({ path, mode: 0o750, owner: 'minio', group: 'minio' })));
    expect(expandEllipses('/mnt/disk{01...03}/m{1...2}')).toEqual(['/mnt/disk01/m1', '/mnt/disk01/m2', '/mnt/disk02/m1', '/mnt/disk02/m2', '/mnt/disk03/m1', '/mnt/disk03/m2']);
  });

  it('writes the env file with the volumes spanning the members and drives, the root password only there (a secret file)', () => {
    const env = find<FileWant>(desired, other, 'file', '/etc/default/silo');
    expect(env).toMatchObject({ mode: 0o640, owner: 'root', group: 'minio', secret: true });
    expect(env.content).toBe(
      [
        '# managed by corral (MINIO)',
        'MINIO_OPTS="--address :9000 --console-address :9001"',
        'MINIO_VOLUMES="https://minio-{1...4}.pigsty:9000/data{1...4}"',
        'MINIO_ROOT_USER="minioadmin"',
        `MINIO_ROOT_PASSWORD="${ROOT_SECRET}"`,
        'MINIO_PROMETHEUS_AUTH_TYPE=public',
        'MINIO_PROMETHEUS_JOB_ID=minio',
        'MINIO_PROMETHEUS_URL=http://10.10.10.10:8428',
        '',
        '# ENVIRONMENT from minio_extra_vars',
        '',
      ].join('\n'),
    );
  });

  it('writes Pigsty\'s unit, named after minio_type, which restarts when its env, unit or TLS changes', () => {
    const unit = find<FileWant>(desired, other, 'file', '/etc/systemd/system/silo.service');
    expect(unit.mode).toBe(0o644);
    for (const line of ['Type=notify', 'User=minio', 'Group=minio', 'EnvironmentFile=-/etc/default/minio', 'EnvironmentFile=-/etc/default/silo', 'ExecStart=/usr/bin/silo server $MINIO_OPTS $MINIO_VOLUMES', 'LimitNOFILE=8388608', 'TimeoutStartSec=600', 'WantedBy=multi-user.target']) {
      expect(unit.content).toContain(`${line}\n`);
    }
    expect(resource(desired, other, 'service:silo').deps).toEqual(['packages:minio', 'directory:/home/minio/.minio/certs', 'file:/etc/default/silo', 'file:/etc/systemd/system/silo.service']);
  });

  it('installs the member\'s certificate, key (0600, secret) and the CA where MinIO reads them, with Pigsty\'s SANs', () => {
    const dir = '/home/minio/.minio/certs';
    expect(find<FileWant>(desired, other, 'file', `${dir}/public.crt`)).toMatchObject({ mode: 0o644, owner: 'minio', group: 'minio' });
    expect(find<FileWant>(desired, other, 'file', `${dir}/private.key`)).toMatchObject({ mode: 0o600, owner: 'minio', group: 'minio', secret: true });
    expect(find<FileWant>(desired, other, 'file', `${dir}/CAs/ca.crt`)).toMatchObject({ mode: 0o644, owner: 'minio' });
    expect(find<FileWant>(desired, other, 'file', `${dir}/private.key`).content).toContain('PRIVATE KEY');
    const request = certificates.find((c) => c.id === `minio/${other}`)!;
    expect(request).toMatchObject({ commonName: 'minio-3.pigsty', organizationalUnit: 'minio', ips: ['127.0.0.1', other] });
    expect(request.dns).toEqual(['localhost', 'minio-3.pigsty', 'minio', 'minio-3', 'sss.pigsty', '*.sss.pigsty']);
  });

  it('names every member in /etc/hosts (a managed block), and leaves minio_domain to node_etc_hosts, which maps it', async () => {
    expect(find(desired, other, 'block', '/etc/hosts')).toEqual({
      path: '/etc/hosts',
      marker: 'corral minio dns',
      lines: ['10.10.10.21 minio-1.pigsty', '10.10.10.22 minio-2.pigsty', '10.10.10.23 minio-3.pigsty', '10.10.10.24 minio-4.pigsty'],
      mode: 0o644,
    });
    const own = await load(FULL().replace("node_etc_hosts: [ '${admin_ip} i.pigsty sss.pigsty' ]", 'node_etc_hosts: []'));
    expect(find<{ lines: string[] }>(own.desired, other, 'block', '/etc/hosts').lines).toContain('10.10.10.23 minio-3.pigsty sss.pigsty');
    const none = await load(FULL('node_write_etc_hosts: false'));
    expect(on(none.desired, other).some((r) => r.kind === 'block')).toBe(false);
  });

  it('sets up mcli on every member: Pigsty\'s alias to minio_domain and a loopback one, root\'s config a secret file', () => {
    const config = find<FileWant>(desired, other, 'file', '/root/.mcli/config.json');
    expect(config).toMatchObject({ mode: 0o600, secret: true });
    expect(JSON.parse(config.content)).toEqual({
      version: '10',
      aliases: {
        sss: { url: 'https://sss.pigsty:9000', accessKey: 'minioadmin', secretKey: ROOT_SECRET, api: 'S3v4', path: 'auto' },
        local: { url: 'https://127.0.0.1:9000', accessKey: 'minioadmin', secretKey: ROOT_SECRET, api: 'S3v4', path: 'auto' },
      },
    });
    expect(find<FileWant>(desired, other, 'file', '/root/.mcli/certs/CAs/ca.crt').mode).toBe(0o644);
  });

  it('provisions buckets and users on the first member only, after every member\'s server', () => {
    expect(on(desired, other).some((r) => r.kind === 'minio-bucket' || r.kind === 'minio-user')).toBe(false);
    expect(find<MinioBucketWant>(desired, first, 'minio-bucket', 'data')).toEqual({ cluster: 'minio', name: 'data', versioning: false, lock: true, policy: expect.stringContaining('"arn:aws:s3:::data/*"') as string });
    expect(find<MinioBucketWant>(desired, first, 'minio-bucket', 'meta')).toMatchObject({ versioning: true, lock: false });
    const user = find<MinioUserWant>(desired, first, 'minio-user', 'pgbackrest');
    expect(user).toEqual({ cluster: 'minio', accessKey: 'pgbackrest', policy: 'pgsql', secretHash: secretHash('minio', 'pgbackrest', USER_SECRETS[0]!), secretsFile: USERS_FILE });
    expect(resource(desired, first, 'minio-user:pgbackrest').deps).toEqual(['service:silo', 'file:/root/.mcli/config.json', `file:${USERS_FILE}`, 'minio-bucket:pgsql', 'minio-bucket:meta', 'minio-bucket:data']);
    const secrets = find<FileWant>(desired, first, 'file', USERS_FILE);
    expect(secrets).toMatchObject({ mode: 0o600, secret: true, content: `pgbackrest\t${USER_SECRETS[0]}\ns3user_meta\t${USER_SECRETS[1]}\ns3user_data\t${USER_SECRETS[2]}\n` });
    expect(desired.edges).toContainEqual({ before: { host: '10.10.10.24', resource: 'service:silo' }, after: { host: first, resource: 'minio-bucket:pgsql' } });
    expect(desired.edges).toContainEqual({ before: { host: '10.10.10.22', resource: 'service:silo' }, after: { host: first, resource: 'minio-user:s3user_data' } });
  });

  it('provisions nothing with minio_provision: false', async () => {
    const off = await load(FULL('minio_provision: false'));
    expect(on(off.desired, first).filter((r) => r.kind.startsWith('minio-') || (r.want as { path?: string }).path?.startsWith('/root/.mcli')).map((r) => r.kind)).toEqual(['minio-health']);
  });
});

describe('MINIO package from repo_upstream', () => {
  it('blocks the whole cluster, on every member, when no configured repository offers silo and mcli', async () => {
    const { desired, notes } = await load(FULL('', ''));
    expect(desired.hosts).toEqual([]);
    const blocking = notes.filter((n) => n.blocking);
    expect(blocking.map((n) => n.host)).toEqual(['10.10.10.21', '10.10.10.22', '10.10.10.23', '10.10.10.24']);
    expect(blocking[0]).toMatchObject({ resource: 'packages:minio' });
    expect(blocking[0]!.message).toBe(
      'silo and mcli are not in debian 12\'s own repositories, and no repo of repo_upstream that has them (Pigsty\'s infra or local repo) is configured for node_repo_modules "local" on debian 12 x86_64: add Pigsty\'s infra repo to repo_upstream and its module to node_repo_modules',
    );
    const p = plan({ hosts: [], edges: [] }, [], 'r1').plan;
    p.notes.push(...notes);
    p.hosts.push(...blocking.map((n) => n.host));
    expect(renderText(p)).toContain('✗ packages:minio: silo and mcli are not in debian 12');
    expect(renderText(p)).toContain('4 blocking: not applicable until the inventory changes');
  });

  it('takes Pigsty\'s infra repo only where node_repo_modules configures it', async () => {
    const infra = `
    repo_upstream:
      - { name: pigsty-infra, module: infra, releases: [12], arch: [x86_64, aarch64], baseurl: { default: 'https://repo.pigsty.io/apt/infra/ generic main' } }`;
    expect((await load(FULL('', `\n    node_repo_modules: node,infra${infra}`))).notes).toEqual([]);
    expect((await load(FULL('', `\n    node_repo_modules: node${infra}`))).notes.filter((n) => n.blocking)).toHaveLength(4);
  });
});

describe('MINIO single node', () => {
  it('serves one drive: MINIO_VOLUMES is minio_data itself', async () => {
    const { desired, notes } = await load(SINGLE());
    expect(notes).toEqual([]);
    const env = find<FileWant>(desired, '10.10.10.10', 'file', '/etc/default/silo').content;
    expect(env).toContain('MINIO_VOLUMES="/data/minio"\n');
    expect(on(desired, '10.10.10.10').filter((r) => r.kind === 'directory' && (r.want as { path: string }).path.startsWith('/data')).map((r) => (r.want as { path: string }).path)).toEqual(['/data/minio']);
    expect(find<{ lines: string[] }>(desired, '10.10.10.10', 'block', '/etc/hosts').lines).toEqual(['10.10.10.10 minio-1.pigsty sss.pigsty']);
    expect(desired.edges).toEqual([]);
  });

  it('honours minio_volumes, ports, minio_endpoint, minio_alias, minio_user and minio_extra_vars', async () => {
    const { desired } = await load(SINGLE(", minio_volumes: '/srv/s3', minio_port: 9200, minio_admin_port: 9201, minio_endpoint: 'https://s3.example:9002', minio_alias: s3, minio_user: s3svc, minio_extra_vars: 'MINIO_BROWSER=off'"));
    const env = find<FileWant>(desired, '10.10.10.10', 'file', '/etc/default/silo').content;
    expect(env).toContain('MINIO_OPTS="--address :9200 --console-address :9201"\nMINIO_VOLUMES="/srv/s3"\n');
    expect(env.endsWith('# ENVIRONMENT from minio_extra_vars\nMINIO_BROWSER=off\n')).toBe(true);
    expect(find<FileWant>(desired, '10.10.10.10', 'file', '/etc/systemd/system/silo.service').content).toContain('User=s3svc\n');
    expect(find<FileWant>(desired, '10.10.10.10', 'file', '/home/s3svc/.minio/certs/private.key').owner).toBe('s3svc');
    const aliases = (JSON.parse(find<FileWant>(desired, '10.10.10.10', 'file', '/root/.mcli/config.json').content) as { aliases: Record<string, { url: string }> }).aliases;
    expect(Object.fromEntries(Object.entries(aliases).map(([k, v]) => [k, v.url]))).toEqual({ s3: 'https://s3.example:9002', local: 'https://127.0.0.1:9200' });
  });

  it('notes once per cluster what it does instead of the removal parameters, and blocks a root secret the env file cannot hold', async () => {
    const { notes, ignored } = await load(SINGLE(', minio_safeguard: true, minio_rm_pkg: true, minio_rm_data: false'));
    expect(notes).toEqual([]);
    expect(ignored.map((n) => n.message)).toEqual([
      'minio_safeguard and minio_rm_pkg: Corral never removes a MinIO node (a MinIO pool cannot shrink): a host taken out of the cluster keeps its service, data and packages',
    ]);
    const blocked = await load(SINGLE().replace(ROOT_SECRET, 'has"quote.x'));
    expect(blocked.desired.hosts).toEqual([]);
    expect(blocked.notes).toEqual([expect.objectContaining({ blocking: true, message: expect.stringContaining('minio_secret_key holds a double quote') as string })]);
  });
});

describe('MINIO with minio_https: false', async () => {
  const { desired, certificates } = await load(FULL('minio_https: false'));
  const other = '10.10.10.23';

  it('asks for no certificate and writes none; removes certificates left from https', () => {
    expect(certificates).toEqual([]);
    expect(on(desired, other).some((r) => String((r.want as { path?: string }).path).includes('/certs'))).toBe(false);
    const off = resource(desired, other, 'minio-tls-off:/home/minio/.minio/certs');
    expect(resource(desired, other, 'service:silo').deps).toContain('minio-tls-off:/home/minio/.minio/certs');
    const kind = minioTlsOff;
    const w = off.want as MinioTlsOffWant;
    expect(kind.probe(w)).toBe("for f in public.crt private.key; do [ -e /home/minio/.minio/certs/\"$f\" ] && echo \"$f\"; done; true");
    const left = seen(kind.parse('public.crt\nprivate.key\n', w));
    expect(kind.diff(w, left)).toEqual([{ field: 'tls certificates', from: ['/home/minio/.minio/certs/public.crt', '/home/minio/.minio/certs/private.key'], to: null }]);
    expect(kind.diff(w, seen(kind.parse('', w)))).toEqual([]);
    expect(kind.apply(w, left)).toBe('rm -rf -- /home/minio/.minio/certs');
  });

  it('spans the members over http, and points mcli and the health probes at http', () => {
    expect(find<FileWant>(desired, other, 'file', '/etc/default/silo').content).toContain('MINIO_VOLUMES="http://minio-{1...4}.pigsty:9000/data{1...4}"\n');
    expect(JSON.parse(find<FileWant>(desired, other, 'file', '/root/.mcli/config.json').content)).toMatchObject({ aliases: { sss: { url: 'http://sss.pigsty:9000' }, local: { url: 'http://127.0.0.1:9000' } } });
    expect(find<MinioHealthWant>(desired, other, 'minio-health')).toEqual({ name: 'minio-3', url: 'http://127.0.0.1:9000', caFile: null });
  });
});

const stat = (fields: string): string => `{\n "status": "success",\n "name": "meta",\n "size": 0,\n${fields}\n "location": ""\n}`;
const policyInfo = (name: string, resources: string[]): string =>
  JSON.stringify({ status: 'success', policy: name, policyInfo: { PolicyName: name, Policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:*', Resource: resources }] } }, isGroup: false }, null, ' ');
const NO_SUCH = '{\n "status": "error",\n "error": {\n  "message": "Unable to get bucket info.",\n  "cause": { "error": { "Code": "NoSuchBucket" } }\n }\n}';

describe('minio-bucket', () => {
  const kind = minioBucket;
  const want = (over: Partial<MinioBucketWant> = {}): MinioBucketWant => ({ cluster: 'minio', name: 'meta', versioning: true, lock: false, policy: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['s3:*'], Resource: ['arn:aws:s3:::meta', 'arn:aws:s3:::meta/*'] }] }), ...over });

  it('probes the bucket and its policy with mcli through the loopback alias', () => {
    expect(kind.probe(want())).toBe(
      [
        "echo '@@stat'; timeout 60 mcli -C /root/.mcli --json stat local/meta 2>/dev/null; echo",
        "echo '@@policy'; timeout 60 mcli -C /root/.mcli --json admin policy info local meta 2>/dev/null; echo",
      ].join('\n'),
    );
  });

  it('reads versioning, lock and the policy; nothing when the bucket is missing or the server does not answer', () => {
    const have = seen(kind.parse(`@@stat\n${stat(' "Versioning": {\n  "status": "Enabled",\n  "MFADelete": ""\n },\n "ObjectLock": { "enabled": "" },')}\n@@policy\n${policyInfo('meta', ['arn:aws:s3:::meta/*', 'arn:aws:s3:::meta'])}\n`, want()));
    expect(have).toEqual({ versioning: 'Enabled', lock: false, policy: '[{"Effect":"Allow","Action":["s3:*"],"Resource":["arn:aws:s3:::meta","arn:aws:s3:::meta/*"]}]' });
    expect(kind.diff(want(), have)).toEqual([]);
    expect(kind.parse(`@@stat\n${NO_SUCH}\n@@policy\n`, want())).toBeNull();
    expect(kind.parse('@@stat\n\n@@policy\n\n', want())).toBeNull();
  });

  it('makes a missing bucket with its flags, and its policy from stdin', () => {
    const w = want({ name: 'data', lock: true, versioning: false, policy: '{"Statement":[]}' });
    expect(kind.diff(w, null)).toEqual([
      { field: 'bucket', from: null, to: 'data lock' },
      { field: 'policy', from: null, to: '[]' },
    ]);
    expect(kind.apply(w, null)).toBe(
      ['timeout 60 mcli -C /root/.mcli mb --ignore-existing --with-lock local/data >/dev/null', `printf '%s' '{"Statement":[]}' | timeout 60 mcli -C /root/.mcli admin policy create local data /dev/stdin >/dev/null`].join('\n'),
    );
  });

  it('turns versioning on, and puts back a changed policy, on an existing bucket', () => {
    const have = { versioning: 'Suspended', lock: false, policy: '[]' };
    expect(kind.diff(want(), have).map((f) => [f.field, f.from])).toEqual([
      ['versioning', 'Suspended'],
      ['policy', '[]'],
    ]);
    const script = kind.apply(want(), have);
    expect(script.split('\n')[0]).toBe('timeout 60 mcli -C /root/.mcli version enable local/meta >/dev/null');
    expect(script).toContain('admin policy create local meta /dev/stdin');
    expect(kind.diff(want({ versioning: false }), { ...have, policy: policyStatements(JSON.parse(want().policy)) })).toEqual([]);
  });

  it('reports an existing bucket without the object lock asked for: only a new bucket can have it', () => {
    const have = kind.parse(`@@stat\n${stat(' "ObjectLock": { "enabled": "" },')}\n@@policy\n`, want({ lock: true }));
    expect(have).toEqual({ unsupported: expect.stringContaining('bucket meta exists without object lock') as string });
  });
});

describe('minio-user', () => {
  const kind = minioUser;
  const want: MinioUserWant = { cluster: 'minio', accessKey: 'pgbackrest', policy: 'pgsql', secretHash: secretHash('minio', 'pgbackrest', USER_SECRETS[0]!), secretsFile: USERS_FILE };
  const info = (policy: string): string => JSON.stringify({ status: 'success', accessKey: 'pgbackrest', policyName: policy, userStatus: 'enabled' }, null, ' ');

  it('probes the recorded hash and the user with mcli, no secret in the shell', () => {
    expect(kind.probe(want)).toBe(
      [
        '[ -f /var/lib/corral/minio/users/pgbackrest ] && echo "recorded=$(cat /var/lib/corral/minio/users/pgbackrest)"',
        "echo '@@info'; timeout 60 mcli -C /root/.mcli --json admin user info local pgbackrest 2>/dev/null; echo",
      ].join('\n'),
    );
  });

  it('is in sync with the key it recorded and the policy attached (others may stay)', () => {
    const have = seen(kind.parse(`recorded=${want.secretHash}\n@@info\n${info('readonly,pgsql')}\n`, want));
    expect(have).toEqual({ policies: ['readonly', 'pgsql'], recorded: want.secretHash });
    expect(kind.diff(want, have)).toEqual([]);
    expect(kind.parse('@@info\n{"status": "error"}\n', want)).toBeNull();
  });

  it('adds a missing user with its key from the users file on stdin, attaches its policy and records the hash', () => {
    expect(kind.diff(want, null)).toEqual([
      { field: 'user', from: null, to: 'pgbackrest' },
      { field: 'secret_key', from: null, to: 'set', secret: true },
      { field: 'policy', from: null, to: 'pgsql' },
    ]);
    expect(kind.apply(want, null)).toBe(
      [
        `sk=$(awk -v k=pgbackrest 'index($0, k "\\t") == 1 { print substr($0, length(k) + 2); exit }' ${USERS_FILE})`,
        `[ -n "$sk" ] || { echo 'no secret key for pgbackrest in ${USERS_FILE}' >&2; exit 1; }`,
        `printf '%s\\n' "$sk" | timeout 60 mcli -C /root/.mcli admin user add local pgbackrest >/dev/null`,
        'unset sk',
        `out=$(timeout 60 mcli -C /root/.mcli admin policy attach local pgsql --user pgbackrest 2>&1) || { case "$out" in *'already in effect'*) ;; *) echo "$out" >&2; exit 1 ;; esac; }`,
        `mkdir -p /var/lib/corral/minio/users && printf '%s' ${want.secretHash} > /var/lib/corral/minio/users/pgbackrest`,
      ].join('\n'),
    );
  });

  it('sets a changed key again (MinIO never tells it), and only attaches a missing policy', () => {
    const stale = { policies: ['pgsql'], recorded: secretHash('minio', 'pgbackrest', 'Old.Secret.1') };
    expect(kind.diff(want, stale)).toEqual([{ field: 'secret_key', from: 'set', to: 'set', secret: true }]);
    expect(kind.apply(want, stale)).toContain('admin user add local pgbackrest');
    const unattached = { policies: [], recorded: want.secretHash };
    expect(kind.diff(want, unattached)).toEqual([{ field: 'policy', from: null, to: 'pgsql' }]);
    expect(kind.apply(want, unattached)).not.toContain('user add');
  });
});

describe('MINIO health', async () => {
  const { desired, hosts } = await load(FULL());
  const members = hosts.filter((h) => h.str('minio_cluster') === 'minio');
  const kind = minioHealth;
  const want = find<MinioHealthWant>(desired, '10.10.10.22', 'minio-health');

  it('probes live and cluster on loopback with curl, checked against the CA', () => {
    expect(want).toEqual({ name: 'minio-2', url: 'https://127.0.0.1:9000', caFile: '/home/minio/.minio/certs/CAs/ca.crt' });
    expect(kind.probe(want)).toBe(
      [
        `echo "live=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 --cacert /home/minio/.minio/certs/CAs/ca.crt https://127.0.0.1:9000/minio/health/live)"`,
        `echo "cluster=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 --cacert /home/minio/.minio/certs/CAs/ca.crt https://127.0.0.1:9000/minio/health/cluster)"`,
      ].join('\n'),
    );
    expect(kind.parse('live=200\ncluster=503\n', want)).toEqual({ live: 200, cluster: 503 });
    expect(kind.parse('live=000\ncluster=\n', want)).toEqual({ live: 0, cluster: 0 });
    expect(kind.diff(want, { live: 0, cluster: 0 })).toEqual([]);
  });

  const observed = (states: Record<string, { live: number; cluster: number } | undefined>): Observation[] =>
    Object.entries(states).map(([host, s], i) => (s ? { host, ok: true as const, facts: ASSUMED_FACTS, states: { [`minio-health:minio-${i + 1}`]: s }, durationMs: 1 } : { host, ok: false as const, error: 'down', errorKind: 'connect' }));
  const ok = { live: 200, cluster: 200 };

  it('is Healthy when every member is live with write quorum, Degraded while one is not, Down without quorum', () => {
    expect(clusterHealth(members, observed({ '10.10.10.21': ok, '10.10.10.22': ok, '10.10.10.23': ok, '10.10.10.24': ok }))).toEqual({ status: 'Healthy', problems: [] });
    expect(clusterHealth(members, observed({ '10.10.10.21': ok, '10.10.10.22': ok, '10.10.10.23': { live: 0, cluster: 0 }, '10.10.10.24': undefined }))).toEqual({
      status: 'Degraded',
      problems: ['minio-3 (10.10.10.23) does not answer /minio/health/live', 'minio-4 (10.10.10.24) does not answer /minio/health/live (not observed)'],
    });
    const lost = { live: 200, cluster: 503 };
    expect(clusterHealth(members, observed({ '10.10.10.21': lost, '10.10.10.22': lost, '10.10.10.23': undefined, '10.10.10.24': undefined })).status).toBe('Down');
    expect(minio.health!({ cluster: { module: 'minio', name: 'minio', members }, hosts, observations: [] }).status).toBe('Down');
  });
});

describe('MINIO secrets', () => {
  it('never shows the root or a user secret key in a plan (text, JSON, Markdown), a probe, or a script but the secret files\' writes', async () => {
    const { desired } = await load(FULL());
    const planned = plan(desired, bare(desired), 'r1');
    expect(planned.plan.changes.length).toBeGreaterThan(0);
    for (const text of [renderText(planned.plan), renderJson(planned.plan), renderMarkdown(planned.plan)]) for (const secret of SECRETS) expect(text).not.toContain(secret);
    const carriers = new Set(['/etc/default/silo', '/root/.mcli/config.json', USERS_FILE]);
    for (const [id, script] of planned.scripts) {
      const carries = [...carriers].some((path) => id.endsWith(`|file:${path}`));
      for (const secret of SECRETS) {
        expect(script, id).not.toContain(secret);
        if (!carries) expect(script, id).not.toContain(Buffer.from(secret).toString('base64').slice(0, 12));
      }
    }
    for (const h of desired.hosts) for (const secret of SECRETS) expect(observeScript(h.resources, 'n0nce')).not.toContain(secret);
  });
});

describe('MINIO scripts sent to nodes', () => {
  const parses = (script: string): boolean => spawnSync('bash', ['-n'], { input: script }).status === 0;
  it('parse as bash, with and without https', async () => {
    const broken: string[] = [];
    for (const { desired } of [await load(FULL()), await load(FULL('minio_https: false'))]) {
      for (const h of desired.hosts) {
        if (!parses(observeScript(h.resources, 'n0nce'))) broken.push(`${h.host} observation`);
        for (const r of h.resources) if (!parses(kindOf(r.kind).apply(r.want, null))) broken.push(`${h.host} ${kindOf(r.kind).id(r.want)} apply`);
      }
    }
    expect(broken).toEqual([]);
  });
});
