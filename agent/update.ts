/**
 * Self-update of the jump client, agent side (issue #17; the contract is protocol/update.ts, the
 * flow docs/updates.md).
 *
 * On `update_offer` (for this build's platform, another version, an update key pinned: config.ts
 * pinUpdateKey) the running agent:
 *  1. reports `downloading` and downloads the build over AGENT_UPDATE_WS_PATH (the offer's token and
 *     the resume offset as headers; the same TLS options as the control connection, and the same
 *     site certificate it proved the pinned site key on) into `DIR/update/<version>.part`, resuming
 *     from the part's size after a cut or a kill -9, never past the offer's size;
 *  2. checks size, sha256 and the signature against the pinned update key BEFORE anything else; a
 *     mismatch deletes the part and reports `failed UPDATE_SIGNATURE_INVALID`, and the agent stays
 *     online on its version;
 *  3. reports `installing`, writes the state file `DIR/update/state.json` (from, to, paths, deadline
 *     = now + health_timeout_ms on the monotonic clock), keeps the running binary as
 *     `jump-client.old` (a hard link), renames the new one over `jump-client` (atomic), and starts
 *     the WATCHDOG outside itself: the old binary, `jump-client.old update-watchdog --state FILE`
 *     (under systemd in a transient unit, `systemd-run --collect`, so it is outside the service's
 *     cgroup; otherwise detached in its own session).
 * The watchdog (runWatchdog) restarts the agent through what runs it (`systemctl restart UNIT`;
 * without systemd what `init-script restart` does, agent/install/service.ts) and waits until the
 * new version takes the state (it does once welcomed: Updater.onWelcome) or the deadline
 * passes (both sides claim the state file by an atomic rename: claimState); a new binary that exits at once or is not online in time is stopped, `jump-client.old`
 * is renamed back, the old version started, and the state records the failure and its reason; the
 * restored agent reports `update_status failed UPDATE_FAILED <reason>` at its next welcome.
 * `update_later`: `update_check` after `retry_after_ms`. One update at a time.
 *
 * Security (docs/security.md): the staging dir, the part, the state file and the swap live in the
 * install dir, which in service mode is root's; the state file is trusted only when it is a regular
 * file owned by the agent's user and not group/world-writable (readUpdateState).
 *
 * Windows (service mode; the host packaging/service-host.c tells its agent its service name in
 * JUMP_CLIENT_SERVICE): the swap renames the running `jump-client.exe` aside to
 * `jump-client.exe.old` (a running exe can be renamed, not overwritten) and moves the new one in;
 * the watchdog (`jump-client.exe.old update-watchdog`) starts outside the service's job through the
 * host's `--detach`; the agent then exits with EXIT_UPDATE_RESTART (6), which the host restarts at
 * once (no 10 s failure delay) on the new exe. A rollback is `sc stop`, the old exe renamed back,
 * `sc start` (windowsServiceRunner). Windows has no POSIX mode bits (Node reports 0666/0777), so the
 * state file's and staging dir's mode checks are skipped there: the install dir's DACL (SYSTEM and
 * Administrators only, agent/install/windows.ts) is what keeps them out of users' reach.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  createReadStream,
  existsSync,
  fstatSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import WebSocket from 'ws';
import { z } from 'zod';
import type { UpdateOffer, UpdateStatus, Welcome } from '../protocol/messages.js';
import { AGENT_UPDATE_WS_PATH, UPDATE_ATTACH_HEADERS, UPDATE_CHUNK_BYTES, verifyBuild, type ClientPlatform } from '../protocol/update.js';
import { AGENT_SOCKET_OPTIONS } from './connection.js';
import { pinUpdateKey, type AgentConfig } from './config.js';
import { installPaths, readInstallConf, startAgent, stopAgent, systemdRunning, type InstallConf } from './install/service.js';
import { startOutsideService, windowsCommandLine } from './outside-service.js';

/** The staging dir inside an install dir. */
export const UPDATE_DIR = 'update';
/** The state file inside UPDATE_DIR. */
export const STATE_FILE = 'state.json';
/** The record of the last rolled-back version inside UPDATE_DIR (Updater: not installed again for FAILED_HOLD_MS). */
export const FAILED_FILE = 'failed.json';
/**
 * How long a version that was rolled back is refused when offered again, in ms: the site does not
 * offer it again until an admin says `jump updates retry ID`, but a site that offers it at once
 * (before it has read the report) must not put the agent in a swap-and-roll-back loop.
 */
export const FAILED_HOLD_MS = 10 * 60_000;
/** How often the watchdog reads the state file, in ms. */
const WATCHDOG_POLL_MS = 250;
/** A download that receives nothing for this long is cut, in ms. */
const DOWNLOAD_IDLE_MS = 30_000;
/** After a cut download, the agent asks for a fresh offer (`update_check`) after this long, in ms. */
const RECHECK_AFTER_CUT_MS = 2_000;
/**
 * The agent's exit code after a Windows swap: "restart me now, on the new exe". The service host
 * (packaging/service-host.c EXIT_UPDATE_RESTART) restarts it at once, without the failure delay,
 * and does not count it as a failure.
 */
