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
  it('admits a burst of `rate`, then asks the rest to wait', () => {
    let now = 0;
    const a = new AdmissionControl(50, undefined, () => now);
    const admitted = Array.from({ length: 60 }, () => a.take()).filter((w) => w === 0).length;
    expect(admitted).toBe(50);
    expect(a.take()).toBe(20); // one token every 20 ms at 50/s
    now += 1000;
    expect(Array.from({ length: 60 }, () => a.take()).filter((w) => w === 0).length).toBe(50);
  });
});
