/**
 * The Windows service host (issue #16, items 4 and 7; #18's Windows self-uninstall), under wine:
 * the real service, started by wine's services.exe, runs the real jump client.
 *
 * - The MSI without NOSTART installs and starts the service; the client comes online at a real
 *   site; the detection key HKLM\Software\JumpClient gets Version and ClientId.
 * - The agent killed: the service restarts it. Wine's services.exe has no recovery actions (checked
 *   here: a killed service process stays STOPPED), so under wine the host restarts the agent after
 *   the same delays the installers give the SCM (10 s first).
 * - `sc stop` stops the service and the agent; a repair (msiexec /f) leaves it running.
 * - A permanent refusal (the client deleted at the site): the service stops with exit code 3 and an
 *   Event Log error; wine's ReportEvent keeps nothing readable, so the host's log line
 *   (%ProgramData%\JumpClient\Logs\JumpClient.log) is what the test reads; no restart follows.
 * - Past jump-clients.max-offline the MSI's agent runs `msiexec /x {ProductCode} /qn` outside the
 *   service's job: the product, its files and its service are gone. (The EXE's self-uninstall, a
 *   copy of jump-client.exe in %TEMP%, hangs under wine when started from the service: not tested
 *   here; docs/decisions.md.)
 * - The per-installer EXE as an administrator: the service JumpClient-<uid8> starts and runs the agent.
 *
 * One wine prefix for the file; wine programs run one at a time.
 */
import { newWinePrefix } from '../helpers/wine.js';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cleanup, ROOT, run, tempDir, waitFor } from '../helpers/processes.js';
import { detectionKey, exeServiceName, takeInstallLock, windowsInstallExit, WINDOWS_EXIT } from '../../agent/install/windows.js';
import { windowsUninstallKind } from '../../agent/self-uninstall.js';
import { JumpError } from '../../protocol/errors.js';
import { jump, listClients, startTestSite, type TestSite } from '../helpers/site.js';

const PKG = join(ROOT, 'dist', 'package', 'win-x64');

