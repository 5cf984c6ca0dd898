/**
 * The site end of the agents' persistent connections (DESIGN.md flow steps 4-5, docs/protocol.md).
 *
 * One WebSocket per agent at `AGENT_WS_PATH`, over TLS 1.3. Life of a connection:
 *   admission (token bucket; 503 + Retry-After over the rate)
 *   -> hello (agent nonce) -> challenge (site nonce + site signature over the channel binding)
 *   -> enroll (installer key, new agent key) | auth (client id, signature)
 *   -> welcome -> heartbeats and statistics until either side closes or the peer goes silent.
 * The installer's preflight (agent/install/preflight.ts) takes the same road up to the challenge,
 * then sends enroll_check (installer key, requested fields) and gets check_ok or the enrollment's
 * error, and the connection ends: nothing is recorded.
 *
 * One identity, one connection: when a client id authenticates while its previous connection still
 * answers a WebSocket ping, the key is in two places at once (copied). Both are refused and the
 * client is quarantined (JUMP_CLIENT_QUARANTINED) until an admin releases it; a previous connection
 * that does not answer within `duplicateProbeMs` is half-open and is replaced (security issue #12
 * item 4).
 *
 * Liveness: the agent sends `hb` every `heartbeatMs`; one sweep timer per gateway terminates any
 * session silent for more than 1.5 intervals, so a dead or half-open peer is marked offline within
 * 2 intervals. Every message is schema-checked and size-bounded (`AGENT_MESSAGE_MAX_BYTES`).
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import { JumpError, formatMessage, type ErrorCode } from '../protocol/errors.js';
import { channelBinding, newNonce, publicKeyFromRaw, signAsSite, verifyAgent } from '../protocol/handshake.js';
import { AGENT_MESSAGE_MAX_BYTES, HANDSHAKE_TIMEOUT_MS } from '../protocol/limits.js';
import {
  AGENT_SESSION_WS_PATH,
  AGENT_WS_PATH,
  CLOSE,
  PROTOCOL_MIN,
  PROTOCOL_VERSION,
  agentHandshakeMessage,
  agentSessionMessage,
  encodeSiteMessage,
  parseMessage,
  requestedFieldsSchema,
  type Auth,
  type Enroll,
  type EnrollCheck,
  type Hello,
  type SiteMessage,
  type UpdateStatus,
} from '../protocol/messages.js';
import { AGENT_UPDATE_WS_PATH, type ClientPlatform } from '../protocol/update.js';
import { backgroundClock, type Clock, type TimerHandle } from '../protocol/clock.js';
import type { KeyObject } from 'node:crypto';
import { AdmissionControl } from './admission.js';
import { FULL_RETRY_MS, atMostEvery } from './capacity.js';
import type { SiteMetrics } from './metrics.js';
import { enrollmentCheck, installerRefusal } from './installers.js';
import { checkLimit } from './settings.js';
import type { ClientLimits, Store } from './store/store.js';

/**
 * Defaults of `GatewayOptions`, read by the constructor and by `jump-site serve`'s flags
 * (site/server.ts SITE_DEFAULTS, site/main.ts): the one copy.
 */
/** A clone report is audited and logged at most this often per jump client, in ms (every report is counted). */
const CLONE_AUDIT_EVERY_MS = 3_600_000;

export const GATEWAY_DEFAULTS = {
  /** Heartbeat interval agents are told to use, in ms. */
  heartbeatMs: 30_000,
  /** How often agents look for statistics changes, in ms. */
  statsIntervalMs: 60_000,
  /** New agent connections admitted per second, site-wide (the seeds' vendor admits 50). */
  admissionRate: 50,
  /** Admitted handshakes unfinished at once: no limit. */
  maxHandshakes: Number.POSITIVE_INFINITY,
  /** Agent connections this node holds: no limit (the server derives one, site/capacity.ts). */
  maxAgents: Number.POSITIVE_INFINITY,
} as const;

