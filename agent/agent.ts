/**
 * The agent's connection to its site: one outbound WebSocket over TLS 1.3, kept for as long as the
 * agent runs (DESIGN.md flow step 5, docs/protocol.md).
 *
 * Each connection: dial -> hello -> verify the site's signature against the pinned site key over
 * this connection's channel binding (a wrong key is refused and logged; there is no fallback) ->
 * enroll (first start, with KEY_INFO) or auth (own key) -> welcome -> heartbeats and statistics.
 * When the connection ends the agent waits a capped, fully jittered exponential backoff (or the
 * site's Retry-After) and dials again, until stopped or until the site refuses it for a reason
 * that retrying cannot fix (a fatal code, e.g. JUMP_CLIENT_DELETED or INSTALLER_EXPIRED).
 *
 * Many agents can run in one process (the fleet simulator does): all state is per instance.
 */
import { EventEmitter } from 'node:events';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import WebSocket from 'ws';
import { JumpError, isErrorCode, type ErrorCode } from '../protocol/errors.js';
import { channelBinding, newNonce, rawPublicKey, signAsAgent, verifySite } from '../protocol/handshake.js';
import { AGENT_MESSAGE_MAX_BYTES } from '../protocol/limits.js';
import { AGENT_WS_PATH, PROTOCOL_VERSION, parseMessage, siteMessage, type Stats } from '../protocol/messages.js';
import { VERSION } from '../protocol/version.js';
import { Backoff, type BackoffOptions } from './backoff.js';
import type { AgentIdentity } from './config.js';
import { statsDelta, type StatsProvider } from './stats.js';
// Loaded on the first Jump session: ssh2 and node-pty cost an idle agent memory it rarely needs.
import type { SessionHost } from './session-host.js';
import { opensshPrivateKey } from '../protocol/ssh-keys.js';

/** Codes after which dialing again cannot succeed: the agent stops and reports them. */
const FATAL_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'INSTALLER_KEY_UNKNOWN',
  'INSTALLER_EXPIRED',
  'INSTALLER_REVOKED',
  'INSTALLER_USED_UP',
  'INSTALLER_OVERRIDE_FORBIDDEN',
  'JUMP_GROUP_NOT_FOUND',
  'DEPLOY_LIMIT_REACHED',
  'JUMP_CLIENT_DELETED',
  'JUMP_CLIENT_UNINSTALLED',
  'AGENT_AUTH_FAILED',
  'PROTOCOL_VERSION_UNSUPPORTED',
  'VALIDATION_FAILED',
]);

/** Session results kept while disconnected. */
const OUTBOX_MAX = 100;

/** The longest Retry-After the agent honours, in ms: an unauthenticated 503 must not park it for long. */
const MAX_RETRY_AFTER_MS = 10 * 60_000;

export interface AgentOptions {
  identity: AgentIdentity;
  stats: StatsProvider;
  log: Logger;
  backoff?: BackoffOptions;
  /** Local source address for the TCP connection (the fleet simulator spreads agents over 127.0.0.0/8). */
  localAddress?: string;
  /** Persists the client id the site assigned at enrollment; called before `online`. */
  onEnrolled: (clientId: number) => void;
  /** Jump session settings (agent/session-host.ts). */
  jump?: { forwardLan?: boolean; isDisabled?: () => boolean; runAs?: string };
  /** Version reported in hello; defaults to this build's (the fleet simulator may pose as another). */
  agentVersion?: string;
  /** Connect only to tell the site this jump client is being uninstalled, then stop. */
  uninstall?: boolean;
}

interface Outcome {
  online: boolean;
  error: JumpError | null;
  retryAfterMs: number | null;
}

/**
 * Events: `online` (clientId), `offline` (reason string), `fatal` (JumpError), `stopped`.
 */
export class Agent extends EventEmitter {
  private readonly identity: AgentIdentity;
  private readonly backoff: Backoff;
  private ws: WebSocket | null = null;
  private stopped = false;
  private sleepTimer: NodeJS.Timeout | null = null;
  private wake: (() => void) | null = null;
  private loop: Promise<void> | null = null;
  private sessionHost: SessionHost | null = null;
  private sessionHostLoading: Promise<SessionHost> | null = null;
  private readonly hostKeyOpenssh: string;

