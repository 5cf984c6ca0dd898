import { describe, expect, it } from 'vitest';
import { Backoff } from '../../agent/backoff.js';
import { AdmissionControl } from '../../site/admission.js';

describe('Backoff (capped exponential, full jitter)', () => {
  it('doubles the ceiling per attempt up to the cap', () => {
    const b = new Backoff({ baseMs: 100, capMs: 1000, random: () => 0.999999 });
    expect([1, 2, 3, 4, 5, 6].map(() => b.next())).toEqual([99, 199, 399, 799, 999, 999]);
  });

  it('draws uniformly from [0, ceiling): the lowest random gives 0', () => {
    const b = new Backoff({ baseMs: 100, capMs: 1000, random: () => 0 });
    expect(b.next()).toBe(0);
  });

  it('starts from the base again after reset', () => {
    const b = new Backoff({ baseMs: 100, capMs: 1000, random: () => 0.5 });
    b.next();
    b.next();
    b.next();
    b.reset();
    expect(b.next()).toBe(50);
  });

  it('spreads a fleet: 1000 draws at one attempt cover the whole window', () => {
    const draws = Array.from({ length: 1000 }, () => new Backoff({ baseMs: 1000 }).next());
    expect(Math.min(...draws)).toBeLessThan(100);
    expect(Math.max(...draws)).toBeGreaterThan(900);
  });
});

describe('AdmissionControl (token bucket)', () => {
  it('admits a burst of `rate`, then gives each refused caller its own later slot', () => {
    let now = 0;
    const a = new AdmissionControl(50, undefined, () => now);
    const waits = Array.from({ length: 60 }, () => a.take());
    expect(waits.filter((w) => w === 0)).toHaveLength(50);
    // One token every 20 ms at 50/s: the refused are spread 20, 40, ... 200 ms out.
    expect(waits.slice(50)).toEqual([20, 40, 60, 80, 100, 120, 140, 160, 180, 200]);
  });

  it('paces a returning fleet to the rate: callers that come back at their slot get in', () => {
    let now = 0;
    const a = new AdmissionControl(100, undefined, () => now);
    for (let i = 0; i < 100; i++) a.take();
    const slots = Array.from({ length: 300 }, () => a.take());
    let admitted = 0;
    for (const s of [...slots].sort((x, y) => x - y)) {
      now = s;
      if (a.take() === 0) admitted++;
    }
    expect(admitted).toBeGreaterThanOrEqual(295);
  });

  it('admits at most maxInFlight unfinished handshakes, whatever the rate; a release lets the next one in', () => {
    let now = 0;
    const a = new AdmissionControl(1000, undefined, () => now, 3);
    expect([a.take(), a.take(), a.take()]).toEqual([0, 0, 0]);
    const wait = a.take();
    expect(wait).toBeGreaterThan(0); // tokens remain, but three handshakes are unfinished
    a.release();
    expect(a.take()).toBe(0);
    expect(a.pending).toBe(3);
    for (let i = 0; i < 3; i++) a.release();
    a.release(); // more releases than admissions do not go below zero
    expect(a.pending).toBe(0);
  });
});
