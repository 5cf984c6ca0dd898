#!/usr/bin/env node
/**
 * `jump-client`: the endpoint program (packaged as one executable, docs/packaging.md).
 *
 *   jump-client install [--install-dir D] [--jc-*] [--silent] [--user U]   what the .bin runs (agent/install/cli.ts)
 *   jump-client start|stop|restart|status [--install-dir D]              what DIR/init-script runs
 *   jump-client run --config DIR [--run-as U] [--site URL --key-info KEY --site-pin PIN]
 *                   [--jc-name N] [--jc-jump-group G] [--jc-tag T] [--jc-comments C]
 *                   (the --jc-* flags: protocol/jc-flags.ts; to requested fields: protocol/jc-options.ts)
 *   jump-client uninstall --install-dir D | --config DIR                 what DIR/uninstall runs
 *   jump-client disable|enable --install-dir D | --config DIR
 *
 * `run` keeps the connection to the site until SIGTERM/SIGINT. The enrollment options are needed
 * on the first start only; they are saved in DIR (an install writes them from the installer's
 * stamp). A first start after the installer's stamped expiry is refused locally (INSTALLER_EXPIRED).
 *
 * `run --run-as U` as root is service mode (security issue #12 item 4): the agent keeps its identity
 * key in a root-only config dir (checked at start), like sshd, and every Jump session's processes
 * run as U, a non-root user (a missing or uid-0 U is refused, exit 1). Not as root, `--run-as` is
 * refused (sessions run as the agent's user). Root without it (by hand, tests) warns in the log.
 *
 * `run` exit status: 0 stopped by a signal; 1 bad configuration (the message names the setting);
 * 2 usage; 3 the site refused this jump client for good (the code is printed and logged, e.g.
 * INSTALLER_EXPIRED, JUMP_CLIENT_DELETED); 5 (Windows) past max-offline it started its own uninstall. Every command exits 2 on a usage error (unknown command or
 * flag, bad value), except `status`, which exits 4 (LSB: "program or service status is unknown";
 * 2 means "dead and lock file exists" there). The table is EXIT_CODES_HELP, at the end of `--help`.
 */
import { Command, Option } from 'commander';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readdirSync, rmSync, rmdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as nodeMachineId from 'node-machine-id';
import { pino, type Logger } from 'pino';
import { durationArg, positiveInt } from '../protocol/cli-args.js';
import { JumpError } from '../protocol/errors.js';
import { formatDuration } from '../protocol/duration.js';
import { JC_FLAGS, optionSpec } from '../protocol/jc-flags.js';
import { jcPassive, jcValues, parseJcOptions } from '../protocol/jc-options.js';
import { normalizeKeyInfo } from '../protocol/key-info.js';
import { addHelpTexts } from '../protocol/cli-help.js';
import { Agent } from './agent.js';
import { CLIENT_PLATFORM, CLIENT_VERSION } from './build-info.js';
import { Updater, runWatchdog } from './update.js';
import { writeAgentStatus } from './status-file.js';
import { OfflineClock } from './offline-clock.js';
import { startSelfUninstall } from './self-uninstall.js';
import type { Welcome } from '../protocol/messages.js';

/** How often the running agent checks its offline clock, and how often it saves it, in ms. */
const OFFLINE_CHECK_MS = 1_000;
const OFFLINE_SAVE_MS = 60_000;
import { AgentConfig, checkRootOnlyDir, identityFromConfig } from './config.js';
import { lookupAccount } from './install/accounts.js';
import { collectStats } from './stats.js';
import { addInstallerCommands, addMsiCommands, implicitInstall } from './install/cli.js';
import { DETECTION_KEY, removeWindowsDir, unregisterWindows } from './install/windows.js';
import { agentState, installPaths, readInstallConf, stopAgent } from './install/service.js';