export const EXIT_UPDATE_RESTART = 6;
/** The environment variable in which the Windows service host names its service (packaging/service-host.c). */
export const SERVICE_ENV = 'JUMP_CLIENT_SERVICE';
/** A Windows service name of ours: the MSI's `JumpClient`, or an EXE install's `JumpClient-<uid8>` (agent/install/windows.ts). */
const WINDOWS_SERVICE_RE = /^JumpClient(-[0-9a-f]{8})?$/;
/** How long the watchdog waits for `sc stop` to take the service down, in ms. */
const SC_STOP_WAIT_MS = 30_000;
/** How long the healthy new version keeps trying to delete the old exe on Windows (the watchdog runs from it until it sees the state gone), in ms. */
const OLD_EXE_REMOVE_MS = 30_000;
/** How long the watchdog watches a systemd unit after its restart for an immediate exit, in ms. */
const SYSTEMD_SETTLE_MS = 1_500;

/** Milliseconds on the system-wide monotonic clock (CLOCK_MONOTONIC on Linux: the same in every process since boot). */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint() / 1_000_000n);
}

const stateSchema = z.strictObject({
  v: z.literal(1),
  /** installing: swapped, restart pending or running; failed: rolled back. */
  phase: z.enum(['installing', 'failed']),
  from: z.string().max(32),
  to: z.string().max(32),
  install_dir: z.string().min(1),
  /** The live binary and the kept old one. */
  exe: z.string().min(1),
  old: z.string().min(1),
  /** How the agent is run: a systemd unit, or the init-script's detached process (agent/install/service.ts). */
  runner: z.enum(['systemd', 'init-script', 'windows-service']),
  unit: z.string().regex(/^jump-client-[0-9a-f]{12}$/).optional(),
  /** The Windows service (runner windows-service): `JumpClient` or `JumpClient-<uid8>`. */
  service: z.string().regex(WINDOWS_SERVICE_RE).optional(),
  health_timeout_ms: z.number().int().positive(),
  /** monotonicMs() by which the new version must be healthy. */
  deadline_mono_ms: z.number().int(),
  /** The same deadline as wall time (ISO 8601), for people reading the file. */
  deadline_at: z.string(),
  reason: z.string().max(512).optional(),
});
/** The state file `DIR/update/state.json` of an update in progress (or just rolled back). */
export type UpdateState = z.infer<typeof stateSchema>;

/**
 * Reads the state file. Returns null when there is none. Throws an Error naming the file when it
 * is not to be trusted: a symlink or not a regular file, not owned by `uid` (default: this
 * process's euid), group- or world-writable, or not valid (the update machinery then leaves it
 * alone; an operator removes it).
 */
export function readUpdateState(file: string, uid = process.geteuid?.() ?? -1, platform: NodeJS.Platform = process.platform): UpdateState | null {
  let st;
  try {
    st = lstatSync(file);
  } catch {
    return null;
  }
  if (!st.isFile()) throw new Error(`${file} is not a regular file; not trusted (remove it)`);
  if (uid >= 0 && st.uid !== uid) throw new Error(`${file} is owned by uid ${st.uid}, not the jump client's (${uid}); not trusted (remove it)`);
  if (platform !== 'win32' && (st.mode & 0o022) !== 0) throw new Error(`${file} is group- or world-writable (mode ${(st.mode & 0o777).toString(8)}); not trusted (remove it)`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`${file} is not JSON (${(err as Error).message}); remove it`);
  }
  const r = stateSchema.safeParse(raw);
  if (!r.success) throw new Error(`${file} is not a valid update state: ${r.error.issues[0].path.join('.')} ${r.error.issues[0].message}; remove it`);
  return r.data;
}

/**
 * The paths a state file names must be those of the install it lives in (`DIR/update/state.json`:
 * install_dir DIR, exe DIR/jump-client, old beside it); throws an Error naming the file otherwise.
 */
export function checkStatePaths(stateFile: string, state: UpdateState): void {
  const dir = dirname(dirname(resolve(stateFile)));
  if (state.install_dir !== dir || state.exe !== installPaths(dir).exe || dirname(state.old) !== dir) {
    throw new Error(`${stateFile}: names paths outside its install dir ${dir}; not trusted (remove it)`);
  }
}

/** Writes the state file atomically (a temporary file, mode 0600, renamed over it). */
export function writeUpdateState(file: string, state: UpdateState): void {
  const tmp = `${file}.tmp`;
  rmSync(tmp, { force: true });
  writeFileSync(tmp, JSON.stringify(stateSchema.parse(state), null, 2) + '\n', { mode: 0o600, flag: 'wx' });
  renameSync(tmp, file);
}

/** The staging dir `DIR/update` (mode 0700, created). Throws when it exists as something else or is group/world-writable. */
export function updateDir(installDir: string): string {
  const dir = join(installDir, UPDATE_DIR);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = lstatSync(dir);
  if (!st.isDirectory() || (process.platform !== 'win32' && (st.mode & 0o022) !== 0)) throw new Error(`${dir} must be a directory that is not group/world-writable`);
  return dir;
}

/** Result of verifyBuildFile: ok, or why the bytes are refused. */
export type VerifyResult = { ok: true } | { ok: false; reason: string };

