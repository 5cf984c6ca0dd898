/**
 * The installer's commands on the `jump-client` program:
 *
 *   jump-client install [--install-dir D] [--jc-jump-group G] [--jc-tag T] [--jc-comments C]
 *                       [--jc-name N] [--silent] [--user U] [--offline]   (what the .bin runs)
 *   jump-client start|stop|restart|status [--install-dir D]        (what DIR/init-script runs)
 *
 * Before anything is written, install asks the site whether it would accept the enrollment
 * (agent/install/preflight.ts; `--offline` skips it, a site that cannot be asked gives a warning).
 * install exits 0 installed; 1 a system step failed (rolled back), or the site could not prove the
 * pinned key (SITE_IDENTITY_MISMATCH); 2 bad input (a flag, the user, the directory, a forbidden
 * override, a jump group the site refuses); 3 the installer itself cannot be used (expired,
 * damaged; unknown to the site, revoked, used up); on Windows 0, 1603 or 1618 instead
 * (agent/install/windows.ts WINDOWS_EXIT). Every failure is also appended to the install log (root: /var/log/jump-client-install.log,
 * others: ~/.jump-client-install.log) and, where `logger` exists, to syslog (seeds: "check the
 * operating system's event log for installation errors"). With --silent nothing is printed.
 * start/stop/restart/status exit with the LSB codes of agent/install/service.ts.
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir, userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { JumpError, type ErrorCode } from '../../protocol/errors.js';
import { isPackaged, packageDir } from '../native.js';
import { INSTALLER_FLAGS, JC_FLAGS, optionKey, optionSpec } from '../../protocol/jc-flags.js';
import { keyInfoField, normalizeKeyInfo } from '../../protocol/key-info.js';
import { AgentConfig, checkIdentitySettings } from '../config.js';
import { install, installSummary, requestedFromOptions, type InstallOptions } from './install.js';
import { LSB, readInstallConf, startAgent, statusAgent, stopAgent, type ActionResult } from './service.js';
import { STAMP_FILE, readStamp } from '../../protocol/stamp.js';
import { extractOverlay, findOverlay } from './exe-overlay.js';
import { WIN_SERVICE_HOST } from '../../protocol/exe-overlay.js';
import { checkWithSite } from './preflight.js';
import { installWindows, MSI_NEW_CONFIG_MARKER, msiExistingConfig, setServiceRecovery, startService, windowsInstallExit } from './windows.js';
import { checkWindowsAcls, secureMachineDataDir, setWindowsAcls } from './windows-acl.js';

/** `jump-client install` exit codes (see the module comment). */
export const INSTALL_EXIT = { OK: 0, FAILED: 1, BAD_INPUT: 2, INSTALLER_UNUSABLE: 3 } as const;

/** Exit 3: the installer itself cannot be used (found locally or by the site's preflight). */
const UNUSABLE: readonly ErrorCode[] = ['INSTALLER_EXPIRED', 'INSTALLER_DAMAGED', 'INSTALLER_KEY_UNKNOWN', 'INSTALLER_REVOKED', 'INSTALLER_USED_UP'];
/** Exit 1: a failure that is neither the input nor the installer. */
const FAILED: readonly ErrorCode[] = ['INSTALL_FAILED', 'SITE_IDENTITY_MISMATCH', 'DEPLOY_LIMIT_REACHED', 'DEPLOY_ACTIVE_LIMIT_REACHED'];

/** Where install failures are logged for this user. */
export function installLogFile(): string {
  return process.geteuid?.() === 0 ? '/var/log/jump-client-install.log' : join(homedir(), '.jump-client-install.log');
}

function logFailure(message: string): void {
  logLine(message, 'user.err');
}

/** Appends `message` to the install log and the system log (syslog `priority`, or the event log). */
function logLine(message: string, priority: 'user.err' | 'user.warning'): void {
  const who = process.geteuid ? `uid ${process.geteuid()}` : userInfo().username;
  const line = `${new Date().toISOString()} jump-client install (${who}): ${message}\n`;
  try {
    appendFileSync(installLogFile(), line, { mode: 0o600 });
  } catch {
    /* the exit status still tells */
  }
  if (process.platform === 'win32') {
    // The Windows event log (seeds: "check the operating system's event log for installation errors").
    const type = priority === 'user.err' ? 'ERROR' : 'WARNING';
    spawnSync('eventcreate', ['/T', type, '/ID', '1000', '/L', 'APPLICATION', '/SO', 'JumpClient', '/D', message.slice(0, 4000)], { stdio: 'ignore', windowsHide: true });
  } else spawnSync('logger', ['-t', 'jump-client-install', '-p', priority, '--', message], { stdio: 'ignore' });
}