export interface GatewayOptions<S extends SessionHooks = SessionHooks> {
  store: Store;
  /** The site identity key (Ed25519) agents pin. */
  identityKey: KeyObject;
  /** Heartbeat interval agents are told to use, in ms. Default 30 000. */
  heartbeatMs?: number;
  /** How often agents look for statistics changes, in ms. Default 60 000. */
  statsIntervalMs?: number;
  /** New agent connections admitted per second, site-wide. Default 50. */
  admissionRate?: number;
  /**
   * Admitted agent handshakes unfinished at once; more wait like callers over the rate. Default: no
   * limit (docs/benchmarks.md, P1: what 64 and 512 did at 25 000 agents).
   */
  maxHandshakes?: number;
  /**
   * The site's license limits at the moment of an enrollment (site/settings.ts: the settings
   * jump-clients.max-total and .max-active, which change while the site runs). Default: none.
   */
  limits?: () => ClientLimits;
  /**
   * What `clientId`'s welcome tells it besides the timings (issue #18), in ms: `maxOfflineMs`, its
   * offline lifetime (its own max-offline, else the site's jump-clients.max-offline; absent: the
   * agent never expires), and `passiveIntervalMs`, its check-in interval when it is passive
   * (absent: active). Default: neither.
   */
  welcomeFor?: (clientId: number) => Promise<{ maxOfflineMs?: number; passiveIntervalMs?: number }>;
  /**
   * Agent connections (online plus in handshake) this node holds; more are answered 503 with a
   * Retry-After in `FULL_RETRY_MS`. Default: no limit (the server derives one from the open-file
   * limit, site/capacity.ts).
   */
  maxAgents?: number;
  /**
   * How long a client's previous connection has to answer a ping when the same identity connects
   * again, in ms: answered means two live copies (quarantine), silent means half-open (replace).
   * Default: min(2 000, heartbeat interval).
   */
  duplicateProbeMs?: number;
  log: Logger;
  metrics?: SiteMetrics;
  /** Called with the source address of each agent that authenticated (the TLS gate's known addresses). */
  onAgentOnline?: (remoteAddress: string) => void;
  /**
   * Makes the Jump session broker (site/sessions.ts) from this gateway's `AgentLink`, once, at the
   * end of construction: the broker sends through the gateway and the gateway hands it session
   * messages, so neither is set on the other later. Default: no sessions.
   */
  sessions?: (agents: AgentLink) => S;
  /** Time and timers (default: the system clock); tests pass a manual one. */
  clock?: Clock;
  /** Self-update (issue #17, site/updates.ts): the update-signing pin sent in welcomes, offers, the download socket. Default: none. */
  updates?: UpdateHooks;
}

/** What the gateway hands to the update service (site/updates.ts UpdateService). */
export interface UpdateHooks {
  /** The update-signing key's pin, sent in every welcome (`update_pin`). */
  readonly pin: string;
  /** Client `id` was welcomed, reporting `version` and `platform` (absent: an unpackaged agent). */
  onWelcome(id: number, version: string, platform: ClientPlatform | undefined): void;
  /** An update_check or update_status: a reason to refuse it, or null (at once, or once the store was read). */
  onMessage(id: number, msg: { t: 'update_check' } | UpdateStatus): string | null | Promise<string | null>;
  onDisconnect(id: number): void;
  /** The download socket's upgrade (AGENT_UPDATE_WS_PATH). */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
}


/** Messages an authenticated agent may send per second before it is disconnected. */
const MESSAGE_RATE_LIMIT = 50;
/** A passive client is listed "passive" until this many check-in intervals pass without one. */
const PASSIVE_OVERDUE_INTERVALS = 3;

/** What the Jump session broker (site/sessions.ts) asks of the agents' control connections. */
export interface AgentLink {
  /** True when jump client `id` has a live connection on this node. */
  isConnected(id: number): boolean;
  /** The version the connected agent `id` reported, or null when not connected. */
  agentVersion(id: number): string | null;
  /** An identity (compare with ===) of agent `id`'s current control connection, or null. */
  connection(id: number): object | null;
  /** Sends `msg` to connected agent `id`; false when it is not connected. */
  send(id: number, msg: SiteMessage): boolean;
  /** Resolves true once agent `id` is connected and welcomed (a passive one is held), false after `timeoutMs`. */
  waitOnline(id: number, timeoutMs: number): Promise<boolean>;
}

/** What the gateway hands to the Jump session broker (site/sessions.ts). */
export interface SessionHooks {
  /** `conn` identifies the agent's control connection (see AgentGateway.connection). */
  onAgentMessage(clientId: number, msg: { t: string; session_id: string } & Record<string, unknown>, conn: object): void;
  onAgentDisconnected(clientId: number): void;
  handleAgentSocket(req: IncomingMessage, socket: Duplex, head: Buffer): void;
}