/** sha256 of a file's bytes, lowercase hex (streamed). */
export async function sha256OfFile(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/**
 * Checks a downloaded build against its offer before anything else happens: the size (bytes), the
 * sha256, then the Ed25519 signature of (platform, version, sha256, size) by the pinned update key
 * `pin` (protocol/update.ts verifyBuild). The sha256 is the file's own, so a part that matches the
 * offered hash but another signature, or the other way round, is refused.
 */
export async function verifyBuildFile(file: string, offer: Pick<UpdateOffer, 'platform' | 'version' | 'size' | 'sha256' | 'sig'>, pin: string): Promise<VerifyResult> {
  let size: number;
  try {
    size = statSync(file).size;
  } catch {
    return { ok: false, reason: 'the download is missing' };
  }
  if (size !== offer.size) return { ok: false, reason: `size ${size} bytes, offered ${offer.size}` };
  const sha = await sha256OfFile(file);
  if (sha !== offer.sha256) return { ok: false, reason: `sha256 ${sha.slice(0, 12)}... differs from the offered ${offer.sha256.slice(0, 12)}...` };
  if (!verifyBuild(pin, { platform: offer.platform, version: offer.version, sha256: sha, size }, offer.sig)) {
    return { ok: false, reason: 'the signature is not by the pinned update-signing key' };
  }
  return { ok: true };
}

/**
 * Puts the verified build `newFile` in place of `exe`, keeping the running binary as `old`:
 * `old` is replaced by a hard link to `exe` (so `exe` never goes missing on POSIX), then `newFile`
 * (made 0755) is renamed over `exe`, atomically. On Windows, where a running exe cannot be
 * replaced but can be renamed, `exe` is renamed to `old` first. Throws on an I/O error, with `exe`
 * left as it was where the platform allows.
 */
export function swapInBuild(exe: string, newFile: string, old: string, platform: NodeJS.Platform = process.platform): void {
  chmodSync(newFile, 0o755);
  rmSync(old, { force: true });
  if (platform === 'win32') {
    renameSync(exe, old);
    try {
      renameSync(newFile, exe);
    } catch (err) {
      renameSync(old, exe);
      throw err;
    }
    return;
  }
  linkSync(exe, old);
  renameSync(newFile, exe);
}

/** Puts the kept old binary back over `exe` (atomic rename). Throws when `old` is missing. */
export function restoreOld(exe: string, old: string): void {
  if (!existsSync(old)) throw new Error(`${old} is missing: cannot restore the previous version`);
  renameSync(old, exe);
}

/** The download socket's URL for a site URL: `https://h:p` → `wss://h:p/agent/v1/update`. */
export function updateSocketUrl(siteUrl: string): URL {
  const url = new URL(AGENT_UPDATE_WS_PATH, siteUrl.replace(/^http/, 'ws'));
  url.protocol = 'wss:';
  return url;
}

export interface DownloadOptions {
  siteUrl: string;
  token: string;
  /** The offer's size: the download never writes past it. */
  size: number;
  /** The part file; appended to from its current size. */
  partFile: string;
  /** The control connection's site certificate (`AA:BB:..`): the download must see the same one. Null: not checked (a fake socket). */
  fingerprint: string | null;
  localAddress?: string;
  log: Logger;
}

/**
 * Downloads (the rest of) a build into `partFile`: opens the download socket with the token and the
 * part's size as the offset, appends every binary frame, and resolves with the part's size once the
 * site closes the socket. Throws an Error (the part kept for a resume) when the socket fails, sends
 * text, a frame larger than UPDATE_CHUNK_BYTES, more bytes than `size` (the part is deleted then: it
 * cannot be the build), is idle for DOWNLOAD_IDLE_MS, or presents another certificate.
 */
export function downloadBuild(o: DownloadOptions): Promise<number> {
  let have = 0;
  try {
    have = statSync(o.partFile).size;
  } catch {
    /* a new download */
  }
  if (have > o.size) {
    rmSync(o.partFile, { force: true });
    have = 0;
  }
  if (have === o.size) return Promise.resolve(have);
  const fd = openSync(o.partFile, 'a', 0o600);
  // Another process's part (or a link) is not ours to append to.
  const st = fstatSync(fd);
  if (!st.isFile() || st.nlink !== 1) {
    closeSync(fd);
    rmSync(o.partFile, { force: true });
    return Promise.reject(new Error(`${o.partFile} was not a plain file; removed`));
  }
  return new Promise((resolve, reject) => {
    let written = have;
    let failure: Error | null = null;
    let idle: NodeJS.Timeout | undefined;
    const ws = new WebSocket(updateSocketUrl(o.siteUrl), {
      ...AGENT_SOCKET_OPTIONS,
      maxPayload: UPDATE_CHUNK_BYTES,
      localAddress: o.localAddress,
      headers: { [UPDATE_ATTACH_HEADERS.token]: o.token, [UPDATE_ATTACH_HEADERS.offset]: String(have) },
    });
    const fail = (err: Error) => {
      failure ??= err;
      ws.terminate();
    };
    const touch = () => {
      clearTimeout(idle);
      idle = setTimeout(() => fail(new Error(`nothing received for ${DOWNLOAD_IDLE_MS / 1000} s`)), DOWNLOAD_IDLE_MS);
    };
    touch();
    ws.on('upgrade', (res: { socket: unknown }) => {
      const tls = res.socket as TLSSocket;
      const fp = typeof tls.getPeerCertificate === 'function' ? tls.getPeerCertificate()?.fingerprint256 : undefined;
      if (o.fingerprint !== null && fp !== o.fingerprint) fail(new Error('the download socket presented another certificate than the control connection'));
    });
    ws.on('unexpected-response', (_req: unknown, res: import('node:http').IncomingMessage) => {
      res.resume();
      fail(new Error(`the site answered the download with HTTP ${res.statusCode}`));
    });
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (failure) return;
      touch();
      if (!isBinary) return fail(new Error('the site sent text on the download socket'));
      if (written + data.length > o.size) {
        rmSync(o.partFile, { force: true });
        return fail(new Error(`the site sent more than the offered ${o.size} bytes`));
      }
      writeSync(fd, data);
      written += data.length;
    });
    ws.on('error', (err: Error) => (failure ??= err));
    ws.once('close', (code: number) => {
      clearTimeout(idle);
      closeSync(fd);
      if (failure) return reject(failure);
      if (code !== 1000 && written < o.size) return reject(new Error(`the download was cut at ${written} of ${o.size} bytes (close ${code})`));
      o.log.info({ bytes: written, resumedAt: have }, 'update download ended');
      resolve(written);
    });
  });
}

