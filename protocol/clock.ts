/**
 * Time, injected: the agent, the site's gateway and its session broker read the time and arm
 * timers through a `Clock`, so liveness, backoff, admission and expiry tests run on a manual clock
 * in milliseconds instead of waiting out real heartbeats (Teleport's `clockwork.Clock`).
 */

/** Wall-clock time (ms since the epoch, like `Date.now()`) and timers (like the global ones). */
export interface Clock { now(): number; setTimeout(fn: () => void, ms: number): unknown; clearTimeout(h: unknown): void; setInterval(fn: () => void, ms: number): unknown; clearInterval(h: unknown): void }

/** The real clock: `Date.now()` and Node's timers, unref'd so a timer alone never keeps the process up. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
  setInterval: (fn, ms) => setInterval(fn, ms).unref(),
  clearInterval: (h) => clearInterval(h as NodeJS.Timeout),
};