/**
 * The per-installer EXE runs `install` when started with flags only (the seeds' command line:
 * `bomgar-scc-<uid>.exe --install-dir ... --jc-tag ...`). Returns argv with `install` inserted.
 */
export function implicitInstall(argv: string[]): string[] {
  if (process.platform !== 'win32' || !isPackaged()) return argv;
  const first = argv[2];
  if (first !== undefined && !first.startsWith('-')) return argv;
  if (first === '--version' || first === '-V') return argv;
  return findOverlay(process.execPath) ? [...argv.slice(0, 2), 'install', ...argv.slice(2)] : argv;
}

/** Adds `install` and the init-script actions to `program`. */
export function addInstallerCommands(program: Command): void {
  const silent = process.argv.includes('--silent');
  const cmd = program
    .command('install')
    .description('Install this jump client (what bomgar-scc-<uid>.bin runs); root installs in service mode and needs --user.')
    .showHelpAfterError('(--help lists the flags)')
    .configureOutput({
      writeErr: (s) => {
        if (!silent) process.stderr.write(s);
      },
    })
    .exitOverride((err: CommanderError) => {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') process.exit(0);
      logFailure(err.message);
      process.exit(process.platform === 'win32' ? windowsInstallExit('VALIDATION_FAILED') : INSTALL_EXIT.BAD_INPUT);
    });
  for (const f of INSTALLER_FLAGS) cmd.addOption(new Option(optionSpec(f), f.help));
  cmd.action(async (o: InstallOptions) => {
    let unpacked: string | null = null;
    try {
      let from = packageDir();
      if (process.platform === 'win32') {
        // The per-installer EXE: the payload is in this executable's overlay.
        unpacked = mkdtempSync(join(tmpdir(), 'jump-client-install-'));
        try {
          await extractOverlay(process.execPath, unpacked);
        } catch (err) {
          throw new JumpError('INSTALLER_DAMAGED', { detail: (err as Error).message });
        }
        from = unpacked;
      }
      // From source (tests, development), the payload dir can be named; the packaged program
      // always installs what it was shipped with.
      if (!isPackaged() && process.env.JUMP_CLIENT_PACKAGE_DIR) from = resolve(process.env.JUMP_CLIENT_PACKAGE_DIR);
      const stamp = readStamp(join(from, STAMP_FILE));
      const warn = (line: string) => {
        logLine(`${line}`, 'user.warning');
        if (!o.silent) process.stderr.write(`jump-client install: ${line}\n`);
      };
      const r = process.platform === 'win32' ? await installWindows(o, stamp, from, Date.now()) : await install(o, stamp, from, Date.now(), warn);
      if (unpacked) rmSync(unpacked, { recursive: true, force: true });
      if (!o.silent) process.stdout.write(installSummary(r) + '\n');
      process.exit(INSTALL_EXIT.OK);
    } catch (err) {
      const e = err instanceof JumpError ? err : new JumpError('INSTALL_FAILED', { detail: (err as Error).message });
      const text = `${e.code}: ${e.message}`;
      logFailure(text);
      if (!o.silent) {
        if (e.code === 'INSTALL_AS_ROOT') process.stderr.write('WARNING: you are installing as root.\n');
        process.stderr.write(`jump-client install: ${text}\n`);
      }
      if (unpacked) rmSync(unpacked, { recursive: true, force: true });
      const code = FAILED.includes(e.code) ? INSTALL_EXIT.FAILED : UNUSABLE.includes(e.code) ? INSTALL_EXIT.INSTALLER_UNUSABLE : INSTALL_EXIT.BAD_INPUT;
      // Windows: msiexec's conventions, 1603 / 1618 (agent/install/windows.ts WINDOWS_EXIT; issue #16 item 7).
      process.exit(process.platform === 'win32' ? windowsInstallExit(e.code) : code);
    }
  });

  const actions: [string, string, (dir: string) => Promise<ActionResult> | ActionResult][] = [
    [
      'start',
      'Start the installed jump client (its first start enrolls it; must be within the installer validity).',
      (dir) => startAgent(dir, (line) => process.stderr.write(`${line}\n`)),
    ],
    ['stop', 'Stop the installed jump client.', stopAgent],
    [
      'restart',
      'Stop, then start the installed jump client.',
      async (dir) => {
        await stopAgent(dir);
        return startAgent(dir, (line) => process.stderr.write(`${line}\n`));
      },
    ],
    ['status', 'Is the jump client running, and connected to its site since when? Prints the last log lines. Exit 0 running, 1 dead with a pid file, 3 not running (also: refused by the site for good), 4 unknown (LSB).', statusAgent],
  ];
  for (const [name, description, fn] of actions) {
    program
      .command(name)
      .description(description)
      .option('--install-dir <dir>', 'the install dir (default: the directory of this executable)')
      .action(async (o: { installDir?: string }) => {
        const dir = resolve(o.installDir ?? (isPackaged() ? packageDir() : '.'));
        const conf = readInstallConf(dir);
        if (!conf) {
          process.stderr.write(`jump-client: ${dir} is not a jump client install dir (no install.conf); pass --install-dir.\n`);
          // LSB: 4 "unknown" for status, 5 "not installed" for the others.
          process.exit(name === 'status' ? 4 : 5);
        }
        if (conf.unit && conf.mode === 'service' && process.geteuid?.() !== 0 && name !== 'status' && existsUnit(conf.unit)) {
          process.stderr.write(`jump-client: this jump client runs as the system service ${conf.unit}; ${name} it as root.\n`);
          process.exit(LSB.INSUFFICIENT_PRIVILEGE);
        }
        const r = await fn(dir);
        (r.code === 0 || name === 'status' ? process.stdout : process.stderr).write(r.message + '\n');
        process.exit(r.code);
      });
  }
}