interface Session {
  ws: WebSocket;
  clientId: number;
  agentVersion: string;
  lastHeartbeat: number;
  lastSeen: number;
  windowStart: number;
  windowCount: number;
  /** Its check-in interval when passive (its status stays "passive" for three of them), else null. */
  passiveMs: number | null;
}

export class AgentGateway<S extends SessionHooks = SessionHooks> implements AgentLink {
  private readonly wss: WebSocketServer;
  private readonly agents = new Map<number, Session>();
  /** Passive clients a Jump waits for: called once the client is welcomed (it then stays). */
  private readonly wanted = new Map<number, Set<() => void>>();
  private readonly admission: AdmissionControl;
  private readonly sweep: TimerHandle;
  private readonly clock: Clock;
  private readonly heartbeatMs: number;
  private readonly statsIntervalMs: number;
  private readonly maxAgents: number;
  /** The "node full" warning, logged at most once a minute. */
  private readonly warnFull: () => void;
  private closing = false;
  /** The session broker made by `opts.sessions`, or null. */
  readonly sessions: S | null;

  constructor(private readonly opts: GatewayOptions<S>) {
    const clock = (this.clock = opts.clock ?? backgroundClock);
    this.heartbeatMs = opts.heartbeatMs ?? GATEWAY_DEFAULTS.heartbeatMs;
    this.statsIntervalMs = opts.statsIntervalMs ?? GATEWAY_DEFAULTS.statsIntervalMs;
    this.maxAgents = opts.maxAgents ?? GATEWAY_DEFAULTS.maxAgents;
    this.warnFull = atMostEvery(60_000, () =>
      opts.log.warn(
        { maxAgents: this.maxAgents, connected: this.agents.size },
        'this site node holds as many agents as it can; more are told to come back in 2-5 minutes (raise the open-file limit or add --max-agents, docs/operations.md)',
      ),
    );
    this.admission = new AdmissionControl(
      opts.admissionRate ?? GATEWAY_DEFAULTS.admissionRate,
      undefined,
      () => clock.now(),
      opts.maxHandshakes ?? GATEWAY_DEFAULTS.maxHandshakes,
    );
    this.wss = new WebSocketServer({ noServer: true, maxPayload: AGENT_MESSAGE_MAX_BYTES, perMessageDeflate: false });
    this.sweep = clock.setInterval(() => this.sweepSilent(), Math.max(25, Math.floor(this.heartbeatMs / 4)));
    // Last: the broker may keep `this` as its AgentLink.
    this.sessions = opts.sessions?.(this) ?? null;
  }

  /** Number of authenticated agent connections. */
  get connectedCount(): number {
    return this.agents.size;
  }

  /** True when jump client `id` has a live connection on this node. */
  isConnected(id: number): boolean {
    return this.agents.has(id);
  }

  /** The version the connected agent `id` reported in its hello, or null when not connected. */
  agentVersion(id: number): string | null {
    return this.agents.get(id)?.agentVersion ?? null;
  }

  /**
   * An identity for agent `id`'s current control connection (compare with ===), or null when it is
   * not connected: the session broker accepts recording messages for a session only from the
   * connection it was opened on.
   */
  connection(id: number): object | null {
    return this.agents.get(id)?.ws ?? null;
  }

  /** Sends a control message to connected agent `id`. Returns false when it is not connected. */
  send(id: number, msg: SiteMessage): boolean {
    const s = this.agents.get(id);
    if (!s || s.ws.readyState !== s.ws.OPEN) return false;
    s.ws.send(encodeSiteMessage(msg));
    return true;
  }