// node-machine-id is CommonJS with an `__esModule` flag: Node's ESM loader offers it only as
// `default`, esbuild's CommonJS bundle (the packaged build) only by name. Take whichever exists.
const machineIdSync: () => string =
  nodeMachineId.machineIdSync ?? (nodeMachineId as unknown as { default: typeof nodeMachineId }).default.machineIdSync;

export const EXIT_CONFIG = 1;
export const EXIT_REFUSED = 3;
/** Windows: `run` stopped because past max-offline it started its own uninstall (the service host, packaging/service-host.c, then stops without restarting it). */
export const EXIT_UNINSTALLING = 5;

/**
 * The rule for `run --run-as` (security issue #12 items 4 and 9): when given, it needs root (euid 0)
 * and must name an existing account whose uid is not 0. Throws an Error naming `--run-as` and the
 * fix. Returns true when the agent runs as root without it (a bare `run --config` by hand or in
 * tests: its sessions would run as root, so the caller warns); every install passes it.
 */
export function checkRunAs(runAs: string | undefined, euid: number): boolean {
  if (runAs === undefined) return euid === 0;
  if (euid !== 0) throw new Error('--run-as: only a jump client running as root (service mode) takes --run-as; leave it out');
  if (runAs === '') throw new Error('--run-as: give the non-root user Jump sessions run as (install.conf run_as)');
  const account = lookupAccount(runAs);
  if (!account) throw new Error(`--run-as: no user "${runAs}" on this machine`);
  if (account.uid === 0) throw new Error(`--run-as: "${runAs}" has uid 0; Jump sessions never run as root: name an unprivileged user`);
  return false;
}

/**
 * The agent's pino logger on `file` (and stderr with `toStderr`). The file is opened here,
 * synchronously (an Error when it cannot be): a destination pino opens itself makes any exit
 * before it is open, or after it failed to open, throw "sonic boom is not ready yet".
 */
function openLog(file: string, toStderr: boolean, level: string): Logger {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const fileDest = pino.destination({ dest: openSync(file, 'a', 0o600), sync: false });
  const base = { base: { program: 'jump-client', pid: process.pid }, level };
  if (!toStderr) return pino(base, fileDest);
  return pino(base, pino.multistream([{ stream: fileDest, level: level as pino.Level }, { stream: process.stderr, level: level as pino.Level }]));
}

/** Exit codes, printed at the end of every `--help` (README.md "Exit codes" has the same table). */
const EXIT_CODES_HELP = `
Exit codes:
  0  success
  1  failure (the message says which; \`run\`: bad configuration)
  2  usage: unknown command or flag, bad flag value (see --help)
  3  \`run\`: the site refused this jump client for good (e.g. JUMP_CLIENT_DELETED);
     \`install\`: the installer cannot be used (expired, damaged; unknown to the site, revoked, used up)
  5  \`run\` (Windows service): it started its own uninstall; the service host stops, no restart
  6  \`run\` (Windows service): a self-update put a new jump-client.exe in place; the service host
     restarts it at once
  start/stop/restart/status (what DIR/init-script runs) use the LSB codes: status 0 running,
  1 dead with a pid file, 3 not running, 4 unknown (also a usage error); the others 1 failed,
  4 insufficient privilege, 5 not installed.`;

/** The subcommand in argv (the first word that is not a flag), e.g. `status`. */
function subcommandOf(argv: string[]): string | undefined {
  return argv.slice(2).find((a) => !a.startsWith('-'));
}

const program = new Command('jump-client')
  .description('The jump client: keeps this machine reachable from its site.')
  .version(CLIENT_VERSION)
  .showHelpAfterError("(see 'jump-client <command> --help')")
  // Usage errors exit 2; for `status` LSB gives 2 another meaning, so 4 ("unknown").
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : subcommandOf(process.argv) === 'status' ? 4 : 2));

