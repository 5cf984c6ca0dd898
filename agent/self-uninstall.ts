/**
 * A jump client that went without its site past max-offline uninstalls itself (issue #18 item 3;
 * seeds: "it is automatically uninstalled from the target machine"). The running agent cannot
 * remove the service that runs it from inside it, so it starts `DIR/uninstall` (packaging/uninstall:
 * stops it, removes the boot start and the files) outside itself and exits:
 * - under systemd (service mode, `INVOCATION_ID` set): in a transient unit (`systemd-run`), since
 *   `systemctl stop` of the agent's own unit would kill every process in its cgroup;
 * - otherwise: a detached `sh DIR/uninstall` in its own session.
 * The uninstall tries the site for 2 s only (`--timeout 2s`): the site is unreachable by definition.
 * Windows: not done yet (docs/lifecycle.md); the agent logs and keeps running.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { readInstallConf } from './install/service.js';

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
  const dir = installDirOf(configDir);
  if (!dir) {
    log.error({ configDir }, 'offline past max-offline, but this is not an install dir (run --config): nothing to uninstall; stopping');
    return false;
  }
  if (process.platform === 'win32') {
    log.error({ dir }, 'offline past max-offline; self-uninstall is not available on Windows yet: uninstall it from Apps');
    return false;
  }
  const script = join(dir, 'uninstall');
  const args = ['--timeout', SELF_UNINSTALL_SITE_TIMEOUT];
  if (env.INVOCATION_ID && spawnSync('systemd-run', ['--version'], { stdio: 'ignore' }).status === 0) {
    const r = spawnSync('systemd-run', ['--collect', '--no-block', '--quiet', '/bin/sh', script, ...args], { stdio: 'ignore' });
    if (r.status === 0) {
      log.warn({ dir }, 'offline past max-offline: uninstalling (systemd-run)');
      return true;
    }
  }
  const child = spawn('/bin/sh', [script, ...args], { detached: true, stdio: 'ignore', cwd: '/' });
  child.unref();
  log.warn({ dir, pid: child.pid }, 'offline past max-offline: uninstalling');
  return true;
}
