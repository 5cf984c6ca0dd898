/** The agent's rules for Jump sessions: session tickets and port-forward targets. */
import { generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { forwardAllowed, verifyTicket } from '../../agent/session-host.js';
import { sshPublicKey } from '../../protocol/ssh-keys.js';
import { TICKET_CONTEXT, kindAllows, signTicket } from '../../protocol/ticket.js';
import { signAsSite } from '../../protocol/handshake.js';
import { cleanText, commentsField, isPrintableText, nameField } from '../../protocol/fields.js';
import { statsSchema } from '../../protocol/messages.js';

const site = generateKeyPairSync('ed25519');
const technician = generateKeyPairSync('ed25519');
const sid = 'AAAAAAAAAAAAAAAAAAAAAA';

function open(over: Record<string, unknown> = {}, signer = site.privateKey) {
  const ticket = JSON.stringify({ v: 2, sid, cid: 7, user: 'admin', key: sshPublicKey(technician.publicKey), kind: 'shell', iat: 1000, exp: 61_000, ...over });
  const signed = Buffer.concat([Buffer.from(TICKET_CONTEXT), Buffer.from([0]), Buffer.from(ticket)]);
  return { t: 'session_open' as const, session_id: sid, token: 'x'.repeat(43), ticket, ticket_sig: sign(null, signed, signer).toString('base64url') };
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

  it('round-trips signTicket with its kind, and refuses a ticket without a kind or with an unknown one', () => {
    const t = signTicket(site.privateKey, { sid, cid: 7, user: 'admin', key: sshPublicKey(technician.publicKey), kind: 'exec', iat: 1, exp: 2 });
    expect(verifyTicket({ session_id: sid, ticket: t.ticket, ticket_sig: t.ticketSig }, site.publicKey, 7)).toMatchObject({ kind: 'exec' });
    expect(verifyTicket(open({ kind: undefined }), site.publicKey, 7)).toBeNull();
    expect(verifyTicket(open({ kind: 'root' }), site.publicKey, 7)).toBeNull();
    // An attacker who swaps the kind after signing breaks the signature.
    expect(verifyTicket({ session_id: sid, ticket: t.ticket.replace('"exec"', '"proxy"'), ticket_sig: t.ticketSig }, site.publicKey, 7)).toBeNull();
  });

  it('refuses a signature over the bare ticket (no domain-separation context), as the old format made', () => {
    const o = open();
    const bare = sign(null, Buffer.from(o.ticket), site.privateKey).toString('base64url');
    expect(verifyTicket({ ...o, ticket_sig: bare }, site.publicKey, 7)).toBeNull();
    // Nor does a handshake signature by the same key pass as a ticket signature.
    expect(verifyTicket({ ...o, ticket_sig: signAsSite(site.privateKey, Buffer.alloc(32), 'a', 'b') }, site.publicKey, 7)).toBeNull();
  });
});

describe('session kinds', () => {
  it('lets each kind do only its own requests', () => {
    expect(kindAllows('shell', 'shell')).toBe(true);
    expect(kindAllows('shell', 'exec')).toBe(false);
    expect(kindAllows('shell', 'sftp')).toBe(false);
    expect(kindAllows('exec', 'exec')).toBe(true);
    expect(kindAllows('exec', 'pty')).toBe(true);
    expect(kindAllows('exec', 'shell')).toBe(false);
    expect(kindAllows('exec', 'sftp')).toBe(false);
    expect(kindAllows('sftp', 'sftp')).toBe(true);
    expect(kindAllows('sftp', 'exec')).toBe(false);
    expect(kindAllows('sftp', 'pty')).toBe(false);
    expect(kindAllows('tunnel', 'tcpip')).toBe(true);
    expect(kindAllows('tunnel', 'shell')).toBe(false);
    expect(kindAllows('shell', 'tcpip')).toBe(false);
    expect(kindAllows('proxy', 'shell')).toBe(true);
    expect(kindAllows('proxy', 'subsystem')).toBe(false);
  });
});

describe('agent-reported text', () => {
  it('cleans newlines, ESC, C1, DEL, bidi controls and lone surrogates from statistics, keeping other text', () => {
    const hostile = 'host\nMatch exec "touch /tmp/pwned"\x1b[2J\x1b]0;x\x07\u009b31m\u007f\u202eevil\u2066\u200f\ud800';
    const s = cleanText(hostile);
    expect(isPrintableText(s)).toBe(true);
    expect(s).not.toMatch(/[\n\x1b\x07\u009b\u007f\u202e\u2066\u200f]/);
    expect(s).toContain('Match exec');
    expect(cleanText('héllo 😀 日本 a\u200db')).toBe('héllo 😀 日本 a\u200db');
    const parsed = statsSchema.partial().parse({ hostname: hostile, cpu_model: 'x\ry', private_ips: ['10.0.0.1\n'] });
    expect(isPrintableText(parsed.hostname!)).toBe(true);
    expect(parsed.cpu_model).toBe('x\ufffdy');
    expect(parsed.private_ips).toEqual(['10.0.0.1\ufffd']);
  });

  it('refuses such characters in fields a person or an installer run sets, naming the problem', () => {
    for (const bad of ['a\nb', 'a\x1bb', 'a\u202eb', 'a\u0085b', 'a\ud800b']) {
      const r = nameField.safeParse(bad);
      expect(r.success).toBe(false);
      expect(r.error!.issues[0].message).toContain('printable text only');
    }
    expect(commentsField.safeParse('line 1\nline 2\twith tab').success).toBe(true);
    expect(commentsField.safeParse('a\rb').success).toBe(false);
    expect(commentsField.safeParse('a\u2067b').success).toBe(false);
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
