/**
 * How long a verified session ticket admits SSH logins on the agent: its lifetime (`exp - iat`,
 * ms) counted from when the agent accepted it, by the agent's own clock, since the site's and the
 * agent's clocks may differ (docs/protocol.md "Session tickets"). The time is injected
 * (protocol/clock.ts) so expiry is testable without waiting.
 */
import { realClock, type Clock } from '../protocol/clock.js';
import type { Ticket } from '../protocol/messages.js';

export class TicketWindow {
  /** The last moment (ms since the epoch, agent clock) a login is still accepted. */
  readonly deadline: number;

  constructor(
    ticket: Pick<Ticket, 'iat' | 'exp'>,
    private readonly clock: Clock = realClock,
  ) {
    this.deadline = clock.now() + (ticket.exp - ticket.iat);
  }

  /** True while a login with the ticket's key is accepted (up to and including the deadline). */
  isOpen(): boolean {
    return this.clock.now() <= this.deadline;
  }
}