const runCommand = program
  .command('run')
  .description('Run the agent in the foreground.')
  .requiredOption('--config <dir>', 'config directory (identity, settings, log)')
  .option('--site <url>', 'site URL, e.g. https://jump.example.com:8443 (first start)')
  .option('--key-info <key>', 'installer key, KEY_INFO (first start)')
  .option('--site-pin <pin>', 'the site identity to pin, ed25519:... (first start)');
// The `--jc-*` options, from the one table (protocol/jc-flags.ts): what to ask for at enrollment.
for (const f of JC_FLAGS) runCommand.addOption(new Option(optionSpec(f), `ask for it at enrollment (first start): ${f.help}`));
runCommand.option('--jc-passive', 'ask to enroll as a passive jump client (first start)');
runCommand
  .option('--run-as <user>', 'service mode (the agent runs as root): the user Jump sessions run as')
  .option('--log-stderr', 'also write the log to standard error')
  .option('--log-level <level>', 'pino log level', 'info')
  .addOption(new Option('--machine-id <id>', 'override the machine id (tests and the fleet simulator)').hideHelp())
  .addOption(new Option('--backoff-base <ms>', 'first reconnect ceiling').argParser(positiveInt('--backoff-base')).hideHelp())
  .addOption(new Option('--backoff-cap <ms>', 'largest reconnect ceiling').argParser(positiveInt('--backoff-cap')).hideHelp())
  .action(async (o) => {
    let cfg: AgentConfig;
    let log: Logger;
    let agent: Agent;
    let updater: Updater;
    try {
      const sessionsAsRoot = checkRunAs(o.runAs, process.geteuid?.() ?? -1);
      if (process.geteuid?.() === 0) checkRootOnlyDir(o.config);
      cfg = new AgentConfig(o.config);
      log = openLog(cfg.logFile, Boolean(o.logStderr), o.logLevel);
      if (sessionsAsRoot) log.warn('running as root without --run-as: Jump sessions run as root (an install always passes --run-as)');
      if (o.site) cfg.update({ site_url: o.site });
      if (o.sitePin) cfg.update({ site_pin: o.sitePin });
      if (o.machineId) cfg.update({ machine_id: o.machineId });
      if (Object.keys(jcValues(o)).length > 0 || jcPassive(o)) {
        if (cfg.data.client_id !== undefined) log.warn('already enrolled; --jc-* options ignored (edit the jump client in the console)');
        else {
          const r = parseJcOptions(o);
          if (!r.ok) throw new Error(`${r.flag}: ${r.problem}`);
          cfg.update({ requested: r.requested });
        }
      }
      if (o.keyInfo) {
        if (cfg.data.client_id !== undefined) log.warn('already enrolled; --key-info ignored');
        else cfg.update({ key_info: normalizeKeyInfo(o.keyInfo) });
      }
      const expiresAt = cfg.data.installer_expires_at;
      if (cfg.data.client_id === undefined && expiresAt !== undefined && Date.now() >= expiresAt) {
        const err = new JumpError('INSTALLER_EXPIRED', { detail: `It expired at ${new Date(expiresAt).toISOString()}.` });
        log.error({ code: err.code }, err.message);
        process.stderr.write(`jump-client: ${err.code}: ${err.message}\n`);
        // The log file opens asynchronously: give it a moment before exiting.
        setTimeout(() => process.exit(EXIT_REFUSED), 100);
        return;
      }
      const identity = identityFromConfig(cfg, machineIdSync());
      if (identity.clone) {
        // A copy of an enrolled jump client (issue #16, item 5): report it to the site, then stop (JUMP_CLIENT_CLONED).
        const why =
          `this jump client's identity (${join(cfg.dir, 'agent.key')}) was made on another machine (machine id ${identity.clone.keyMachineId}; ` +
          `this one is ${identity.clone.machineId}): it is a copy of another install (a cloned disk or image). It tells the site and stops; ` +
          'the original stays online. Reinstall the jump client on this machine (for golden images: install with NOSTART=1 and never start it before capturing the image).';
        log.error({ keyMachineId: identity.clone.keyMachineId, machineId: identity.clone.machineId }, why);
        process.stderr.write(`jump-client: ${why}\n`);
      }
      // Self-update (issue #17, agent/update.ts): only an installed jump client (DIR/install.conf
      // beside its config dir) swaps in a new build.
      const installDir = readInstallConf(dirname(cfg.dir)) ? dirname(cfg.dir) : null;
      updater = new Updater({
        cfg,
        installDir,
        version: CLIENT_VERSION,
        platform: CLIENT_PLATFORM,
        log: log.child({ component: 'update' }),
        send: (msg) => agent.sendNow(msg),
        siteFingerprint: () => agent.siteCertFingerprint,
      });
      agent = new Agent({
        onUpdate: (msg) => updater.onMessage(msg),
        identity,
        stats: collectStats,
        log,
        backoff: { baseMs: o.backoffBase, capMs: o.backoffCap },
        onEnrolled: (clientId) => cfg.update({ client_id: clientId, key_info: undefined, installer_expires_at: undefined }),
        jump: {
          forwardLan: cfg.data.forward_lan ?? false,
          runAs: o.runAs,
          // Read from the file at each session start, so `jump-client disable` takes effect at once.
          isDisabled: () => new AgentConfig(o.config).data.disabled === true,
        },
      });
    } catch (err) {
      process.stderr.write(`jump-client: ${(err as Error).message}\n`);
      process.exit(EXIT_CONFIG);
    }
    let fatal: JumpError | null = null;
    // The connection state for `init-script status` (agent/status-file.ts).
    writeAgentStatus(cfg.dir, { state: 'connecting' });
    // Time without the site (issue #18): past the site's max-offline, the jump client uninstalls itself.
    const offline = new OfflineClock(cfg.dir);
    const runStarted = performance.now();
    let lastSave = runStarted;
    let uninstalling = false;
    agent.on('online', (_id: number, welcome: Welcome) => {
      offline.contact(welcome.max_offline_ms);
      writeAgentStatus(cfg.dir, { state: 'connected' });
      try {
        updater.onWelcome(welcome);
      } catch (err) {
        log.error({ err: (err as Error).message }, 'update bookkeeping failed');
      }
    });
    agent.on('offline', (reason: string) => {
      offline.lost();
      writeAgentStatus(cfg.dir, { state: 'offline', reason });
    });
    const lifetime = setInterval(() => {
      offline.tick();
      const t = performance.now();
      if (t - lastSave >= OFFLINE_SAVE_MS) {
        offline.save();
        lastSave = t;
      }
      // Only after this run has tried the site for a while: an agent started after a long power-off
      // asks the site first (it may still be wanted, or be told it was deleted).
      const limit = offline.limitMs;
      if (uninstalling || !offline.expired() || limit === null || t - runStarted < Math.min(60_000, limit)) return;
      uninstalling = true;
      offline.save();
      log.warn({ offlineMs: Math.round(offline.elapsedMs), maxOfflineMs: limit }, 'no contact with the site for longer than its max-offline');
      writeAgentStatus(cfg.dir, { state: 'refused', code: 'JUMP_CLIENT_UNINSTALLED', reason: `offline for more than ${formatDuration(limit)}` });
      startSelfUninstall(cfg.dir, log);
      void agent.stop();
    }, OFFLINE_CHECK_MS);
    lifetime.unref();
    agent.on('fatal', (err: JumpError) => {
      fatal = err;
      writeAgentStatus(cfg.dir, { state: 'refused', code: err.code });
    });
    const stop = () => void agent.stop();
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    // Windows: the service host (packaging/service-host.c) stops the agent with CTRL_BREAK.
    if (process.platform === 'win32') process.on('SIGBREAK', stop);
    log.info({ site: cfg.data.site_url, clientId: cfg.data.client_id ?? null, version: CLIENT_VERSION, platform: CLIENT_PLATFORM ?? null }, 'jump client starting');
    await agent.start();
    updater.close();
    clearInterval(lifetime);
    offline.save();
    const refused = fatal as JumpError | null;
    if (!refused) writeAgentStatus(cfg.dir, { state: 'stopped' });
    if (refused) process.stderr.write(`jump-client: ${refused.code}: ${refused.message}\n`);
    log.info('jump client stopped');
    log.flush();
    setTimeout(() => process.exit(refused ? EXIT_REFUSED : uninstalling && process.platform === 'win32' ? EXIT_UNINSTALLING : 0), 50);
  });

