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
 * - Past jump-clients.max-offline the agent runs `msiexec /x {ProductCode} /qn` outside the
 *   service's job: the product, its files and its service are gone.
 * - The per-installer EXE as an administrator: the service JumpClient-<uid8> starts and runs the agent.
 *
 * One wine prefix for the file; wine programs run one at a time.
 */
import { chmodSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cleanup, ROOT, run, tempDir, waitFor } from '../helpers/processes.js';
import { jump, listClients, startTestSite, type TestSite } from '../helpers/site.js';

const PKG = join(ROOT, 'dist', 'package', 'win-x64');

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
  function hostLog(name: string): string {
    for (const d of ['ProgramData', join('users', 'Public')]) {
      const f = join(env.WINEPREFIX!, 'drive_c', d, 'JumpClient', 'Logs', `${name}.log`);
      if (existsSync(f)) return readFileSync(f, 'utf8');
    }
    return '';
  }

  async function newMsi(s: TestSite): Promise<{ uid: string; key_info: string; msi: string; file: string }> {
    const r = await jump(s.consoleDir, ['installer', 'create', '--platform', 'windows-x64', '--out', tempDir('jump-svc-msi-'), '--json']);
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as { uid: string; key_info: string; msi: string; file: string };
  }

  beforeAll(async () => {
    expect(existsSync(join(PKG, 'jump-client-service.exe')), 'run `npm run package -- --platform win-x64` first').toBe(true);
    const prefix = tempDir('jump-wine-svc-');
    chmodSync(prefix, 0o700);
    outDir = tempDir('jump-wine-svc-out-');
    env = { WINEPREFIX: prefix, WINEDEBUG: '-all', WINEDLLOVERRIDES: 'mscoree,mshtml=' };
    const [s, w] = await Promise.all([startTestSite(), run('wine', ['reg', 'add', 'HKCU\\Software\\Wine', '/v', 'Version', '/d', 'win10', '/f'], { env })]);
    site = s;
    expect(w.code).toBe(0);
  }, 180_000);

  afterEach((ctx) => {
    // On a failure: what the service host and the agents logged.
    if (ctx.task.result?.state !== 'fail') return;
    const drive = join(env.WINEPREFIX!, 'drive_c');
    const agentLogs = ['JCS', 'JCM', 'JCE'].map((d) => join(drive, d, 'config', 'agent.log')).filter((f) => existsSync(f));
    console.error(`host log:\n${hostLog('JumpClient')}\n${agentLogs.map((f) => `${f}:\n${readFileSync(f, 'utf8').slice(-3000)}`).join('\n')}`);
  });

  afterAll(async () => {
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
    // Past the first restart delay: still stopped, no agent.
    await new Promise((res) => setTimeout(res, 11_000));
    expect(await service('JumpClient')).toMatchObject({ state: 'STOPPED' });
    expect(agentPids('C:\\JCS')).toEqual([]);
    expect(hostLog('JumpClient')).not.toMatch(/restarting it in 10000 ms \(failure 2\)/);

    const un = await wine(['msiexec', '/x', inst.msi, '/quiet']);
    expect(un.code, un.stdout).toBe(0);
    expect(await service('JumpClient')).toBeNull();
  }, 300_000);

  it('issue #18 on Windows: past jump-clients.max-offline the MSI install runs msiexec /x itself, outside the service\'s job: product, files and service gone', async () => {
    const s2 = await startTestSite();
    expect((await jump(s2.consoleDir, ['settings', 'set', 'jump-clients.max-offline', '5s'])).code).toBe(0);
    const inst = await newMsi(s2);
    const r = await wine(['msiexec', '/i', inst.msi, `KEY_INFO=${inst.key_info}`, 'installdir=C:\\JCM', '/quiet']);
    expect(r.code, r.stdout).toBe(0);
    await waitFor(async () => (await listClients(s2.api)).items.find((c) => c.installer === inst.uid && c.status === 'online'), 60_000, 250, 'online');
    expect((await regValues('HKLM\\Software\\JumpClient')).ProductCode).toMatch(/^\{[0-9A-F-]{36}\}$/);
    s2.proc.child.kill('SIGTERM');
    await s2.proc.exited;
    const drive = join(env.WINEPREFIX!, 'drive_c', 'JCM');
    await waitFor(async () => !existsSync(join(drive, 'jump-client.exe')) && (await service('JumpClient')) === null, 90_000, 500, 'the product removed by its own msiexec /x');
    expect(agentPids('C:\\JCM')).toEqual([]);
    expect((await regValues('HKLM\\Software\\JumpClient')).ProductCode).toBeUndefined();
  }, 180_000);

  it('the per-installer EXE as an administrator: the service JumpClient-<uid8> starts, its client comes online, its detection key has Version and ClientId; uninstall removes them', async () => {
    const inst = await newMsi(site);
    const name = `JumpClient-${inst.uid.slice(0, 8)}`;
    const r = await wine([inst.file, '--install-dir', 'C:\\JCE']);
    expect(r.code, r.stdout).toBe(0);
    expect(await service(name)).toMatchObject({ state: 'RUNNING' });
    const mine = await waitFor(async () => (await listClients(site.api)).items.find((c) => c.installer === inst.uid && c.status === 'online'), 60_000, 250, 'online');
    const key = `HKLM\\Software\\JumpClient\\${name}`;
    await waitFor(async () => (await regValues(key)).ClientId === String(mine.id), 20_000, 500, 'ClientId');
    expect(await regValues(key)).toMatchObject({ Version: version, InstallDir: 'C:\\JCE', ServiceName: name });
    const un = await wine(['C:\\JCE\\jump-client.exe', 'uninstall', '--install-dir', 'C:\\JCE']);
    expect(un.code, un.stdout).toBe(0);
    expect(await service(name)).toBeNull();
    expect(await regValues(key)).toEqual({});
    await waitFor(() => agentPids('C:\\JCE').length === 0, 10_000, 100, 'the agent gone');
  }, 180_000);
});
