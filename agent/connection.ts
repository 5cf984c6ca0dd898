/**
 * One control connection from the agent to its site, as a state machine (Teleport's
 * `reversetunnel/agent.go`): the states are data and every change goes through `transition`,
 * which refuses a move the protocol does not allow (a bug, thrown as an Error, never a silent
 * jump).
 *
 *   initial ──dial──▶ connecting ──open, hello sent──▶ handshaking
 *   handshaking ──challenge verified, auth/enroll sent──▶ authenticating
 *   authenticating ──welcome──▶ connected
 *   any state ──socket closed──▶ closed (final)
 *
 * In `handshaking` the agent checks the site's signature over this connection's TLS channel
 * binding against the pinned site key (protocol/handshake.ts); a wrong key is refused, with no
 * fallback. In `connected` it runs the heartbeat (agent/heartbeat.ts) and statistics
 * (agent/stats-reporter.ts) and hands Jump session requests to its owner. Every message it sends
 * is encoded with `encodeAgentMessage`, so the wire shapes are checked at compile time.
 *
 * The reconnect loop, backoff and outbox live in agent/agent.ts; this module is one attempt.
 */
import type { EventEmitter } from 'node:events';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import WebSocket from 'ws';
import { realClock, type Clock, type TimerHandle } from '../protocol/clock.js';
import { JumpError, isErrorCode } from '../protocol/errors.js';
import { channelBinding, newNonce, rawPublicKey, signAsAgent, verifySite } from '../protocol/handshake.js';
import { AGENT_MESSAGE_MAX_BYTES, HANDSHAKE_TIMEOUT_MS } from '../protocol/limits.js';
import {
  AGENT_WS_PATH,
  PROTOCOL_VERSION,
  encodeAgentMessage,
  parseMessage,
  siteMessage,
  type AgentMessage,
  type SessionOpen,
  type SiteMessage,
  type UpdateOffer,
  type Welcome,
} from '../protocol/messages.js';
import type { ClientPlatform } from '../protocol/update.js';
import type { AgentIdentity } from './config.js';
import { Heartbeat } from './heartbeat.js';
import { StatsReporter } from './stats-reporter.js';
import type { StatsProvider } from './stats.js';

/** The life of one connection; `closed` is final. */
export type ConnectionState = 'initial' | 'connecting' | 'handshaking' | 'authenticating' | 'connected' | 'closed';

/** The moves each state allows. Closing is allowed from every state but `closed`. */
const TRANSITIONS: Readonly<Record<ConnectionState, readonly ConnectionState[]>> = {
  initial: ['connecting', 'closed'],
  connecting: ['handshaking', 'closed'],
  handshaking: ['authenticating', 'closed'],
  authenticating: ['connected', 'closed'],
  connected: ['closed'],
  closed: [],
};

/** True when the state machine allows `from` → `to`. */
export function canTransition(from: ConnectionState, to: ConnectionState): boolean {
  return TRANSITIONS[from].includes(to);
}

/** How one connection ended, for the reconnect loop. */
export interface ConnectionOutcome {
  /** The site welcomed the agent on this connection. */
  online: boolean;
  /** Why it ended, when the agent or the site said why (the first reason wins). */
  error: JumpError | null;
  /** The site's Retry-After (503 headers or an error's `retry_after_ms`), in ms. */
  retryAfterMs: number | null;
  /** The close reason the site gave, or the close code as text (for the agent's `offline` event). */
  closeReason: string;
}

/**
 * What the connection needs from a WebSocket: ws's client satisfies it; tests pass a fake.
 * Events used: `upgrade` (res.socket: the TLS socket), `unexpected-response`, `open`, `message`,
 * `error`, `close`.
 */
export type AgentSocket = EventEmitter & Pick<WebSocket, 'send' | 'close' | 'terminate' | 'readyState'>;

/** Opens the socket; the default is ws's client with the options below. */
export type SocketFactory = (url: URL, options: WebSocket.ClientOptions) => AgentSocket;

export interface ConnectionOptions {
  /** The agent's identity; `clientId` and `keyInfo` are updated in place on enrollment. */
  identity: AgentIdentity;
  stats: StatsProvider;
  log: Logger;
  /** Version reported in hello. */
  agentVersion: string;
  /** Platform reported in hello (a packaged build's, agent/build-info.ts); absent unpackaged. */
  platform?: ClientPlatform;
  /** Local source address for the TCP connection. */
  localAddress?: string;
  /** Connect only to send `uninstalled`: no heartbeat, statistics or sessions. */
  uninstall?: boolean;
  /** Default the real clock. */
  clock?: Clock;
  /** Default ws's client. */
  createSocket?: SocketFactory;
  /** Called on a welcome that enrolled this agent, before `onOnline`. */
  onEnrolled: (clientId: number) => void;
  /** Called once the connection is `connected` and the heartbeat runs (not in uninstall mode). */
  onOnline: (clientId: number, welcome: Welcome) => void;
  /** A `session_open` from the site, in `connected`. */
  onSessionOpen: (msg: SessionOpen) => void;
  /** A `session_close` from the site, in `connected`. */
  onSessionClose: (sessionId: string) => void;
  /** Self-update (issue #17): an `update_offer` or `update_later` from the site, in `connected`. Without it they are ignored (logged). */
  onUpdate?: (msg: UpdateOffer | { t: 'update_later'; retry_after_ms: number }) => void;
}