  /**
   * The HTTP server's `upgrade` handler. Returns false when the path is not the agent endpoint
   * (the caller answers 404).
   */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    const path = (req.url ?? '').split('?')[0];
    if (path === AGENT_UPDATE_WS_PATH && this.opts.updates) {
      // Checked by the update service before accepting: an unused offer's token and an offset.
      this.opts.updates.handleUpgrade(req, socket, head);
      return true;
    }
    if (path === AGENT_SESSION_WS_PATH && this.sessions) {
      // Session sockets are not admission-limited: the broker accepts only ones it asked for.
      this.sessions.handleAgentSocket(req, socket, head);
      return true;
    }
    if (path !== AGENT_WS_PATH) return false;
    if (this.closing) {
      rejectUpgrade(socket, 503, 5_000);
      return true;
    }
    if (this.agents.size + this.admission.pending >= this.maxAgents) {
      // Full: a long, randomised wait, so the agents over capacity do not retry in a storm of
      // TLS handshakes (each refusal here has already cost one).
      this.opts.metrics?.admissionRejected.inc({ reason: 'full' });
      this.warnFull();
      rejectUpgrade(socket, 503, FULL_RETRY_MS.min + Math.floor(Math.random() * (FULL_RETRY_MS.max - FULL_RETRY_MS.min)));
      return true;
    }
    const wait = this.admission.take();
    if (wait > 0) {
      this.opts.metrics?.admissionRejected.inc({ reason: 'rate' });
      rejectUpgrade(socket, 503, wait);
      return true;
    }
    // The admission ends when the handshake does (or the socket goes first), exactly once.
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.admission.release();
    };
    socket.once('close', release);
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws, socket as TLSSocket, req, release));
    return true;
  }

  /**
   * Resolves true once jump client `id` is connected and welcomed, false after `timeoutMs` (ms).
   * A passive client checking in meanwhile is told to stay (`welcome.passive.stay`) for the Jump
   * (issue #18 item 1).
   */
  waitOnline(id: number, timeoutMs: number): Promise<boolean> {
    if (this.isConnected(id)) return Promise.resolve(true);
    return new Promise((resolve) => {
      let set = this.wanted.get(id);
      if (!set) this.wanted.set(id, (set = new Set()));
      const done = () => {
        this.clock.clearTimeout(timer);
        resolve(true);
      };
      set.add(done);
      const timer = this.clock.setTimeout(() => {
        set!.delete(done);
        if (set!.size === 0 && this.wanted.get(id) === set) this.wanted.delete(id);
        resolve(false);
      }, timeoutMs);
    });
  }

  /**
   * Closes jump client `id`'s connection without an error (close 1012, "settings changed"), so it
   * reconnects at once and gets a new welcome (a switch between active and passive).
   */
  reconnect(id: number): void {
    this.agents.get(id)?.ws.close(CLOSE.restart, 'settings changed');
  }

  /** Tells a connected client why it must go (e.g. JUMP_CLIENT_DELETED) and closes its connection. */
  disconnect(clientId: number, code: ErrorCode): void {
    const s = this.agents.get(clientId);
    if (!s) return;
    sendError(s.ws, code);
    s.ws.close(CLOSE.refused, code);
  }

  /** Stops accepting agents and closes every connection (they reconnect to the next start). */
  async close(): Promise<void> {
    this.closing = true;
    this.clock.clearInterval(this.sweep);
    for (const s of this.agents.values()) s.ws.close(CLOSE.shutdown, 'site shutting down');
    for (const ws of this.wss.clients) ws.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  /** Refuses with `code` (counted in the metrics) and closes. */
  private refuse(ws: WebSocket, code: ErrorCode, message?: string): void {
    this.opts.metrics?.errors.inc({ code });
    refuse(ws, code, message);
  }

  private onConnection(ws: WebSocket, tls: TLSSocket, req: IncomingMessage, release: () => void): void {
    const log = this.opts.log;
    const remote = normalizeIp(req.socket.remoteAddress ?? '');
    let cb: Buffer;
    try {
      cb = channelBinding(tls);
    } catch (err) {
      log.warn({ remote, err: (err as Error).message }, 'agent connection without TLS 1.3 channel binding refused');
      ws.close(CLOSE.invalid, 'TLS 1.3 required');
      return;
    }
    const siteNonce = newNonce();
    let hello: Hello | null = null;
    let busy = false;
    // A refused handshake frees its admission at once, not when the closing handshake ends (up to
    // ws's 30 s close timeout): otherwise refusals would hold the slots of new callers.
    const refuse = (code: ErrorCode, message?: string) => {
      release();
      this.refuse(ws, code, message);
    };
    const timer = this.clock.setTimeout(() => refuse('HANDSHAKE_TIMEOUT'), HANDSHAKE_TIMEOUT_MS);
    ws.once('close', release);

    const onMessage = async (data: unknown, isBinary: boolean) => {
      if (busy) return refuse('PROTOCOL_INVALID_MESSAGE'); // one handshake step at a time
      const msg = isBinary ? null : parseMessage(agentHandshakeMessage, data);
      if (!msg) {
        const bad = isBinary ? null : requestedFieldError(data);
        return bad ? refuse(bad.code, bad.message) : refuse('PROTOCOL_INVALID_MESSAGE');
      }
      if (!hello) {
        if (msg.t !== 'hello') return refuse('PROTOCOL_INVALID_MESSAGE');
        if (msg.protocol < PROTOCOL_MIN || msg.protocol > PROTOCOL_VERSION) return refuse('PROTOCOL_VERSION_UNSUPPORTED');
        hello = msg;
        ws.send(
          encodeSiteMessage({
            t: 'challenge',
            protocol: PROTOCOL_VERSION,
            nonce: siteNonce,
            site_sig: signAsSite(this.opts.identityKey, cb, msg.nonce, siteNonce),
          }),
        );
        return;
      }
      if (msg.t === 'hello') return refuse('PROTOCOL_INVALID_MESSAGE');
      busy = true;
      try {
        if (msg.t === 'enroll_check') {
          // The installer's preflight: the enrollment's answer, nothing recorded, then close.
          await this.enrollCheck(msg);
          this.clock.clearTimeout(timer);
          ws.off('message', onMessage);
          release();
          log.info({ remote }, 'installer preflight: the enrollment would be accepted');
          if (ws.readyState === ws.OPEN) {
            ws.send(encodeSiteMessage({ t: 'check_ok' }));
            ws.close(1000, 'checked');
          }
          return;
        }
        const clientId =
          msg.t === 'enroll' ? await this.enroll(msg, cb, hello, siteNonce) : await this.authenticate(msg, cb, hello, siteNonce, remote);
        this.clock.clearTimeout(timer);
        ws.off('message', onMessage);
        if (ws.readyState !== ws.OPEN) return;
        await this.startSession(ws, clientId, remote, msg.machine_id, hello, release);
      } catch (err) {
        this.clock.clearTimeout(timer);
        if (err instanceof JumpError) {
          log.info({ remote, code: err.code, field: err.field }, 'agent handshake refused');
          refuse(err.code, err.message);
        } else {
          log.error({ remote, err }, 'agent handshake failed');
          refuse('INTERNAL_ERROR');
        }
      }
    };
    ws.on('message', onMessage);
    ws.on('error', (err) => log.debug({ remote, err: err.message }, 'agent socket error'));
    ws.once('close', () => this.clock.clearTimeout(timer));
  }

  private async enroll(msg: Enroll, cb: Buffer, hello: Hello, siteNonce: string): Promise<number> {
    let pub: KeyObject;
    try {
      pub = publicKeyFromRaw(msg.public_key);
    } catch {
      throw new JumpError('PROTOCOL_INVALID_MESSAGE', { detail: 'public_key is not an Ed25519 key.' });
    }
    // Proof of possession of the new key, bound to this connection.
    if (!verifyAgent(pub, msg.sig, cb, hello.nonce, siteNonce, msg.public_key)) throw new JumpError('AGENT_AUTH_FAILED');
    const store = this.opts.store;
    const { inst, keyHash, fields } = await enrollmentCheck(store, msg.key_info, msg.requested);
    const now = this.clock.now();
    const { client, replacedClientId, duplicateOf } = await store.enroll({
      keyHash,
      publicKey: msg.public_key,
      machineId: msg.machine_id,
      ...fields,
      now,
      limits: this.opts.limits?.() ?? { maxTotal: null, maxActive: null },
      // Run inside the enrollment's transaction, so two enrollments cannot both take a last use.
      checkInstaller: installerRefusal,
    });
    await store.audit({
      at: now,
      userId: null,
      action: 'jump_client.enroll',
      target: `jump_client:${client.id}`,
      detail: `installer ${inst.uid}${replacedClientId ? `, replaces jump_client:${replacedClientId}` : ''}${duplicateOf ? `, same machine id as jump_client:${duplicateOf} (flagged)` : ''}`,
    });
    if (duplicateOf) {
      this.opts.log.warn({ clientId: client.id, installer: inst.uid, duplicateOf }, 'jump client enrolled with the machine id of another installer\'s client; flagged duplicate_of, nothing deleted');
    }
    this.opts.log.info({ clientId: client.id, installer: inst.uid, replacedClientId, duplicateOf }, 'jump client enrolled');
    return client.id;
  }

  /**
   * The installer's preflight (`enroll_check`): throws the JumpError an `enroll` with the same key
   * and fields would get now (site/installers.ts `enrollmentCheck`, then `installerRefusal`, the
   * enrollment's order), or returns when it would be accepted. Reads only: no record, no use
   * counted, no audit entry. The site's license limits are checked as they are now
   * (DEPLOY_LIMIT_REACHED, DEPLOY_ACTIVE_LIMIT_REACHED): an install on a full site fails loudly
   * instead of at its first start; the enrollment checks them again in its transaction.
   */
  private async enrollCheck(msg: EnrollCheck): Promise<void> {
    const { inst, fields } = await enrollmentCheck(this.opts.store, msg.key_info, msg.requested);
    const refusal = installerRefusal(inst, this.clock.now());
    if (refusal) throw new JumpError(refusal);
    const limits = this.opts.limits?.();
    if (limits && (limits.maxTotal !== null || limits.maxActive !== null)) {
      const n = await this.opts.store.countClients();
      checkLimit(limits.maxTotal, n.total, 'DEPLOY_LIMIT_REACHED', `(jump-clients.max-total=${limits.maxTotal})`);
      if (fields.mode === 'active') checkLimit(limits.maxActive, n.active, 'DEPLOY_ACTIVE_LIMIT_REACHED', `(jump-clients.max-active=${limits.maxActive})`);
    }
  }

  private async authenticate(msg: Auth, cb: Buffer, hello: Hello, siteNonce: string, remote: string): Promise<number> {
    const rec = await this.opts.store.getClientAuth(msg.client_id);
    if (!rec) throw new JumpError('AGENT_AUTH_FAILED');
    const ok = verifyAgent(publicKeyFromRaw(rec.publicKey), msg.sig, cb, hello.nonce, siteNonce, String(msg.client_id));
    if (!ok) throw new JumpError('AGENT_AUTH_FAILED');
    // Only the owner of the key learns that it was deleted.
    if (rec.deleted) throw new JumpError('JUMP_CLIENT_DELETED');
    if (rec.uninstalled) throw new JumpError('JUMP_CLIENT_UNINSTALLED');
    if (rec.quarantined) throw new JumpError('JUMP_CLIENT_QUARANTINED');
    if (msg.clone) {
      // A copy of this jump client on another machine, proven by the key it copied (issue #16
      // item 5): recorded on the jump client and refused; the original keeps its connection.
      const now = this.clock.now();
      const before = await this.opts.store.reportClone(msg.client_id, { now, machineId: msg.machine_id, publicIp: remote });
      // Counted every time; audited and logged at most once an hour per jump client (a copy
      // restarted in a loop, or a key holder sending reports, must not fill the audit log).
      if (before !== null && now - before < CLONE_AUDIT_EVERY_MS) throw new JumpError('JUMP_CLIENT_CLONED');
      await this.opts.store.audit({
        at: now,
        userId: null,
        action: 'jump_client.clone_reported',
        target: `jump_client:${msg.client_id}`,
        detail: `a copy on machine id ${msg.machine_id} (key made on ${msg.clone.key_machine_id}) from ${remote} stopped`,
      });
      this.opts.log.warn({ clientId: msg.client_id, machineId: msg.machine_id, keyMachineId: msg.clone.key_machine_id, remote }, 'a copy of a jump client on another machine reported itself; refused');
      throw new JumpError('JUMP_CLIENT_CLONED');
    }
    return msg.client_id;
  }

  /**
   * Makes `ws` the live connection of `clientId`. `release` ends its admission in the same tick the
   * connection joins `agents`, so no agent is counted twice (pending and connected) against
   * `maxAgents` while its online mark is written: that would refuse another agent as "full" with
   * a wait of minutes.
   */
  private async startSession(ws: WebSocket, clientId: number, remote: string, machineId: string, hello: Hello, release: () => void): Promise<void> {
    const agentVersion = hello.agent_version;
    const old = this.agents.get(clientId);
    if (old) {
      // The same identity again: the old connection is half-open (replace it) or the key is in two
      // places at once (quarantine both).
      if (await this.answersPing(old.ws)) {
        const reason = `identity used by two live connections at once (from ${remote} while connected)`;
        this.opts.log.warn({ clientId, remote }, 'jump client identity on two live connections; quarantined, both refused');
        await this.opts.store.quarantineClient(clientId, reason, this.clock.now());
        await this.opts.store.audit({ at: this.clock.now(), userId: null, action: 'jump_client.quarantine', target: `jump_client:${clientId}`, detail: reason });
        this.opts.metrics?.errors.inc({ code: 'JUMP_CLIENT_QUARANTINED' });
        this.disconnect(clientId, 'JUMP_CLIENT_QUARANTINED');
        throw new JumpError('JUMP_CLIENT_QUARANTINED');
      }
      this.opts.log.warn({ clientId }, 'jump client connected again and its previous connection is silent (half-open); replacing it');
    }
    if (ws.readyState !== ws.OPEN) return;
    const now = this.clock.now();
    const session: Session = { ws, clientId, agentVersion, lastHeartbeat: 0, lastSeen: now, windowStart: now, windowCount: 0, passiveMs: null };
    this.opts.metrics?.agentConnects.inc();
    // A half-open previous connection (it did not answer the ping) is dropped once this one owns
    // the id, so its close does not mark the client offline.
    const replaced = this.agents.get(clientId);
    this.agents.set(clientId, session);
    release();
    if (replaced) replaced.ws.terminate();
    await this.opts.store.setClientOnline(clientId, { now, publicIp: remote, machineId, agentVersion, platform: hello.platform ?? null });
    const { maxOfflineMs, passiveIntervalMs: passiveMs } = (await this.opts.welcomeFor?.(clientId)) ?? {};
    if (ws.readyState !== ws.OPEN) return;
    session.passiveMs = passiveMs ?? null;
    const waiters = this.wanted.get(clientId);
    ws.send(
      encodeSiteMessage({
        t: 'welcome',
        client_id: clientId,
        heartbeat_ms: this.heartbeatMs,
        stats_interval_ms: this.statsIntervalMs,
        ...(maxOfflineMs !== undefined ? { max_offline_ms: maxOfflineMs } : {}),
        ...(passiveMs !== undefined ? { passive: { check_in_ms: passiveMs, stay: waiters !== undefined } } : {}),
        ...(this.opts.updates ? { update_pin: this.opts.updates.pin } : {}),
      }),
    );
    this.opts.updates?.onWelcome(clientId, agentVersion, hello.platform);
    this.opts.log.info({ clientId, remote, passive: passiveMs !== undefined }, 'jump client online');
    this.opts.onAgentOnline?.(remote);
    // A Jump waiting for this (passive) client goes on now that it is welcomed.
    if (waiters) {
      this.wanted.delete(clientId);
      for (const w of waiters) w();
    }

    ws.on('message', (data, isBinary) => {
      const t = this.clock.now();
      session.lastSeen = t;
      if (t - session.windowStart >= 1000) {
        session.windowStart = t;
        session.windowCount = 0;
      }
      if (++session.windowCount > MESSAGE_RATE_LIMIT) return this.refuse(ws, 'PROTOCOL_INVALID_MESSAGE', 'Too many messages.');
      const msg = isBinary ? null : parseMessage(agentSessionMessage, data);
      if (!msg) return this.refuse(ws, 'PROTOCOL_INVALID_MESSAGE');
      if (msg.t === 'hb') {
        ws.send(encodeSiteMessage({ t: 'hb_ack', seq: msg.seq }));
        if (session.lastHeartbeat > 0) this.opts.metrics?.heartbeatLag.observe(Math.max(0, t - session.lastHeartbeat - this.heartbeatMs) / 1000);
        session.lastHeartbeat = t;
      } else if (msg.t === 'uninstalled') {
        void this.uninstalled(session);
      } else if (msg.t === 'stats') {
        this.opts.store.updateStats(clientId, msg.stats, msg.full).catch((err) => this.opts.log.error({ clientId, err }, 'statistics not saved'));
      } else if (msg.t === 'update_check' || msg.t === 'update_status') {
        // Self-update (issue #17, site/updates.ts): an update_status for a version never offered is refused.
        if (!this.opts.updates) return this.refuse(ws, 'PROTOCOL_INVALID_MESSAGE', 'This site offered no update.');
        const refuseUpdate = (refusal: string | null) => {
          if (refusal && this.agents.get(clientId) === session) this.refuse(ws, 'PROTOCOL_INVALID_MESSAGE', `Refused: ${refusal}.`);
        };
        const r = this.opts.updates.onMessage(clientId, msg);
        if (r === null || typeof r === 'string') refuseUpdate(r);
        else r.then(refuseUpdate).catch((err) => this.opts.log.error({ clientId, err }, 'update message not handled'));
      } else {
        this.sessions?.onAgentMessage(clientId, msg, ws);
      }
    });
    ws.once('close', () => {
      if (this.agents.get(clientId) !== session) return; // replaced: the new session owns the status
      this.agents.delete(clientId);
      this.sessions?.onAgentDisconnected(clientId);
      this.opts.updates?.onDisconnect(clientId);
      const at = this.clock.now();
      this.opts.store
        .setClientOffline(clientId, at, session.passiveMs === null ? null : at + PASSIVE_OVERDUE_INTERVALS * session.passiveMs)
        .catch((err) => this.opts.log.error({ clientId, err }, 'offline not saved'));
      this.opts.log.info({ clientId }, 'jump client offline');
    });
  }

  /**
   * True when `ws` answers a WebSocket ping within `duplicateProbeMs` (the peer is alive), false
   * when it is closed or silent (half-open).
   */
  private answersPing(ws: WebSocket): Promise<boolean> {
    if (ws.readyState !== ws.OPEN) return Promise.resolve(false);
    const waitMs = this.opts.duplicateProbeMs ?? Math.min(2_000, this.heartbeatMs);
    return new Promise((resolve) => {
      const done = (alive: boolean) => {
        this.clock.clearTimeout(timer);
        ws.off('pong', onPong);
        ws.off('close', onClose);
        resolve(alive);
      };
      const onPong = () => done(true);
      const onClose = () => done(false);
      const timer = this.clock.setTimeout(() => done(false), waitMs);
      ws.on('pong', onPong);
      ws.once('close', onClose);
      try {
        ws.ping();
      } catch {
        done(false);
      }
    });
  }

  /** The agent says it is being uninstalled: keep the item as "uninstalled" and let it go. */
  private async uninstalled(s: Session): Promise<void> {
    const now = this.clock.now();
    this.agents.delete(s.clientId);
    this.sessions?.onAgentDisconnected(s.clientId);
    this.opts.updates?.onDisconnect(s.clientId);
    await this.opts.store.markUninstalled(s.clientId, now);
    await this.opts.store.audit({ at: now, userId: null, action: 'jump_client.uninstall', target: `jump_client:${s.clientId}` });
    this.opts.log.info({ clientId: s.clientId }, 'jump client uninstalled on its machine');
    this.refuse(s.ws, 'JUMP_CLIENT_UNINSTALLED');
  }

  private sweepSilent(): void {
    const limit = this.clock.now() - this.heartbeatMs * 1.5;
    for (const s of this.agents.values()) {
      if (s.lastSeen < limit) {
        this.opts.log.info({ clientId: s.clientId }, 'jump client silent for 1.5 heartbeat intervals; disconnecting');
        s.ws.terminate();
      }
    }
  }
}

