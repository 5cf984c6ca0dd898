/**
 * Time, injected. Everything that waits (heartbeats, reconnect backoff, ticket expiry, idle
 * timeouts) takes a `Clock` so tests drive time by hand and run in milliseconds instead of
 * waiting real intervals (Teleport's `clockwork.Clock`, see /work/shared/STYLE.md).
 *
 * `realClock` is the default everywhere; `ManualClock` is the fake for tests: time stands still
 * until `advance(ms)` moves it, and timers due by then fire in order.
 */

/** An opaque timer handle; pass it back to the same clock's clear function. */
declare const timerBrand: unique symbol;
export type TimerHandle = { readonly [timerBrand]: true };

/** The clock and timers a component uses. All durations and times are milliseconds. */
export interface Clock {
  /** The current time, ms since the epoch (like `Date.now()`). */
  now(): number;
  /** Calls `fn` once after `ms` ms. */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  /** Cancels a timer from `setTimeout`; unknown or fired handles are ignored. */
  clearTimeout(handle: TimerHandle | undefined): void;
  /** Calls `fn` every `ms` ms until cleared. */
  setInterval(fn: () => void, ms: number): TimerHandle;
  /** Cancels a timer from `setInterval`; unknown handles are ignored. */
  clearInterval(handle: TimerHandle | undefined): void;
}

/** The real clock: `Date.now()` and Node's timers. The default wherever a `Clock` is optional. */
export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms) as unknown as TimerHandle,
  clearTimeout: (h) => { if (h !== undefined) clearTimeout(h as unknown as NodeJS.Timeout); },
  setInterval: (fn, ms) => setInterval(fn, ms) as unknown as TimerHandle,
  clearInterval: (h) => { if (h !== undefined) clearInterval(h as unknown as NodeJS.Timeout); },
};

/**
 * The real clock with timers that never keep the process alive on their own (`unref`): for the
 * site's sweeps and deadlines, whose process the listening server keeps up. The agent uses
 * `realClock`: its reconnect wait is the only thing keeping it alive between connections.
 */
export const backgroundClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref() as unknown as TimerHandle,
  clearTimeout: realClock.clearTimeout,
  setInterval: (fn, ms) => setInterval(fn, ms).unref() as unknown as TimerHandle,
  clearInterval: realClock.clearInterval,
};

interface ManualTimer {
  id: number;
  due: number;
  /** 0 for a one-shot timer, the period (ms) for an interval. */
  every: number;
  fn: () => void;
}

/**
 * A fake clock for tests. Time starts at `start` (ms since the epoch, default 1 700 000 000 000)
 * and moves only when `advance` or `set` is called; timers due by then fire in due order, each
 * seeing `now()` equal to its due time. Timers created while advancing fire in the same call if
 * they fall due within it. Nothing is asynchronous: after `advance` returns, every due callback ran.
 */
export class ManualClock implements Clock {
  private current: number;
  private nextId = 1;
  private readonly timers = new Map<number, ManualTimer>();

  constructor(start = 1_700_000_000_000) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    return this.add(fn, ms, 0);
  }

  clearTimeout(handle: TimerHandle | undefined): void {
    if (handle !== undefined) this.timers.delete(handle as unknown as number);
  }

  setInterval(fn: () => void, ms: number): TimerHandle {
    return this.add(fn, ms, Math.max(1, ms));
  }

  clearInterval(handle: TimerHandle | undefined): void {
    this.clearTimeout(handle);
  }

  /** Moves time forward by `ms` (≥ 0), firing every timer that falls due, in due order. */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`ManualClock.advance: ms must be >= 0, got ${ms}`);
    const target = this.current + ms;
    for (;;) {
      let next: ManualTimer | undefined;
      for (const t of this.timers.values()) {
        if (t.due <= target && (next === undefined || t.due < next.due || (t.due === next.due && t.id < next.id))) next = t;
      }
      if (next === undefined) break;
      this.current = Math.max(this.current, next.due);
      if (next.every > 0) next.due += next.every;
      else this.timers.delete(next.id);
      next.fn();
    }
    this.current = target;
  }

  /** Moves time to `time` (ms since the epoch, not earlier than now), firing due timers. */
  set(time: number): void {
    this.advance(time - this.current);
  }

  /** How many timers (one-shot and interval) are pending: for tests that check cleanup. */
  pendingTimers(): number {
    return this.timers.size;
  }

  private add(fn: () => void, ms: number, every: number): TimerHandle {
    const id = this.nextId++;
    this.timers.set(id, { id, due: this.current + Math.max(0, ms), every, fn });
    return id as unknown as TimerHandle;
  }
}