/**
 * The WebSocket options of the control connection, shared with the installer's preflight
 * (agent/install/preflight.ts): TLS 1.3 only, any certificate (the pinned key is checked on the
 * channel binding instead), the agent protocol's message bound.
 */
export const AGENT_SOCKET_OPTIONS: Readonly<WebSocket.ClientOptions> = {
  // The certificate is not what authenticates the site: the signature over the channel
  // binding, checked against the pinned site key, is (protocol/handshake.ts).
  rejectUnauthorized: false,
  minVersion: 'TLSv1.3',
  maxPayload: AGENT_MESSAGE_MAX_BYTES,
  handshakeTimeout: 10_000,
  perMessageDeflate: false,
};

/** The control WebSocket's URL for a site URL: `https://h:p` → `wss://h:p/agent/v1`. */
export function agentSocketUrl(siteUrl: string): URL {
  const url = new URL(AGENT_WS_PATH, siteUrl.replace(/^http/, 'ws'));
  url.protocol = 'wss:';
  return url;
}

const defaultSocket: SocketFactory = (url, options) => new WebSocket(url, options);

export class Connection {
  private current: ConnectionState = 'initial';
  private readonly clock: Clock;
  private readonly outcome: ConnectionOutcome = { online: false, error: null, retryAfterMs: null, closeReason: '' };
  private readonly agentNonce = newNonce();
  private socket: AgentSocket | null = null;
  private cb: Buffer | null = null;
  private siteVerified = false;
  private heartbeat: Heartbeat | null = null;
  private statsReporter: StatsReporter | null = null;
  /** True once `onOnline` ran: session traffic may flow. */
  private ready = false;
  /** SHA-256 fingerprint of the site's TLS certificate on this connection (agent/update.ts pins the download to it). */
  private peerFingerprint: string | null = null;
  /** Ends an attempt stuck before the upgrade, or between the upgrade and the welcome (armHandshakeTimer). */
  private handshakeTimer: TimerHandle | undefined;

  constructor(private readonly o: ConnectionOptions) {
    this.clock = o.clock ?? realClock;
  }

  /** The current state. */
  get state(): ConnectionState {
    return this.current;
  }

  /** True when session messages may be sent now (connected, welcomed, socket open). */
  get isOnline(): boolean {
    return this.ready && this.current === 'connected' && this.socket !== null && this.socket.readyState === WebSocket.OPEN;
  }

  /**
   * Dials and runs the connection; resolves with its outcome when the socket closes. Call once:
   * a second call is an illegal transition (Error).
   */
  run(): Promise<ConnectionOutcome> {
    this.transition('connecting');
    const url = agentSocketUrl(this.o.identity.siteUrl);
    const ws = (this.o.createSocket ?? defaultSocket)(url, { ...AGENT_SOCKET_OPTIONS, localAddress: this.o.localAddress });
    this.socket = ws;
    this.armHandshakeTimer();
    return new Promise((resolve) => {
      ws.on('upgrade', (res: { socket: unknown }) => this.onUpgrade(res.socket as TLSSocket));
      ws.on('unexpected-response', (_req: unknown, res: import('node:http').IncomingMessage) => this.onUnexpectedResponse(res));
      ws.on('open', () => this.onOpen());
      ws.on('message', (data: WebSocket.RawData, isBinary: boolean) => this.onMessage(data, isBinary));
      ws.on('error', (err: Error) => this.o.log.debug({ err: err.message }, 'connection error'));
      ws.once('close', (code: number, reason: Buffer) => {
        this.onClose(code, reason);
        resolve(this.outcome);
      });
    });
  }

  /**
   * Sends a message when the connection is online; returns false (and sends nothing) otherwise.
   */
  send(msg: AgentMessage): boolean {
    if (!this.isOnline) return false;
    this.socket!.send(encodeAgentMessage(msg));
    return true;
  }

  /**
   * The SHA-256 fingerprint (`AA:BB:...`) of the TLS certificate of the site that proved the pinned
   * site key on this connection; null before that proof (or with a fake socket). The update download
   * (agent/update.ts) requires the same certificate, so it reaches the same site.
   */
  get siteCertFingerprint(): string | null {
    return this.siteVerified ? this.peerFingerprint : null;
  }

