/**
 * The endpoint's offline clock (agent/offline-clock.ts; issue #18 item 3): elapsed time without the
 * site, by a monotonic clock while running, by the wall clock only across restarts, never negative.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { OFFLINE_CLOCK_FILE, OfflineClock } from '../../agent/offline-clock.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A config dir, and clocks the test moves: wall (ms since epoch) and monotonic. */
function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'jump-offline-clock-'));
  dirs.push(dir);
  const t = { wall: 1_800_000_000_000, mono: 1_000 };
  const open = () => new OfflineClock(dir, { now: () => t.wall, monotonic: () => t.mono });
  return { dir, t, open };
}

describe('offline clock', () => {
  it('never expires before the site told it a max-offline', () => {
    const { t, open } = setup();
    const c = open();
    t.mono += 10 * 365 * 86_400_000;
    c.tick();
    expect(c.expired()).toBe(false);
  });

  it('counts monotonic time while disconnected, not while connected, and expires past the limit (not at it)', () => {
    const { t, open } = setup();
    const c = open();
    c.contact(5_000);
    t.mono += 60_000; // connected: nothing counts
    c.tick();
    expect(c.elapsedMs).toBe(0);
    c.lost();
    t.mono += 5_000;
    c.tick();
    expect(c.elapsedMs).toBe(5_000);
    expect(c.expired()).toBe(false);
    t.mono += 1;
    c.tick();
    expect(c.expired()).toBe(true);
    c.contact(undefined); // a welcome resets it and keeps the limit it knew
    expect(c.expired()).toBe(false);
    expect(c.limitMs).toBe(5_000);
  });

  it('ignores the wall clock while running: set forward a year or back a year, nothing changes', () => {
    const { t, open } = setup();
    const c = open();
    c.contact(86_400_000);
    c.lost();
    t.wall += 365 * 86_400_000;
    t.mono += 1_000;
    c.tick();
    expect(c.elapsedMs).toBe(1_000);
    t.wall -= 2 * 365 * 86_400_000;
    t.mono += 1_000;
    c.tick();
    expect(c.elapsedMs).toBe(2_000);
    expect(c.expired()).toBe(false);
  });

  it('across a restart adds the time the agent was not running by the wall clock, and nothing when the clock went back', () => {
    const { dir, t, open } = setup();
    const c = open();
    c.contact(10 * 86_400_000);
    c.lost();
    t.mono += 1_000;
    c.tick();
    c.save();
    expect(JSON.parse(readFileSync(join(dir, OFFLINE_CLOCK_FILE), 'utf8'))).toMatchObject({ max_offline_ms: 10 * 86_400_000, offline_ms: 1_000 });
    // Off for 11 days: expired at the next start.
    t.wall += 11 * 86_400_000;
    const after = open();
    expect(after.elapsedMs).toBe(1_000 + 11 * 86_400_000);
    expect(after.expired()).toBe(true);
    // A clock set back while off adds nothing.
    const { t: t2, open: open2 } = setup();
    const d = open2();
    d.contact(10 * 86_400_000);
    d.lost();
    d.save();
    t2.wall -= 30 * 86_400_000;
    expect(open2().elapsedMs).toBe(0);
  });
});
