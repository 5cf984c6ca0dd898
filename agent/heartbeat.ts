/**
 * The agent's side of connection liveness (docs/protocol.md "Heartbeats"): send `hb` every
 * `intervalMs`, and declare the site lost when nothing at all has arrived from it for 1.5
 * intervals. Any message counts as a sign of life, not only `hb_ack`.
 *
 * Time comes from an injected `Clock` (protocol/clock.ts), so tests drive it by hand.
 */
import type { Clock, TimerHandle } from '../protocol/clock.js';

export interface HeartbeatOptions {
  clock: Clock;
  /** The interval the site chose (`welcome.heartbeat_ms`), in ms. */
  intervalMs: number;
  /** Sends heartbeat number `seq` (0, 1, 2, ...). */
  send: (seq: number) => void;
  /** Called once when the site has been silent for more than 1.5 intervals; `silentMs` is how long. */
  onLost: (silentMs: number) => void;
}

/** Silence longer than this many intervals means the site is gone. */
export const HEARTBEAT_LOSS_FACTOR = 1.5;

export class Heartbeat {
  private lastSeen: number;
  private lastBeat: number;
  private seq = 0;
  private timer: TimerHandle | undefined;

  constructor(private readonly o: HeartbeatOptions) {
    this.lastSeen = this.lastBeat = o.clock.now();
  }

  /** Starts the checks: every quarter interval (at least 25 ms), a beat when one is due, or the loss. */
  start(): void {
    const { clock, intervalMs } = this.o;
    this.lastSeen = this.lastBeat = clock.now();
    this.timer = clock.setInterval(() => this.check(), Math.max(25, Math.floor(intervalMs / 4)));
  }

  /** Notes a message from the site (ms from the clock). */
  seen(): void {
    this.lastSeen = this.o.clock.now();
  }

  /** Stops the checks; idempotent. */
  stop(): void {
    this.o.clock.clearInterval(this.timer);
    this.timer = undefined;
  }

  private check(): void {
    const now = this.o.clock.now();
    if (now - this.lastSeen > this.o.intervalMs * HEARTBEAT_LOSS_FACTOR) {
      this.stop();
      this.o.onLost(now - this.lastSeen);
      return;
    }
    if (now - this.lastBeat >= this.o.intervalMs) {
      this.lastBeat = now;
      this.o.send(this.seq++);
    }
  }
}