/** How the running agent is started and stopped: for the state file and the watchdog. */
export function runnerOf(conf: InstallConf | null, env: NodeJS.ProcessEnv = process.env, os: NodeJS.Platform = process.platform): { runner: UpdateState['runner']; unit?: string; service?: string } {
  const service = windowsServiceName(env, os);
  if (service) return { runner: 'windows-service', service };
  if (conf?.unit && env.INVOCATION_ID && systemdRunning()) return { runner: 'systemd', unit: conf.unit };
  return { runner: 'init-script' };
}

/**
 * The Windows service this agent runs under: the name the service host put in JUMP_CLIENT_SERVICE
 * when it is one of ours (WINDOWS_SERVICE_RE), else null (not Windows, not run by the host).
 */
export function windowsServiceName(env: NodeJS.ProcessEnv = process.env, os: NodeJS.Platform = process.platform): string | null {
  const name = env[SERVICE_ENV];
  return os === 'win32' && name && WINDOWS_SERVICE_RE.test(name) ? name : null;
}

/**
 * The kept old binary beside `exe`: its name plus `.old`, i.e. `jump-client.exe.old` on Windows
 * (the running exe renamed aside) and `jump-client.old` on POSIX (a hard link).
 */
export function oldExePath(exe: string): string {
  return `${exe}.old`;
}

/** The update pieces the running agent needs (main.ts makes one per `run`). */
export interface UpdaterOptions {
  cfg: AgentConfig;
  /** The install dir (DIR/install.conf beside the config dir), or null for a bare `run --config`: no update is installed then. */
  installDir: string | null;
  /** This build's version and platform (agent/build-info.ts). */
  version: string;
  platform: ClientPlatform | undefined;
  log: Logger;
  /** Sends on the current connection; false when offline. */
  send: (msg: UpdateStatus | { t: 'update_check' }) => boolean;
  /** The control connection's site certificate fingerprint (null: not known). */
  siteFingerprint: () => string | null;
  localAddress?: string;
  /** Starts the watchdog (default startWatchdog); tests may replace it. */
  startWatchdog?: (state: UpdateState, stateFile: string, log: Logger) => void;
  env?: NodeJS.ProcessEnv;
  /** The operating system (default process.platform). */
  os?: NodeJS.Platform;
  /** Ends the agent with a code (default process.exit after a short delay): a Windows swap ends with EXIT_UPDATE_RESTART. */
  exit?: (code: number) => void;
}

/**
 * The running agent's half of self-update: reacts to the site's update messages and, at each
 * welcome, pins the update key and finishes (healthy) or reports (failed) an earlier update.
 */
export class Updater {
  /** An offer is being handled (one at a time). */
  private busy = false;
  /** The site sent another update key than the pinned one: updates are refused. */
  private pinMismatch = false;
  private laterTimer: NodeJS.Timeout | undefined;

  constructor(private readonly o: UpdaterOptions) {}

  /**
   * The install dir: the one main.ts found (install.conf beside the config dir), or on Windows the
   * MSI's INSTALLDIR (no install.conf) when the service host runs this agent from it
   * (windowsServiceName, and jump-client-service.exe beside the config dir).
   */
  private get installDir(): string | null {
    if (this.o.installDir) return this.o.installDir;
    const os = this.o.os ?? process.platform;
    if (!windowsServiceName(this.o.env ?? process.env, os) || !this.o.cfg.dir) return null;
    const dir = dirname(resolve(this.o.cfg.dir));
    return existsSync(join(dir, 'jump-client-service.exe')) ? dir : null;
  }

