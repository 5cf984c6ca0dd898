/**
 * The Windows install from `bomgar-scc-<uid>.exe` (issue #5): the seeds' flags, as on Linux.
 *
 * - Service mode (run elevated, as an administrator): the jump client runs as the Windows service
 *   `JumpClient-<first 8 hex of the installer's uid>` (exeServiceName: stable per installer, the same
 *   on every machine, for Intune/SCCM detection), LocalSystem, automatic start. Its binary is the
 *   native service host `DIR\jump-client-service.exe` (packaging/service-host.c), registered with
 *   `sc create` and started with `sc start`. The detection key HKLM\Software\JumpClient\<service>
 *   gets Version, InstallDir and ServiceName now, ClientId from the service host once enrolled.
 * - User mode (not elevated): the jump client runs as that user, started now and at each logon
 *   (HKCU\Software\Microsoft\Windows\CurrentVersion\Run).
 * Either way an entry under ...\CurrentVersion\Uninstall makes it removable from "Apps" / Add or
 * Remove Programs; its command is `DIR\jump-client.exe uninstall --install-dir DIR`.
 *
 * ACLs (security issue #12, item 5; agent/install/windows-acl.ts): DIR gets explicit, non-inherited
 * ACLs right after it is made (before KEY_INFO is written), and again once every file is in place;
 * they are then read back and checked. An icacls failure or a wrong ACL fails the install.
 *
 * Errors are the JumpErrors of agent/install/install.ts; on any failure every step is undone.
 */
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, openSync, closeSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { JumpError, type ErrorCode } from '../../protocol/errors.js';
import { VERSION } from '../../protocol/version.js';
import { copyWithoutOverlay } from './exe-overlay.js';
import { checkWindowsAcls, currentUserSid, secureMachineDataDir, setWindowsAcls, underWine } from './windows-acl.js';
import { checkNewDir, checkOverrides, requestedFromOptions, rollBack, writeStampedConfig, type InstallOptions, type InstallResult } from './install.js';
import { checkWithSite, stampTarget } from './preflight.js';
import { formatInstallConf, newUnitName, run, type InstallConf } from './service.js';
import { WIN_SERVICE_HOST } from '../../protocol/exe-overlay.js';
import type { Stamp } from '../../protocol/stamp.js';

const UNINSTALL_KEY = 'Software\\Microsoft\\Windows\\CurrentVersion\\Uninstall';
const RUN_KEY = 'Software\\Microsoft\\Windows\\CurrentVersion\\Run';

/**
 * The per-installer EXE's exit codes on Windows (issue #16, item 7), the conventions of msiexec that
 * Intune, SCCM and GPO scripts read: 0 installed (or --help); 1618 (ERROR_INSTALL_ALREADY_RUNNING)
 * another jump client install holds the install lock (INSTALL_IN_PROGRESS); 1603
 * (ERROR_INSTALL_FAILURE) every other failure (bad input, an unusable installer, a failed step: the
 * code and message are on stderr, in the install log and in the Event Log). 3010
 * (ERROR_SUCCESS_REBOOT_REQUIRED) is never returned: an install writes a new dir and starts a
 * new service, so nothing waits for a reboot. Linux keeps its 0/1/2/3 (agent/install/cli.ts).
 */
export const WINDOWS_EXIT = { OK: 0, FATAL: 1603, IN_PROGRESS: 1618, REBOOT_REQUIRED: 3010 } as const;

/** The EXE's Windows exit code for a failure with `code` (null: success). See WINDOWS_EXIT. */
export function windowsInstallExit(code: ErrorCode | null): number {
  if (code === null) return WINDOWS_EXIT.OK;
  return code === 'INSTALL_IN_PROGRESS' ? WINDOWS_EXIT.IN_PROGRESS : WINDOWS_EXIT.FATAL;
}

/**
 * Takes the machine's (elevated: %ProgramData%\JumpClient\install.lock) or the user's
 * (%LOCALAPPDATA%\JumpClient\install.lock) jump client install lock: the file is created
 * exclusively and holds this process's pid. A lock whose pid no longer runs (a crashed install) is
 * taken over. Elevated on Windows, `hostExe` (the service host) first makes %ProgramData%\JumpClient
 * trustworthy (secureMachineDataDir), so a lock another user planted is never read. Throws
 * INSTALL_IN_PROGRESS naming the other install's pid and the file, INSTALL_FAILED when the dir
 * cannot be made safe. Returns the release function (removes the file).
 */