  constructor(private readonly opts: AgentOptions) {
    super();
    this.identity = { ...opts.identity };
    this.backoff = new Backoff(opts.backoff);
    this.hostKeyOpenssh = opensshPrivateKey(this.identity.privateKey, 'jump-client');
  }

  /** Session results waiting for a connection (at most OUTBOX_MAX; the oldest go first). */
  private readonly outbox: object[] = [];
  private online = false;

  /**
   * Sends a control message on the current connection. A session's end (its exit status) that
   * finds no connection waits in a small outbox and goes out after the next welcome; other
   * messages (recording chunks, answers to a start) are only useful now and are dropped.
   */
  private sendControl(msg: object): void {
    if (this.online && this.ws && this.ws.readyState === this.ws.OPEN) {
      this.ws.send(JSON.stringify(msg));
    } else if ((msg as { t?: string }).t === 'session_ended') {
      this.outbox.push(msg);
      if (this.outbox.length > OUTBOX_MAX) this.outbox.shift();
    }
  }

  /** The session host, created (and its module loaded) on the first session. */
  private sessions(): Promise<SessionHost> {
    this.sessionHostLoading ??= import('./session-host.js').then(({ SessionHost }) => {
      this.sessionHost = new SessionHost({
        clientId: this.identity.clientId!,
        siteUrl: this.identity.siteUrl,
        sitePublicKey: this.identity.sitePublicKey,
        hostKeyOpenssh: this.hostKeyOpenssh,
        log: this.opts.log.child({ component: 'sessions' }),
        sendControl: (msg) => this.sendControl(msg),
        isDisabled: this.opts.jump?.isDisabled ?? (() => false),
        forwardLan: this.opts.jump?.forwardLan,
        runAs: this.opts.jump?.runAs,
        localAddress: this.opts.localAddress,
      });
      return this.sessionHost;
    });
    return this.sessionHostLoading;
  }

  /** The identity key as PKCS#8 PEM, for the fleet simulator to save enrolled identities. */
  identityKeyPem(): string {
    return this.identity.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  }

  /** The client id, once enrolled. */
  get clientId(): number | null {
    return this.identity.clientId;
  }

  /** Starts the connect loop; resolves when the agent stops (stop() or a fatal refusal). */
  start(): Promise<void> {
    this.loop ??= this.run();
    return this.loop;
  }