  private get stateFile(): string | null {
    return this.installDir ? join(this.installDir, UPDATE_DIR, STATE_FILE) : null;
  }

  private status(version: string, state: UpdateStatus['state'], code?: UpdateStatus['code'], reason?: string): void {
    const msg: UpdateStatus = { t: 'update_status', version, state, ...(code ? { code } : {}), ...(reason ? { reason: reason.slice(0, 512) } : {}) };
    if (!this.o.send(msg)) this.o.log.warn({ version, state }, 'update status not sent: offline');
  }

  /** At each welcome: pin the update key, then finish or report an earlier update (the state file). */
  onWelcome(welcome: Welcome): void {
    const pin = pinUpdateKey(this.o.cfg, welcome.update_pin);
    if (pin === 'pinned') this.o.log.info({ pin: welcome.update_pin }, 'pinned the site update-signing key');
    if (pin === 'mismatch') {
      this.pinMismatch = true;
      this.o.log.error(
        { pinned: this.o.cfg.data.update_pin, offered: welcome.update_pin },
        'the site sent another update-signing key than the pinned one; updates are refused',
      );
    } else this.pinMismatch = false;
    if (this.busy || !this.stateFile) return;
    let state: UpdateState | null;
    try {
      state = readUpdateState(this.stateFile);
      if (state) checkStatePaths(this.stateFile, state);
    } catch (err) {
      this.o.log.error({ err: (err as Error).message }, 'update state file not trusted');
      return;
    }
    if (!state) return;
    if (state.to === this.o.version && state.phase === 'installing') {
      // The new version is online. It claims the update by renaming the state away (atomic: the
      // watchdog claims it the same way at its deadline, so exactly one of them wins), then drops
      // the old binary and the state; the watchdog sees the state gone and exits.
      if (!claimState(this.stateFile, 'healthy')) {
        this.o.log.warn({ to: state.to }, 'online too late: the watchdog is rolling the update back');
        return;
      }
      rmSync(`${this.stateFile}.healthy`, { force: true });
      void removeOldExe(state.old, this.o.log);
      this.o.log.info({ from: state.from, to: state.to }, 'updated: the new version is online');
      return;
    }
    if (state.from === this.o.version && state.phase === 'failed') {
      this.o.log.error({ to: state.to, reason: state.reason }, 'the update failed; the previous version was restored');
      this.rememberFailed(state.to, state.reason ?? 'the new version did not come online');
      if (welcome.update_pin !== undefined) this.status(state.to, 'failed', 'UPDATE_FAILED', state.reason ?? 'the new version did not come online');
      rmSync(this.stateFile, { force: true });
      return;
    }
    if (state.from === this.o.version && state.phase === 'installing' && monotonicMs() > state.deadline_mono_ms + 60_000) {
      // A swap whose watchdog never finished (killed, reboot): this old version runs, so report it.
      if (welcome.update_pin !== undefined) this.status(state.to, 'failed', 'UPDATE_FAILED', 'the update was interrupted before the new version started');
      rmSync(this.stateFile, { force: true });
    }
  }

  private get failedFile(): string | null {
    return this.installDir ? join(this.installDir, UPDATE_DIR, FAILED_FILE) : null;
  }

  /** Records a rolled-back version (FAILED_HOLD_MS). Never throws. */
  private rememberFailed(version: string, reason: string): void {
    try {
      writeFileSync(this.failedFile!, JSON.stringify({ version, reason, until: Date.now() + FAILED_HOLD_MS }) + '\n', { mode: 0o600 });
    } catch (err) {
      this.o.log.warn({ err: (err as Error).message }, 'could not record the failed update');
    }
  }

  /** The reason `version` was rolled back less than FAILED_HOLD_MS ago, or null. */
  private recentlyFailed(version: string): string | null {
    try {
      const f = JSON.parse(readFileSync(this.failedFile!, 'utf8')) as { version?: unknown; reason?: unknown; until?: unknown };
      return f.version === version && typeof f.until === 'number' && Date.now() < f.until ? String(f.reason ?? 'rolled back') : null;
    } catch {
      return null;
    }
  }

  /** An `update_offer` or `update_later` from the site. */
  onMessage(msg: UpdateOffer | { t: 'update_later'; retry_after_ms: number }): void {
    if (msg.t === 'update_later') {
      clearTimeout(this.laterTimer);
      this.laterTimer = setTimeout(() => this.o.send({ t: 'update_check' }), msg.retry_after_ms);
      this.laterTimer.unref();
      return;
    }
    void this.onOffer(msg);
  }

  /** Stops the update_later timer (the agent stops). */
  close(): void {
    clearTimeout(this.laterTimer);
  }