program
  .command('uninstall')
  .description(
    'Stop this jump client, tell the site it is uninstalled (it stays listed as "uninstalled" until deleted there), and delete its files.',
  )
  .option('--install-dir <dir>', 'the install dir (what DIR/uninstall passes)')
  .option('--config <dir>', 'only a config directory (an agent started with `run --config`)')
  // The MSI's uninstall action (packaging/jump-client.wxs `Unconfigure`): also removes the ClientId the service host wrote.
  .addOption(new Option('--msi').hideHelp())
  .addOption(
    new Option('--timeout <duration>', 'how long to try to reach the site, e.g. 15s (a bare number is milliseconds)')
      .argParser(uninstallTimeout)
      .default(15_000, '15s'),
  )
  .action(async (o) => {
    if ((o.installDir === undefined) === (o.config === undefined)) {
      process.stderr.write('jump-client uninstall: give --install-dir DIR (an install) or --config DIR (a bare config).\n');
      process.exit(2);
    }
    const installDir: string | undefined = o.installDir;
    const conf = installDir !== undefined ? readInstallConf(installDir) : null;
    if (installDir !== undefined && !conf) {
      process.stdout.write(`Nothing to uninstall: ${installDir} is not a jump client install dir.\n`);
      return;
    }
    const configDir: string = installDir !== undefined ? installPaths(installDir).config : o.config;
    if (installDir !== undefined && process.platform === 'win32' && conf) await unregisterWindows(installDir, conf);
    else if (installDir !== undefined && agentState(installDir).state === 'running') await stopAgent(installDir);
    let told = false;
    let deleted = false;
    if (existsSync(join(configDir, 'agent.json'))) {
      try {
        const cfg = new AgentConfig(configDir);
        if (cfg.data.client_id !== undefined) {
          // Written synchronously and closed before the files go: Windows cannot delete an open file.
          const dest = pino.destination({ dest: cfg.logFile, mode: 0o600, sync: true });
          const log = pino({ base: { program: 'jump-client', pid: process.pid }, level: 'info' }, dest);
          const agent = new Agent({
            identity: identityFromConfig(cfg, machineIdSync()),
            stats: collectStats,
            log,
            backoff: { baseMs: 500, capMs: 2_000 },
            onEnrolled: () => undefined,
            uninstall: true,
          });
          agent.on('fatal', (err: JumpError) => {
            told = err.code === 'JUMP_CLIENT_UNINSTALLED' || err.code === 'JUMP_CLIENT_DELETED';
            deleted = err.code === 'JUMP_CLIENT_DELETED';
          });
          const timer = setTimeout(() => void agent.stop(), o.timeout);
          // No silent wait (issue #14): after 2 s, say what it waits for and how long at most.
          const waiting = setTimeout(
            () => process.stderr.write(`jump-client: telling the site (${cfg.data.site_url}) this jump client is uninstalled; waiting up to ${formatDuration(o.timeout)} ...\n`),
            2_000,
          );
          await agent.start();
          clearTimeout(timer);
          clearTimeout(waiting);
          await agent.stop();
          await new Promise((resolve) => {
            dest.once('close', resolve);
            dest.end();
          });
          if (!told) process.stderr.write('jump-client: the site could not be told; the item stays in the Jump interface until deleted there.\n');
        }
      } catch (err) {
        process.stderr.write(`jump-client: ${(err as Error).message}\n`);
      }
    }
    // An install dir is removed whole; its parent may not be writable by this user (service mode),
    // then DIR/uninstall, running as root, removes the emptied dir.
    if (installDir !== undefined && process.platform === 'win32') removeWindowsDir(installDir);
    else if (installDir !== undefined) {
      for (const e of readdirSync(installDir)) rmSync(join(installDir, e), { recursive: true, force: true });
      try {
        rmdirSync(installDir);
      } catch {
        /* left for DIR/uninstall */
      }
    } else rmSync(configDir, { recursive: true, force: true });
    // The detection key's ClientId (docs/packaging.md "Detection rule"): written by the service host,
    // not by the MSI, so Windows Installer does not remove it; wixl has no RemoveRegistryValue.
    if (o.msi && process.platform === 'win32') {
      spawnSync(join(process.env.SystemRoot ?? 'C:\\Windows', 'System32', 'reg.exe'), ['delete', `HKLM\\${DETECTION_KEY}`, '/v', 'ClientId', '/f'], { stdio: 'ignore', windowsHide: true });
    }
    const onSite = deleted ? '; it had already been deleted on the site' : told ? '; the site shows it as uninstalled' : '';
    process.stdout.write(`Jump client uninstalled${onSite}.\n`);
  });

