import { describe, expect, it } from 'vitest';
import { TicketWindow } from '../../agent/ticket-window.js';
import { ManualClock } from '../../protocol/clock.js';

describe('session ticket expiry on the agent (fake clock)', () => {
  it('admits logins for the ticket lifetime from acceptance, by the agent clock, then never again', () => {
    const clock = new ManualClock(1_000_000);
    // Issued an hour "ago" by a site whose clock is off: only exp - iat (60 s) counts.
    const window = new TicketWindow({ iat: 1_000_000 - 3_600_000, exp: 1_000_000 - 3_600_000 + 60_000 }, clock);
    expect(window.deadline).toBe(1_060_000);
    expect(window.isOpen()).toBe(true);
    clock.advance(60_000);
    expect(window.isOpen()).toBe(true);
    clock.advance(1);
    expect(window.isOpen()).toBe(false);
  });
});
