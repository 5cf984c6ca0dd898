/**
 * Security issue #12 items 4 and 9, the pieces below the e2e test (test/e2e/linux-install.test.ts):
 * how a service-mode agent (root) starts a session process as the run-as user, and the rule for
 * where root may install. Real processes and real files; needs root for the setpriv part.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sessionSpawn } from '../../agent/session-host.js';
import { unsafeAncestor } from '../../agent/install/accounts.js';

const isRoot = process.getuid?.() === 0;
const tmp = mkdtempSync('/tmp/jump-priv-');
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('sessionSpawn: session processes of a service-mode agent', () => {
  it('refuses root, a uid-0 alias and a missing user, so no session process starts as root', () => {
    expect(() => sessionSpawn('/bin/sh', [], 'root')).toThrow(/"root" is root; sessions never run as root/);
    expect(() => sessionSpawn('/bin/sh', [], 'no-such-user-x')).toThrow(/"no-such-user-x" \(run_as\) does not exist/);
    expect(() => sessionSpawn('/bin/sh', [], '')).toThrow(/does not exist/);
  });

  it('user mode (no run_as): the agent\'s own user, environment minus JUMP_*', () => {
    process.env.JUMP_SECRET_TEST = 'x';
    const how = sessionSpawn('/bin/sh', ['-c', 'true'], undefined);
    delete process.env.JUMP_SECRET_TEST;
    expect(how.file).toBe('/bin/sh');
    expect(how.env.JUMP_SECRET_TEST).toBeUndefined();
  });

  it.runIf(isRoot)('runs as the user, with its supplementary groups, a clean environment and its home as cwd', () => {
    const name = `jcp${Math.random().toString(36).slice(2, 7)}`;
    const group = `${name}g`;
    execFileSync('groupadd', [group]);
    execFileSync('useradd', ['-m', '-s', '/bin/sh', '-G', group, name]);
    try {
      const uid = execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim();
      const gid = execFileSync('getent', ['group', group], { encoding: 'utf8' }).split(':')[2];
      process.env.JUMP_SECRET_TEST = 'leak';
      const how = sessionSpawn('/bin/sh', ['-c', 'id -u; id -G; pwd; echo "$HOME|${JUMP_SECRET_TEST:-none}|$TERM"'], name, 'xterm');
      delete process.env.JUMP_SECRET_TEST;
      const r = spawnSync(how.file, how.args, { env: how.env, cwd: how.cwd, encoding: 'utf8' });
      expect(r.stderr).toBe('');
      const [u, groups, cwd, env] = r.stdout.trim().split('\n');
      expect(u).toBe(uid);
      expect(groups.split(' ')).toContain(gid);
      expect(cwd).toBe(`/home/${name}`);
      expect(env).toBe(`/home/${name}|none|xterm`);
    } finally {
      execFileSync('userdel', ['-r', name], { stdio: 'ignore' });
      spawnSync('groupdel', [group]);
    }
  });
});

describe('unsafeAncestor: where a service-mode install may live', () => {
  it('accepts root-only chains and names the first directory another user could write', () => {
    expect(unsafeAncestor('/usr/lib')).toBeNull();
    const open = join(tmp, 'open');
    mkdirSync(open);
    chmodSync(open, 0o777);
    expect(unsafeAncestor(join(open))).toEqual({ path: '/tmp', why: 'writable by everyone' });
    if (!isRoot) return;
    chmodSync(tmp, 0o755);
    const link = join('/usr', `jump-priv-link-${process.pid}`);
    symlinkSync('/tmp', link);
    try {
      // A root-owned link into a world-writable dir: the resolved chain is checked too.
      expect(unsafeAncestor(link)).toEqual({ path: '/tmp', why: 'writable by everyone' });
    } finally {
      rmSync(link);
    }
  });
});
