/**
 * `jump-client install`: what `sh ./bomgar-scc-<uid>.bin ARGS` runs (seeds: "Installation on
 * headless Linux systems", the command-line parameter table; issue #3).
 *
 * Checks everything first (locally, then with the site: agent/install/preflight.ts), then installs
 * into a new directory, and rolls back on any failure, so a failed install leaves no install dir,
 * no unit and no enrollment behind (the jump client enrolls at its first start, never here; the
 * preflight records nothing on the site). Errors are JumpErrors with a catalog code:
 *   INSTALL_AS_ROOT, INSTALL_USER_UNKNOWN, INSTALL_USER_NOT_ALLOWED, INSTALL_DIR_EXISTS,
 *   INSTALL_DIR_UNWRITABLE, INSTALL_DIR_UNSAFE, INSTALLER_DAMAGED, INSTALLER_EXPIRED, INSTALLER_OVERRIDE_FORBIDDEN,
 *   VALIDATION_FAILED (a flag's value), INSTALL_FAILED (a system step; rolled back); from the site:
 *   INSTALLER_KEY_UNKNOWN, INSTALLER_REVOKED, INSTALLER_USED_UP, JUMP_GROUP_NOT_FOUND, SITE_IDENTITY_MISMATCH.
 *
 * Root installs in service mode (starts at boot; the agent runs as root and its Jump sessions as
 * `--user`); anyone else in user mode (runs as that user, started with `DIR/init-script start`).
 *
 * Security issue #12 items 9 and 13: the install is built in a private staging dir made next to
 * the target (mkdtemp, 0700, owned by whoever installs), every file created with O_EXCL (never
 * through a symlink), then renamed into place whole. Nothing is ever chowned: in service mode every
 * file is root's, and the target's ancestors must be root's and not group/world-writable
 * (INSTALL_DIR_UNSAFE), so the run-as user cannot swap in what root runs.
 */