export function takeInstallLock(elevated: boolean, env: NodeJS.ProcessEnv = process.env, hostExe?: string): () => void {
  const base = elevated ? (env.ProgramData ?? 'C:\\ProgramData') : (env.LOCALAPPDATA ?? join(env.USERPROFILE ?? 'C:\\', 'AppData', 'Local'));
  const dir = join(base, 'JumpClient');
  // %ProgramData% lets every user create folders and files under it: the machine's dir is made
  // trustworthy first (a planted one, with its install.lock, is moved aside whole).
  if (elevated && process.platform === 'win32') {
    if (!hostExe) throw new JumpError('INSTALL_FAILED', { detail: 'the service host is needed to prepare %ProgramData%\\JumpClient' });
    secureMachineDataDir(hostExe, env);
  } else mkdirSync(dir, { recursive: true });
  const file = join(dir, 'install.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx');
      writeFileSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return () => rmSync(file, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new JumpError('INSTALL_FAILED', { detail: `the install lock ${file}: ${(err as Error).message}` });
      let pid = 0;
      try {
        pid = Number(readFileSync(file, 'utf8').trim());
      } catch {
        /* removed meanwhile: try again */
      }
      if (pid > 0 && pidRuns(pid)) throw new JumpError('INSTALL_IN_PROGRESS', { detail: `Another install (pid ${pid}) holds ${file}.` });
      rmSync(file, { force: true }); // stale: its install is gone
    }
  }
  throw new JumpError('INSTALL_IN_PROGRESS', { detail: `${file} is being taken by another install.` });
}

function pidRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The MSI's service, and its detection key under HKLM (packaging/jump-client.wxs). */
export const MSI_SERVICE = 'JumpClient';
export const DETECTION_KEY = 'Software\\JumpClient';

/**
 * The Windows service name of an EXE install from the installer `uid` (16 hex): `JumpClient-` and
 * its first 8 hex digits, the same suffix as the default install dir `Jump Client <8 hex>`. One
 * service per installer per machine; a second install from the same installer finds it (docs/packaging.md).
 */
export function exeServiceName(uid: string): string {
  return `JumpClient-${uid.slice(0, 8)}`;
}

/**
 * The detection key (HKLM) of the service `name`: `Software\JumpClient` for the MSI's "JumpClient",
 * `Software\JumpClient\<name>` for an EXE install. It holds Version, InstallDir, ServiceName (the
 * installers) and ClientId (the service host, once the agent has enrolled; packaging/service-host.c).
 */
export function detectionKey(name: string): string {
  return name === MSI_SERVICE ? DETECTION_KEY : `${DETECTION_KEY}\\${name}`;
}