/** The Windows service the MSI registers (packaging/jump-client.wxs; its binary is the service host, packaging/service-host.c). */
export const WINDOWS_SERVICE = 'JumpClient';

/** An MSI property's value as a flag value: empty and the template's "-" mean "not given". */
function msiValue(v: string | undefined): string | undefined {
  return v === undefined || v === '' || v === '-' ? undefined : v;
}

/**
 * `jump-client msi-configure`: the MSI's deferred custom action (packaging/jump-client.wxs). Writes
 * the config of the jump client the MSI just installed into INSTALLDIR, from KEY_INFO, the site
 * stamped into the MSI and the jc_* properties, and sets and checks INSTALLDIR's ACLs (service
 * mode rule, agent/install/windows-acl.ts). A failure exits 1, which makes msiexec roll the
 * whole install back. Registering the Windows service is not done yet (issue #5).
 */
export function addMsiCommands(program: Command): void {
  const cmd = program
    .command('msi-configure', { hidden: true })
    .requiredOption('--install-dir <dir>')
    .option('--site <url>')
    .option('--site-pin <pin>')
    .option('--key-info <key>')
    .option('--key-info-stdin', 'read KEY_INFO from stdin (what the MSI does: never on a command line)')
    .option('--nostart <flag>', '1: register the service but do not start it')
    .option('--offline <flag>', '1: do not check the installer with the site first (OFFLINE=1, a staged install)');
  // The `--jc-*` properties, from the one table (packaging/build.mjs passes them from the same table).
  for (const f of JC_FLAGS) cmd.addOption(new Option(optionSpec(f), f.help));
  cmd.option('--jc-passive <flag>', '1: enroll as a passive jump client (MSI jc_passive=1)');
  cmd.action(async (o: Record<string, string | undefined>) => {
    try {
      const dir = resolve(o.installDir!);
      const site = msiValue(o.site);
      const pin = msiValue(o.sitePin);
      const typedKey = msiValue(o.keyInfoStdin ? await readStdin() : o.keyInfo);
      const key = typedKey === undefined ? undefined : normalizeKeyInfo(typedKey);
      if (!site || !pin) throw new JumpError('INSTALLER_DAMAGED', { detail: 'This MSI has no site stamped in it (SITE_URL, SITE_PIN): use the MSI `jump installer create --platform windows-x64` wrote.' });
      // An upgrade (or repair) of an enrolled install keeps its enrollment: no KEY_INFO needed (issue #16).
      const existing = msiExistingConfig(join(dir, 'config'), site, pin);
      const keep = existing === 'enrolled' || (existing === 'pending' && !key);
      if (!keep && (!key || !keyInfoField.safeParse(key).success)) throw new JumpError('VALIDATION_FAILED', { field: 'KEY_INFO', detail: 'KEY_INFO: give the installer key on the msiexec line, KEY_INFO=<key>.' });
      const requested = requestedFromOptions({
        ...Object.fromEntries(JC_FLAGS.map((f) => [optionKey(f.flag), msiValue(o[optionKey(f.flag)])])),
        jcPassive: msiValue(o.jcPassive),
      });
      // Would the site accept this enrollment? A refusal fails the install (1603), before KEY_INFO is
      // written. An upgrade that keeps its enrollment has nothing to ask.
      if (!keep && key) {
        await checkWithSite({ siteUrl: site, sitePin: pin, keyInfo: key }, requested, { offline: o.offline === '1', warn: (line) => process.stderr.write(`jump-client msi-configure: ${line}\n`) });
      }
      // Explicit, non-inherited ACLs on INSTALLDIR before KEY_INFO is written (security issue #12,
      // item 5; agent/install/windows-acl.ts): a custom installdir inherits its parent's ACL.
      mkdirSync(join(dir, 'config'), { recursive: true });
      setWindowsAcls(dir, 'service');
      // The machine's data dir (the service host's Logs): made trustworthy now, by the service host
      // the MSI just installed (agent/install/windows-acl.ts secureMachineDataDir).
      secureMachineDataDir(join(dir, WIN_SERVICE_HOST));
      if (keep) {
        rmSync(join(dir, 'config', MSI_NEW_CONFIG_MARKER), { force: true });
        process.stdout.write(`jump-client msi-configure: kept the ${existing === 'enrolled' ? 'enrollment' : 'installer key'} in ${join(dir, 'config')} (an upgrade or repair)${key ? '; the KEY_INFO given was not used' : ''}\n`);
      } else {
        // The marker first: the rollback action removes a config only where it finds one.
        writeFileSync(join(dir, 'config', MSI_NEW_CONFIG_MARKER), '');
        if (existing === 'none') rmSync(join(dir, 'config', 'agent.key'), { force: true }); // another site's identity
        const cfg = new AgentConfig(join(dir, 'config'));
        cfg.update({ site_url: site, site_pin: pin, key_info: key, client_id: undefined, ...(Object.keys(requested).length > 0 ? { requested } : {}) });
        // The checks the agent makes at start (fail the install, not the first start), without making
        // the identity key: the agent makes it at its first start (issue #16, item 5).
        checkIdentitySettings(cfg.data);
      }
      setWindowsAcls(dir, 'service'); // again: the owner and propagation to what the config step wrote
      const acl = checkWindowsAcls(dir, 'service', null);
      if (!acl.verified) process.stderr.write(`jump-client msi-configure: WARNING: ${acl.why}.\n`);
      process.stdout.write(`jump-client msi-configure: ${setServiceRecovery(WINDOWS_SERVICE)}\n`);
      if (o.nostart !== '1') await startService(WINDOWS_SERVICE);
      process.exit(0);
    } catch (err) {
      const e = err instanceof JumpError ? err : new JumpError('INSTALL_FAILED', { detail: (err as Error).message });
      logFailure(`${e.code}: ${e.message}`);
      process.stderr.write(`jump-client msi-configure: ${e.code}: ${e.message}\n`);
      process.exit(1);
    }
  });
}

/** All of stdin (the MSI's configure action writes KEY_INFO there and closes it). */
async function readStdin(): Promise<string> {
  let text = '';
  for await (const chunk of process.stdin) text += chunk;
  return text.trim();
}

function existsUnit(unit: string): boolean {
  return spawnSync('systemctl', ['cat', `${unit}.service`], { stdio: 'ignore' }).status === 0;
}
