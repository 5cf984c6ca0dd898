import { describe, expect, it } from 'vitest';
import { Agent } from '../../agent/agent.js';
import { ManualClock } from '../../protocol/clock.js';
import type { Stats } from '../../protocol/messages.js';
import { fakeSite, silentLog } from '../helpers/fake-site.js';

/** Lets the agent's promise chain (connection closed -> next sleep) run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

/** An agent on a fake site whose every dial fails at once, unless `script` handles the socket. */
function agentOnFakeSite(clock: ManualClock, baseMs: number, capMs: number) {
  const site = fakeSite();
  const dials: number[] = [];
  const agent = new Agent({
    identity: site.identity,
    stats: async () => ({}) as Stats,
    log: silentLog,
    backoff: { baseMs, capMs, random: () => 0.999999 },
    clock,
    createSocket: (url, options) => {
      dials.push(clock.now());
      return site.createSocket(url, options);
    },
    onEnrolled: () => undefined,
  });
  return { agent, dials, sockets: site.sockets };
}

describe('agent reconnect (fake clock)', () => {
  it('waits a capped exponential backoff between failed dials, to the millisecond', async () => {
    const clock = new ManualClock(0);
    const { agent, dials, sockets } = agentOnFakeSite(clock, 1000, 8000);
    void agent.start();
    await settle();
    // random() just under 1 gives the ceiling minus 1 ms: 1 s, 2 s, 4 s, then the 8 s cap.
    for (const wait of [999, 1999, 3999, 7999, 7999]) {
      const before = dials.length;
      sockets.at(-1)!.terminate(); // the dial fails
      await settle();
      const failedAt = clock.now();
      clock.advance(wait - 1);
      await settle();
      expect(dials.length).toBe(before);
      clock.advance(1);
      await settle();
      expect(dials.length).toBe(before + 1);
      expect(dials.at(-1)! - failedAt).toBe(wait);
    }
    await agent.stop();
  });

  it('comes back at the slot a busy site gives (Retry-After plus at most 10 % jitter), without growing the backoff', async () => {
    const clock = new ManualClock(0);
    const { agent, dials, sockets } = agentOnFakeSite(clock, 1000, 8000);
    void agent.start();
    await settle();
    sockets.at(-1)!.busy({ 'x-retry-after-ms': '5000' });
    await settle();
    clock.advance(5000 + 499 - 1);
    await settle();
    expect(dials.length).toBe(1);
    clock.advance(1);
    await settle();
    expect(dials).toEqual([0, 5499]);
    // The next plain failure starts from the base again: busy did not count as an attempt.
    sockets.at(-1)!.terminate();
    await settle();
    clock.advance(999);
    await settle();
    expect(dials).toEqual([0, 5499, 6498]);
    await agent.stop();
  });

  it('stops at once while waiting, and leaves no timer behind', async () => {
    const clock = new ManualClock(0);
    const { agent, sockets } = agentOnFakeSite(clock, 1000, 8000);
    const stopped = new Promise<void>((resolve) => agent.once('stopped', resolve));
    void agent.start();
    await settle();
    sockets.at(-1)!.terminate();
    await settle();
    await agent.stop();
    await stopped;
    expect(clock.pendingTimers()).toBe(0);
  });
});