  private async onOffer(offer: UpdateOffer): Promise<void> {
    const log = this.o.log.child({ update: offer.version });
    if (this.busy) return log.info('update offer ignored: an update is in progress');
    if (offer.platform !== this.o.platform) return log.warn({ platform: offer.platform }, `update offer ignored: not for this platform (${this.o.platform ?? 'unpackaged'})`);
    if (offer.version === this.o.version) return log.info('update offer ignored: already this version');
    const pin = this.o.cfg.data.update_pin;
    if (!pin || this.pinMismatch) {
      const reason = !pin ? 'no update-signing key is pinned' : "the site's update-signing key differs from the pinned one";
      log.error(reason);
      return this.status(offer.version, 'failed', 'UPDATE_SIGNATURE_INVALID', reason);
    }
    const os = this.o.os ?? process.platform;
    if (os === 'win32' && !windowsServiceName(this.o.env ?? process.env, os)) {
      // Only the service host can restart the agent and stop it for a rollback (a user-mode
      // install's Run-key agent has nothing that restarts it).
      log.error('update offer refused: on Windows only a service-mode jump client updates itself');
      return this.status(offer.version, 'failed', 'UPDATE_FAILED', 'on Windows only a service-mode jump client (run by jump-client-service.exe) updates itself');
    }
    const installDir = this.installDir;
    if (!installDir || !this.stateFile) {
      log.error('update offer refused: not an installed jump client (run --config)');
      return this.status(offer.version, 'failed', 'UPDATE_FAILED', 'not an installed jump client (run --config): nothing to swap');
    }
    this.busy = true;
    try {
      let pending: UpdateState | null = null;
      try {
        pending = readUpdateState(this.stateFile);
      } catch (err) {
        log.error({ err: (err as Error).message }, 'update refused: the state file is not trusted');
        return this.status(offer.version, 'failed', 'UPDATE_FAILED', 'the update state file is not trusted; see the agent log');
      }
      if (pending) return log.warn({ phase: pending.phase, to: pending.to }, 'update offer ignored: an earlier update is not finished');
      const failedBefore = this.recentlyFailed(offer.version);
      if (failedBefore !== null) {
        log.warn({ reason: failedBefore }, 'update offer refused: this version was rolled back a short while ago');
        return this.status(offer.version, 'failed', 'UPDATE_FAILED', `rolled back a short while ago: ${failedBefore}`);
      }
      const dir = updateDir(installDir);
      const part = join(dir, `${offer.version}.part`);
      // Parts of other versions (a download cut and then superseded) are of no further use.
      for (const f of readdirSync(dir)) if (f.endsWith('.part') && join(dir, f) !== part) rmSync(join(dir, f), { force: true });
      this.status(offer.version, 'downloading');
      log.info({ size: offer.size }, 'downloading the update');
      try {
        await downloadBuild({
          siteUrl: this.o.cfg.data.site_url!,
          token: offer.token,
          size: offer.size,
          partFile: part,
          fingerprint: this.o.siteFingerprint(),
          localAddress: this.o.localAddress,
          log,
        });
      } catch (err) {
        // The part stays for a resume: ask for a fresh offer (a new token) shortly.
        log.warn({ err: (err as Error).message }, 'update download failed; asking again');
        setTimeout(() => this.o.send({ t: 'update_check' }), RECHECK_AFTER_CUT_MS).unref();
        return;
      }
      const check = await verifyBuildFile(part, offer, pin);
      if (!check.ok) {
        rmSync(part, { force: true });
        log.error({ reason: check.reason }, 'update refused: the build does not match its offer');
        return this.status(offer.version, 'failed', 'UPDATE_SIGNATURE_INVALID', check.reason);
      }
      this.status(offer.version, 'installing');
      const conf = readInstallConf(installDir);
      const exe = installPaths(installDir).exe;
      const now = monotonicMs();
      const state: UpdateState = {
        v: 1,
        phase: 'installing',
        from: this.o.version,
        to: offer.version,
        install_dir: installDir,
        exe,
        old: oldExePath(exe),
        ...runnerOf(conf, this.o.env, os),
        health_timeout_ms: offer.health_timeout_ms,
        deadline_mono_ms: now + offer.health_timeout_ms,
        deadline_at: new Date(Date.now() + offer.health_timeout_ms).toISOString(),
      };
      try {
        writeUpdateState(this.stateFile, state);
        swapInBuild(exe, part, state.old, os);
      } catch (err) {
        rmSync(this.stateFile, { force: true });
        log.error({ err: (err as Error).message }, 'update: the swap failed');
        return this.status(offer.version, 'failed', 'UPDATE_FAILED', `the swap failed: ${(err as Error).message}`);
      }
      log.info({ runner: state.runner }, 'update swapped in; the watchdog restarts the jump client');
      (this.o.startWatchdog ?? startWatchdog)(state, this.stateFile, log);
      if (state.runner === 'windows-service') {
        // The service host restarts an agent that exits with EXIT_UPDATE_RESTART at once, on the new exe.
        log.info({ code: EXIT_UPDATE_RESTART }, 'exiting so that the service host restarts the jump client on the new version');
        (this.o.exit ?? ((code: number) => setTimeout(() => process.exit(code), 300)))(EXIT_UPDATE_RESTART);
      }
      // Stay busy: the watchdog (or the service host) restarts this process.
    } catch (err) {
      log.error({ err: (err as Error).message }, 'update failed');
      this.status(offer.version, 'failed', 'UPDATE_FAILED', (err as Error).message);
    } finally {
      if (!existsSync(this.stateFile)) this.busy = false;
    }
  }
}