  /** Closes politely (the site sees `code` and `reason`). */
  close(code: number, reason: string): void {
    this.socket?.close(code, reason);
  }

  /** Cuts the socket at once. */
  terminate(): void {
    this.socket?.terminate();
  }

  /** Moves to `to`, or throws when the state machine does not allow it (a bug in this module). */
  private transition(to: ConnectionState): void {
    if (!canTransition(this.current, to)) throw new Error(`agent connection: illegal transition ${this.current} -> ${to}`);
    this.current = to;
  }

  /** Ends the connection with `err` as its reason (unless one was already given). */
  private fail(err: JumpError): void {
    this.outcome.error ??= err;
    this.socket?.terminate();
  }

  /** Writes on the socket in any state before `closed` (handshake messages go out before `connected`). */
  private write(msg: AgentMessage): void {
    this.socket?.send(encodeAgentMessage(msg));
  }

  /**
   * (Re)starts the handshake limit: HANDSHAKE_TIMEOUT_MS from the dial to the upgrade, then again
   * from the upgrade to the welcome (the site's limit, from the same moment: site/agent-gateway.ts).
   * The heartbeat only starts at the welcome, and ws's handshakeTimeout did not end a TLS handshake
   * that never started (a site stalling before TLS held the agent for good), so without this a
   * link lost or stalled mid-handshake (half-open: nothing arrives, nothing closes) holds the agent
   * forever. On expiry the attempt ends with HANDSHAKE_TIMEOUT (not final: the backoff runs).
   */
  private armHandshakeTimer(): void {
    this.clock.clearTimeout(this.handshakeTimer);
    this.handshakeTimer = this.clock.setTimeout(() => {
      if (this.current === 'connected' || this.current === 'closed') return;
      this.o.log.warn({ state: this.current, ms: HANDSHAKE_TIMEOUT_MS }, 'site did not finish the handshake in time; reconnecting');
      this.fail(new JumpError('HANDSHAKE_TIMEOUT'));
    }, HANDSHAKE_TIMEOUT_MS);
  }

  private onUpgrade(socket: TLSSocket): void {
    try {
      this.cb = channelBinding(socket);
      this.peerFingerprint = typeof socket.getPeerCertificate === 'function' ? socket.getPeerCertificate()?.fingerprint256 || null : null;
    } catch (err) {
      this.o.log.error({ err: (err as Error).message }, 'site connection is not TLS 1.3; refusing it');
      this.fail(new JumpError('SITE_IDENTITY_MISMATCH', { detail: 'TLS 1.3 is required.' }));
    }
  }

  private onUnexpectedResponse(res: import('node:http').IncomingMessage): void {
    if (res.statusCode === 503) {
      const ms = Number(res.headers['x-retry-after-ms']);
      const s = Number(res.headers['retry-after']);
      this.outcome.retryAfterMs = Number.isFinite(ms) && ms > 0 ? ms : Number.isFinite(s) ? s * 1000 : 1000;
      this.outcome.error = new JumpError('SITE_BUSY', { retryAfterMs: this.outcome.retryAfterMs });
    } else {
      this.o.log.warn({ status: res.statusCode }, 'site answered the agent endpoint with an HTTP error');
    }
    res.resume();
    this.socket?.terminate();
  }

  private onOpen(): void {
    if (this.current !== 'connecting') return; // failed during the upgrade; the close follows
    this.transition('handshaking');
    this.armHandshakeTimer();
    this.write({
      t: 'hello',
      protocol: PROTOCOL_VERSION,
      agent_version: this.o.agentVersion,
      nonce: this.agentNonce,
      ...(this.o.platform ? { platform: this.o.platform } : {}),
    });
  }

  private onMessage(data: WebSocket.RawData, isBinary: boolean): void {
    this.heartbeat?.seen();
    const log = this.o.log;
    const msg = isBinary ? null : parseMessage(siteMessage, data);
    if (!msg) {
      log.warn('invalid message from the site; reconnecting');
      return this.fail(new JumpError('PROTOCOL_INVALID_MESSAGE'));
    }
    if (msg.t === 'error') {
      // Before the site proved the pinned key, an error proves nothing: never let it stop the agent.
      const code = isErrorCode(msg.code) ? msg.code : 'INTERNAL_ERROR';
      const err = new JumpError(this.siteVerified ? code : 'SITE_IDENTITY_MISMATCH', { retryAfterMs: msg.retry_after_ms });
      if (this.siteVerified) log.warn({ code }, `site: ${msg.message}`);
      return this.fail(err);
    }
    switch (this.current) {
      case 'handshaking':
        return this.onChallenge(msg);
      case 'authenticating':
        return this.onWelcome(msg);
      case 'connected':
        return this.onSessionMessage(msg);
      default:
        // A message before `open` or after close: nothing the protocol allows.
        return this.fail(new JumpError('PROTOCOL_INVALID_MESSAGE'));
    }
  }

