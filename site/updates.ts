/**
 * Self-update of jump clients, the site side (issue #17; contract in protocol/update.ts, the flow
 * in docs/updates.md):
 *
 * - the update-signing key (`<data>/update-signing.key`, Ed25519, mode 0600): made on first
 *   start, its pin stamped into installers and sent in every welcome;
 * - `importBuilds`: `jump-site builds import DIR` and `serve --client-builds DIR` copy each
 *   platform's executable into `<data>/builds/<platform>/<version>/`, sign it, record it and make
 *   it the served build of its platform;
 * - `UpdateService`: the policy (updates.mode, .paused, .max-concurrent), offers and retries with
 *   jitter, the download socket (AGENT_UPDATE_WS_PATH) under a site-wide bandwidth cap
 *   (updates.max-bandwidth), in-flight tracking and timeouts, failures, metrics.
 */
import { createHash, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { basename, join, relative, resolve } from 'node:path';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import { JumpError } from '../protocol/errors.js';
import { newEd25519Key, privateKeyFromPem, sitePin } from '../protocol/handshake.js';
import type { SiteMessage, UpdateStatus } from '../protocol/messages.js';
import {
  CLIENT_PLATFORMS,
  MAX_BUILD_BYTES,
  UPDATE_ATTACH_HEADERS,
  UPDATE_CHUNK_BYTES,
  clientVersionField,
  signBuild,
  type ClientPlatform,
} from '../protocol/update.js';
import { VERSION } from '../protocol/version.js';
import type { ApiClientBuild, ApiUpdateStatus } from '../protocol/api.js';
import type { SiteMetrics } from './metrics.js';
import type { SiteSettings } from './settings.js';
import type { ClientBuild, Store } from './store/store.js';

/** File of the update-signing key in the data dir. */
export const UPDATE_KEY_FILE = 'update-signing.key';
/** Folder of imported builds in the data dir. */
export const BUILDS_DIR = 'builds';

/** Timings of the update flow, in ms; ranges of update_later's random retry_after_ms. */
export interface UpdateTimings {
  tokenTtlMs: number;
  downloadIdleMs: number;
  healthMarginMs: number;
  refreshMs: number;
  busyRetry: { min: number; max: number };
  pausedRetry: { min: number; max: number };
  offRetry: { min: number; max: number };
}

/** Timings of the update flow, in ms (docs/updates.md). */
export const UPDATE_TIMINGS: Readonly<UpdateTimings> = {
  /** An offer's token is usable this long; an offer not downloaded by then stops counting as in flight. */
  tokenTtlMs: 10 * 60_000,
  /** A download that sends nothing for this long (the agent stopped reading) stops counting as in flight. */
  downloadIdleMs: 60_000,
  /** Added to updates.health-timeout after the download before the site gives up waiting for the new version. */
  healthMarginMs: 30_000,
  /** How often the site rereads the served builds (`jump-site builds import` beside it) and sweeps timeouts. */
  refreshMs: 2_000,
  /** update_later when over updates.max-concurrent: 30-90 s. */
  busyRetry: { min: 30_000, max: 90_000 },
  /** update_later while paused: 5-10 min. */
  pausedRetry: { min: 5 * 60_000, max: 10 * 60_000 },
  /** update_later while updates.mode is off: 10-20 min. */
  offRetry: { min: 10 * 60_000, max: 20 * 60_000 },
};

/** The executable's name in a platform folder of `npm run package`'s output. */
export function executableName(platform: ClientPlatform): string {
  return platform === 'win-x64' ? 'jump-client.exe' : 'jump-client';
}

/**
 * Loads the update-signing key from `dataDir`, creating it (mode 0600, never overwriting: flag
 * `wx`) on first use. Another process creating it at the same moment is fine: the loser reads the
 * winner's. Returns the key and its pin (`ed25519:<base64url>`, protocol/handshake.ts sitePin).
 */
export function loadUpdateKey(dataDir: string): { key: KeyObject; pin: string; created: boolean } {
  const file = join(dataDir, UPDATE_KEY_FILE);
  let created = false;
  if (!existsSync(file)) {
    try {
      writeFileSync(file, newEd25519Key().export({ format: 'pem', type: 'pkcs8' }).toString(), { mode: 0o600, flag: 'wx' });
      created = true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  const key = privateKeyFromPem(readFileSync(file, 'utf8'));
  return { key, pin: sitePin(key), created };
}

/** One platform's build found in an output folder of `npm run package`. */
export interface FoundBuild {
  platform: ClientPlatform;
  version: string;
  /** Absolute path of the executable. */
  exe: string;
  size: number;
}

const buildJsonError = (file: string, what: string) =>
  new JumpError('VALIDATION_FAILED', { field: 'DIR', detail: `${file}: ${what}. Fix: give the output folder of \`npm run package\` unchanged.` });

/** Reads one platform folder (holding build.json). `folderName` is checked when the folder is a sub-folder. */
function readPlatformFolder(dir: string, folderName: string | null): FoundBuild {
  const manifest = join(dir, 'build.json');
  let meta: { platform?: unknown; version?: unknown; hash?: unknown };
  try {
    meta = JSON.parse(readFileSync(manifest, 'utf8')) as typeof meta;
  } catch (err) {
    throw buildJsonError(manifest, `cannot be read as JSON (${(err as Error).message})`);
  }
  if (typeof meta !== 'object' || meta === null) throw buildJsonError(manifest, 'is not a JSON object');
  const platform = typeof meta.platform === 'string' ? meta.platform : folderName;
  if (!platform || !(CLIENT_PLATFORMS as readonly string[]).includes(platform) || (folderName !== null && folderName !== platform)) {
    throw new JumpError('UPDATE_PLATFORM_UNKNOWN', {
      field: 'DIR',
      detail: `${dir}: platform "${String(platform ?? folderName).slice(0, 40)}"${folderName !== null && folderName !== platform ? ` in folder "${folderName}"` : ''}; this site serves ${CLIENT_PLATFORMS.join(', ')}.`,
    });
  }
  const p = platform as ClientPlatform;
  let version: string;
  if (meta.version !== undefined) {
    const v = clientVersionField.safeParse(meta.version);
    if (!v.success) throw buildJsonError(manifest, `version ${JSON.stringify(String(meta.version).slice(0, 40))} ${v.error.issues[0].message}`);
    version = v.data;
  } else {
    // A build.json of a packaging without `version`: the build id is the first 12 hex of its hash.
    if (typeof meta.hash !== 'string' || !/^[0-9a-f]{12,}$/.test(meta.hash)) throw buildJsonError(manifest, 'has neither a version nor a hex hash');
    version = `${VERSION}+${meta.hash.slice(0, 12)}`;
  }
  const exe = join(dir, executableName(p));
  let size: number;
  try {
    const st = statSync(exe);
    if (!st.isFile()) throw new Error('not a file');
    size = st.size;
  } catch (err) {
    throw new JumpError('VALIDATION_FAILED', { field: 'DIR', detail: `${exe}: cannot be read (${(err as Error).message}). Fix: give the output folder of \`npm run package\`.` });
  }
  if (size === 0) throw new JumpError('VALIDATION_FAILED', { field: 'DIR', detail: `${exe}: is empty. Fix: package again.` });
  if (size > MAX_BUILD_BYTES) {
    throw new JumpError('VALIDATION_FAILED', { field: 'DIR', detail: `${exe}: ${size} bytes, over the ${MAX_BUILD_BYTES} bytes a jump client accepts (MAX_BUILD_BYTES).` });
  }
  return { platform: p, version, exe: resolve(exe), size };
}

/**
 * The builds in `dir`: the output folder of `npm run package` (one sub-folder per platform, each
 * with build.json and the executable), or one platform folder itself. Throws VALIDATION_FAILED
 * (field DIR) when `dir` cannot be read or a build is unreadable, empty or over MAX_BUILD_BYTES;
 * UPDATE_PLATFORM_UNKNOWN for a platform folder or build.json platform this site does not serve;
 * UPDATE_BUILDS_NOT_FOUND when it holds none. Folders without build.json (and `*.partial`, a
 * packaging in progress) are skipped.
 */
export function findBuilds(dir: string): FoundBuild[] {
  let entries: import('node:fs').Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch (err) {
    throw new JumpError('VALIDATION_FAILED', { field: 'DIR', detail: `${dir}: cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}). Fix: give the output folder of \`npm run package\`.` });
  }
  if (entries.some((e) => e.name === 'build.json' && e.isFile())) return [readPlatformFolder(dir, null)];
  const found: FoundBuild[] = [];
  for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    if (!e.isDirectory() || e.name.endsWith('.partial')) continue;
    if (!existsSync(join(dir, e.name, 'build.json'))) continue;
    found.push(readPlatformFolder(join(dir, e.name), e.name));
  }
  if (found.length === 0) throw new JumpError('UPDATE_BUILDS_NOT_FOUND', { field: 'DIR', detail: `${dir}: no <platform>/build.json inside.` });
  return found;
}

/**
 * Copies `src` to `dest` through a temporary name in the same folder (fsync, then rename), so no
 * reader ever sees a half file; returns the sha256 and size of the bytes copied.
 */
async function copyAtomic(src: string, dest: string): Promise<{ sha256: string; size: number }> {
  const tmp = join(resolve(dest, '..'), `.${basename(dest)}.${randomBytes(6).toString('hex')}.tmp`);
  const hash = createHash('sha256');
  let size = 0;
  const out = await open(tmp, 'wx', 0o600);
  try {
    for await (const chunk of createReadStream(src, { highWaterMark: 1 << 20 })) {
      const b = chunk as Buffer;
      hash.update(b);
      size += b.length;
      if (size > MAX_BUILD_BYTES) throw new JumpError('VALIDATION_FAILED', { field: 'DIR', detail: `${src}: grew past ${MAX_BUILD_BYTES} bytes while being read.` });
      await out.write(b);
    }
    await out.sync();
    await out.close();
    await rename(tmp, dest);
  } catch (err) {
    await out.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw err;
  }
  const d = await open(resolve(dest, '..'), 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
  return { sha256: hash.digest('hex'), size };
}

/**
 * Imports every build in `dir` (findBuilds) into `dataDir`: copies each executable to
 * `builds/<platform>/<version>/` (temporary name, fsync, rename), signs (platform, version,
 * sha256, size) with the update-signing key, then records them all and makes each the served
 * build of its platform, in one store transaction per build after every copy succeeded: a failure
 * records nothing new. A running site picks the change up within UPDATE_TIMINGS.refreshMs.
 * Errors: those of findBuilds; a copy that fails is thrown as is (nothing recorded).
 */
export async function importBuilds(dataDir: string, store: Pick<Store, 'putBuild'>, dir: string, now = Date.now()): Promise<ClientBuild[]> {
  const found = findBuilds(dir);
  const { key } = loadUpdateKey(dataDir);
  const builds: ClientBuild[] = [];
  for (const f of found) {
    const folder = join(dataDir, BUILDS_DIR, f.platform, f.version);
    mkdirSync(folder, { recursive: true, mode: 0o700 });
    const dest = join(folder, executableName(f.platform));
    const { sha256, size } = await copyAtomic(f.exe, dest);
    const signature = signBuild(key, { platform: f.platform, version: f.version, sha256, size });
    builds.push({ platform: f.platform, version: f.version, sha256, size, signature, file: relative(dataDir, dest), importedAt: now });
  }
  for (const b of builds) await store.putBuild(b);
  return builds;
}

/** A build as the API shows it. */
export function buildJson(b: ClientBuild & { served?: boolean }): ApiClientBuild {
  return { platform: b.platform, version: b.version, sha256: b.sha256, size: b.size, imported_at: new Date(b.importedAt).toISOString(), served: b.served ?? true };
}

/**
 * A site-wide token bucket over bytes (GCRA): `reserve(n)` books `n` bytes and says how long to
 * wait before sending them so that all senders together stay within `rate()` bytes per second,
 * with a burst of one chunk. `rate()` is read at each call (the setting changes live); null: no cap.
 */
export class ByteBucket {
  private tat = 0;
  constructor(
    private readonly rate: () => number | null,
    private readonly now: () => number = Date.now,
  ) {}

  /** Books `n` bytes; returns the ms to wait before sending them (0: now). */
  reserve(n: number): number {
    const r = this.rate();
    if (r === null || r <= 0) return 0;
    const t = this.now();
    const burstMs = (UPDATE_CHUNK_BYTES / r) * 1000;
    this.tat = Math.max(this.tat, t) + (n / r) * 1000;
    return Math.max(0, this.tat - burstMs - t);
  }
}

/** Where an update of one client stands. */
interface Flight {
  clientId: number;
  version: string;
  platform: ClientPlatform;
  phase: 'offered' | 'downloading' | 'installing';
  /** The offer's unused token, or null once used. */
  token: string | null;
  since: number;
  /** Last offer, byte sent, or status (ms). */
  lastActivity: number;
  /** When the whole build was handed to the socket or the agent said installing (ms), else null. */
  doneAt: number | null;
  bytesSent: number;
  /** The download socket in use, if any. */
  socket: WebSocket | null;
}

/** What the update service asks of the agent gateway. */
export interface UpdateLink {
  /** Sends to connected agent `id`; false when it is not connected. */
  send(id: number, msg: SiteMessage): boolean;
}

export interface UpdateServiceOptions {
  store: Store;
  dataDir: string;
  /** The update-signing key's pin (loadUpdateKey). */
  pin: string;
  settings: Pick<SiteSettings, 'get'>;
  /** The gateway, once made (it is made after this service). */
  link: () => UpdateLink;
  metrics?: SiteMetrics;
  log: Logger;
  /** Overrides of UPDATE_TIMINGS (tests). */
  timings?: Partial<UpdateTimings>;
}

const MIB = 1024 * 1024;

function jitter(r: { min: number; max: number }): number {
  return r.min + Math.floor(Math.random() * (r.max - r.min));
}

/** Compares two tokens in constant time. */
function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * The site's update policy and download server (one per site node). In flight = offered and not
 * yet: the new version connected (completed), a failure reported, or a timeout (token unused for
 * tokenTtlMs, download idle for downloadIdleMs, no new version within updates.health-timeout +
 * healthMarginMs after the download). In-flight updates live in memory: a restarted site starts
 * with none, and a client mid-update is offered again when it reconnects on its old version.
 */
export class UpdateService {
  private served = new Map<string, ClientBuild>();
  private servedKey = '';
  /** Whether updates were open (mode auto, not paused) at the last refresh; null before the first. */
  private policyOpen: boolean | null = null;
  private readonly flights = new Map<number, Flight>();
  private readonly tokens = new Map<string, Flight>();
  /** Connected clients that reported a platform: what they run. */
  private readonly connected = new Map<number, { version: string; platform: ClientPlatform }>();
  private readonly wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 1024 });
  private readonly bucket: ByteBucket;
  private readonly t: UpdateTimings;
  private timer: NodeJS.Timeout | null = null;
  private completed = 0;
  private bytesServed = 0;
  private closed = false;

  constructor(private readonly opts: UpdateServiceOptions) {
    this.t = { ...UPDATE_TIMINGS, ...opts.timings };
    this.bucket = new ByteBucket(() => {
      const mib = opts.settings.get('updates.max-bandwidth');
      return mib === null ? null : mib * MIB;
    });
  }

  /** The update-signing key's pin, for welcomes and installers. */
  get pin(): string {
    return this.opts.pin;
  }

  /** Updates in flight now. */
  get inFlightCount(): number {
    return this.flights.size;
  }

  /** Reads the served builds and starts the refresh and timeout sweep (every refreshMs). */
  async start(): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => {
      this.sweep();
      this.refresh().catch((err: unknown) => this.opts.log.warn({ err }, 'served builds not reread'));
    }, this.t.refreshMs);
    this.timer.unref();
  }

  /** Stops the sweep and ends every download. */
  close(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    for (const ws of this.wss.clients) ws.terminate();
    this.wss.close();
  }

  /** The version client `id` is updating to, or null when no update of it is in flight. */
  updatingTo(id: number): string | null {
    return this.flights.get(id)?.version ?? null;
  }

  /**
   * Rereads the served builds; when one changed, connected clients of its platform are evaluated.
   * Also when updates open again (updates.paused back to no, updates.mode back to auto, from the
   * API or `jump-site settings` beside the site): the connected clients due an update are evaluated
   * now, instead of at the end of the 5-20 min `update_later` they were given (offers stay bounded
   * by updates.max-concurrent; the rest are told to come back in 30-90 s).
   */
  async refresh(): Promise<void> {
    const s = this.opts.settings;
    const open = s.get('updates.mode') !== 'off' && s.get('updates.paused') !== 'yes';
    const reopened = open && this.policyOpen === false;
    this.policyOpen = open;
    if (reopened) {
      this.opts.log.info('updates open again: evaluating the connected jump clients due one');
      for (const [id, c] of this.connected) {
        const b = this.served.get(c.platform);
        if (b && b.version !== c.version && !this.flights.has(id)) void this.evaluate(id);
      }
    }
    const builds = await this.opts.store.servedBuilds();
    const key = builds.map((b) => `${b.platform}=${b.version}:${b.sha256}`).join(',');
    if (key === this.servedKey) return;
    const before = this.served;
    this.served = new Map(builds.map((b) => [b.platform, b]));
    this.servedKey = key;
    const changed = new Set(builds.filter((b) => before.get(b.platform)?.version !== b.version || before.get(b.platform)?.sha256 !== b.sha256).map((b) => b.platform));
    if (changed.size === 0) return;
    this.opts.log.info({ builds: builds.map((b) => `${b.platform} ${b.version}`) }, 'served client builds changed');
    // A flight for a build no longer served ends: the client gets the new one on its next evaluation.
    for (const f of [...this.flights.values()]) if (changed.has(f.platform)) this.endFlight(f, null);
    for (const [id, c] of this.connected) if (changed.has(c.platform)) void this.evaluate(id);
  }

  /** The gateway welcomed client `id` reporting `version` and `platform` (absent: unpackaged). */
  onWelcome(id: number, version: string, platform: ClientPlatform | undefined): void {
    if (!platform) {
      this.connected.delete(id);
      return;
    }
    this.connected.set(id, { version, platform });
    const f = this.flights.get(id);
    if (f && f.version === version) {
      this.completed++;
      this.opts.metrics?.updatesCompleted.inc();
      this.opts.log.info({ clientId: id, version, seconds: Math.round((Date.now() - f.since) / 1000) }, 'jump client updated');
      this.endFlight(f, null);
      return;
    }
    void this.evaluate(id);
  }

  /** Client `id`'s control connection ended. Its flight (if any) goes on: it may be restarting. */
  onDisconnect(id: number): void {
    this.connected.delete(id);
  }

  /**
   * An update message from authenticated client `id`. Returns null when handled, or the reason to
   * refuse it (the gateway answers PROTOCOL_INVALID_MESSAGE and closes): an update_status for a
   * version this site did not offer it.
   */
  onMessage(id: number, msg: { t: 'update_check' } | UpdateStatus): string | null | Promise<string | null> {
    if (msg.t === 'update_check') {
      void this.evaluate(id, true).catch((err: unknown) => this.opts.log.error({ clientId: id, err }, 'update check failed'));
      return null;
    }
    // Answered at once (in order with what follows) when it is certain: only a client that
    // reported a platform is ever offered an update.
    if (!this.connected.has(id)) return 'update_status from a jump client that reported no platform, which is never offered an update';
    return this.onStatus(id, msg);
  }

  private async onStatus(id: number, msg: UpdateStatus): Promise<string | null> {
    const f = this.flights.get(id);
    if (!f || f.version !== msg.version) {
      // No flight in memory (e.g. the site restarted): accepted when the store says it was offered.
      const state = await this.opts.store.clientUpdateState(id);
      if (!state || state.offeredVersion !== msg.version) return `update_status for ${msg.version}, which this site did not offer to this jump client`;
    }
    if (msg.state === 'failed') {
      const code = msg.code ?? 'UPDATE_FAILED';
      const reason = msg.reason ?? '';
      await this.opts.store.setUpdateFailure(id, { version: msg.version, code, reason, at: Date.now() });
      await this.opts.store.audit({ at: Date.now(), userId: null, action: 'jump_client.update_failed', target: `jump_client:${id}`, detail: `${msg.version}: ${code} ${reason}`.slice(0, 600) });
      this.opts.metrics?.updatesFailed.inc({ code });
      this.opts.log.warn({ clientId: id, version: msg.version, code, reason }, 'jump client update failed; not offered again until `jump updates retry`');
      if (f) this.endFlight(f, null);
      return null;
    }
    if (f && f.version === msg.version) {
      f.lastActivity = Date.now();
      if (msg.state === 'installing') {
        f.phase = 'installing';
        f.doneAt ??= Date.now();
      } else if (f.phase === 'offered') f.phase = 'downloading';
    }
    return null;
  }

  /**
   * Clears client `id`'s failure (`jump updates retry ID`) and, when it is connected, evaluates it
   * at once. Returns false when it had no failure.
   */
  async retry(id: number): Promise<boolean> {
    const cleared = await this.opts.store.setUpdateFailure(id, null);
    if (cleared && this.connected.has(id)) await this.evaluate(id);
    return cleared;
  }

  /**
   * Decides what client `id` gets now: an offer, an update_later, or nothing (up to date, failed,
   * unpackaged). `asked`: the agent sent update_check, so an update in flight for it is offered
   * again whatever its phase (a download that broke, even after the site sent every byte into the
   * socket); on a reconnect, one the agent said it was installing is not (the agent is restoring
   * its old version and reports the failure next).
   */
  private async evaluate(id: number, asked = false): Promise<void> {
    const c = this.connected.get(id);
    if (!c || this.closed) return;
    const b = this.served.get(c.platform);
    if (!b || b.version === c.version) return;
    const f = this.flights.get(id);
    if (f) {
      // A download to start again (a new token, resume by offset); or waiting for the swap's result.
      if (asked || f.phase !== 'installing') {
        if (asked) f.phase = 'offered';
        f.doneAt = null;
        this.sendOffer(f, b);
      }
      return;
    }
    const state = await this.opts.store.clientUpdateState(id);
    if (!state || state.failedVersion === b.version) return;
    // Re-checked after the await: another evaluation may have taken the slot meanwhile.
    if (this.flights.has(id) || !this.connected.has(id)) return;
    const s = this.opts.settings;
    const later = (r: { min: number; max: number }) => this.opts.link().send(id, { t: 'update_later', retry_after_ms: jitter(r) });
    if (s.get('updates.mode') === 'off') return void later(this.t.offRetry);
    if (s.get('updates.paused') === 'yes') return void later(this.t.pausedRetry);
    const max = s.get('updates.max-concurrent');
    if (max !== null && this.flights.size >= max) return void later(this.t.busyRetry);
    const now = Date.now();
    const flight: Flight = {
      clientId: id,
      version: b.version,
      platform: c.platform,
      phase: 'offered',
      token: null,
      since: now,
      lastActivity: now,
      doneAt: null,
      bytesSent: 0,
      socket: null,
    };
    this.flights.set(id, flight);
    await this.opts.store.setUpdateOffered(id, b.version);
    if (this.flights.get(id) !== flight) return;
    this.sendOffer(flight, b);
    this.opts.log.info({ clientId: id, from: c.version, to: b.version }, 'update offered');
  }

  /** Sends (again) the offer of `f` with a fresh one-use token (the previous one stops working). */
  private sendOffer(f: Flight, b: ClientBuild): void {
    if (f.token) this.tokens.delete(f.token);
    const token = randomBytes(32).toString('base64url');
    f.token = token;
    f.lastActivity = Date.now();
    this.tokens.set(token, f);
    const sent = this.opts.link().send(f.clientId, {
      t: 'update_offer',
      version: b.version,
      platform: f.platform,
      size: b.size,
      sha256: b.sha256,
      sig: b.signature,
      token,
      health_timeout_ms: this.opts.settings.get('updates.health-timeout'),
    });
    if (!sent) {
      this.tokens.delete(token);
      f.token = null;
    }
  }

  /** Ends a flight; `timeout` counts it failed with code TIMEOUT. */
  private endFlight(f: Flight, timeout: string | null): void {
    if (this.flights.get(f.clientId) === f) this.flights.delete(f.clientId);
    if (f.token) this.tokens.delete(f.token);
    f.token = null;
    f.socket?.terminate();
    if (timeout) {
      this.opts.metrics?.updatesFailed.inc({ code: 'TIMEOUT' });
      this.opts.log.warn({ clientId: f.clientId, version: f.version, phase: f.phase }, `update no longer in flight: ${timeout}`);
    }
  }

  /**
   * Ends flights past their timeouts. A client still connected is evaluated again at once (an
   * offer, or an update_later): it got an offer, not a later, so it would not ask by itself.
   */
  private sweep(): void {
    const now = Date.now();
    const health = this.opts.settings.get('updates.health-timeout');
    for (const f of [...this.flights.values()]) {
      let reason: string | null = null;
      if (f.doneAt !== null) {
        if (now - f.doneAt > health + this.t.healthMarginMs) reason = 'the new version did not connect within updates.health-timeout';
      } else if (f.socket) {
        if (now - f.lastActivity > this.t.downloadIdleMs) reason = 'download idle';
      } else if (now - f.lastActivity > this.t.tokenTtlMs) {
        reason = 'offer not downloaded in time';
      }
      if (!reason) continue;
      this.endFlight(f, reason);
      if (this.connected.has(f.clientId)) void this.evaluate(f.clientId).catch((err: unknown) => this.opts.log.error({ clientId: f.clientId, err }, 'update evaluation failed'));
    }
  }

  /**
   * Upgrade of AGENT_UPDATE_WS_PATH, checked before accepting: the token header must be an unused
   * offer's (404 otherwise: unknown, used or expired), the offset header decimal (400) and at
   * most the build's size (416). The token is used up by the upgrade.
   */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const h = (name: string) => {
      const v = req.headers[name];
      return typeof v === 'string' ? v : undefined;
    };
    const refuse = (status: string, reason: string) => {
      this.opts.log.info({ remote: req.socket.remoteAddress ?? null, reason }, 'update download refused');
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      setTimeout(() => socket.destroy(), 2_000).unref();
    };
    const token = h(UPDATE_ATTACH_HEADERS.token) ?? '';
    const f = /^[A-Za-z0-9_-]{43}$/.test(token) ? this.tokens.get(token) : undefined;
    if (!f || !f.token || !sameToken(f.token, token) || this.flights.get(f.clientId) !== f || Date.now() - f.lastActivity > this.t.tokenTtlMs) {
      return refuse('404 Not Found', 'unknown, used or expired token');
    }
    const b = this.served.get(f.platform);
    if (!b || b.version !== f.version) return refuse('404 Not Found', 'build no longer served');
    const rawOffset = h(UPDATE_ATTACH_HEADERS.offset) ?? '0';
    if (!/^\d{1,10}$/.test(rawOffset)) return refuse('400 Bad Request', `offset header is not a decimal byte count`);
    const offset = Number(rawOffset);
    if (offset > b.size) return refuse('416 Range Not Satisfiable', `offset ${offset} past the build's ${b.size} bytes`);
    // One use: the token is gone before the socket opens.
    this.tokens.delete(token);
    f.token = null;
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      if (this.flights.get(f.clientId) !== f || this.closed) return ws.terminate();
      f.socket?.terminate();
      f.socket = ws;
      f.phase = 'downloading';
      f.lastActivity = Date.now();
      ws.on('error', () => undefined);
      ws.once('close', () => {
        if (f.socket === ws) f.socket = null;
      });
      this.stream(ws, f, b, offset).catch((err: unknown) => {
        this.opts.log.warn({ clientId: f.clientId, err: (err as Error).message }, 'update download failed');
        ws.terminate();
      });
    });
  }

  /** Sends the build from `offset` in chunks of UPDATE_CHUNK_BYTES under the bandwidth cap; never holds more than one chunk. */
  private async stream(ws: WebSocket, f: Flight, b: ClientBuild, offset: number): Promise<void> {
    const fh = await open(join(this.opts.dataDir, b.file), 'r');
    try {
      let pos = offset;
      while (pos < b.size) {
        if (ws.readyState !== ws.OPEN) return;
        const n = Math.min(UPDATE_CHUNK_BYTES, b.size - pos);
        const wait = this.bucket.reserve(n);
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        if (ws.readyState !== ws.OPEN) return;
        const buf = Buffer.allocUnsafe(n);
        const { bytesRead } = await fh.read(buf, 0, n, pos);
        if (bytesRead === 0) throw new Error(`${b.file} is shorter than its recorded ${b.size} bytes`);
        // The callback fires once the frame is handed to the socket: one chunk buffered at most.
        await new Promise<void>((res, rej) => ws.send(buf.subarray(0, bytesRead), { binary: true }, (err) => (err ? rej(err) : res())));
        pos += bytesRead;
        f.bytesSent += bytesRead;
        f.lastActivity = Date.now();
        this.bytesServed += bytesRead;
        this.opts.metrics?.updateBytes.inc(bytesRead);
      }
      // Sent, not necessarily received: the phase stays until the agent says installing.
      if (this.flights.get(f.clientId) === f) f.doneAt = Date.now();
      ws.close(1000, 'done');
    } finally {
      await fh.close();
    }
  }

  /** What `jump updates status` shows (protocol/api.ts ApiUpdateStatus). */
  async status(): Promise<ApiUpdateStatus> {
    const s = this.opts.settings;
    const { versions, failed } = await this.opts.store.updateOverview();
    return {
      mode: s.get('updates.mode'),
      paused: s.get('updates.paused') === 'yes',
      max_concurrent: s.get('updates.max-concurrent'),
      max_bandwidth_mib: s.get('updates.max-bandwidth'),
      health_timeout_ms: s.get('updates.health-timeout'),
      update_pin: this.opts.pin,
      builds: [...this.served.values()].map((b) => buildJson(b)),
      versions: versions.map((v) => ({ ...v, current: v.platform !== null && this.served.get(v.platform)?.version === v.version })),
      in_flight: [...this.flights.values()].map((f) => ({ client_id: f.clientId, version: f.version, phase: f.phase, since: new Date(f.since).toISOString(), bytes_sent: f.bytesSent })),
      failed: failed.map((x) => ({ client_id: x.clientId, name: x.name, version: x.version, code: x.code, reason: x.reason, at: new Date(x.at).toISOString() })),
      completed: this.completed,
      bytes_served: this.bytesServed,
    };
  }
}
