import { describe, expect, it } from "vitest";
import { ManualClock, realClock } from "../../protocol/clock.js";

describe("ManualClock", () => {
  it("fires timeouts only when time reaches them, each seeing its own due time", () => {
    const clock = new ManualClock(1000);
    const seen: Array<[string, number]> = [];
    clock.setTimeout(() => seen.push(["b", clock.now()]), 200);
    clock.setTimeout(() => seen.push(["a", clock.now()]), 100);
    clock.advance(99);
    expect(seen).toEqual([]);
    clock.advance(150);
    expect(seen).toEqual([["a", 1100], ["b", 1200]]);
    expect(clock.now()).toBe(1249);
    expect(clock.pendingTimers()).toBe(0);
  });

  it("repeats intervals until cleared and ignores cleared timeouts", () => {
    const clock = new ManualClock(0);
    let ticks = 0;
    const iv = clock.setInterval(() => { ticks++; }, 10);
    const t = clock.setTimeout(() => { ticks += 100; }, 5);
    clock.clearTimeout(t);
    clock.advance(35);
    expect(ticks).toBe(3);
    clock.clearInterval(iv);
    clock.advance(100);
    expect(ticks).toBe(3);
  });

  it("fires a timer set from inside a callback in the same advance when it falls due", () => {
    const clock = new ManualClock(0);
    const at: number[] = [];
    clock.setTimeout(() => { at.push(clock.now()); clock.setTimeout(() => at.push(clock.now()), 10); }, 10);
    clock.advance(25);
    expect(at).toEqual([10, 20]);
  });

  it("refuses to move backwards", () => {
    expect(() => new ManualClock(0).advance(-1)).toThrow(RangeError);
  });
});

describe("realClock", () => {
  it("reads the wall clock and runs real timers", async () => {
    const before = Date.now();
    expect(Math.abs(realClock.now() - before)).toBeLessThan(1000);
    await new Promise<void>((resolve) => { realClock.setTimeout(resolve, 1); });
  });
});