  /** Closes the connection and ends the loop; after 5 s a connection that has not closed is cut. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.sleepTimer) clearTimeout(this.sleepTimer);
    this.wake?.();
    this.sessionHost?.closeAll();
    this.ws?.close(1000, 'agent stopping');
    const cut = setTimeout(() => this.ws?.terminate(), 5_000);
    await this.loop;
    clearTimeout(cut);
  }

  private async run(): Promise<void> {
    const log = this.opts.log;
    while (!this.stopped) {
      const outcome = await this.connectOnce();
      if (this.stopped) break;
      if (outcome.online) this.backoff.reset();
      if (outcome.error && FATAL_CODES.has(outcome.error.code)) {
        log.error({ code: outcome.error.code }, `site refused this jump client: ${outcome.error.message}`);
        this.emit('fatal', outcome.error);
        break;
      }
      let delay: number;
      if (outcome.error?.code === 'SITE_BUSY' && outcome.retryAfterMs !== null) {
        // Busy is the site's schedule, not a failure: come back at the slot it gave (plus up to
        // 10 % jitter), without growing the exponential backoff.
        const wait = Math.min(outcome.retryAfterMs, MAX_RETRY_AFTER_MS);
        delay = wait + Math.floor(Math.random() * Math.min(1000, wait * 0.1));
      } else {
        delay = this.backoff.next();
        if (outcome.retryAfterMs !== null) delay = Math.max(delay, Math.min(outcome.retryAfterMs, MAX_RETRY_AFTER_MS));
      }
      log.info({ delayMs: delay, code: outcome.error?.code }, 'reconnecting after delay');
      await this.sleep(delay);
    }
    this.stopped = true;
    this.emit('stopped');
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
      this.sleepTimer = setTimeout(resolve, ms);
    });
  }

  private connectOnce(): Promise<Outcome> {
    const log = this.opts.log;
    const id = this.identity;
    const outcome: Outcome = { online: false, error: null, retryAfterMs: null };
    const url = new URL(AGENT_WS_PATH, id.siteUrl.replace(/^http/, 'ws'));
    url.protocol = 'wss:';

    return new Promise((resolve) => {
      const ws = new WebSocket(url, {
        // The certificate is not what authenticates the site: the signature over the channel
        // binding, checked against the pinned site key, is (protocol/handshake.ts).
        rejectUnauthorized: false,
        minVersion: 'TLSv1.3',
        maxPayload: AGENT_MESSAGE_MAX_BYTES,
        handshakeTimeout: 10_000,
        perMessageDeflate: false,
        localAddress: this.opts.localAddress,
      });
      this.ws = ws;
      const agentNonce = newNonce();
      let cb: Buffer | null = null;
      let siteVerified = false;
      let phase: 'challenge' | 'welcome' | 'session' = 'challenge';
      let heartbeatMs = 30_000;
      let lastSeen = Date.now();
      let seq = 0;
      let lastBeat = 0;
      let tick: NodeJS.Timeout | null = null;
      let statsTimer: NodeJS.Timeout | null = null;
      let lastStats: Stats | null = null;
      let collecting = false;

      const fail = (err: JumpError) => {
        outcome.error ??= err;
        ws.terminate();
      };

      ws.on('upgrade', (res) => {
        try {
          cb = channelBinding(res.socket as TLSSocket);
        } catch (err) {
          log.error({ err: (err as Error).message }, 'site connection is not TLS 1.3; refusing it');
          fail(new JumpError('SITE_IDENTITY_MISMATCH', { detail: 'TLS 1.3 is required.' }));
        }
      });
      ws.on('unexpected-response', (_req, res) => {
        if (res.statusCode === 503) {
          const ms = Number(res.headers['x-retry-after-ms']);
          const s = Number(res.headers['retry-after']);
          outcome.retryAfterMs = Number.isFinite(ms) && ms > 0 ? ms : Number.isFinite(s) ? s * 1000 : 1000;
          outcome.error = new JumpError('SITE_BUSY', { retryAfterMs: outcome.retryAfterMs });
        } else {
          log.warn({ status: res.statusCode }, 'site answered the agent endpoint with an HTTP error');
        }
        res.resume();
        ws.terminate();
      });
      ws.on('open', () => {
        ws.send(JSON.stringify({ t: 'hello', protocol: PROTOCOL_VERSION, agent_version: this.opts.agentVersion ?? VERSION, nonce: agentNonce }));
      });
      ws.on('message', (data, isBinary) => {
        lastSeen = Date.now();
        const msg = isBinary ? null : parseMessage(siteMessage, data);
        if (!msg) {
          log.warn('invalid message from the site; reconnecting');
          return fail(new JumpError('PROTOCOL_INVALID_MESSAGE'));
        }
        if (msg.t === 'error') {
          // Before the site proved the pinned key, an error proves nothing: never let it stop the agent.
          const code = isErrorCode(msg.code) ? msg.code : 'INTERNAL_ERROR';
          const err = new JumpError(siteVerified ? code : 'SITE_IDENTITY_MISMATCH', { retryAfterMs: msg.retry_after_ms });
          if (siteVerified) log.warn({ code }, `site: ${msg.message}`);
          return fail(err);
        }
        if (phase === 'challenge') {
          if (msg.t !== 'challenge' || !cb) return fail(new JumpError('PROTOCOL_INVALID_MESSAGE'));
          if (!verifySite(id.sitePublicKey, msg.site_sig, cb, agentNonce, msg.nonce)) {
            log.error({ site: id.siteUrl, pin: id.sitePin }, 'the site did not prove the pinned site identity; connection refused');
            return fail(new JumpError('SITE_IDENTITY_MISMATCH'));
          }
          siteVerified = true;
          phase = 'welcome';
          if (id.clientId !== null) {
            const sig = signAsAgent(id.privateKey, cb, agentNonce, msg.nonce, String(id.clientId));
            ws.send(JSON.stringify({ t: 'auth', client_id: id.clientId, machine_id: id.machineId, sig }));
          } else {
            const pub = rawPublicKey(id.privateKey);
            const sig = signAsAgent(id.privateKey, cb, agentNonce, msg.nonce, pub);
            ws.send(
              JSON.stringify({ t: 'enroll', key_info: id.keyInfo, public_key: pub, machine_id: id.machineId, requested: id.requested, sig }),
            );
          }
          return;
        }
        if (phase === 'welcome') {
          if (msg.t !== 'welcome') return fail(new JumpError('PROTOCOL_INVALID_MESSAGE'));
          if (id.clientId === null) {
            id.clientId = msg.client_id;
            id.keyInfo = null;
            this.opts.onEnrolled(msg.client_id);
            log.info({ clientId: msg.client_id }, 'enrolled with the site');
          } else if (msg.client_id !== id.clientId) {
            return fail(new JumpError('PROTOCOL_INVALID_MESSAGE'));
          }
          phase = 'session';
          outcome.online = true;
          if (this.opts.uninstall) {
            ws.send('{"t":"uninstalled"}');
            return;
          }
          heartbeatMs = msg.heartbeat_ms;
          startHeartbeat();
          startStats(msg.stats_interval_ms);
          this.online = true;
          for (const m of this.outbox.splice(0)) ws.send(JSON.stringify(m));
          log.info({ clientId: id.clientId, heartbeatMs }, 'online');
          this.emit('online', id.clientId);
          return;
        }
        // session: hb_ack only refreshes lastSeen (done above).
        if (msg.t === 'session_open') {
          this.sessions().then(
            (host) => host.open(msg),
            (err: Error) => log.error({ err: err.message }, 'Jump sessions are not available'),
          );
          return;
        }
        if (msg.t === 'session_close') return this.sessionHost?.close(msg.session_id);
        if (msg.t !== 'hb_ack') return fail(new JumpError('PROTOCOL_INVALID_MESSAGE'));
      });

      const startHeartbeat = () => {
        lastBeat = Date.now();
        tick = setInterval(
          () => {
            const now = Date.now();
            if (now - lastSeen > heartbeatMs * 1.5) {
              log.warn({ silentMs: now - lastSeen }, 'site silent for 1.5 heartbeat intervals; reconnecting');
              return fail(new JumpError('HEARTBEAT_LOST'));
            }
            if (now - lastBeat >= heartbeatMs) {
              lastBeat = now;
              ws.send(`{"t":"hb","seq":${seq++}}`);
            }
          },
          Math.max(25, Math.floor(heartbeatMs / 4)),
        );
      };

      const sendStats = async () => {
        if (collecting) return;
        collecting = true;
        try {
          const next = await this.opts.stats();
          if (ws.readyState !== ws.OPEN) return;
          if (!lastStats) {
            ws.send(JSON.stringify({ t: 'stats', full: true, stats: next }));
          } else {
            const delta = statsDelta(lastStats, next);
            if (Object.keys(delta).length > 0) ws.send(JSON.stringify({ t: 'stats', full: false, stats: delta }));
          }
          lastStats = next;
        } catch (err) {
          log.warn({ err: (err as Error).message }, 'statistics could not be read');
        } finally {
          collecting = false;
        }
      };
      const startStats = (intervalMs: number) => {
        void sendStats();
        statsTimer = setInterval(() => void sendStats(), intervalMs);
      };

      ws.on('error', (err) => log.debug({ err: err.message }, 'connection error'));
      ws.once('close', (code, reason) => {
        if (tick) clearInterval(tick);
        if (statsTimer) clearInterval(statsTimer);
        this.ws = null;
        this.online = false;
        if (outcome.online) {
          log.info({ code, reason: reason.toString() }, 'offline');
          this.emit('offline', reason.toString() || String(code));
        }
        resolve(outcome);
      });
    });
  }
}
