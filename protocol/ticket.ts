/**
 * Jump session tickets, one module for both ends (security issues #12 item 12 and #13): the site
 * signs (site/sessions.ts), the agent verifies (agent/session-host.ts).
 *
 * A ticket says who may open SSH into which jump client, with which SSH public key, for which
 * session kind, until when. The signature is Ed25519 by the site identity key over
 * `TICKET_CONTEXT || 0x00 || ticket JSON text`: the context string separates ticket signatures
 * from every other signature made with the same key (the handshake's, protocol/handshake.ts), so
 * no handshake signature can ever be replayed as a ticket or the other way round.
 */
import { sign, verify, type KeyObject } from 'node:crypto';
import { parseSshPublicKey } from './ssh-keys.js';
import { ticketSchema, type SessionKind, type SessionOpen, type Ticket } from './messages.js';

/** Domain-separation context of ticket signatures. Change it (v2, v3...) with the ticket format. */
export const TICKET_CONTEXT = 'jump-session-ticket-v2';

function signedBytes(ticketJson: string): Buffer {
  return Buffer.concat([Buffer.from(TICKET_CONTEXT, 'utf8'), Buffer.from([0]), Buffer.from(ticketJson, 'utf8')]);
}

/** The fields the site chooses; `v` is added. Times in ms since the epoch (site clock). */
export interface TicketInput {
  sid: string;
  cid: number;
  user: string;
  key: string;
  kind: SessionKind;
  iat: number;
  exp: number;
}

/**
 * Signs a ticket with the site identity key. Returns the ticket as JSON text (what the agent
 * parses) and its signature (base64url), the `ticket` and `ticket_sig` of `session_open`.
 */
export function signTicket(siteKey: KeyObject, t: TicketInput): { ticket: string; ticketSig: string } {
  const ticket = JSON.stringify({ v: 2, sid: t.sid, cid: t.cid, user: t.user, key: t.key, kind: t.kind, iat: t.iat, exp: t.exp });
  return { ticket, ticketSig: sign(null, signedBytes(ticket), siteKey).toString('base64url') };
}

/**
 * Checks a `session_open` ticket. Returns the ticket, or null when the signature is not the
 * site's (with TICKET_CONTEXT), the ticket is malformed (unknown kind, old version), for another
 * client or session, its lifetime is not positive, or its key is not an Ed25519 SSH key.
 */
export function verifyTicket(open: Pick<SessionOpen, 'session_id' | 'ticket' | 'ticket_sig'>, sitePublicKey: KeyObject, clientId: number): Ticket | null {
  try {
    if (!verify(null, signedBytes(open.ticket), sitePublicKey, Buffer.from(open.ticket_sig, 'base64url'))) return null;
    const t = ticketSchema.parse(JSON.parse(open.ticket));
    if (t.sid !== open.session_id || t.cid !== clientId || t.exp <= t.iat) return null;
    parseSshPublicKey(t.key);
    return t;
  } catch {
    return null;
  }
}

/** What an SSH request inside a session is, for `kindAllows`. */
export type SessionRequest = 'pty' | 'shell' | 'exec' | 'sftp' | 'subsystem' | 'tcpip';

/**
 * True when a session of `kind` may make `request` (the agent's rule; docs/protocol.md "Session
 * kinds"). `pty` is the pty-req, allowed where a shell or command may run; `subsystem` is any
 * subsystem other than sftp (never allowed).
 */
export function kindAllows(kind: SessionKind, request: SessionRequest): boolean {
  switch (kind) {
    case 'shell':
      return request === 'pty' || request === 'shell';
    case 'exec':
      return request === 'pty' || request === 'exec';
    case 'sftp':
      return request === 'sftp';
    case 'tunnel':
      return request === 'tcpip';
    case 'proxy':
      return request !== 'subsystem';
  }
}
