/** The agent's rules for Jump sessions: session tickets and port-forward targets. */
import { generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { forwardAllowed, verifyTicket } from '../../agent/session-host.js';
import { sshPublicKey } from '../../protocol/ssh-keys.js';

const site = generateKeyPairSync('ed25519');
const technician = generateKeyPairSync('ed25519');
const sid = 'AAAAAAAAAAAAAAAAAAAAAA';

function open(over: Record<string, unknown> = {}, signer = site.privateKey) {
  const ticket = JSON.stringify({ v: 1, sid, cid: 7, user: 'admin', key: sshPublicKey(technician.publicKey), iat: 1000, exp: 61_000, ...over });
  return { t: 'session_open' as const, session_id: sid, token: 'x'.repeat(43), ticket, ticket_sig: sign(null, Buffer.from(ticket), signer).toString('base64url') };
}

describe('session tickets', () => {
  it('accepts a ticket signed by the pinned site key for this client and session', () => {
    expect(verifyTicket(open(), site.publicKey, 7)).toMatchObject({ sid, cid: 7, user: 'admin' });
  });

  it('refuses a forged ticket (signed by another key)', () => {
    expect(verifyTicket(open({}, generateKeyPairSync('ed25519').privateKey), site.publicKey, 7)).toBeNull();
  });

  it('refuses a ticket altered after signing', () => {
    const o = open();
    expect(verifyTicket({ ...o, ticket: o.ticket.replace('"admin"', '"mallory"') }, site.publicKey, 7)).toBeNull();
  });

  it('refuses a ticket for another client or another session, or with no lifetime', () => {
    expect(verifyTicket(open(), site.publicKey, 8)).toBeNull();
    expect(verifyTicket(open({ sid: 'BBBBBBBBBBBBBBBBBBBBBB' }), site.publicKey, 7)).toBeNull();
    expect(verifyTicket(open({ exp: 1000 }), site.publicKey, 7)).toBeNull();
  });

  it('refuses a ticket whose key is not an ssh-ed25519 key', () => {
    expect(verifyTicket(open({ key: 'ssh-rsa AAAAB3NzaC1yc2E' }), site.publicKey, 7)).toBeNull();
  });
});

describe('port-forward targets', () => {
  it('allows the endpoint itself always', () => {
    for (const ip of ['127.0.0.1', '127.5.6.7', '::1']) expect(forwardAllowed(ip, false)).toBe(true);
  });

  it('allows private LAN addresses only when the jump client allows its LAN', () => {
    for (const ip of ['10.0.0.5', '172.16.3.4', '192.168.1.10', '169.254.1.1', 'fd00::5', 'fe80::1']) {
      expect(forwardAllowed(ip, false)).toBe(false);
      expect(forwardAllowed(ip, true)).toBe(true);
    }
  });

  it('never allows public addresses or non-addresses', () => {
    for (const ip of ['8.8.8.8', '192.0.2.10', '172.32.0.1', '2001:db8::1', 'example.com']) expect(forwardAllowed(ip, true)).toBe(false);
  });
});
