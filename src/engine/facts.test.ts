/** The facts probe's output read back: memory, CPUs and filesystems, what PGSQL's tuning computes with. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ASSUMED_FACTS, compileKey, FACTS_PROBE, filesystemBytes, parseFacts } from './facts.js';

const OUT = ['os_id=debian', 'os_version=12', 'arch=x86_64', 'pm=apt', 'mem_kib=24683772', 'cpus=2', 'fs=264212084 /', 'fs=1048576 /data', 'fs=2097152 /data/postgres-old', 'fs=4096 /data'].join('\n');

describe('facts', () => {
  it('reads MemTotal in MiB rounded up, the CPUs and each filesystem (the first size of a mount listed twice)', () => {
    const f = parseFacts(OUT);
    expect(f).toMatchObject({ memMiB: 24106, cpus: 2 }); // ceil(24683772 / 1024)
    expect(f.filesystems).toEqual({ '/': 264212084, '/data': 1048576, '/data/postgres-old': 2097152 });
  });

  it('the probe, in shell builtins, reads this machine as /proc/meminfo, getconf, uname and df say', () => {
    const f = parseFacts(execFileSync('bash', ['-c', FACTS_PROBE], { encoding: 'utf8' }));
    const kib = Number(/^MemTotal:\s+(\d+)/m.exec(readFileSync('/proc/meminfo', 'utf8'))![1]);
    expect(f.memMiB).toBe(Math.ceil(kib / 1024));
    expect(f.cpus).toBe(Number(execFileSync('getconf', ['_NPROCESSORS_ONLN'], { encoding: 'utf8' })));
    expect(f.arch).toBe(execFileSync('uname', ['-m'], { encoding: 'utf8' }).trim());
    const df = execFileSync('df', ['-k', '--output=size,target', '-x', 'tmpfs', '-x', 'devtmpfs', '-x', 'squashfs', '-x', 'overlay'], { encoding: 'utf8' });
    const listed = df.split('\n').slice(1).filter(Boolean).map((l) => /^\s*(\d+) (.*)$/.exec(l)!);
    expect(Object.entries(f.filesystems)).toEqual(listed.filter(([, , mount], i) => listed.findIndex((m) => m[2] === mount) === i).map(([, kib, mount]) => [mount, Number(kib)]));
  });

  it('falls back to the assumed size when memory or CPUs could not be read', () => {
    expect(parseFacts('os_id=debian\nmem_kib=\ncpus=0\n')).toMatchObject({ memMiB: ASSUMED_FACTS.memMiB, cpus: ASSUMED_FACTS.cpus, filesystems: {} });
  });

  it('a path is on its longest mounted prefix, a whole path component', () => {
    const f = parseFacts(OUT);
    expect(filesystemBytes(f, '/data/postgres')).toBe(1048576 * 1024);
    expect(filesystemBytes(f, '/data')).toBe(1048576 * 1024);
    expect(filesystemBytes(f, '/database')).toBe(264212084 * 1024);
    expect(filesystemBytes(ASSUMED_FACTS, '/data/postgres')).toBeUndefined();
  });

  it('another size of node compiles again', () => {
    const f = parseFacts(OUT);
    expect(compileKey({ ...f, memMiB: 32768 })).not.toBe(compileKey(f));
    expect(compileKey({ ...f, cpus: 4 })).not.toBe(compileKey(f));
    expect(compileKey({ ...f, filesystems: { '/': 1 } })).not.toBe(compileKey(f));
    expect(compileKey({ ...f, codename: 'other' })).toBe(compileKey(f));
  });
});
