/**
 * A scripted site for unit tests of the agent's connection (agent/connection.ts): a fake socket
 * (no network, no TLS) whose "site" side the test drives by hand, with a real site key so the
 * agent's signature check runs for real. Pair with ManualClock (protocol/clock.ts).
 */
import { EventEmitter } from 'node:events';
import { createPublicKey, type KeyObject } from 'node:crypto';
import pino from 'pino';
import type { AgentIdentity } from '../../agent/config.js';
import type { AgentSocket, SocketFactory } from '../../agent/connection.js';
import { newEd25519Key, newNonce, signAsSite, sitePin } from '../../protocol/handshake.js';
import type { AgentMessage, SiteMessage } from '../../protocol/messages.js';

/** The channel binding both ends of a fake socket agree on. */
const FAKE_CB = Buffer.alloc(32, 7);

/** One fake control socket: the test plays the site. */
export class FakeSiteSocket extends EventEmitter {
  readyState = 0;
  /** What the agent sent, parsed. */
  readonly sent: AgentMessage[] = [];
  closed = false;

  constructor(private readonly siteKey: KeyObject) {
    super();
  }

  send(data: string): void {
    this.sent.push(JSON.parse(data) as AgentMessage);
  }

  close(code = 1000, reason = ''): void {
    this.end(code, reason);
  }

  terminate(): void {
    this.end(1006, '');
  }

  /** The site closes the socket. */
  end(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.readyState = 3;
    this.emit('close', code, Buffer.from(reason));
  }

  /** The TLS upgrade succeeds and the socket opens (the agent sends hello). */
  open(): void {
    this.emit('upgrade', { socket: { getProtocol: () => 'TLSv1.3', exportKeyingMaterial: () => FAKE_CB } });
    this.readyState = 1;
    this.emit('open');
  }

  /** The site answers the upgrade with 503 and these headers. */
  busy(headers: Record<string, string>): void {
    this.emit('unexpected-response', {}, { statusCode: 503, headers, resume: () => undefined });
  }

  /** A message from the site. */
  receive(msg: SiteMessage): void {
    this.emit('message', Buffer.from(JSON.stringify(msg)), false);
  }

  /** Opens, proves the site key, and welcomes `clientId`: the connection ends `connected`. */
  handshake(opts: { clientId: number; heartbeatMs: number; statsIntervalMs?: number; extra?: Record<string, unknown> }): void {
    this.open();
    const hello = this.sent.find((m) => m.t === 'hello');
    if (!hello || hello.t !== 'hello') throw new Error('the agent sent no hello');
    const siteNonce = newNonce();
    this.receive({ t: 'challenge', protocol: hello.protocol, nonce: siteNonce, site_sig: signAsSite(this.siteKey, FAKE_CB, hello.nonce, siteNonce) });
    this.receive({ t: 'welcome', client_id: opts.clientId, heartbeat_ms: opts.heartbeatMs, stats_interval_ms: opts.statsIntervalMs ?? 60_000, ...opts.extra });
  }
}

/** A site key, an enrolled identity pinned to it, and a socket factory that records every dial. */
export function fakeSite(clientId = 7): {
  identity: AgentIdentity;
  createSocket: SocketFactory;
  sockets: FakeSiteSocket[];
  siteKey: KeyObject;
} {
  const siteKey = newEd25519Key();
  const sockets: FakeSiteSocket[] = [];
  const identity: AgentIdentity = {
    siteUrl: 'https://site.invalid:8443',
    sitePin: sitePin(siteKey),
    sitePublicKey: createPublicKey(siteKey),
    privateKey: newEd25519Key(),
    clientId,
    keyInfo: null,
    requested: {},
    machineId: 'machine-unit',
  };
  const createSocket: SocketFactory = () => {
    const s = new FakeSiteSocket(siteKey);
    sockets.push(s);
    return s as unknown as AgentSocket;
  };
  return { identity, createSocket, sockets, siteKey };
}

/** A logger that writes nothing. */
export const silentLog = pino({ level: 'silent' });