for (const [name, disabled] of [
  ['disable', true],
  ['enable', false],
] as const) {
  program
    .command(name)
    .description(
      disabled
        ? 'Refuse Jump sessions into this machine until `enable` (the running agent stays connected).'
        : 'Allow Jump sessions into this machine again.',
    )
    .option('--install-dir <dir>', 'the install dir (as start/stop/status take it)')
    .option('--config <dir>', 'only a config directory (an agent started with `run --config`)')
    .action((o: { installDir?: string; config?: string }) => {
      if ((o.installDir === undefined) === (o.config === undefined)) {
        process.stderr.write(`jump-client ${name}: give --install-dir DIR (an install) or --config DIR (a bare config); see --help.\n`);
        process.exit(2);
      }
      try {
        let configDir = o.config!;
        if (o.installDir !== undefined) {
          if (!readInstallConf(o.installDir)) throw new Error(`${o.installDir} is not a jump client install dir (no install.conf); pass --install-dir DIR`);
          configDir = installPaths(o.installDir).config;
        }
        if (!existsSync(join(configDir, 'agent.json'))) throw new Error(`${configDir} holds no jump client config (agent.json)`);
        const cfg = new AgentConfig(configDir);
        cfg.update({ disabled });
        process.stdout.write(`Jump sessions ${disabled ? 'disabled' : 'enabled'} for this jump client.\n`);
      } catch (err) {
        process.stderr.write(`jump-client: ${(err as Error).message}\n`);
        process.exit(EXIT_CONFIG);
      }
    });
}

