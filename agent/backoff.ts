/**
 * Reconnect delays: capped exponential backoff with full jitter ("Exponential Backoff And
 * Jitter", AWS Architecture Blog, 2015): attempt n waits a uniformly random time in
 * [0, min(capMs, baseMs * 2^n)]. Full jitter spreads a fleet's reconnects after a site restart
 * instead of synchronising them into waves.
 */
export interface BackoffOptions {
  /** First ceiling, in ms. Default 1 000. */
  baseMs?: number;
  /** Largest ceiling, in ms. Default 60 000. */
  capMs?: number;
  /** Random source in [0, 1); injectable for tests. */
  random?: () => number;
}

export class Backoff {
  private attempt = 0;
  private readonly baseMs: number;
  private readonly capMs: number;
  private readonly random: () => number;

  constructor(opts: BackoffOptions = {}) {
    this.baseMs = opts.baseMs ?? 1_000;
    this.capMs = opts.capMs ?? 60_000;
    this.random = opts.random ?? Math.random;
  }

  /** The ceiling for the current attempt, in ms. */
  ceiling(): number {
    return Math.min(this.capMs, this.baseMs * 2 ** Math.min(this.attempt, 30));
  }

  /** The delay before the next attempt, in ms; each call moves one attempt further. */
  next(): number {
    const delay = Math.floor(this.random() * this.ceiling());
    this.attempt++;
    return delay;
  }

  /** After a connection that worked: start again from the base. */
  reset(): void {
    this.attempt = 0;
  }
}