/**
 * Starts the watchdog outside the running agent: `<old binary> update-watchdog --state FILE`,
 * under systemd in a transient unit (`systemd-run --collect`: outside the service's cgroup, so it
 * outlives the restart), otherwise detached in its own session. Output goes to DIR/update/watchdog.log.
 */
export function startWatchdog(state: UpdateState, stateFile: string, log: Logger): void {
  const args = ['update-watchdog', '--state', stateFile];
  if (state.runner === 'windows-service') return startWindowsWatchdog(state, stateFile, log);
  const r = startOutsideService([state.old, ...args], { systemd: state.runner === 'systemd', cwd: state.install_dir, outputFile: join(dirname(stateFile), 'watchdog.log') });
  if (r.via === 'systemd-run') return log.info('watchdog started (systemd-run)');
  if (r.systemdRunStatus !== undefined) log.warn({ status: r.systemdRunStatus }, 'systemd-run failed; started the watchdog detached');
  log.info({ pid: r.child.pid }, 'watchdog started');
}

/**
 * The Windows watchdog: `jump-client.exe.old update-watchdog --state FILE` started through the
 * service host's `--detach` (packaging/service-host.c: CREATE_BREAKAWAY_FROM_JOB, the job allows
 * breakaway), so neither the agent's exit nor `sc stop` (which terminates the service's job) ends
 * it. Its lines go to DIR\update\watchdog.log (runWatchdog appends them there on Windows: a
 * detached process has no stdout).
 */
function startWindowsWatchdog(state: UpdateState, stateFile: string, log: Logger): void {
  const host = join(state.install_dir, 'jump-client-service.exe');
  const quoted = windowsCommandLine([state.old, 'update-watchdog', '--state', stateFile]);
  // Synchronous: --detach returns once the watchdog runs; the agent exits (and the host ends its
  // job, which --detach is in) only after that.
  const r = spawnSync(host, ['--detach', quoted], { argv0: `"${host}"`, stdio: 'ignore', windowsHide: true, windowsVerbatimArguments: true, cwd: state.install_dir, timeout: 30_000 });
  if (r.status === 0) log.info({ command: quoted }, 'watchdog started (jump-client-service.exe --detach)');
  else log.error({ command: quoted, status: r.status, err: r.error?.message }, 'update: could not start the watchdog');
}

/**
 * The healthy new version's removal of the kept old binary. On Windows the watchdog runs from it
 * until it sees the state gone (WATCHDOG_POLL_MS), and a running exe cannot be deleted: retried
 * every 500 ms for OLD_EXE_REMOVE_MS. Never throws; resolves true once it is gone.
 */
export async function removeOldExe(old: string, log: Logger, patienceMs = OLD_EXE_REMOVE_MS): Promise<boolean> {
  const until = Date.now() + patienceMs;
  for (;;) {
    try {
      rmSync(old, { force: true });
      return true;
    } catch (err) {
      if (Date.now() >= until) {
        log.warn({ old, err: (err as Error).message }, 'could not remove the previous version (still running?)');
        return false;
      }
      await sleep(500);
    }
  }
}

/** What the watchdog does to the agent: the runner's actions (tests may replace them). */
export interface RunnerActions {
  /** Restarts the agent on the binary now in place; resolves with null when it started, else why it did not (e.g. "exited at once with status 7"). */
  restart(state: UpdateState): Promise<string | null>;
  stop(state: UpdateState): Promise<void>;
  start(state: UpdateState): Promise<string | null>;
}

/** `Jump client failed to start: exit status N` (agent/install/service.ts) as the reason of a failed update. */
function startFailure(message: string): string {
  const m = /exit status (\d+)/.exec(message);
  return m ? `exited at once with status ${m[1]}` : `did not start: ${message.replace(/^Jump client failed to start: /, '')}`;
}

/** The runner actions for systemd units and for the init-script's detached process. */
export const defaultRunner: RunnerActions = {
  async restart(state) {
    if (state.runner === 'windows-service') return windowsServiceRunner.restart(state);
    if (state.runner === 'systemd') return systemdStart(state, 'restart');
    await stopAgent(state.install_dir);
    return this.start(state);
  },
  async stop(state) {
    if (state.runner === 'windows-service') return windowsServiceRunner.stop(state);
    if (state.runner === 'systemd') spawnSync('systemctl', ['stop', `${state.unit}.service`], { stdio: 'ignore' });
    else await stopAgent(state.install_dir);
  },
  async start(state) {
    if (state.runner === 'windows-service') return windowsServiceRunner.start(state);
    if (state.runner === 'systemd') return systemdStart(state, 'start');
    const r = await startAgent(state.install_dir);
    return r.code === 0 ? null : startFailure(r.message);
  },
};

/** `sc query NAME`'s STATE word (RUNNING, STOPPED, STOP_PENDING, ...), or null when sc fails. */
function scState(service: string): string | null {
  const r = spawnSync('sc', ['query', service], { encoding: 'utf8', windowsHide: true });
  return r.status === 0 ? (/STATE\s*:\s*\d+\s+(\w+)/.exec(r.stdout ?? '')?.[1] ?? null) : null;
}