program
  .command('selftest', { hidden: true })
  .description("Check that this build's native modules load and work; prints JSON, exits 1 when one does not.")
  .action(async () => {
    const result: Record<string, string> = { platform: `${process.platform}-${process.arch}`, node: process.versions.node };
    try {
      const pty = await import('node-pty');
      const win = process.platform === 'win32';
      const p = pty.spawn(win ? 'cmd.exe' : '/bin/sh', win ? ['/c', 'echo selftest'] : ['-c', 'echo selftest'], { cols: 80, rows: 24 });
      let out = '';
      p.onData((d) => (out += d));
      const code = await new Promise<number>((res) => p.onExit((e) => res(e.exitCode)));
      result.pty = code === 0 && out.includes('selftest') ? 'ok' : `exit ${code}, output ${JSON.stringify(out)}`;
    } catch (err) {
      result.pty = (err as Error).message;
    }
    try {
      const bu = await import('bufferutil');
      const out = Buffer.alloc(4);
      bu.mask(Buffer.from([1, 2, 3, 4]), Buffer.from([1, 1, 1, 1]), out, 0, 4);
      const native = /\[native code\]/.test(String(bu.mask));
      result.bufferutil = out.equals(Buffer.from([0, 3, 2, 5])) ? (native ? 'ok' : 'JavaScript fallback') : 'wrong result';
    } catch (err) {
      result.bufferutil = (err as Error).message;
    }
    process.stdout.write(JSON.stringify(result) + '\n');
    process.exit(result.pty === 'ok' && result.bufferutil === 'ok' ? 0 : 1);
  });

