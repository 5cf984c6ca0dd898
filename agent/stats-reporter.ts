/**
 * Statistics on the control connection (docs/protocol.md "Statistics"): the full set once after
 * welcome, then every `intervalMs` only the fields that changed (none: nothing is sent). One read
 * at a time: a slow read skips the ticks that fall while it runs.
 */
import type { Logger } from 'pino';
import type { Clock, TimerHandle } from '../protocol/clock.js';
import type { Stats, StatsDelta } from '../protocol/messages.js';
import { statsDelta, type StatsProvider } from './stats.js';

export interface StatsReporterOptions {
  clock: Clock;
  provider: StatsProvider;
  /** Sends a `stats` message; `full` when `stats` is the whole set. */
  send: (full: boolean, stats: Stats | StatsDelta) => void;
  /** False once the connection is no longer open: a read that finishes late is then dropped. */
  isOpen: () => boolean;
  log: Logger;
}

export class StatsReporter {
  private last: Stats | null = null;
  private collecting = false;
  private timer: TimerHandle | undefined;

  constructor(private readonly o: StatsReporterOptions) {}

  /**
   * Sends the full set now, then checks every `intervalMs` (the site's `stats_interval_ms`).
   * Resolves when the full set was sent (or its read failed).
   */
  start(intervalMs: number): Promise<void> {
    const first = this.report();
    this.timer = this.o.clock.setInterval(() => void this.report(), intervalMs);
    return first;
  }

  /** Stops the checks; idempotent. */
  stop(): void {
    this.o.clock.clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One read and, when something changed, one message. Never throws (a failed read is logged). */
  async report(): Promise<void> {
    if (this.collecting) return;
    this.collecting = true;
    try {
      const next = await this.o.provider();
      if (!this.o.isOpen()) return;
      if (!this.last) {
        this.o.send(true, next);
      } else {
        const delta = statsDelta(this.last, next);
        if (Object.keys(delta).length > 0) this.o.send(false, delta);
      }
      this.last = next;
    } catch (err) {
      this.o.log.warn({ err: (err as Error).message }, 'statistics could not be read');
    } finally {
      this.collecting = false;
    }
  }
}
