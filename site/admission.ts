/**
 * Admission control for new agent connections: a token bucket that admits at most `ratePerSec`
 * connections per second on average, with bursts up to `burst` (default: one second's worth).
 * The seeds' vendor admits 50 per second; that is our default too. Connections over the rate are
 * answered `503` with `Retry-After` instead of being accepted and starving the event loop.
 */
export class AdmissionControl {
  private tokens: number;
  private last: number;
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
    return Math.ceil(((1 - this.tokens) / this.ratePerSec) * 1000);
  }
}