  private onChallenge(msg: SiteMessage): void {
    const id = this.o.identity;
    const cb = this.cb;
    if (msg.t !== 'challenge' || !cb) return this.fail(new JumpError('PROTOCOL_INVALID_MESSAGE'));
    if (!verifySite(id.sitePublicKey, msg.site_sig, cb, this.agentNonce, msg.nonce)) {
      this.o.log.error({ site: id.siteUrl, pin: id.sitePin }, 'the site did not prove the pinned site identity; connection refused');
      return this.fail(new JumpError('SITE_IDENTITY_MISMATCH'));
    }
    this.siteVerified = true;
    this.transition('authenticating');
    if (id.clientId !== null) {
      const sig = signAsAgent(id.privateKey, cb, this.agentNonce, msg.nonce, String(id.clientId));
      this.write({ t: 'auth', client_id: id.clientId, machine_id: id.machineId, sig, ...(id.clone ? { clone: { key_machine_id: id.clone.keyMachineId } } : {}) });
    } else {
      const pub = rawPublicKey(id.privateKey);
      const sig = signAsAgent(id.privateKey, cb, this.agentNonce, msg.nonce, pub);
      this.write({ t: 'enroll', key_info: id.keyInfo!, public_key: pub, machine_id: id.machineId, requested: id.requested, sig });
    }
  }

  private onWelcome(msg: SiteMessage): void {
    const id = this.o.identity;
    if (msg.t !== 'welcome') return this.fail(new JumpError('PROTOCOL_INVALID_MESSAGE'));
    // A copy of another machine's jump client only reports itself: never a session, whatever the site answers.
    if (id.clone) return this.fail(new JumpError('JUMP_CLIENT_CLONED'));
    if (id.clientId === null) {
      id.clientId = msg.client_id;
      id.keyInfo = null;
      this.o.onEnrolled(msg.client_id);
      this.o.log.info({ clientId: msg.client_id }, 'enrolled with the site');
    } else if (msg.client_id !== id.clientId) {
      return this.fail(new JumpError('PROTOCOL_INVALID_MESSAGE'));
    }
    this.transition('connected');
    this.clock.clearTimeout(this.handshakeTimer);
    this.outcome.online = true;
    if (this.o.uninstall) {
      this.write({ t: 'uninstalled' });
      return;
    }
    this.heartbeat = new Heartbeat({
      clock: this.clock,
      intervalMs: msg.heartbeat_ms,
      send: (seq) => this.write({ t: 'hb', seq }),
      onLost: (silentMs) => {
        this.o.log.warn({ silentMs }, 'site silent for 1.5 heartbeat intervals; reconnecting');
        this.fail(new JumpError('HEARTBEAT_LOST'));
      },
    });
    this.heartbeat.start();
    this.statsReporter = new StatsReporter({
      clock: this.clock,
      provider: this.o.stats,
      send: (full, stats) => this.write({ t: 'stats', full, stats }),
      isOpen: () => this.socket !== null && this.socket.readyState === WebSocket.OPEN,
      log: this.o.log,
    });
    const firstStats = this.statsReporter.start(msg.stats_interval_ms);
    this.ready = true;
    // A passive check-in (issue #18): report the statistics, then leave until the next check-in.
    if (msg.passive && !msg.passive.stay) {
      void firstStats.then(() => {
        this.o.log.info({ nextCheckInMs: msg.passive!.check_in_ms }, 'passive check-in done');
        this.close(1000, 'passive check-in');
      });
    }
    this.o.log.info({ clientId: id.clientId, heartbeatMs: msg.heartbeat_ms }, 'online');
    this.o.onOnline(msg.client_id, msg);
  }

  private onSessionMessage(msg: SiteMessage): void {
    // hb_ack only refreshes the heartbeat's last-seen time (done in onMessage).
    if (msg.t === 'session_open') return this.o.onSessionOpen(msg);
    if (msg.t === 'session_close') return this.o.onSessionClose(msg.session_id);
    if (msg.t === 'update_offer' || msg.t === 'update_later') {
      if (this.o.onUpdate) this.o.onUpdate(msg);
      else this.o.log.info({ t: msg.t }, 'update message ignored (this agent does not update itself)');
      return;
    }
    if (msg.t !== 'hb_ack') return this.fail(new JumpError('PROTOCOL_INVALID_MESSAGE'));
  }

  private onClose(code: number, reason: Buffer): void {
    this.clock.clearTimeout(this.handshakeTimer);
    this.heartbeat?.stop();
    this.statsReporter?.stop();
    this.ready = false;
    this.socket = null;
    this.transition('closed');
    this.outcome.closeReason = reason.toString() || String(code);
    if (this.outcome.online) this.o.log.info({ code, reason: reason.toString() }, 'offline');
  }
}
