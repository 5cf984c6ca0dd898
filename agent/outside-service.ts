/**
 * Starting a program outside the service that runs the agent, so that it outlives the agent and a
 * stop of that service: the self-uninstall past max-offline (agent/self-uninstall.ts, issue #18)
 * and the self-update's watchdog (agent/update.ts, issue #17). One home for how, per platform:
 * - Linux under systemd: a transient unit (`systemd-run --collect`), since stopping or restarting
 *   the agent's own unit kills every process in its cgroup;
 * - Linux otherwise: detached, in a session of its own;
 * - Windows service: through the service host's `--detach` (packaging/service-host.c:
 *   CREATE_BREAKAWAY_FROM_JOB), since the host's job object ends with the service.
 */
import { spawn, spawnSync, type ChildProcess, type StdioOptions } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';

/**
 * One Windows command line from `argv`, as the service host's `--detach` passes it to
 * CreateProcess verbatim: a word holding a space or a quote is put in quotes, its quotes escaped
 * with a backslash (CommandLineToArgvW's rule; the words here are paths and flags).
 */
export function windowsCommandLine(argv: string[]): string {
  return argv.map((a) => (/[\s"]/.test(a) ? `"${a.replace(/"/g, '\\"')}"` : a)).join(' ');
}

/**
 * Starts `argv` (program, then its arguments) outside the agent's service on Linux: with
 * `systemd`, in a transient unit (`systemd-run --collect --no-block --quiet`); without, or when
 * systemd-run fails (its status in `systemdRunStatus`), detached in its own session with `cwd` and
 * stdout/stderr appended to `outputFile` (created 0600 then; default: discarded). Never throws for
 * a failed systemd-run; a failed spawn is reported on the returned child's 'error' event.
 */
export function startOutsideService(
  argv: string[],
  o: { systemd: boolean; cwd: string; outputFile?: string },
): { via: 'systemd-run' } | { via: 'detached'; child: ChildProcess; systemdRunStatus?: number | null } {
  let systemdRunStatus: number | null | undefined;
  if (o.systemd) {
    const r = spawnSync('systemd-run', ['--collect', '--no-block', '--quiet', ...argv], { stdio: 'ignore' });
    if (r.status === 0) return { via: 'systemd-run' };
    systemdRunStatus = r.status;
  }
  const out = o.outputFile === undefined ? null : openSync(o.outputFile, 'a', 0o600);
  let child: ChildProcess;
  try {
    const stdio: StdioOptions = out === null ? 'ignore' : ['ignore', out, out];
    child = spawn(argv[0], argv.slice(1), { detached: true, stdio, cwd: o.cwd });
  } finally {
    if (out !== null) closeSync(out);
  }
  child.unref();
  return { via: 'detached', child, ...(systemdRunStatus !== undefined ? { systemdRunStatus } : {}) };
}
