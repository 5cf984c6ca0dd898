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

/** The longest Retry-After the agent honours, in ms: an unauthenticated 503 must not park it for long. */
export const MAX_RETRY_AFTER_MS = 10 * 60_000;

/**
 * How long the agent waits before dialing again after a connection ended, in ms.
 * - SITE_BUSY with a Retry-After: busy is the site's schedule, not a failure: the slot it gave
 *   (at most MAX_RETRY_AFTER_MS) plus up to 10 % jitter (at most 1 s), without growing the backoff.
 * - Otherwise the next backoff delay, but never less than a Retry-After the site sent (capped).
 * `random` in [0, 1) is the jitter source (default Math.random).
 */
export function reconnectDelay(
  outcome: { error: { code: string } | null; retryAfterMs: number | null },
  backoff: Backoff,
  random: () => number = Math.random,
): number {
  if (outcome.error?.code === 'SITE_BUSY' && outcome.retryAfterMs !== null) {
    const wait = Math.min(outcome.retryAfterMs, MAX_RETRY_AFTER_MS);
    return wait + Math.floor(random() * Math.min(1000, wait * 0.1));
  }
  const delay = backoff.next();
  return outcome.retryAfterMs !== null ? Math.max(delay, Math.min(outcome.retryAfterMs, MAX_RETRY_AFTER_MS)) : delay;
}
