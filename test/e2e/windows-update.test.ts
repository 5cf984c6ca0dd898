/**
 * Self-update on Windows (issue #17, "one Windows case under wine: the service-mode exe swaps and
 * restarts"), under wine, against the real site:
 *
 * - A: dist/package/win-x64 (`npm run package -- --platform win-x64`), whose MSI installs the
 *   service JumpClient (packaging/service-host.c) with its agent running against the site;
 * - B: the same sources built as client version 0.1.1 (`packaging/build.mjs --platform win-x64
 *   --client-version 0.1.1 --out .cache/winupd-B`; built once, a rebuild with the same inputs is
 *   skipped by build.mjs), imported with `jump-site builds import` beside the running site.
 *
 * The agent downloads and verifies B, renames its running jump-client.exe aside to
 * jump-client.exe.old, moves B in, starts its watchdog outside the service's job (the host's
 * --detach) and exits 6; the host restarts it at once on B. Asserted: the client is online on B,
 * the service RUNNING, jump-client.exe is B's bytes, jump-client.exe.old and the state file are gone
 * once healthy, the host logged the exit-6 restart (no failure delay), and the watchdog saw B
 * online.
 */
import { newWinePrefix } from '../helpers/wine.js';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cleanup, ROOT, run, tempDir, waitFor } from '../helpers/processes.js';
import { listClients, jump, startTestSite, type TestSite } from '../helpers/site.js';
import { oldExePath, readUpdateState, runnerOf, swapInBuild, windowsServiceName, writeUpdateState, type UpdateState } from '../../agent/update.js';

const PKG = join(ROOT, 'dist', 'package', 'win-x64');
const SITE_BIN = join(ROOT, 'dist', 'site', 'main.js');
const OUT_B = join(ROOT, '.cache', 'winupd-B');
const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

describe('the Windows update rules, without wine', () => {
  it('the runner is the Windows service only for a service name of ours from the host, on Windows', () => {
    expect(runnerOf(null, { JUMP_CLIENT_SERVICE: 'JumpClient' }, 'win32')).toEqual({ runner: 'windows-service', service: 'JumpClient' });
    expect(runnerOf(null, { JUMP_CLIENT_SERVICE: 'JumpClient-0123abcd' }, 'win32')).toEqual({ runner: 'windows-service', service: 'JumpClient-0123abcd' });
    // Not a name the installers make (sc would be told to stop someone else's service): not ours.
    for (const bad of ['Spooler', 'JumpClient-0123abcd & calc', 'JumpClient-XYZ', '']) expect(windowsServiceName({ JUMP_CLIENT_SERVICE: bad }, 'win32'), bad).toBeNull();
    expect(windowsServiceName({ JUMP_CLIENT_SERVICE: 'JumpClient' }, 'linux')).toBeNull();
    expect(runnerOf(null, {}, 'win32')).toEqual({ runner: 'init-script' });
  });

  it('the swap renames the running exe aside to jump-client.exe.old and the new one in; a failed move puts the old one back', () => {
    const d = tempDir('jump-winswap-');
    const exe = join(d, 'jump-client.exe');
    expect(oldExePath(exe)).toBe(`${exe}.old`);
    writeFileSync(exe, 'A');
    writeFileSync(join(d, 'B.part'), 'B');
    swapInBuild(exe, join(d, 'B.part'), `${exe}.old`, 'win32');
    expect(readFileSync(exe, 'utf8')).toBe('B');
    expect(readFileSync(`${exe}.old`, 'utf8')).toBe('A');
    // The new file missing: the rename fails, and jump-client.exe is A again.
    expect(() => swapInBuild(exe, join(d, 'missing.part'), `${exe}.old`, 'win32')).toThrow();
    expect(readFileSync(exe, 'utf8')).toBe('B');
  });

  it('a Windows state file is read despite the 0666 mode Node reports there (the DACL guards it); on POSIX that mode is refused', () => {
    const d = tempDir('jump-winstate-');
    const f = join(d, 'state.json');
    const state: UpdateState = { v: 1, phase: 'installing', from: '0.1.0+a', to: '0.1.1+b', install_dir: d, exe: join(d, 'jump-client.exe'), old: join(d, 'jump-client.exe.old'), runner: 'windows-service', service: 'JumpClient', health_timeout_ms: 1000, deadline_mono_ms: 1, deadline_at: new Date().toISOString() };
    writeUpdateState(f, state);
    chmodSync(f, 0o666);
    expect(readUpdateState(f, -1, 'win32')).toMatchObject({ runner: 'windows-service', service: 'JumpClient' });
    expect(() => readUpdateState(f, -1, 'linux')).toThrow(/world-writable/);
    // A service name not of ours in the state: refused.
    writeFileSync(f, JSON.stringify({ ...state, service: 'Spooler' }));
    expect(() => readUpdateState(f, -1, 'win32')).toThrow(/service/);
  });
});