program
  .command('update-watchdog', { hidden: true })
  .description('Self-update (agent/update.ts): restart on the new build, roll back unless it comes online in time.')
  .requiredOption('--state <file>', 'the update state file, DIR/update/state.json')
  .action(async (o: { state: string }) => {
    const say = (line: string) => process.stdout.write(`${new Date().toISOString()} update-watchdog: ${line}\n`);
    try {
      const outcome = await runWatchdog(o.state, undefined, say);
      process.exit(outcome === 'healthy' ? 0 : 1);
    } catch (err) {
      say((err as Error).message);
      process.exit(EXIT_CONFIG);
    }
  });

addInstallerCommands(program);
addMsiCommands(program);

/** `uninstall --timeout`: a duration (15s, 1m) like every other flag; a bare number stays milliseconds. */
function uninstallTimeout(v: string): number {
  return /^\d+$/.test(v.trim()) ? positiveInt('--timeout')(v) : durationArg('--timeout', { hint: 'a duration such as 15s or 1m (a bare number is milliseconds)' })(v);
}

/** The `Examples:` of every command's --help (issue #14), keyed by the command's path as typed. */
const EXAMPLES: Record<string, string[]> = {
  'jump-client': [
    'sh ./bomgar-scc-<uid>.bin --install-dir /opt/jumpclient --user jsmith   # the .bin runs `jump-client install`',
    '/opt/jumpclient/jump-client status --install-dir /opt/jumpclient',
  ],
  'jump-client install': [
    'sh ./bomgar-scc-<uid>.bin --install-dir /opt/jumpclient --jc-jump-group "Linux Admins" --jc-tag servers --user jsmith',
    'sh ./bomgar-scc-<uid>.bin --install-dir ~/jumpclient --silent   # user mode, nothing printed',
    'sh ./bomgar-scc-<uid>.bin --install-dir /opt/jumpclient --user jsmith --offline   # a staged install: do not ask the site first',
  ],
  'jump-client run': [
    'jump-client run --config ~/.jump-client --site https://jump.example.com:8443 --key-info <KEY_INFO> --site-pin ed25519:...',
    'jump-client run --config ~/.jump-client --log-stderr   # later starts: the saved identity',
  ],
  'jump-client uninstall': ['jump-client uninstall --install-dir /opt/jumpclient', 'jump-client uninstall --config ~/.jump-client --timeout 30s'],
  'jump-client start': ['jump-client start --install-dir /opt/jumpclient   # what DIR/init-script start runs'],
  'jump-client stop': ['jump-client stop --install-dir /opt/jumpclient'],
  'jump-client restart': ['jump-client restart --install-dir /opt/jumpclient'],
  'jump-client status': ['jump-client status --install-dir /opt/jumpclient; echo "LSB status $?"'],
  'jump-client disable': ['jump-client disable --install-dir /opt/jumpclient   # refuse Jump sessions until enable'],
  'jump-client enable': ['jump-client enable --install-dir /opt/jumpclient'],
};

addHelpTexts(program, EXAMPLES, EXIT_CODES_HELP);

program.parseAsync(implicitInstall(process.argv)).catch((err: unknown) => {
  process.stderr.write(`jump-client: ${(err as Error).message}\n`);
  process.exit(EXIT_CONFIG);
});