function win(cmd: string, args: string[]): { status: number | null; out: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', windowsHide: true });
  return { status: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error?.message ?? ''}`.trim() };
}

/**
 * What the MSI's configure action finds in `configDir` for the site stamped in the MSI (`site`,
 * `sitePin`) (issue #16, item 1: an upgrade keeps the enrollment):
 *   'enrolled'  agent.json holds a client id for this same site: kept as it is, KEY_INFO not needed
 *               (a major upgrade, or a repair); a KEY_INFO given is not used
 *   'pending'   agent.json holds a KEY_INFO for this site, not used yet (an upgraded NOSTART template):
 *               kept unless a new KEY_INFO is given
 *   'none'      no config, or one for another site: a KEY_INFO is needed, and the old identity
 *               (client id, agent.key) goes, as for a new install
 * An unreadable agent.json counts as 'none'.
 */
export function msiExistingConfig(configDir: string, site: string, sitePin: string): 'enrolled' | 'pending' | 'none' {
  let d: { site_url?: unknown; site_pin?: unknown; client_id?: unknown; key_info?: unknown };
  try {
    d = JSON.parse(readFileSync(join(configDir, 'agent.json'), 'utf8')) as typeof d;
  } catch {
    return 'none';
  }
  if (d.site_url !== site || d.site_pin !== sitePin) return 'none';
  if (typeof d.client_id === 'number') return 'enrolled';
  return typeof d.key_info === 'string' ? 'pending' : 'none';
}

/**
 * The MSI's configure action writes this file into INSTALLDIR\\config before it writes a new config
 * there; the rollback action (packaging/msi-ca.c, Rollback) removes the config (agent.json,
 * agent.key, agent.log and this file) only when it is present, so a failed upgrade never removes
 * the enrollment it kept. A configure action that keeps a config removes it (issue #16, item 3).
 */
export const MSI_NEW_CONFIG_MARKER = 'msi-new-config';

/**
 * The Windows service's recovery actions (issue #16, item 4): restart the service 10 s, 30 s and
 * 60 s after its first, second and later failures; the failure count goes back to zero after a day
 * without one. Windows applies them when the service process ends without the SCM stopping it.
 */
export const SERVICE_RECOVERY = { restartAfterMs: [10_000, 30_000, 60_000], resetAfterS: 86_400 } as const;

/**
 * Sets SERVICE_RECOVERY on the service `name` (`sc failure`), and `sc failureflag name 1` so an exit
 * with an error code counts as a failure too (the service host, packaging/service-host.c, clears it
 * again before it stops the service for a permanent refusal). Returns a line
 * for the install's output. Throws INSTALL_FAILED with sc's answer when either fails; wine's sc has
 * no `failureflag`, which is reported in the returned line instead.
 */
export function setServiceRecovery(name: string): string {
  const actions = SERVICE_RECOVERY.restartAfterMs.map((ms) => `restart/${ms}`).join('/');
  const r = win('sc.exe', ['failure', name, 'reset=', String(SERVICE_RECOVERY.resetAfterS), 'actions=', actions]);
  if (r.status !== 0) throw new JumpError('INSTALL_FAILED', { detail: `setting the service's recovery actions failed: sc failure ${name}: ${r.out || `exit ${r.status}`}` });
  const said = `service ${name}: on failure, restart after ${SERVICE_RECOVERY.restartAfterMs.map((ms) => `${ms / 1000} s`).join(', ')}; failure count reset after ${SERVICE_RECOVERY.resetAfterS / 3600} h`;
  const f = win('sc.exe', ['failureflag', name, '1']);
  if (f.status === 0) return said;
  if (underWine()) return `${said} (wine's sc has no failureflag: not set)`;
  throw new JumpError('INSTALL_FAILED', { detail: `setting the service's recovery actions failed: sc failureflag ${name} 1: ${f.out || `exit ${f.status}`}` });
}

/** True when this process is elevated (`net session` needs administrator rights). */
export function isElevated(): boolean {
  return win('net', ['session']).status === 0;
}

/**
 * Starts a service and waits up to 30 s for RUNNING; throws INSTALL_FAILED with sc's answer. (A
 * service the host set to demand start after a permanent refusal is made automatic again by the
 * host itself when it starts: packaging/service-host.c.)
 */
export async function startService(name: string): Promise<void> {
  const r = win('sc.exe', ['start', name]);
  if (r.status !== 0 && !/1056/.test(r.out)) throw new JumpError('INSTALL_FAILED', { detail: `sc start ${name}: ${r.out}` });
  for (let i = 0; i < 60; i++) {
    if (/RUNNING/.test(win('sc.exe', ['query', name]).out)) return;
    await new Promise((res) => setTimeout(res, 500));
  }
  throw new JumpError('INSTALL_FAILED', { detail: `the service ${name} did not reach RUNNING in 30 s` });
}

/** Starts the agent of a user-mode install as a detached, windowless process; writes its pid. */
export function startUserAgent(dir: string): number {
  const child = spawn(join(dir, 'jump-client.exe'), ['run', '--config', join(dir, 'config')], { detached: true, stdio: 'ignore', windowsHide: true, cwd: dir });
  child.unref();
  writeFileSync(join(dir, 'jump-client.pid'), `${child.pid}\n`);
  return child.pid ?? 0;
}

/**
 * Installs from `packageDir` (the unpacked overlay: lib/, jump-client-service.exe, installer.json) with the
 * running executable as the jump client. `now` in ms since the epoch.
 */
export async function installWindows(o: InstallOptions & { nostart?: boolean }, stamp: Stamp, packageDir: string, now: number): Promise<InstallResult> {
  if (o.user !== undefined) {
    throw new JumpError('INSTALL_USER_NOT_ALLOWED', { field: '--user', detail: '--user: on Windows the mode follows elevation: run elevated for a service, or as the user for user mode.' });
  }
  const requested = requestedFromOptions(o);
  checkOverrides(stamp, requested);
  const release = takeInstallLock(isElevated(), process.env, join(packageDir, WIN_SERVICE_HOST));
  try {
    return await installWindowsLocked(o, stamp, packageDir, now, requested);
  } finally {
    release();
  }
}

