/**
 * Starting and stopping an installed jump client: `DIR/init-script start|stop|restart|status`
 * (seeds: "Installation on headless Linux systems") and the start at boot of service mode.
 *
 * An install dir holds `install.conf`, plain `key=value` lines the init-script can read with sed:
 *   mode=service|user   run_as=<username>   unit=jump-client-<12 hex> (service mode only)
 *   run_key=JumpClient-<12 hex> (Windows user mode only)
 *   installer=<uid>     version=<jump-client version>
 *
 * Service mode (installed by root): everything in the install dir is root's, and the agent runs
 * as root, like sshd, holding its identity key where no session can read it; every Jump session's
 * processes run as `run_as` (agent/session-host.ts, `--run-as`). Under systemd a system unit
 * `/etc/systemd/system/<unit>.service` runs it; without systemd as PID 1, `/etc/cron.d/<unit>`
 * starts it at boot with `@reboot root DIR/init-script start` (security issue #12 items 4 and 9).
 * User mode: the agent and its sessions run as the user, who starts it and is told how to make
 * that happen at boot.
 *
 * Outside systemd the agent is a detached process with a pid file, `DIR/jump-client.pid`. The pid
 * file is trusted only when `/proc/<pid>/cmdline` is this install's `jump-client run`.
 * Exit codes follow the LSB init script actions (LSB Core, "Init Script Actions"): status 0
 * running, 1 dead but the pid file exists, 3 not running; start/stop 0 when already in the wanted
 * state, 1 generic failure (the message says which, e.g. INSTALLER_EXPIRED), 4 insufficient privilege.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AgentConfig } from '../config.js';
import { readAgentStatus, type AgentStatus } from '../status-file.js';

/** LSB init-script exit codes (LSB Core, "Init Script Actions"): status and the other actions share 1. */
export const LSB = { OK: 0, DEAD_PID_FILE: 1, FAILED: 1, INSUFFICIENT_PRIVILEGE: 4, NOT_RUNNING: 3 } as const;

export interface InstallConf {
  mode: 'service' | 'user';
  run_as: string;
  unit?: string;
  /** Windows user mode: the name of its value under HKCU\...\CurrentVersion\Run. */
  run_key?: string;
  installer: string;
  version: string;
}

export const INSTALL_CONF = 'install.conf';
export const PID_FILE = 'jump-client.pid';
export const SYSTEMD_UNIT_DIR = '/etc/systemd/system';
export const CRON_DIR = '/etc/cron.d';

/** Paths inside an install dir. */
export function installPaths(dir: string) {
  return {
    exe: join(dir, process.platform === 'win32' ? 'jump-client.exe' : 'jump-client'),
    config: join(dir, 'config'),
    conf: join(dir, INSTALL_CONF),
    pid: join(dir, PID_FILE),
    out: join(dir, 'config', 'agent.out'),
  };
}

/** A new service name: `jump-client-` and 12 hex digits (one per install, several may coexist). */
export function newUnitName(): string {
  return `jump-client-${randomBytes(6).toString('hex')}`;
}

/** `c` as install.conf text: `key=value` lines, keys left out when undefined. */
export function formatInstallConf(c: InstallConf): string {
  return Object.entries(c)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${v}\n`)
    .join('');
}

/** Reads `DIR/install.conf`; null when `dir` is not an install dir. */
export function readInstallConf(dir: string): InstallConf | null {
  let text: string;
  try {
    text = readFileSync(installPaths(dir).conf, 'utf8');
  } catch {
    return null;
  }
  const kv = Object.fromEntries(
    text
      .split('\n')
      .map((l) => l.match(/^([a-z_]+)=(.*)$/))
      .filter((m): m is RegExpMatchArray => m !== null)
      .map((m) => [m[1], m[2]]),
  );
  if ((kv.mode !== 'service' && kv.mode !== 'user') || !kv.run_as) return null;
  return {
    mode: kv.mode,
    run_as: kv.run_as,
    unit: kv.unit || undefined,
    run_key: kv.run_key || undefined,
    installer: kv.installer ?? '',
    version: kv.version ?? '',
  };
}

/** True when systemd is the running init system (sd_booted(3): `/run/systemd/system` exists). */
export function systemdRunning(): boolean {
  return existsSync('/run/systemd/system');
}

/**
 * Quotes a path for an ExecStart= line (systemd.service(5), "Command lines"): `\` and `"` escaped,
 * specifiers `%` doubled, and in arguments (not the executable, which is not expanded) `$` doubled.
 */
function unitQuote(s: string, isArgument = true): string {
  const q = s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/%/g, '%%');
  return `"${isArgument ? q.replace(/\$/g, '$$$$') : q}"`;
}

