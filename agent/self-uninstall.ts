/**
 * A jump client that went without its site past max-offline uninstalls itself (issue #18 item 3;
 * seeds: "it is automatically uninstalled from the target machine"). The running agent cannot
 * remove the service that runs it from inside it, so it starts `DIR/uninstall` (packaging/uninstall:
 * stops it, removes the boot start and the files) outside itself and exits:
 * - under systemd (service mode, `INVOCATION_ID` set): in a transient unit (`systemd-run`), since
 *   `systemctl stop` of the agent's own unit would kill every process in its cgroup;
 * - otherwise: a detached `sh DIR/uninstall` in its own session.
 * The uninstall tries the site for 2 s only (`--timeout 2s`): the site is unreachable by definition.
 *
 * Windows (startWindowsSelfUninstall): the uninstall must outlive the service that runs this agent
 * (the service host kills its job, agent included, when it stops), so it is started through
 * `DIR\jump-client-service.exe --detach` (packaging/service-host.c: CREATE_BREAKAWAY_FROM_JOB):
 * - an MSI install (HKLM\Software\JumpClient InstallDir is DIR): `msiexec /x {ProductCode} /qn`,
 *   the ProductCode from the same key (packaging/jump-client.wxs writes it);
 * - an EXE install (DIR\install.conf): a running exe cannot delete itself, so jump-client.exe and
 *   lib\ are copied to %TEMP%\jump-client-uninstall-<pid>\ and that copy runs
 *   `uninstall --install-dir DIR --timeout 2s` (the copy stays in %TEMP%).
 */
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { readInstallConf } from './install/service.js';
import { startOutsideService, windowsCommandLine } from './outside-service.js';

/** How long the self-started uninstall tries to tell the site. */
export const SELF_UNINSTALL_SITE_TIMEOUT = '2s';

/**
 * The install dir of an agent whose config dir is `configDir` (DIR/config with DIR/install.conf),
 * or null for a bare `run --config` directory.
 */
export function installDirOf(configDir: string): string | null {
  const dir = dirname(configDir);
  return readInstallConf(dir) && existsSync(join(dir, 'uninstall')) ? dir : null;
}

/**
 * Starts the uninstall of the install that holds `configDir`, outside this process. Returns false
 * (and logs why) when there is no install dir or the platform has no self-uninstall yet.
 */
export function startSelfUninstall(configDir: string, log: Logger, env: NodeJS.ProcessEnv = process.env): boolean {
  if (process.platform === 'win32') return startWindowsSelfUninstall(configDir, log, env);
  const dir = installDirOf(configDir);
  if (!dir) {
    log.error({ configDir }, 'offline past max-offline, but this is not an install dir (run --config): nothing to uninstall; stopping');
    return false;
  }
  const underSystemd = !!env.INVOCATION_ID && spawnSync('systemd-run', ['--version'], { stdio: 'ignore' }).status === 0;
  const r = startOutsideService(['/bin/sh', join(dir, 'uninstall'), '--timeout', SELF_UNINSTALL_SITE_TIMEOUT], { systemd: underSystemd, cwd: '/' });
  if (r.via === 'systemd-run') log.warn({ dir }, 'offline past max-offline: uninstalling (systemd-run)');
  else log.warn({ dir, pid: r.child.pid }, 'offline past max-offline: uninstalling');
  return true;
}

/** The values of the registry key `key` (`reg query`), name to data; empty when it does not exist. */
function regValues(key: string): Record<string, string> {
  const r = spawnSync('reg', ['query', key], { encoding: 'utf8', windowsHide: true });
  const out: Record<string, string> = {};
  if (r.status !== 0) return out;
  for (const m of `${r.stdout ?? ''}`.matchAll(/^\s+(\S+)\s+REG_\w+\s+(.*?)\s*$/gm)) out[m[1]] = m[2];
  return out;
}

/** A Windows path compared case-insensitively, without a trailing backslash. */
const winPath = (p: string) => resolve(p).replace(/[\\/]+$/, '').toLowerCase();

/**
 * How the Windows install holding `dir` removes itself: the MSI's product code when
 * HKLM\Software\JumpClient (`msiKey`, the values of that key) names `dir` as its InstallDir,
 * 'exe' when `dir` holds an EXE install's install.conf, else null. Pure but for install.conf.
 */
export function windowsUninstallKind(dir: string, msiKey: Record<string, string>): { kind: 'msi'; productCode: string } | { kind: 'exe' } | null {
  if (msiKey.InstallDir && winPath(msiKey.InstallDir) === winPath(dir) && /^\{[0-9A-F]{8}(-[0-9A-F]{4}){3}-[0-9A-F]{12}\}$/i.test(msiKey.ProductCode ?? '')) {
    return { kind: 'msi', productCode: msiKey.ProductCode };
  }
  return readInstallConf(dir) ? { kind: 'exe' } : null;
}

/**
 * The Windows self-uninstall (see the module comment). Starts it detached, outside the service's
 * job, and returns true; returns false (and logs why) when `configDir` is not in an install.
 */
export function startWindowsSelfUninstall(configDir: string, log: Logger, env: NodeJS.ProcessEnv = process.env): boolean {
  const dir = dirname(resolve(configDir));
  const how = windowsUninstallKind(dir, regValues('HKLM\\Software\\JumpClient'));
  if (!how) {
    log.error({ configDir }, 'offline past max-offline, but this is not an install dir (run --config): nothing to uninstall; stopping');
    return false;
  }
  let argv: string[];
  if (how.kind === 'msi') {
    // Its log beside the service host's (issue #16 item 7): %ProgramData%\\JumpClient\\Logs.
    const logs = join(env.ProgramData ?? 'C:\\ProgramData', 'JumpClient', 'Logs');
    mkdirSync(logs, { recursive: true });
    argv = [join(env.SystemRoot ?? 'C:\\Windows', 'System32', 'msiexec.exe'), '/x', how.productCode, '/qn', '/l*v', join(logs, 'self-uninstall-msi.log')];
  } else {
    const copy = mkdtempSync(join(env.TEMP ?? tmpdir(), 'jump-client-uninstall-'));
    cpSync(join(dir, 'jump-client.exe'), join(copy, 'jump-client.exe'));
    cpSync(join(dir, 'lib'), join(copy, 'lib'), { recursive: true });
    argv = [join(copy, 'jump-client.exe'), 'uninstall', '--install-dir', dir, '--timeout', SELF_UNINSTALL_SITE_TIMEOUT];
  }
  // The service host's --detach takes the rest of its command line as the program's, verbatim.
  const host = join(dir, 'jump-client-service.exe');
  const quoted = windowsCommandLine(argv);
  const child = existsSync(host)
    ? spawn(host, ['--detach', quoted], { argv0: `"${host}"`, detached: true, stdio: 'ignore', windowsHide: true, windowsVerbatimArguments: true, cwd: env.SystemRoot ?? 'C:\\Windows' })
    : spawn(argv[0], argv.slice(1), { detached: true, stdio: 'ignore', windowsHide: true, cwd: env.SystemRoot ?? 'C:\\Windows' });
  child.on('error', (err) => log.error({ err: err.message }, 'self-uninstall: could not start it'));
  child.unref();
  log.warn({ dir, kind: how.kind, command: quoted }, 'offline past max-offline: uninstalling');
  return true;
}