async function installWindowsLocked(o: InstallOptions & { nostart?: boolean }, stamp: Stamp, packageDir: string, now: number, requested: ReturnType<typeof requestedFromOptions>): Promise<InstallResult> {
  if (Date.parse(stamp.expires_at) <= now) throw new JumpError('INSTALLER_EXPIRED', { detail: `It expired at ${stamp.expires_at}.` });
  const elevated = isElevated();
  const mode: InstallResult['mode'] = elevated ? 'service' : 'user';
  const me = userInfo().username;
  const base = elevated ? (process.env.ProgramFiles ?? 'C:\\Program Files') : (process.env.LOCALAPPDATA ?? join(process.env.USERPROFILE ?? 'C:\\', 'AppData', 'Local'));
  if (o.installDir !== undefined && (o.installDir === '' || /[\u0000-\u001f"<>|?*]/.test(o.installDir))) {
    throw new JumpError('VALIDATION_FAILED', { field: '--install-dir', detail: '--install-dir: give a Windows path without control characters or " < > | ? *.' });
  }
  const dir = resolve(o.installDir ?? join(base, `Jump Client ${stamp.uid.slice(0, 8)}`));
  const parent = checkNewDir(dir);
  await checkWithSite(stampTarget(stamp), requested, { offline: o.offline, silent: o.silent }); // the site's preflight, before anything is written

  const id = elevated ? exeServiceName(stamp.uid) : newUnitName().replace('jump-client-', 'JumpClient-');
  const conf: InstallConf = {
    mode,
    run_as: elevated ? 'LocalSystem' : me,
    ...(elevated ? { unit: id } : { run_key: id }),
    installer: stamp.uid,
    version: VERSION,
  };
  if (elevated && win('sc.exe', ['query', id]).status === 0) {
    throw new JumpError('INSTALL_FAILED', { detail: `the service ${id} exists: this installer is already installed on this machine; uninstall it first (its entry in Apps)` });
  }
  const hive = elevated ? 'HKLM' : 'HKCU';
  const undo: (() => void)[] = [];
  try {
    try {
      mkdirSync(dir);
    } catch (err) {
      throw new JumpError('INSTALL_DIR_UNWRITABLE', { field: '--install-dir', detail: `--install-dir: ${parent} is not writable by ${me} (${(err as NodeJS.ErrnoException).code}).` });
    }
    undo.push(() => rmSync(dir, { recursive: true, force: true }));
    // Lock DIR and DIR\config before anything lands in them: a custom --install-dir inherits its
    // parent's ACL (C:\ lets every user modify what is created under it).
    mkdirSync(join(dir, 'config'));
    const aclMode = elevated ? 'service' : 'user';
    const sid = elevated ? null : currentUserSid();
    setWindowsAcls(dir, aclMode, sid ?? me);
    // Between mkdir and the lock, DIR had its parent's ACL: anything another user slipped in then
    // (a DLL beside the LocalSystem binary) would pass the ACL check, so DIR must hold only config.
    const intruders = readdirSync(dir).filter((f) => f !== 'config').concat(readdirSync(join(dir, 'config')).map((f) => `config\\${f}`));
    if (intruders.length > 0) throw new JumpError('INSTALL_FAILED', { detail: `${dir} was changed by someone else while it was being created (${intruders.slice(0, 5).join(', ')}): install again, into a dir only administrators can write.` });
    await copyWithoutOverlay(process.execPath, join(dir, 'jump-client.exe'));
    cpSync(join(packageDir, 'lib'), join(dir, 'lib'), { recursive: true });
    writeStampedConfig(join(dir, 'config'), stamp, requested);
    writeFileSync(join(dir, 'install.conf'), formatInstallConf(conf));
    if (elevated) cpSync(join(packageDir, WIN_SERVICE_HOST), join(dir, WIN_SERVICE_HOST));
    // Every file is in place: set the ACLs again (owner, propagation to what was copied), read them back.
    setWindowsAcls(dir, aclMode, sid ?? me);
    const acl = checkWindowsAcls(dir, aclMode, sid);
    if (!acl.verified && !o.silent) process.stderr.write(`jump-client install: WARNING: ${acl.why}.\n`);

    const exe = join(dir, 'jump-client.exe');
    const uninstallCmd = `"${exe}" uninstall --install-dir "${dir}"`;
    const key = `${hive}\\${UNINSTALL_KEY}\\${id}`;
    undo.push(() => win('reg', ['delete', key, '/f']));
    for (const [name, type, value] of [
      ['DisplayName', 'REG_SZ', `Jump Client (${dir})`],
      ['DisplayVersion', 'REG_SZ', VERSION],
      ['Publisher', 'REG_SZ', 'Jump Client project'],
      ['InstallLocation', 'REG_SZ', dir],
      ['UninstallString', 'REG_SZ', uninstallCmd],
      ['QuietUninstallString', 'REG_SZ', uninstallCmd],
      ['NoModify', 'REG_DWORD', '1'],
      ['NoRepair', 'REG_DWORD', '1'],
    ] as const) {
      run('reg', ['add', key, '/v', name, '/t', type, '/d', value, '/f']);
    }

    if (elevated) {
      undo.push(() => win('sc.exe', ['delete', id]));
      run('sc.exe', ['create', id, 'binPath=', `"${join(dir, WIN_SERVICE_HOST)}"`, 'start=', 'auto', 'DisplayName=', `Jump Client ${id.slice('JumpClient-'.length)}`]);
      win('sc.exe', ['description', id, 'Keeps this machine reachable from its Jump site.']);
      const detKey = `HKLM\\${detectionKey(id)}`;
      undo.push(() => win('reg', ['delete', detKey, '/f']));
      for (const [name, value] of [['Version', VERSION], ['InstallDir', dir], ['ServiceName', id]]) run('reg', ['add', detKey, '/v', name, '/t', 'REG_SZ', '/d', value, '/f']);
      const recovery = setServiceRecovery(id);
      if (!o.silent) process.stdout.write(`${recovery}\n`);
      if (!o.nostart) await startService(id);
    } else {
      undo.push(() => win('reg', ['delete', `HKCU\\${RUN_KEY}`, '/v', id, '/f']));
      run('reg', ['add', `HKCU\\${RUN_KEY}`, '/v', id, '/t', 'REG_SZ', '/d', `"${exe}" run --config "${join(dir, 'config')}"`, '/f']);
      if (!o.nostart) startUserAgent(dir);
    }
  } catch (err) {
    rollBack(undo, err);
  }
  return { dir, mode, runAs: conf.run_as, bootStart: null };
}

/**
 * Undoes a Windows install's registrations before its files go: stops and deletes the service
 * (service mode) or stops the agent and removes the Run value (user mode), and removes the
 * uninstall entry. Safe to run twice.
 */
export async function unregisterWindows(dir: string, conf: InstallConf): Promise<void> {
  const id = conf.unit ?? conf.run_key;
  if (conf.unit) {
    win('sc.exe', ['stop', conf.unit]);
    for (let i = 0; i < 30 && !/STOPPED|1060/.test(win('sc.exe', ['query', conf.unit]).out); i++) await new Promise((r) => setTimeout(r, 500));
    win('sc.exe', ['delete', conf.unit]);
  } else {
    try {
      const pid = Number(readFileSync(join(dir, 'jump-client.pid'), 'utf8').trim());
      if (pid > 0 && pid !== process.pid) process.kill(pid);
    } catch {
      /* not running */
    }
    if (conf.run_key) win('reg', ['delete', `HKCU\\${RUN_KEY}`, '/v', conf.run_key, '/f']);
  }
  if (id) win('reg', ['delete', `${conf.unit ? 'HKLM' : 'HKCU'}\\${UNINSTALL_KEY}\\${id}`, '/f']);
  if (conf.unit) win('reg', ['delete', `HKLM\\${detectionKey(conf.unit)}`, '/f']);
}

/**
 * Removes an install dir whose executable may be the one running: everything but it now, then
 * the rest from a detached cmd.exe once this process has exited.
 */
export function removeWindowsDir(dir: string): void {
  const self = resolve(process.execPath).toLowerCase() === resolve(join(dir, 'jump-client.exe')).toLowerCase();
  if (!self) {
    rmSync(dir, { recursive: true, force: true });
    return;
  }
  // Windows cannot delete a running executable or a loaded DLL (lib\...\*.node): a detached cmd.exe
  // removes the dir once this process has exited; install.conf goes now, so the install is gone.
  rmSync(join(dir, 'install.conf'), { force: true });
  const script = join(tmpdir(), `jump-client-remove-${process.pid}.cmd`);
  writeFileSync(script, `@echo off\r\nping -n 3 127.0.0.1 >nul\r\nrmdir /s /q "${dir}"\r\ndel "%~f0"\r\n`);
  // cmd.exe's own quoting rules: /s strips the outer pair, so the script path may hold spaces.
  spawn('cmd.exe', [`/d /s /c ""${script}""`], { detached: true, stdio: 'ignore', windowsHide: true, windowsVerbatimArguments: true }).unref();
}
