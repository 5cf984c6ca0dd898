/**
 * Admission control for new agent connections: a token bucket that admits at most `ratePerSec`
 * connections per second on average, with bursts up to `burst` (default: one second's worth).
 * The seeds' vendor admits 50 per second; that is our default too. Connections over the rate are
 * answered `503` with `Retry-After` instead of being accepted and starving the event loop.
 *
 * Each refused caller gets its own slot in a virtual queue (the k-th waits about k / rate seconds),
 * so a fleet that comes back at once after a site restart is paced to exactly the admission rate
 * instead of retrying in waves (docs/benchmarks.md, P2).
 */
export class AdmissionControl {
  private tokens: number;
  private last: number;
  /** When the last queued caller was told to come back, in the `now()` clock (ms). */
  private nextSlot = 0;
  private readonly burst: number;

  /** `ratePerSec` > 0; `burst` >= 1 (defaults to `ratePerSec`). */
  constructor(
    private readonly ratePerSec: number,
    burst?: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.burst = Math.max(1, burst ?? ratePerSec);
    this.tokens = this.burst;
    this.last = this.now();
  }

  /** Takes one admission. Returns 0 when admitted, else the ms to wait before one is available. */
  take(): number {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * this.ratePerSec);
    this.last = t;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    const firstFree = t + ((1 - this.tokens) / this.ratePerSec) * 1000;
    this.nextSlot = Math.max(firstFree, this.nextSlot + 1000 / this.ratePerSec);
    return Math.ceil(this.nextSlot - t);
  }
}