/**
 * The systemd system unit for a service-mode install. The agent runs as root (no `User=`), like
 * sshd, and starts every session process as `runAs` with that user's groups (`--run-as`); systemd
 * restarts it on failure but not after exit 1 (bad config) or 3 (refused by the site for good).
 * Hardening is limited to what does not narrow the technician's session, which runs inside this
 * unit with the user's own rights (docs/decisions.md, "Service mode under systemd"), nor stop the
 * agent from switching to that user.
 */
export function systemdUnit(dir: string, runAs: string): string {
  const p = installPaths(dir);
  return [
    '[Unit]',
    `Description=Jump Client (${dir.replace(/%/g, '%%')})`,
    'Wants=network-online.target',
    'After=network-online.target',
    '',
    '[Service]',
    'Type=simple',
    `ExecStart=${unitQuote(p.exe, false)} run --config ${unitQuote(p.config)} --run-as ${unitQuote(runAs)}`,
    // A single path: no quotes, only specifiers escaped.
    `WorkingDirectory=${dir.replace(/%/g, '%%')}`,
    'Restart=on-failure',
    'RestartSec=5s',
    'RestartPreventExitStatus=1 3',
    'TimeoutStopSec=15s',
    'KillMode=control-group',
    'UMask=0077',
    'ProtectKernelModules=yes',
    'ProtectKernelLogs=yes',
    'ProtectClock=yes',
    'LockPersonality=yes',
    'RestrictRealtime=yes',
    'RestrictNamespaces=yes',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}

/** Quotes for sh, and escapes `%` which crontab(5) turns into a newline. */
function cronQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`.replace(/%/g, '\\%');
}

/**
 * The `/etc/cron.d` entry that starts a service-mode install at boot when systemd is not PID 1:
 * root runs `DIR/init-script start` (the dir and its ancestors are root's: agent/install/install.ts),
 * and the agent it starts runs sessions as the install's run_as.
 */
export function cronEntry(dir: string): string {
  return [
    `# Jump Client in ${dir.replace(/\n/g, ' ')}: start at boot (written by jump-client install; removed by its uninstall).`,
    'SHELL=/bin/sh',
    `@reboot root ${cronQuote(join(dir, 'init-script'))} start >/dev/null 2>&1`,
    '',
  ].join('\n');
}

/** Runs a command; throws with its output when it fails. */
export function run(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8', windowsHide: true });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${(r.stderr || r.stdout).trim()}`);
}

/** Where a service-mode install's boot start lives, or null for user mode. */
export function bootFiles(conf: InstallConf): { unitFile: string; cronFile: string } | null {
  if (conf.mode !== 'service' || !conf.unit) return null;
  return { unitFile: join(SYSTEMD_UNIT_DIR, `${conf.unit}.service`), cronFile: join(CRON_DIR, conf.unit) };
}

/** Removes a service-mode install's unit or cron entry; safe when they are already gone. */
export function removeBootStart(conf: InstallConf): void {
  const f = bootFiles(conf);
  if (!f) return;
  if (existsSync(f.unitFile)) {
    if (systemdRunning()) spawnSync('systemctl', ['disable', '--now', `${conf.unit}.service`], { stdio: 'ignore' });
    rmSync(f.unitFile, { force: true });
    if (systemdRunning()) spawnSync('systemctl', ['daemon-reload'], { stdio: 'ignore' });
  }
  rmSync(f.cronFile, { force: true });
}

// ---- the agent process outside systemd ----

/** The argv of process `pid` (from /proc), or null when there is no such process. */
function cmdlineOf(pid: number): string[] | null {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((s, i, a) => s !== '' || i < a.length - 1);
  } catch {
    return null;
  }
}

/** True when `pid` is this install's agent: `DIR/jump-client run --config DIR/config [--run-as U]`. */
export function isOurAgent(dir: string, pid: number): boolean {
  const p = installPaths(dir);
  const argv = cmdlineOf(pid);
  return argv !== null && argv[0] === p.exe && argv[1] === 'run' && argv.includes(p.config);
}

/** The pid in a pid file, or null when there is none or it is not a number. */
function readPid(file: string): number | null {
  try {
    const text = readFileSync(file, 'utf8').trim();
    return /^\d+$/.test(text) ? Number(text) : null;
  } catch {
    return null;
  }
}

export type AgentState = { state: 'running'; pid: number } | { state: 'dead'; pid: number | null } | { state: 'stopped' };