describe('the Windows install rules (issue #16 item 7, #18), without wine', () => {
  it('exit codes: 0, 1618 for a held install lock, 1603 for every other failure; 3010 never', () => {
    expect(windowsInstallExit(null)).toBe(0);
    expect(windowsInstallExit('INSTALL_IN_PROGRESS')).toBe(1618);
    for (const c of ['INSTALL_FAILED', 'VALIDATION_FAILED', 'INSTALLER_EXPIRED', 'INSTALL_DIR_EXISTS', 'INSTALLER_REVOKED'] as const) expect(windowsInstallExit(c)).toBe(1603);
    expect(WINDOWS_EXIT.REBOOT_REQUIRED).toBe(3010);
  });

  it('the service host names itself: VERSIONINFO with its description, product and package.json\'s version (issue #16 item 6)', () => {
    const exe = readFileSync(join(PKG, 'jump-client-service.exe'));
    const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    const u16 = (t: string) => Buffer.from(t, 'utf16le');
    expect(exe.includes(u16('VS_VERSION_INFO'))).toBe(true);
    for (const [k, v] of [['FileDescription', 'Jump Client service host'], ['ProductName', 'Jump Client'], ['FileVersion', version], ['OriginalFilename', 'jump-client-service.exe']]) {
      const at = exe.indexOf(u16(k));
      expect(at, k).toBeGreaterThan(0);
      // The value follows its key (UTF-16, NUL-padded to 4 bytes) within a few bytes.
      expect(exe.subarray(at, at + 2 * (k.length + v.length) + 16).includes(u16(v)), `${k} = ${v}`).toBe(true);
    }
  });

  it('service names and detection keys: stable per installer; the MSI\'s at the top', () => {
    expect(exeServiceName('0123456789abcdef')).toBe('JumpClient-01234567');
    expect(detectionKey('JumpClient')).toBe('Software\\JumpClient');
    expect(detectionKey('JumpClient-01234567')).toBe('Software\\JumpClient\\JumpClient-01234567');
  });

  it('the install lock: a live holder refuses with INSTALL_IN_PROGRESS naming its pid; a dead holder\'s lock is taken over; release removes it', () => {
    const base = tempDir('jump-lock-');
    const env = { ProgramData: base };
    const file = join(base, 'JumpClient', 'install.lock');
    const release = takeInstallLock(true, env);
    expect(readFileSync(file, 'utf8').trim()).toBe(String(process.pid));
    let err: unknown;
    try {
      takeInstallLock(true, env);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(JumpError);
    expect((err as JumpError).code).toBe('INSTALL_IN_PROGRESS');
    expect((err as JumpError).message).toContain(`pid ${process.pid}`);
    release();
    expect(existsSync(file)).toBe(false);
    // A crashed install's lock (a pid that does not run): taken over.
    mkdirSync(join(base, 'JumpClient'), { recursive: true });
    writeFileSync(file, '2147483646\n');
    const again = takeInstallLock(true, env);
    expect(readFileSync(file, 'utf8').trim()).toBe(String(process.pid));
    again();
  });

  it('self-uninstall: the MSI\'s when HKLM\\Software\\JumpClient names this dir with a ProductCode; the EXE\'s when install.conf is there; else none', () => {
    const dir = tempDir('jump-su-');
    const code = '{4037BCE3-9DDE-5E04-8290-EB6276FDEB6D}';
    expect(windowsUninstallKind(dir, { InstallDir: `${dir}/`, ProductCode: code })).toEqual({ kind: 'msi', productCode: code });
    expect(windowsUninstallKind(dir, { InstallDir: `${dir}/`, ProductCode: 'x; rm -rf /' })).toBeNull();
    expect(windowsUninstallKind(dir, { InstallDir: `${dir}-other`, ProductCode: code })).toBeNull();
    writeFileSync(join(dir, 'install.conf'), 'mode=service\nrun_as=LocalSystem\nunit=JumpClient-01234567\n');
    expect(windowsUninstallKind(dir, {})).toEqual({ kind: 'exe' });
    rmSync(join(dir, 'install.conf'));
  });
});

describe('the Windows service host under wine (issue #16 item 4)', () => {
  let site: TestSite;
  let env: NodeJS.ProcessEnv;
  let outDir: string;
  let n = 0;
  const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

  /** A Windows program under wine; stdout to a file (wine's console breaks on a pipe). */
  async function wine(args: string[]) {
    const out = join(outDir, `out-${n++}.txt`);
    const r = await run('sh', ['-c', 'wine "$@" > "$OUT" 2>&1', 'wine', ...args], { env: { ...env, OUT: out } });
    return { code: r.code, stdout: existsSync(out) ? readFileSync(out, 'utf8') : '' };
  }

  /** `sc query NAME`: { state, exit } (exit: SERVICE_EXIT_CODE), or null when there is no such service. */
  async function service(name: string): Promise<{ state: string; win32: number; exit: number } | null> {
    const r = await wine(['sc', 'query', name]);
    const state = /STATE\s*:\s*\d+\s+(\w+)/.exec(r.stdout)?.[1];
    if (!state) return null;
    return { state, win32: Number(/WIN32_EXIT_CODE\s*:\s*(\d+)/.exec(r.stdout)?.[1]), exit: Number(/SERVICE_EXIT_CODE\s*:\s*(\d+)/.exec(r.stdout)?.[1]) };
  }

  /** The values of a registry key (reg query), name to data. */
  async function regValues(key: string): Promise<Record<string, string>> {
    const r = await wine(['reg', 'query', key]);
    return Object.fromEntries([...r.stdout.matchAll(/^\s+(\S+)\s+REG_\w+\s+(.*?)\s*$/gm)].map((m) => [m[1], m[2]]));
  }

  /** Linux pids of this prefix's wine processes whose command line holds `pattern`. */
  function winePids(pattern: RegExp): number[] {
    const pids: number[] = [];
    for (const p of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
      try {
        const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' ');
        if (!pattern.test(cmd)) continue;
        if (readFileSync(`/proc/${p}/environ`, 'utf8').split('\0').includes(`WINEPREFIX=${env.WINEPREFIX}`)) pids.push(Number(p));
      } catch {
        /* gone, or not ours to read */
      }
    }
    return pids;
  }
  const agentPids = (dir: string) => winePids(new RegExp(`${dir.replace(/\\/g, '\\\\')}\\\\jump-client\\.exe run`, 'i'));

  /** The service host's log (%ProgramData%, which is C:\users\Public or C:\ProgramData under wine). */
  /** The host's log of service `name`: both places wine may map %ProgramData% to, joined (either may hold an older run's file). */
  function hostLog(name: string): string {
    let text = '';
    for (const d of ['ProgramData', join('users', 'Public')]) {
      const f = join(env.WINEPREFIX!, 'drive_c', d, 'JumpClient', 'Logs', `${name}.log`);
      if (existsSync(f)) text += readFileSync(f, 'utf8');
    }
    return text;
  }

  async function newMsi(s: TestSite): Promise<{ uid: string; key_info: string; msi: string; file: string }> {
    const r = await jump(s.consoleDir, ['installer', 'create', '--platform', 'windows-x64', '--out', tempDir('jump-svc-msi-'), '--json']);
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as { uid: string; key_info: string; msi: string; file: string };
  }

  beforeAll(async () => {
    expect(existsSync(join(PKG, 'jump-client-service.exe')), 'run `npm run package -- --platform win-x64` first').toBe(true);
    outDir = tempDir('jump-wine-svc-out-');
    [site, env] = await Promise.all([startTestSite(), newWinePrefix('svc')]);
  }, 180_000);

  afterEach((ctx) => {
    // On a failure: what the service host and the agents logged.
    if (ctx.task.result?.state !== 'fail') return;
    const drive = join(env.WINEPREFIX!, 'drive_c');
    const agentLogs = ['JCS', 'JCM', 'JCE'].map((d) => join(drive, d, 'config', 'agent.log')).filter((f) => existsSync(f));
    for (const d of ['ProgramData', join('users', 'Public')]) {
      const f = join(drive, d, 'JumpClient', 'Logs', 'self-uninstall-msi.log');
      if (existsSync(f)) {
        const raw = readFileSync(f);
        const text = raw[0] === 0xff && raw[1] === 0xfe ? raw.subarray(2).toString('utf16le') : raw.toString('latin1');
        console.error(`${f}:\n${text.split(/\r?\n/).filter((l) => /error|fail|jump-client|return value 3|Note:/i.test(l)).slice(-40).join('\n')}`);
      }
    }
    console.error(`host log:\n${hostLog('JumpClient')}\n${agentLogs.map((f) => `${f}:\n${readFileSync(f, 'utf8').slice(-3000)}`).join('\n')}`);
  });

  afterAll(async () => {
    if (process.env.JUMP_TEST_KEEP) return;
    await run('wineserver', ['-k'], { env });
    await cleanup();
  });

  it('the MSI starts the real service; a killed agent is restarted; sc stop stops it; a repair leaves it running; a deleted client stops it for good with exit 3 and an event log error', async () => {
    const inst = await newMsi(site);
    const r = await wine(['msiexec', '/i', inst.msi, `KEY_INFO=${inst.key_info}`, 'installdir=C:\\JCS', '/quiet']);
    expect(r.code, r.stdout).toBe(0);
    expect(await service('JumpClient')).toMatchObject({ state: 'RUNNING' });
    const online = async () => (await listClients(site.api)).items.find((c) => c.installer === inst.uid && c.status === 'online');
    const mine = await waitFor(online, 60_000, 250, 'the service\'s jump client online');
    // Issue #16 item 7: the detection rule's key, ClientId written by the host once enrolled.
    await waitFor(async () => (await regValues('HKLM\\Software\\JumpClient')).ClientId === String(mine.id), 20_000, 500, 'ClientId in the registry');
    expect(await regValues('HKLM\\Software\\JumpClient')).toMatchObject({ Version: version, ServiceName: 'JumpClient', InstallDir: 'C:\\JCS\\' });
    expect(hostLog('JumpClient')).toMatch(/started the agent \(pid \d+\): "C:\\JCS\\jump-client\.exe" run --config "C:\\JCS\\config"/);

    // Killed: wine's SCM would leave it down (no recovery actions); the host restarts it after 10 s.
    const [pid] = agentPids('C:\\JCS');
    expect(pid).toBeGreaterThan(0);
    process.kill(pid, 'SIGKILL');
    await waitFor(async () => (await listClients(site.api)).items.find((c) => c.id === mine.id)?.status === 'offline', 20_000, 250, 'offline after the kill');
    await waitFor(() => /the agent failed \(exit \d+\); restarting it in 10000 ms/.test(hostLog('JumpClient')), 10_000, 250, 'the host noticed');
    await waitFor(async () => (await online())?.id === mine.id, 40_000, 250, 'online again, the same client');
    expect(await service('JumpClient')).toMatchObject({ state: 'RUNNING' });

    // sc stop: the service and its agent stop.
    expect((await wine(['sc', 'stop', 'JumpClient'])).code).toBe(0);
    await waitFor(async () => (await service('JumpClient'))?.state === 'STOPPED', 30_000, 250, 'STOPPED');
    await waitFor(() => agentPids('C:\\JCS').length === 0, 10_000, 100, 'the agent gone');
    await waitFor(async () => (await listClients(site.api)).items.find((c) => c.id === mine.id)?.status === 'offline', 20_000, 250, 'offline');

    // A repair: the configure action starts it again. What `msiexec /fa` does, spelled as properties:
    // wine's msiexec /f does not take a ProductCode ("not implemented") and misreads a package path.
    const rep = await wine(['msiexec', '/i', inst.msi, 'REINSTALL=ALL', 'REINSTALLMODE=vamus', '/quiet']);
    expect(rep.code, rep.stdout).toBe(0);
    expect(await service('JumpClient')).toMatchObject({ state: 'RUNNING' });
    await waitFor(async () => (await online())?.id === mine.id, 60_000, 250, 'online after the repair');

    // Deleted at the site: the agent exits 3; the service stops with that code and does not restart.
    expect((await jump(site.consoleDir, ['clients', 'delete', String(mine.id), '--yes'])).code).toBe(0);
    await waitFor(async () => (await service('JumpClient'))?.state === 'STOPPED', 30_000, 250, 'STOPPED after the refusal');
    expect(await service('JumpClient')).toMatchObject({ state: 'STOPPED', win32: 1066, exit: 3 }); // ERROR_SERVICE_SPECIFIC_ERROR
    expect(hostLog('JumpClient')).toMatch(/event log \(error, id 1, (written|not written)\): Jump Client: the site refused this jump client for good/);
    // The host itself has ended (wine's SCM restarts nothing: only a host still running could), and no agent runs.
    await waitFor(() => winePids(/C:\\JCS\\jump-client-service\.exe/i).length === 0, 10_000, 100, 'the service host gone');
    expect(agentPids('C:\\JCS')).toEqual([]);
    expect(hostLog('JumpClient')).not.toMatch(/restarting it in \d+ ms \(failure 2\)/);
    // Nor at the next boot: demand start only (a wine command after wineserver has exited boots the
    // prefix again, which starts the automatic services).
    expect((await wine(['reg', 'query', 'HKLM\\System\\CurrentControlSet\\Services\\JumpClient', '/v', 'Start'])).stdout).toMatch(/Start\s+REG_DWORD\s+0x3/);
    await run('wineserver', ['-k'], { env });
    expect(await service('JumpClient')).toMatchObject({ state: 'STOPPED' });

    const un = await wine(['msiexec', '/x', inst.msi, '/quiet']);
    expect(un.code, un.stdout).toBe(0);
    expect(await service('JumpClient')).toBeNull();
    // The detection key keeps nothing of the uninstalled client (ClientId came from the host, not the MSI).
    expect(await regValues('HKLM\\Software\\JumpClient')).not.toHaveProperty('ClientId');
  }, 300_000);

  it('issue #18 on Windows: past jump-clients.max-offline the MSI install runs msiexec /x itself, outside the service\'s job: product, files and service gone; an EXE install meanwhile exits 1618 (the lock)', async () => {
    const s2 = await startTestSite();
    expect((await jump(s2.consoleDir, ['settings', 'set', 'jump-clients.max-offline', '5s'])).code).toBe(0);
    const inst = await newMsi(s2);
    const r = await wine(['msiexec', '/i', inst.msi, `KEY_INFO=${inst.key_info}`, 'installdir=C:\\JCM', '/quiet']);
    expect(r.code, r.stdout).toBe(0);
    await waitFor(async () => (await listClients(s2.api)).items.find((c) => c.installer === inst.uid && c.status === 'online'), 60_000, 250, 'online');
    expect((await regValues('HKLM\\Software\\JumpClient')).ProductCode).toMatch(/^\{[0-9A-F-]{36}\}$/);

    // Another install holds the lock (the running agent's Windows pid, from the host's log): the EXE exits 1618 (82 under wine).
    const held = await waitFor(() => Number(/started the agent \(pid (\d+)\): "C:\\JCM/.exec(hostLog('JumpClient'))?.[1]) || null, 15_000, 250, 'the host log naming the agent it started');
    expect(held).toBeGreaterThan(0);
    const locks = ['ProgramData', join('users', 'Public')].map((d) => join(env.WINEPREFIX!, 'drive_c', d, 'JumpClient'));
    for (const l of locks) {
      mkdirSync(l, { recursive: true });
      writeFileSync(join(l, 'install.lock'), `${held}\n`);
    }
    const busy = await wine([inst.file, '--install-dir', 'C:\\JCB']);
    for (const l of locks) rmSync(join(l, 'install.lock'), { force: true });
    expect(busy.code, busy.stdout).toBe(1618 & 0xff);
    expect(busy.stdout).toMatch(new RegExp(`INSTALL_IN_PROGRESS: .*Another install \\(pid ${held}\\) holds`));
    expect(existsSync(join(env.WINEPREFIX!, 'drive_c', 'JCB'))).toBe(false);

    s2.proc.child.kill('SIGTERM');
    await s2.proc.exited;
    const drive = join(env.WINEPREFIX!, 'drive_c', 'JCM');
    await waitFor(async () => !existsSync(join(drive, 'jump-client.exe')) && (await service('JumpClient')) === null, 90_000, 500, 'the product removed by its own msiexec /x');
    expect(agentPids('C:\\JCM')).toEqual([]);
    expect((await regValues('HKLM\\Software\\JumpClient')).ProductCode).toBeUndefined();
    expect(hostLog('JumpClient')).toMatch(/the agent started its own uninstall \(exit 5/);
  }, 180_000);

  it('the per-installer EXE as an administrator: the service JumpClient-<uid8> starts, its client comes online, its detection key has Version and ClientId; a second install from the installer is refused (1603); uninstall removes them', async () => {
    const inst = await newMsi(site);
    const name = `JumpClient-${inst.uid.slice(0, 8)}`;
    const r = await wine([inst.file, '--install-dir', 'C:\\JCE']);
    expect(r.code, r.stdout).toBe(0);
    expect(await service(name)).toMatchObject({ state: 'RUNNING' });
    const mine = await waitFor(async () => (await listClients(site.api)).items.find((c) => c.installer === inst.uid && c.status === 'online'), 60_000, 250, 'online');
    const key = `HKLM\\Software\\JumpClient\\${name}`;
    await waitFor(async () => (await regValues(key)).ClientId === String(mine.id), 20_000, 500, 'ClientId');
    expect(await regValues(key)).toMatchObject({ Version: version, InstallDir: 'C:\\JCE', ServiceName: name });
    // Windows exit 1603; wine passes on its low 8 bits (67).
    const again = await wine([inst.file, '--install-dir', 'C:\\JCE2']);
    expect(again.code, again.stdout).toBe(1603 & 0xff);
    expect(again.stdout).toContain(`the service ${name} exists`);
    const un = await wine(['C:\\JCE\\jump-client.exe', 'uninstall', '--install-dir', 'C:\\JCE']);
    expect(un.code, un.stdout).toBe(0);
    expect(await service(name)).toBeNull();
    expect(await regValues(key)).toEqual({});
    await waitFor(() => agentPids('C:\\JCE').length === 0, 10_000, 100, 'the agent gone');
  }, 180_000);

  it('attack: %ProgramData%\\JumpClient planted before the install (here a file in its place, with a Logs file planted too): the EXE install moves it aside whole, untouched, and works in a fresh dir', async () => {
    const data = join(env.WINEPREFIX!, 'drive_c', 'ProgramData', 'JumpClient');
    rmSync(data, { recursive: true, force: true });
    writeFileSync(data, 'planted by another user\n');
    const inst = await newMsi(site);
    const r = await wine([inst.file, '--install-dir', 'C:\\JCP', '--nostart']);
    expect(r.code, r.stdout).toBe(0);
    expect(statSync(data).isDirectory()).toBe(true);
    const aside = readdirSync(dirname(data)).filter((f) => f.startsWith('JumpClient.untrusted-'));
    expect(aside).toHaveLength(1);
    expect(readFileSync(join(dirname(data), aside[0]), 'utf8')).toBe('planted by another user\n');
    // A Logs that is not a directory is moved aside as well when the service host prepares the dirs.
    rmSync(join(data, 'Logs'), { recursive: true, force: true });
    writeFileSync(join(data, 'Logs'), 'planted\n');
    const host = await wine(['C:\\JCP\\jump-client-service.exe', '--secure-data-dir']);
    expect(host.code, host.stdout).toBe(0);
    expect(host.stdout).toMatch(/^ok C:\\ProgramData\\JumpClient\r?$/m);
    expect(host.stdout).toMatch(/^moved-aside C:\\ProgramData\\JumpClient\\Logs -> C:\\ProgramData\\JumpClient\\Logs\.untrusted-\d+\r?$/m);
    expect(statSync(join(data, 'Logs')).isDirectory()).toBe(true);
    const un = await wine(['C:\\JCP\\jump-client.exe', 'uninstall', '--install-dir', 'C:\\JCP']);
    expect(un.code, un.stdout).toBe(0);
  }, 180_000);
});
