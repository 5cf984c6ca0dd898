/**
 * Admission control for new agent connections: a token bucket that admits at most `ratePerSec`
 * connections per second on average, with bursts up to `burst` (default: one second's worth).
 * The seeds' vendor admits 50 per second; that is our default too. Connections over the rate are
 * answered `503` with `Retry-After` instead of being accepted and starving the event loop.
 *
 * Each refused caller gets its own slot in a virtual queue (the k-th waits about k / rate seconds),
 * so a fleet that comes back at once after a site restart is paced to exactly the admission rate
 * instead of retrying in waves (docs/benchmarks.md, P2).
 *
 * The rate alone can admit more than the node finishes: then admitted handshakes queue past the
 * handshake limit and fail (HANDSHAKE_TIMEOUT storms, docs/benchmarks.md, P1 at 25 000). So at most
 * `maxInFlight` admitted handshakes may be unfinished at once; callers over that get a queue slot
 * like callers over the rate. The caller of `take()` must call `release()` once per admission.
 */
export class AdmissionControl {
  private tokens: number;
  private last: number;
  /** When the last queued caller was told to come back, in the `now()` clock (ms). */
  private nextSlot = 0;
  private readonly burst: number;
  private inFlight = 0;

  /**
   * `ratePerSec` > 0; `burst` >= 1 (defaults to `ratePerSec`); `maxInFlight` >= 1 admitted and
   * unfinished handshakes (default: no limit).
   */
  constructor(
    private readonly ratePerSec: number,
    burst?: number,
    private readonly now: () => number = () => performance.now(),
    private readonly maxInFlight = Number.POSITIVE_INFINITY,
  ) {
    this.burst = Math.max(1, burst ?? ratePerSec);
    this.tokens = this.burst;
    this.last = this.now();
  }

  /** Handshakes admitted and not yet released. */
  get pending(): number {
    return this.inFlight;
  }

  /** Takes one admission. Returns 0 when admitted, else the ms to wait before one is available. */
  take(): number {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * this.ratePerSec);
    this.last = t;
    if (this.tokens >= 1 && this.inFlight < this.maxInFlight) {
      this.tokens -= 1;
      this.inFlight++;
      return 0;
    }
    const firstFree = t + (Math.max(0, 1 - this.tokens) / this.ratePerSec) * 1000;
    this.nextSlot = Math.max(firstFree, this.nextSlot + 1000 / this.ratePerSec);
    return Math.max(1, Math.ceil(this.nextSlot - t));
  }

  /** Ends one admitted handshake (finished, refused or dropped). */
  release(): void {
    if (this.inFlight > 0) this.inFlight--;
  }
}