/** Reads the pid file and checks it against the process table. */
export function agentState(dir: string): AgentState {
  const file = installPaths(dir).pid;
  let text: string;
  try {
    text = readFileSync(file, 'utf8').trim();
  } catch {
    return { state: 'stopped' };
  }
  const pid = /^\d+$/.test(text) ? Number(text) : null;
  if (pid !== null && isOurAgent(dir, pid)) return { state: 'running', pid };
  return { state: 'dead', pid };
}

export interface ActionResult {
  code: number;
  message: string;
}

/** How long `start` waits for a first start to enroll before returning. */
const ENROLL_WAIT_MS = 20_000;
/** After how long a waiting `start` says what it waits for, in ms (issue #14: no silent waits). */
const PROGRESS_AFTER_MS = 2_000;
/** How long `start` watches an enrolled agent for an immediate failure. */
const SETTLE_MS = 700;
const STOP_WAIT_MS = 15_000;
/** How long `start` whose agent was replaced by a self-update's restart waits for the new one, in ms. */
const UPDATE_RESTART_WAIT_MS = 10_000;

/** The last `jump-client:` line the agent wrote to `agent.out` (its fatal error), if any. */
function lastAgentError(dir: string): string | null {
  try {
    const lines = readFileSync(installPaths(dir).out, 'utf8').trim().split('\n');
    const line = [...lines].reverse().find((l) => l.startsWith('jump-client: '));
    return line ? line.slice('jump-client: '.length) : null;
  } catch {
    return null;
  }
}

/**
 * Starts the agent as a detached process (no-op when it runs). On a first start it waits until
 * the jump client has enrolled or was refused (e.g. INSTALLER_EXPIRED) and says which.
 */
export async function startAgent(dir: string, progress: (line: string) => void = () => undefined): Promise<ActionResult> {
  const s = agentState(dir);
  if (s.state === 'running') return { code: LSB.OK, message: `Jump client already running (pid ${s.pid}).` };
  const p = installPaths(dir);
  const firstStart = new AgentConfig(p.config).data.client_id === undefined;
  const out = openSync(p.out, 'a', 0o600);
  // Service mode: this runs as root and the agent does too; its sessions run as run_as.
  const conf = readInstallConf(dir);
  const args = ['run', '--config', p.config, ...(conf?.mode === 'service' ? ['--run-as', conf.run_as] : [])];
  const child = spawn(p.exe, args, { detached: true, stdio: ['ignore', out, out], cwd: dir });
  closeSync(out);
  let exited: number | null = null;
  child.on('exit', (code, signal) => (exited = code ?? (signal ? 128 : 1)));
  const pid = child.pid;
  if (pid === undefined) return { code: LSB.FAILED, message: 'Could not start the jump client.' };
  writeFileSync(p.pid, `${pid}\n`, { mode: 0o644 });
  child.unref();
  const started = Date.now();
  const deadline = started + (firstStart ? ENROLL_WAIT_MS : SETTLE_MS);
  let said = false;
  while (Date.now() < deadline) {
    await sleep(100);
    // A first start can take a while (site unreachable, enrollment refused...): say what it waits for.
    if (firstStart && !said && Date.now() - started >= PROGRESS_AFTER_MS) {
      said = true;
      const site = new AgentConfig(p.config).data.site_url ?? 'its site';
      progress(`Waiting for the jump client to enroll with ${site} (up to ${Math.round(ENROLL_WAIT_MS / 1000)} s; it keeps trying after that) ...`);
    }
    if (exited !== null) break;
    if (firstStart && new AgentConfig(p.config).data.client_id !== undefined) {
      return { code: LSB.OK, message: `Jump client started (pid ${pid}) and enrolled with its site.` };
    }
  }
  if (exited !== null) {
    // Its child may have been replaced meanwhile (a self-update's watchdog stops it and starts the
    // new or restored version, writing its own pid, agent/update.ts): then that agent runs, and its
    // pid file is not ours to remove.
    // While an update is in progress (its state file exists), wait for the watchdog's start; also
    // after an exit 0, which at start only a self-update's restart makes: the watchdog may already
    // have finished (even rolled back and removed the state file) before this loop looks.
    let now = agentState(dir);
    const updating = () => existsSync(join(dir, 'update', 'state.json')) || exited === 0;
    for (let waited = 0; now.state !== 'running' && updating() && waited < UPDATE_RESTART_WAIT_MS; waited += 100) {
      await sleep(100);
      now = agentState(dir);
    }
    if (now.state === 'running' && now.pid !== pid) return { code: LSB.OK, message: `Jump client started (pid ${now.pid}).` };
    if (readPid(p.pid) === pid) rmSync(p.pid, { force: true });
    return { code: LSB.FAILED, message: `Jump client failed to start: ${lastAgentError(dir) ?? `exit status ${exited}`}` };
  }
  return firstStart
    ? { code: LSB.OK, message: `Jump client started (pid ${pid}); not enrolled yet, it keeps trying (see ${join(p.config, 'agent.log')}).` }
    : { code: LSB.OK, message: `Jump client started (pid ${pid}).` };
}

