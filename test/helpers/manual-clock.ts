/**
 * A manual `Clock` (protocol/clock.ts) for unit tests: time moves only when the test calls
 * `advance(ms)`, which runs every timer due by then in time order (intervals re-armed), so
 * heartbeat, admission and expiry rules are tested in milliseconds of real time.
 */
import type { Clock } from '../../protocol/clock.js';

interface Timer {
  id: number;
  at: number;
  fn: () => void;
  every: number | null;
}

export class ManualClock implements Clock {
  private t: number;
  private nextId = 1;
  private readonly timers = new Map<number, Timer>();

  constructor(start = 1_700_000_000_000) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    return this.arm(fn, ms, null);
  }

  setInterval(fn: () => void, ms: number): unknown {
    return this.arm(fn, ms, Math.max(1, ms));
  }

  clearTimeout(h: unknown): void {
    this.timers.delete(h as number);
  }

  clearInterval(h: unknown): void {
    this.timers.delete(h as number);
  }

  /** Timers armed and not yet run or cleared. */
  get pending(): number {
    return this.timers.size;
  }

  /** Moves time forward by `ms`, running each timer due on the way at its own time. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let next: Timer | null = null;
      for (const tm of this.timers.values()) if (tm.at <= end && (!next || tm.at < next.at)) next = tm;
      if (!next) break;
      this.t = next.at;
      if (next.every === null) this.timers.delete(next.id);
      else next.at += next.every;
      next.fn();
    }
    this.t = end;
  }

  private arm(fn: () => void, ms: number, every: number | null): number {
    const id = this.nextId++;
    this.timers.set(id, { id, at: this.t + Math.max(0, ms), fn, every });
    return id;
  }
}
