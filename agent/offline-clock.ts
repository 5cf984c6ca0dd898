/**
 * The endpoint's own count of time without its site (issue #18 item 3; seeds: a jump client that
 * has not reconnected for 180 days is uninstalled from the target machine). The site tells the
 * agent its max-offline in every welcome (`max_offline_ms`); the agent keeps, in its config dir,
 * `offline-clock.json`:
 *
 *   { "max_offline_ms": N, "offline_ms": elapsed without the site so far, "saved_at": wall ms }
 *
 * Elapsed time, not wall-clock differences: while the agent runs, `offline_ms` grows by a
 * monotonic clock (performance.now), so a wall clock set forward or back by NTP, a user or a dead
 * RTC battery neither uninstalls an agent that talked to its site recently nor keeps a lost one
 * forever. Across a restart only the wall clock can tell how long the machine was off: the gap
 * `now - saved_at` is added when it is positive (a clock set back adds nothing); a clock set
 * forward while the agent was not running is the one case that counts wrongly (docs/lifecycle.md).
 * A welcome resets `offline_ms` to 0. An agent that never heard a max-offline (a site before this
 * build, or a first start) never expires.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const OFFLINE_CLOCK_FILE = 'offline-clock.json';

interface Saved {
  max_offline_ms: number | null;
  offline_ms: number;
  saved_at: number;
}

export interface OfflineClockOptions {
  /** Wall clock, ms since the epoch (saved_at, and the gap across restarts). */
  now?: () => number;
  /** A monotonic clock in ms (performance.now); only differences are used. */
  monotonic?: () => number;
}

export class OfflineClock {
  private readonly file: string;
  private readonly now: () => number;
  private readonly monotonic: () => number;
  private maxOfflineMs: number | null = null;
  private offlineMs = 0;
  private lastTick: number;
  private connected = false;

  /** Loads `<configDir>/offline-clock.json` (a missing or unreadable file: a fresh clock). */
  constructor(configDir: string, opts: OfflineClockOptions = {}) {
    this.file = join(configDir, OFFLINE_CLOCK_FILE);
    this.now = opts.now ?? Date.now;
    this.monotonic = opts.monotonic ?? (() => performance.now());
    this.lastTick = this.monotonic();
    try {
      const s = JSON.parse(readFileSync(this.file, 'utf8')) as Partial<Saved>;
      if (typeof s.offline_ms === 'number' && s.offline_ms >= 0) this.offlineMs = s.offline_ms;
      if (typeof s.max_offline_ms === 'number' && s.max_offline_ms > 0) this.maxOfflineMs = s.max_offline_ms;
      // The time the agent was not running (machine off, service stopped): by the wall clock, never negative.
      if (typeof s.saved_at === 'number') this.offlineMs += Math.max(0, this.now() - s.saved_at);
    } catch {
      /* no clock yet */
    }
  }

  /** The site welcomed the agent: nothing offline so far; `maxOfflineMs` from the welcome (absent: unchanged). */
  contact(maxOfflineMs: number | undefined): void {
    this.tick();
    this.connected = true;
    this.offlineMs = 0;
    if (maxOfflineMs !== undefined) this.maxOfflineMs = maxOfflineMs;
    this.save();
  }

  /** The connection to the site ended: time counts again from now. */
  lost(): void {
    this.tick();
    this.connected = false;
    this.save();
  }

  /** Adds the monotonic time since the last tick (while not connected) and saves. */
  tick(): void {
    const t = this.monotonic();
    if (!this.connected) this.offlineMs += Math.max(0, t - this.lastTick);
    this.lastTick = t;
  }

  /** Ms without the site so far (after a `tick`). */
  get elapsedMs(): number {
    return this.offlineMs;
  }

  get limitMs(): number | null {
    return this.maxOfflineMs;
  }

  /** True when the agent has been without its site for longer than the site's max-offline. */
  expired(): boolean {
    return !this.connected && this.maxOfflineMs !== null && this.offlineMs > this.maxOfflineMs;
  }

  /** Writes the clock (mode 0600, replaced atomically); never throws. */
  save(): void {
    const s: Saved = { max_offline_ms: this.maxOfflineMs, offline_ms: Math.round(this.offlineMs), saved_at: this.now() };
    try {
      writeFileSync(`${this.file}.tmp`, JSON.stringify(s) + '\n', { mode: 0o600 });
      renameSync(`${this.file}.tmp`, this.file);
    } catch {
      /* a read-only config dir: the clock runs in memory */
    }
  }
}