/** Stops the agent (SIGTERM, then SIGKILL after 15 s); no-op when it is not running. */
export async function stopAgent(dir: string): Promise<ActionResult> {
  const s = agentState(dir);
  const pidFile = installPaths(dir).pid;
  if (s.state !== 'running') {
    rmSync(pidFile, { force: true });
    return { code: LSB.OK, message: 'Jump client is not running.' };
  }
  process.kill(s.pid, 'SIGTERM');
  const deadline = Date.now() + STOP_WAIT_MS;
  while (Date.now() < deadline && isOurAgent(dir, s.pid)) await sleep(100);
  if (isOurAgent(dir, s.pid)) {
    process.kill(s.pid, 'SIGKILL');
    await sleep(100);
  }
  rmSync(pidFile, { force: true });
  return { code: LSB.OK, message: `Jump client stopped (pid ${s.pid}).` };
}

/** How many lines of the agent's log `status` shows. */
export const STATUS_LOG_LINES = 5;

/**
 * The last `n` lines of the agent's JSON log (`DIR/config/agent.log`) as `time LEVEL message
 * [code]` lines; [] when it cannot be read (service mode: the config dir is root's).
 */
export function lastLogLines(dir: string, n = STATUS_LOG_LINES): string[] {
  let text: string;
  try {
    text = readFileSync(join(installPaths(dir).config, 'agent.log'), 'utf8');
  } catch {
    return [];
  }
  const names: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
  return text
    .trimEnd()
    .split('\n')
    .filter((l) => l !== '')
    .slice(-n)
    .map((l) => {
      try {
        const j = JSON.parse(l) as { time?: number; level?: number; msg?: string; code?: string; reason?: string };
        const extra = [j.code, j.reason].filter((x) => typeof x === 'string').join(' ');
        return `${j.time ? new Date(j.time).toISOString() : '-'} ${names[j.level ?? 30] ?? j.level} ${j.msg ?? ''}${extra ? ` (${extra})` : ''}`;
      } catch {
        return l.slice(0, 300);
      }
    });
}

/** One line on the connection to the site, from the agent's status file (agent/status-file.ts). */
function connectionLine(st: AgentStatus | null): string {
  if (!st) return '';
  if (st.state === 'connected') return `, connected to its site since ${st.since}`;
  if (st.state === 'offline') return `, offline since ${st.since}${st.reason ? ` (${st.reason})` : ''}; it keeps trying to reach its site`;
  if (st.state === 'connecting') return `, not connected to its site yet (trying since ${st.since})`;
  return '';
}

/**
 * LSB status: 0 running, 1 dead but the pid file exists, 3 not running. The message says whether a
 * running agent is connected or offline and since when; an agent the site refused for good (e.g.
 * JUMP_CLIENT_DELETED) is reported as such, not running (3), with what to do. The last log lines follow.
 */
export function statusAgent(dir: string): ActionResult {
  const s = agentState(dir);
  const st = readAgentStatus(installPaths(dir).config);
  let r: ActionResult;
  if (s.state === 'running') r = { code: LSB.OK, message: `Jump client is running (pid ${s.pid})${connectionLine(st)}.` };
  else if (st?.state === 'refused') {
    const what =
      st.code === 'JUMP_CLIENT_DELETED'
        ? `The site deleted this jump client (${st.code}) at ${st.since}; it stopped and will not connect again.`
        : `The site refused this jump client for good (${st.code}) at ${st.since}; it stopped.`;
    r = { code: LSB.NOT_RUNNING, message: `Jump client is not running. ${what} Remove it with ${join(dir, 'uninstall')}, then install a new one if it is still needed.` };
  } else if (s.state === 'dead') r = { code: LSB.DEAD_PID_FILE, message: `Jump client is dead, but its pid file ${installPaths(dir).pid} exists.` };
  else r = { code: LSB.NOT_RUNNING, message: 'Jump client is not running.' };
  const log = lastLogLines(dir);
  if (log.length > 0) r.message += `\nLast log lines (${join(installPaths(dir).config, 'agent.log')}):\n` + log.map((l) => `  ${l}`).join('\n');
  return r;
}