import { accessSync, chmodSync, constants, copyFileSync, cpSync, existsSync, lstatSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { AgentConfig } from '../config.js';
import { JumpError } from '../../protocol/errors.js';
import { OVERRIDABLE_FIELDS } from '../../protocol/fields.js';
import type { RequestedFields } from '../../protocol/messages.js';
import { parseJcOptions, type JcOptions } from '../../protocol/jc-options.js';
import { VERSION } from '../../protocol/version.js';
import { lookupAccount, unreachableAncestor, unsafeAncestor, type Account } from './accounts.js';
import { flagOfField } from '../../protocol/jc-flags.js';
import { checkWithSite, stampTarget } from './preflight.js';
import {
  CRON_DIR,
  bootFiles,
  cronEntry,
  formatInstallConf,
  newUnitName,
  removeBootStart,
  run,
  systemdRunning,
  systemdUnit,
  type InstallConf,
} from './service.js';
import type { Stamp } from '../../protocol/stamp.js';

/** The parsed flags (commander's camelCase names of INSTALLER_FLAGS). */
export interface InstallOptions extends JcOptions {
  installDir?: string;
  silent?: boolean;
  user?: string;
  /** Windows only: register but do not start. */
  nostart?: boolean;
  /** Do not ask the site before installing (agent/install/preflight.ts): staged or offline installs. */
  offline?: boolean;
}

/** What the install did, for the summary. */
export interface InstallResult {
  dir: string;
  mode: 'service' | 'user';
  runAs: string;
  /** How the install starts at boot: a systemd unit, a cron.d entry, or nothing (user mode). */
  bootStart: { kind: 'systemd' | 'cron'; file: string } | null;
}

/** The default `--install-dir` of a service-mode install (a user-mode install: `~/jumpclient`). */
export const SERVICE_DEFAULT_DIR = '/opt/jumpclient';

/** Files of the package that go into every install dir (beside them: lib/). */
const PACKAGE_FILES = ['jump-client', 'init-script', 'uninstall'];

/**
 * The fields asked for on the command line (`--jc-*`, protocol/jc-options.ts), validated.
 * Throws VALIDATION_FAILED naming the flag.
 */
export function requestedFromOptions(o: InstallOptions): RequestedFields {
  const r = parseJcOptions(o);
  if (!r.ok) throw new JumpError('VALIDATION_FAILED', { field: r.flag, detail: `${r.flag}: ${r.problem}.` });
  return r.requested;
}

/**
 * Refuses a requested value that differs from the installer's default when the installer does
 * not allow that field to be overridden (the site checks the same again at enrollment).
 */
export function checkOverrides(stamp: Stamp, requested: RequestedFields): void {
  for (const field of OVERRIDABLE_FIELDS) {
    const value = requested[field];
    if (value === undefined || value === stamp.defaults[field] || stamp.allow_override.includes(field)) continue;
    const flag = flagOfField(field);
    throw new JumpError('INSTALLER_OVERRIDE_FORBIDDEN', { field: flag, detail: `${flag}: this installer fixes it to "${stamp.defaults[field] ?? ''}".` });
  }
}

/** Who the jump client will run as, from `--user` and who is installing. */
export function resolveRunAs(o: InstallOptions, euid: number): Account {
  if (euid === 0) {
    if (o.user === undefined) throw new JumpError('INSTALL_AS_ROOT', { field: '--user' });
    const account = lookupAccount(o.user);
    if (!account) throw new JumpError('INSTALL_USER_UNKNOWN', { field: '--user', detail: `--user: no user "${o.user}".` });
    if (account.uid === 0) {
      throw new JumpError('INSTALL_USER_NOT_ALLOWED', { field: '--user', detail: `--user: "${o.user}" is root; name an unprivileged user.` });
    }
    return account;
  }
  const me = userInfo();
  const self = lookupAccount(me.username);
  if (o.user !== undefined && o.user !== me.username) {
    if (!lookupAccount(o.user)) throw new JumpError('INSTALL_USER_UNKNOWN', { field: '--user', detail: `--user: no user "${o.user}".` });
    throw new JumpError('INSTALL_USER_NOT_ALLOWED', {
      field: '--user',
      detail: `--user: only root can install a jump client that runs as another user ("${o.user}"); run the installer as root, or as ${o.user}.`,
    });
  }
  return self ?? { name: me.username, uid: me.uid, gid: me.gid, home: me.homedir, shell: me.shell ?? '/bin/sh', groups: [me.gid] };
}

/**
 * The seeds' rule for `--install-dir`, the part every platform shares: `dir` must not exist and
 * its parent must be a directory. Returns the parent. Throws INSTALL_DIR_EXISTS or INSTALL_DIR_UNWRITABLE.
 */
export function checkNewDir(dir: string): string {
  let exists = true;
  try {
    lstatSync(dir);
  } catch {
    exists = false;
  }
  if (exists) throw new JumpError('INSTALL_DIR_EXISTS', { field: '--install-dir', detail: `--install-dir: ${dir} exists.` });
  const parent = dirname(dir);
  let parentIsDir = false;
  try {
    parentIsDir = statSync(parent).isDirectory();
  } catch {
    /* missing */
  }
  if (!parentIsDir) throw new JumpError('INSTALL_DIR_UNWRITABLE', { field: '--install-dir', detail: `--install-dir: ${parent} does not exist or is not a directory.` });
  return parent;
}

/**
 * Writes the jump client's config (agent/config.ts) from the installer's stamp and the fields
 * asked for: what its first start needs to enroll, and the expiry it must start before.
 */
export function writeStampedConfig(configDir: string, stamp: Stamp, requested: RequestedFields): void {
  new AgentConfig(configDir).update({
    site_url: stamp.site_url,
    site_pin: stamp.site_pin,
    key_info: stamp.key_info,
    installer_expires_at: Date.parse(stamp.expires_at),
    // Self-update (issue #17): the update-signing key is pinned at install when the stamp has it.
    ...(stamp.update_pin ? { update_pin: stamp.update_pin } : {}),
    ...(Object.keys(requested).length > 0 ? { requested } : {}),
  });
}

/** The longest name of one directory entry on Linux file systems (NAME_MAX), in bytes. */
const NAME_MAX_BYTES = 255;
/** What the staging dir's name adds to the install dir's last part: `.<name>.install-XXXXXX`. */
const STAGING_EXTRA_BYTES = '..install-XXXXXX'.length;

/**
 * Refuses (VALIDATION_FAILED, --install-dir) a path with a part longer than the file system takes
 * (NAME_MAX_BYTES), or whose last part leaves no room for the staging dir's name beside it; else
 * the install would fail half way with ENAMETOOLONG as a "system step" (exit 1).
 */
function checkNameLengths(dir: string): void {
  const parts = dir.split('/');
  const last = Buffer.byteLength(parts[parts.length - 1]);
  const long = parts.find((p) => Buffer.byteLength(p) > NAME_MAX_BYTES);
  if (long !== undefined || last > NAME_MAX_BYTES - STAGING_EXTRA_BYTES) {
    const max = long !== undefined ? NAME_MAX_BYTES : NAME_MAX_BYTES - STAGING_EXTRA_BYTES;
    const part = long ?? parts[parts.length - 1];
    throw new JumpError('VALIDATION_FAILED', {
      field: '--install-dir',
      detail: `--install-dir: "${part.slice(0, 20)}..." is ${Buffer.byteLength(part)} bytes long, longer than ${max} bytes${long === undefined ? ' (the last part of the path; the install is built beside it under a longer name)' : ', the most a file system takes in one name'}; choose a shorter path.`,
    });
  }
}

/**
 * Resolves and checks `--install-dir` (seeds: must not exist; its location must be writable).
 * Default: /opt/jumpclient in service mode, `~U/jumpclient` in user mode. Service mode also needs
 * every ancestor root-owned and not group/world-writable (INSTALL_DIR_UNSAFE; security issue #12
 * item 9: `/home/jsmith/jumpclient` is refused, since jsmith could rename it away and put their own
 * init-script where root runs it); user mode needs the user to reach it (INSTALL_USER_NOT_ALLOWED).
 */
export function checkInstallDir(o: InstallOptions, runAs: Account, mode: InstallResult['mode'] = 'user'): string {
  if (o.installDir === '') {
    throw new JumpError('VALIDATION_FAILED', { field: '--install-dir', detail: '--install-dir: give a path (it is empty), or leave the flag out for the default.' });
  }
  if (o.installDir !== undefined && /[\u0000-\u001f\u007f]/.test(o.installDir)) {
    throw new JumpError('VALIDATION_FAILED', { field: '--install-dir', detail: '--install-dir: give a path without control characters.' });
  }
  // systemd refuses an executable path holding quotes or backslashes (systemd.service(5)).
  if (o.installDir !== undefined && /["'\\]/.test(o.installDir)) {
    throw new JumpError('VALIDATION_FAILED', { field: '--install-dir', detail: '--install-dir: give a path without quotes or backslashes.' });
  }
  const dir = resolve(o.installDir ?? (mode === 'service' ? SERVICE_DEFAULT_DIR : join(runAs.home, 'jumpclient')));
  checkNameLengths(dir);
  const parent = checkNewDir(dir);
  try {
    accessSync(parent, constants.W_OK | constants.X_OK);
  } catch {
    throw new JumpError('INSTALL_DIR_UNWRITABLE', { field: '--install-dir', detail: `--install-dir: ${parent} is not writable by ${userInfo().username}.` });
  }
  if (mode === 'service') {
    const unsafe = unsafeAncestor(parent);
    if (unsafe) {
      throw new JumpError('INSTALL_DIR_UNSAFE', {
        field: '--install-dir',
        detail: `--install-dir: ${unsafe.path} is ${unsafe.why}, so someone other than root could replace what root runs in ${dir}; choose a directory only root can write, e.g. --install-dir ${SERVICE_DEFAULT_DIR}.`,
      });
    }
    return dir;
  }
  const blocked = unreachableAncestor(parent, runAs);
  if (blocked) {
    throw new JumpError('INSTALL_USER_NOT_ALLOWED', {
      field: '--user',
      detail: `--user: ${runAs.name} cannot reach ${dir} (no search permission on ${blocked}); choose a directory ${runAs.name} can use.`,
    });
  }
  return dir;
}

/**
 * Undoes the steps done so far, newest first (each failure is skipped so the rest still runs),
 * then throws: `err` itself when it is a JumpError, else INSTALL_FAILED with its message.
 */
export function rollBack(undo: (() => void)[], err: unknown): never {
  for (const u of [...undo].reverse()) {
    try {
      u();
    } catch {
      /* keep undoing the rest */
    }
  }
  if (err instanceof JumpError) throw err;
  throw new JumpError('INSTALL_FAILED', { detail: (err as Error).message });
}

/**
 * Gives everything under `path` (inside the private staging dir) fixed modes: directories and
 * executables 0755, other files 0644; symlinks are left alone (chmod would follow them).
 */
function normalizeModes(path: string): void {
  const st = lstatSync(path);
  if (st.isSymbolicLink()) return;
  if (st.isDirectory()) {
    chmodSync(path, 0o755);
    for (const e of readdirSync(path)) normalizeModes(join(path, e));
  } else chmodSync(path, (st.mode & 0o100) !== 0 ? 0o755 : 0o644);
}

/**
 * Installs from `packageDir` (the unpacked payload: jump-client, lib/, init-script, uninstall)
 * with the stamped settings `stamp`. `now` in ms since the epoch. After the local checks and before
 * anything is written, asks the site whether it would accept this enrollment (the preflight,
 * agent/install/preflight.ts; skipped with `o.offline`): its refusal (INSTALLER_KEY_UNKNOWN,
 * INSTALLER_EXPIRED, INSTALLER_REVOKED, INSTALLER_USED_UP, INSTALLER_OVERRIDE_FORBIDDEN,
 * JUMP_GROUP_NOT_FOUND, VALIDATION_FAILED) or a site that cannot prove the pinned key
 * (SITE_IDENTITY_MISMATCH) is thrown with nothing written; a site that cannot be asked gives
 * `warn` one line and the install goes on. Throws a JumpError (above); on INSTALL_FAILED
 * everything done so far has been undone.
 */
export async function install(
  o: InstallOptions,
  stamp: Stamp,
  packageDir: string,
  now: number,
  warn?: (line: string) => void,
): Promise<InstallResult> {
  // 1. Everything that depends only on the input, before touching the disk.
  const euid = process.geteuid?.() ?? -1;
  const runAs = resolveRunAs(o, euid);
  const mode: InstallResult['mode'] = euid === 0 ? 'service' : 'user';
  const requested = requestedFromOptions(o);
  checkOverrides(stamp, requested);
  if (Date.parse(stamp.expires_at) <= now) {
    throw new JumpError('INSTALLER_EXPIRED', { detail: `It expired at ${stamp.expires_at}.` });
  }
  for (const f of PACKAGE_FILES) {
    if (!existsSync(join(packageDir, f))) throw new JumpError('INSTALLER_DAMAGED', { detail: `${f} is missing from the installer.` });
  }
  const dir = checkInstallDir(o, runAs, mode);

  // 2. Would the site accept this enrollment? Asked before anything is written, so its refusal
  // leaves nothing behind (issue #14 item 5).
  await checkWithSite(stampTarget(stamp), requested, { offline: o.offline, silent: o.silent, warn });

  // 3. The install, built in a staging dir beside the target and renamed into place; undone in
  // reverse on any failure.
  const conf: InstallConf = { mode, run_as: runAs.name, unit: mode === 'service' ? newUnitName() : undefined, installer: stamp.uid, version: VERSION };
  const undo: (() => void)[] = [];
  let bootStart: InstallResult['bootStart'] = null;
  try {
    // mkdtemp makes a new 0700 dir owned by whoever installs: no one else can put anything in it.
    const staging = mkdtempSync(join(dirname(dir), `.${basename(dir)}.install-`));
    undo.push(() => rmSync(staging, { recursive: true, force: true }));
    for (const f of PACKAGE_FILES) {
      copyFileSync(join(packageDir, f), join(staging, f), constants.COPYFILE_EXCL);
      chmodSync(join(staging, f), 0o755);
    }
    cpSync(join(packageDir, 'lib'), join(staging, 'lib'), { recursive: true, force: false, errorOnExist: true, verbatimSymlinks: true });
    normalizeModes(join(staging, 'lib'));
    writeStampedConfig(join(staging, 'config'), stamp, requested);
    chmodSync(join(staging, 'config'), 0o700);
    writeFileSync(join(staging, 'install.conf'), formatInstallConf(conf), { mode: 0o644, flag: 'wx' });
    chmodSync(join(staging, 'install.conf'), 0o644); // the .bin runs us with umask 077
    // Service mode: the dir is root's 0755 (the config inside stays 0700); user mode: the user's 0700.
    chmodSync(staging, mode === 'service' ? 0o755 : 0o700);
    if (existsSync(dir) || isSymlink(dir)) throw new JumpError('INSTALL_DIR_EXISTS', { field: '--install-dir', detail: `--install-dir: ${dir} exists.` });
    renameSync(staging, dir);
    undo.push(() => rmSync(dir, { recursive: true, force: true }));

    if (mode === 'service') {
      const { unitFile, cronFile } = bootFiles(conf)!;
      if (systemdRunning()) {
        undo.push(() => removeBootStart(conf));
        writeFileSync(unitFile, systemdUnit(dir, runAs.name), { mode: 0o644, flag: 'wx' });
        run('systemctl', ['daemon-reload']);
        run('systemctl', ['enable', `${conf.unit}.service`]);
        bootStart = { kind: 'systemd', file: unitFile };
      } else if (existsSync(CRON_DIR)) {
        undo.push(() => removeBootStart(conf));
        writeFileSync(cronFile, cronEntry(dir), { mode: 0o644, flag: 'wx' });
        bootStart = { kind: 'cron', file: cronFile };
      }
    }
  } catch (err) {
    rollBack(undo, err);
  }
  return { dir, mode, runAs: runAs.name, bootStart };
}

function isSymlink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

/** The summary printed after a successful install (not with --silent). */
export function installSummary(r: InstallResult): string {
  if (process.platform === 'win32') {
    const exe = join(r.dir, 'jump-client.exe');
    return [
      `Jump client installed in ${r.dir} (${r.mode} mode, runs as ${r.runAs}).`,
      r.mode === 'service' ? 'It runs as a Windows service with automatic start.' : 'It starts at each logon of this user.',
      `Uninstall: from Apps (Add or Remove Programs), or "${exe}" uninstall --install-dir "${r.dir}"`,
    ].join('\n');
  }
  // Service mode: the agent is root's (it holds the key), the Jump sessions are the user's.
  const who = r.mode === 'service' ? `Jump sessions run as ${r.runAs}` : `runs as ${r.runAs}`;
  const lines = [`Jump client installed in ${r.dir} (${r.mode} mode, ${who}).`, `Start it now: ${join(r.dir, 'init-script')} start`];
  if (r.bootStart?.kind === 'systemd') lines.push(`It starts at boot through systemd (${r.bootStart.file}).`);
  else if (r.bootStart?.kind === 'cron') lines.push(`It starts at boot through cron (${r.bootStart.file}).`);
  else if (r.mode === 'service') lines.push(`Neither systemd nor /etc/cron.d is here: make \`${join(r.dir, 'init-script')} start\` run at boot yourself.`);
  else {
    lines.push(
      'IMPORTANT: make `init-script start` run at boot too, so the jump client is back after a restart, e.g. with',
      `  (crontab -l 2>/dev/null; echo '@reboot ${join(r.dir, 'init-script')} start') | crontab -`,
    );
  }
  lines.push(`Uninstall: ${join(r.dir, 'uninstall')}`);
  return lines.join('\n');
}