/**
 * For an `enroll` or `enroll_check` whose requested fields (name, jump group, tag, comments) are refused — control
 * characters, bidi overrides, too long — a VALIDATION_FAILED naming the install flag and the fix,
 * instead of a bare PROTOCOL_INVALID_MESSAGE. Null for anything else.
 */
function requestedFieldError(data: unknown): JumpError | null {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.isBuffer(data) ? data.toString('utf8') : String(data));
  } catch {
    return null;
  }
  const t = typeof json === 'object' && json !== null ? (json as { t?: unknown }).t : undefined;
  if (t !== 'enroll' && t !== 'enroll_check') return null;
  const r = requestedFieldsSchema.safeParse((json as { requested?: unknown }).requested);
  if (r.success) return null;
  const issue = r.error.issues[0];
  const field = String(issue.path[0] ?? 'requested');
  return new JumpError('VALIDATION_FAILED', { field, detail: `--jc-${field.replace('_', '-')}: ${issue.message}.` });
}

function sendError(ws: WebSocket, code: ErrorCode, message?: string): void {
  if (ws.readyState === ws.OPEN) ws.send(encodeSiteMessage({ t: 'error', code, message: message ?? formatMessage(code) }));
}

function refuse(ws: WebSocket, code: ErrorCode, message?: string): void {
  sendError(ws, code, message);
  if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.close(CLOSE.refused, code);
}

/** Answers an upgrade request with an HTTP error and closes the socket. */
function rejectUpgrade(socket: Duplex, status: number, retryAfterMs: number): void {
  const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
  socket.end(
    `HTTP/1.1 ${status} Service Unavailable\r\nRetry-After: ${seconds}\r\nX-Retry-After-Ms: ${retryAfterMs}\r\n` +
      'Connection: close\r\nContent-Length: 0\r\n\r\n',
  );
}

/** `::ffff:127.0.0.1` -> `127.0.0.1`. */
export function normalizeIp(ip: string): string {
  return ip.startsWith('::ffff:') ? ip.slice(7) : ip;
}