/**
 * The restart through the Windows service (runner `windows-service`), beside the Linux runners:
 * - restart: nothing to do here: the agent itself exits with EXIT_UPDATE_RESTART right after
 *   starting the watchdog, and the service host restarts it at once on the new exe;
 * - stop: `sc stop NAME`, then waits (SC_STOP_WAIT_MS) until `sc query` says STOPPED: the host
 *   then has ended the agent's job, so the new exe is no longer running and can be replaced;
 * - start: `sc start NAME`; null when it started, else why not.
 */
export const windowsServiceRunner: RunnerActions = {
  async restart() {
    return null;
  },
  async stop(state) {
    const name = state.service!;
    spawnSync('sc', ['stop', name], { stdio: 'ignore', windowsHide: true });
    const until = Date.now() + SC_STOP_WAIT_MS;
    while (scState(name) !== 'STOPPED' && Date.now() < until) await sleep(250);
  },
  async start(state) {
    const r = spawnSync('sc', ['start', state.service!], { encoding: 'utf8', windowsHide: true });
    return r.status === 0 ? null : `did not start: sc start ${state.service} failed (${r.status}): ${(r.stdout ?? '').trim().slice(0, 200)}`;
  },
};

/** `systemctl restart|start UNIT`, then a look after SYSTEMD_SETTLE_MS for an immediate exit. */
async function systemdStart(state: UpdateState, verb: 'restart' | 'start'): Promise<string | null> {
  const unit = `${state.unit}.service`;
  const r = spawnSync('systemctl', [verb, unit], { encoding: 'utf8' });
  if (r.status !== 0) return `did not start: systemctl ${verb} ${unit} failed (${r.status})`;
  await sleep(SYSTEMD_SETTLE_MS);
  const show = spawnSync('systemctl', ['show', '-p', 'ActiveState', '-p', 'ExecMainStatus', unit], { encoding: 'utf8' }).stdout ?? '';
  const active = /ActiveState=(\S+)/.exec(show)?.[1];
  const status = Number(/ExecMainStatus=(\d+)/.exec(show)?.[1] ?? 0);
  return active !== 'active' && status !== 0 ? `exited at once with status ${status}` : null;
}

/**
 * Takes the state file for one side (atomic rename to `FILE.<suffix>`): the new version (`healthy`)
 * and the watchdog (`rollback`) both claim it, so only one finishes the update. False when it was
 * already gone (the other side won).
 */
export function claimState(stateFile: string, suffix: 'healthy' | 'rollback'): boolean {
  try {
    renameSync(stateFile, `${stateFile}.${suffix}`);
    return true;
  } catch {
    return false;
  }
}

/**
 * The watchdog (`jump-client.old update-watchdog --state FILE`, started by the old version after
 * the swap): restarts the agent on the new binary, then waits until the new version claims the state
 * (claimState: it is gone) — success — or the deadline passes, or the
 * restart fails at once — failure: the agent is stopped, the old binary restored and started, and
 * the state says `failed` with the reason, which the restored agent reports. Resolves with the
 * outcome. Throws when the state file is missing or not trusted (readUpdateState).
 */
export async function runWatchdog(stateFile: string, runner: RunnerActions = defaultRunner, log: (line: string) => void = () => undefined): Promise<'healthy' | 'rolled back'> {
  if (process.platform === 'win32') {
    // Started detached by the service host: no stdout; the lines go to DIR\update\watchdog.log too.
    const say = log;
    const file = join(dirname(stateFile), 'watchdog.log');
    log = (line) => {
      say(line);
      try {
        writeFileSync(file, `${new Date().toISOString()} update-watchdog: ${line}\r\n`, { flag: 'a' });
      } catch {
        /* the log is best effort */
      }
    };
  }
  const state = readUpdateState(stateFile);
  if (!state) throw new Error(`${stateFile}: no update in progress`);
  if (state.phase !== 'installing') throw new Error(`${stateFile}: the update is ${state.phase}, nothing to watch`);
  checkStatePaths(stateFile, state);
  log(`restarting the jump client on ${state.to} (from ${state.from}); healthy by ${state.deadline_at}`);
  let reason = await runner.restart(state);
  while (reason === null) {
    let now: UpdateState | null;
    try {
      now = readUpdateState(stateFile);
    } catch {
      now = state; // replaced by something untrusted: keep waiting for the deadline
    }
    if (!now) {
      log(`the jump client is online on ${state.to}`);
      return 'healthy';
    }
    if (monotonicMs() >= state.deadline_mono_ms) reason = `did not come online within ${Math.round(state.health_timeout_ms / 1000)} s`;
    else await sleep(WATCHDOG_POLL_MS);
  }
  if (!claimState(stateFile, 'rollback')) {
    log(`the jump client came online on ${state.to} just in time`);
    return 'healthy';
  }
  log(`rolling back to ${state.from}: ${reason}`);
  await runner.stop(state);
  restoreOld(state.exe, state.old);
  writeUpdateState(stateFile, { ...state, phase: 'failed', reason });
  rmSync(`${stateFile}.rollback`, { force: true });
  const again = await runner.start(state);
  if (again !== null) log(`the restored version did not start either: ${again}`);
  return 'rolled back';
}