describe('self-update of a Windows service-mode jump client under wine (issue #17)', () => {
  let site: TestSite;
  let env: NodeJS.ProcessEnv;
  let outDir: string;
  let n = 0;
  let versionA: string;
  let versionB: string;
  let inst: { uid: string; key_info: string; msi: string };
  const mine = async () => (await listClients(site.api)).items.find((c) => c.installer === inst.uid);

  /** A Windows program under wine; stdout to a file (wine's console breaks on a pipe). */
  async function wine(args: string[]) {
    const out = join(outDir, `out-${n++}.txt`);
    const r = await run('sh', ['-c', 'wine "$@" > "$OUT" 2>&1', 'wine', ...args], { env: { ...env, OUT: out } });
    return { code: r.code, stdout: existsSync(out) ? readFileSync(out, 'utf8') : '' };
  }

  /** `sc query NAME`'s state word, or null when there is no such service. */
  async function serviceState(name: string): Promise<string | null> {
    return /STATE\s*:\s*\d+\s+(\w+)/.exec((await wine(['sc', 'query', name])).stdout)?.[1] ?? null;
  }

  /** The service host's log (%ProgramData% is C:\users\Public or C:\ProgramData under wine). */
  function hostLog(name: string): string {
    for (const d of ['ProgramData', join('users', 'Public')]) {
      const f = join(env.WINEPREFIX!, 'drive_c', d, 'JumpClient', 'Logs', `${name}.log`);
      if (existsSync(f)) return readFileSync(f, 'utf8');
    }
    return '';
  }

  const drive = () => join(env.WINEPREFIX!, 'drive_c', 'JCU');

  beforeAll(async () => {
    expect(existsSync(join(PKG, 'jump-client-service.exe')), 'run `npm run package -- --platform win-x64` first').toBe(true);
    versionA = (JSON.parse(readFileSync(join(PKG, 'build.json'), 'utf8')) as { version: string }).version;
    outDir = tempDir('jump-wine-upd-out-');
    const [s, w, b] = await Promise.all([
      startTestSite(),
      newWinePrefix('upd'),
      // B: skipped by build.mjs when its inputs are unchanged since the last run.
      run(process.execPath, [join(ROOT, 'packaging', 'build.mjs'), '--platform', 'win-x64', '--client-version', '0.1.1', '--out', OUT_B, '--quiet']),
    ]);
    site = s;
    env = w;
    expect(b.code, b.stderr).toBe(0);
    versionB = (JSON.parse(readFileSync(join(OUT_B, 'win-x64', 'build.json'), 'utf8')) as { version: string }).version;
    expect(versionB).toMatch(/^0\.1\.1\+/);
    expect(versionB).not.toBe(versionA);
  }, 900_000);

  afterEach((ctx) => {
    if (ctx.task.result?.state !== 'fail') return;
    const files = ['config\\agent.log', 'update\\watchdog.log'].map((f) => join(drive(), ...f.split('\\'))).filter((f) => existsSync(f));
    console.error(`host log:\n${hostLog('JumpClient')}\n${files.map((f) => `${f}:\n${readFileSync(f, 'utf8').slice(-4000)}`).join('\n')}`);
  });

  afterAll(async () => {
    if (process.env.JUMP_TEST_KEEP) return;
    await run('wineserver', ['-k'], { env });
    await cleanup();
  });

  it('the MSI\'s service swaps jump-client.exe for B (the old one renamed aside), restarts through the host at once, comes back online on B; jump-client.exe.old is gone once healthy', async () => {
    const created = await jump(site.consoleDir, ['installer', 'create', '--platform', 'windows-x64', '--out', tempDir('jump-upd-msi-'), '--json']);
    expect(created.code, created.stderr).toBe(0);
    inst = JSON.parse(created.stdout) as { uid: string; key_info: string; msi: string };
    const r = await wine(['msiexec', '/i', inst.msi, `KEY_INFO=${inst.key_info}`, 'installdir=C:\\JCU', '/quiet']);
    expect(r.code, r.stdout).toBe(0);
    await waitFor(async () => (await mine())?.status === 'online', 60_000, 250, 'the service\'s jump client online on A');
    expect((await mine())?.version).toBe(versionA);
    const exe = join(drive(), 'jump-client.exe');
    expect(sha256(exe)).toBe(sha256(join(PKG, 'jump-client.exe')));

    // The running site picks the import up within seconds and offers B to the connected client.
    const imp = await run(process.execPath, [SITE_BIN, 'builds', 'import', OUT_B, '--data', site.dataDir]);
    expect(imp.code, imp.stderr).toBe(0);
    await waitFor(async () => {
      const c = await mine();
      return c?.status === 'online' && c.version === versionB;
    }, 120_000, 500, 'the jump client online on B');

    expect(await serviceState('JumpClient')).toBe('RUNNING');
    expect(sha256(exe)).toBe(sha256(join(OUT_B, 'win-x64', 'jump-client.exe')));
    await waitFor(() => !existsSync(`${exe}.old`), 30_000, 250, 'jump-client.exe.old removed once healthy');
    expect(existsSync(join(drive(), 'update', 'state.json'))).toBe(false);
    // Restarted by the host at once on exit 6, not after a failure delay.
    const log = hostLog('JumpClient');
    expect(log).toMatch(/the agent installed an update \(exit 6\); restarting it now/);
    expect(log).not.toMatch(/the agent failed/);
    // The watchdog ran (outside the job: it outlived the agent's exit) and saw B online.
    expect(readFileSync(join(drive(), 'update', 'watchdog.log'), 'utf8')).toMatch(new RegExp(`online on ${versionB.replace(/[.+]/g, '\\$&')}`));
  }, 300_000);

  it('a build that never comes online (C: B\'s exe with bytes appended, so it still says B) is rolled back: sc stop, jump-client.exe.old back, sc start; UPDATE_FAILED reported; online on B again', async () => {
    expect((await mine())?.version, 'the test above put B in place').toBe(versionB);
    const outC = tempDir('jump-winupd-C-');
    mkdirSync(join(outC, 'win-x64'));
    const versionC = '0.1.2+badbadbadbad';
    const bytesB = readFileSync(join(OUT_B, 'win-x64', 'jump-client.exe'));
    writeFileSync(join(outC, 'win-x64', 'jump-client.exe'), Buffer.concat([bytesB, Buffer.alloc(4096, 0x43)]));
    writeFileSync(join(outC, 'win-x64', 'build.json'), JSON.stringify({ platform: 'win-x64', version: versionC, hash: 'bad'.repeat(8) }));
    const set = await run(process.execPath, [SITE_BIN, 'settings', 'set', 'updates.health-timeout', '8s', '--data', site.dataDir]);
    expect(set.code, set.stderr).toBe(0);
    const imp = await run(process.execPath, [SITE_BIN, 'builds', 'import', outC, '--data', site.dataDir]);
    expect(imp.code, imp.stderr).toBe(0);

    const exe = join(drive(), 'jump-client.exe');
    const failed = async () => {
      const r = await jump(site.consoleDir, ['updates', 'status', '--json']);
      return (JSON.parse(r.stdout) as { failed: { version: string; code: string; reason?: string }[] }).failed.find((f) => f.version === versionC);
    };
    const f = await waitFor(failed, 120_000, 500, 'the rollback of C reported');
    expect(f).toMatchObject({ code: 'UPDATE_FAILED', reason: expect.stringMatching(/did not come online within 8 s/) });
    await waitFor(async () => {
      const c = await mine();
      return c?.status === 'online' && c.version === versionB;
    }, 60_000, 500, 'online on B again');
    expect(await serviceState('JumpClient')).toBe('RUNNING');
    expect(sha256(exe)).toBe(sha256(join(OUT_B, 'win-x64', 'jump-client.exe')));
    expect(existsSync(`${exe}.old`)).toBe(false);
    const wlog = readFileSync(join(drive(), 'update', 'watchdog.log'), 'utf8');
    expect(wlog).toMatch(new RegExp(`rolling back to ${versionB.replace(/[.+]/g, '\\$&')}: did not come online`));
    expect(hostLog('JumpClient')).toMatch(/stop requested[\s\S]*service stopped[\s\S]*service starting/);

    const un = await wine(['msiexec', '/x', inst.msi, '/quiet']);
    expect(un.code, un.stdout).toBe(0);
  }, 300_000);
});
