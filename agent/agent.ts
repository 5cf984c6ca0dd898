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
 * One connection attempt is agent/connection.ts (a state machine); this module is the loop around it:
 * backoff, the outbox of session results, and the Jump session host.
 *
 * Many agents can run in one process (the fleet simulator does): all state is per instance.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { realClock, type Clock, type TimerHandle } from '../protocol/clock.js';
import { ENROLLMENT_REFUSALS, type ErrorCode } from '../protocol/errors.js';
import type { AgentSessionMessage, UpdateOffer } from '../protocol/messages.js';
import type { ClientPlatform } from '../protocol/update.js';
import { CLIENT_PLATFORM, CLIENT_VERSION } from './build-info.js';
import { Backoff, reconnectDelay, type BackoffOptions } from './backoff.js';
import type { AgentIdentity } from './config.js';
import { Connection, type ConnectionOutcome, type SocketFactory } from './connection.js';
import type { StatsProvider } from './stats.js';
// Loaded on the first Jump session: ssh2 and node-pty cost an idle agent memory it rarely needs.
import type { SessionHost } from './session-host.js';
import { opensshPrivateKey } from '../protocol/ssh-keys.js';

/** Codes after which dialing again cannot succeed: the agent stops and reports them. */
const FATAL_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  // The enrollment's refusals (the same list the installer's preflight fails on), and then:
  ...ENROLLMENT_REFUSALS,
  'JUMP_CLIENT_DELETED',
  'JUMP_CLIENT_UNINSTALLED',
  'JUMP_CLIENT_CLONED',
  'AGENT_AUTH_FAILED',
  'PROTOCOL_VERSION_UNSUPPORTED',
]);

/** Session results kept while disconnected. */
const OUTBOX_MAX = 100;
/** A passive check-in interval varies by ±20 %. */
const PASSIVE_JITTER = 0.2;
/** A passive client held for a Jump (`stay`) leaves after this long without a session, in ms. */
export const PASSIVE_STAY_IDLE_MS = 60_000;

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
  /** Version reported in hello; defaults to this build's, `<version>+<build id>` (the fleet simulator may pose as another). */
  agentVersion?: string;
  /** Platform reported in hello; defaults to this build's (none unpackaged: agent/build-info.ts). */
  platform?: ClientPlatform;
  /** Self-update (agent/update.ts): update messages from the site; without it they are ignored. */
  onUpdate?: (msg: UpdateOffer | { t: 'update_later'; retry_after_ms: number }) => void;
  /** Connect only to tell the site this jump client is being uninstalled, then stop. */
  uninstall?: boolean;
  /** Time and timers (reconnect waits, heartbeats, statistics, the stop deadline); default the real clock. */
  clock?: Clock;
  /** Opens the control socket; default ws's client. Tests pass a fake (agent/connection.ts). */
  createSocket?: SocketFactory;
}

/**
 * Events: `connecting` (each connection attempt starts), `online` (clientId, the site's welcome),
 * `offline` (reason string), `fatal` (JumpError), `stopped`.
 */
export class Agent extends EventEmitter {
  private readonly identity: AgentIdentity;
  private readonly backoff: Backoff;
  private readonly clock: Clock;
  private conn: Connection | null = null;
  /** The passive settings of the last welcome, null for an active client. */
  private passive: { check_in_ms: number; stay: boolean } | null = null;
  private stayTimer: TimerHandle | undefined;
  private stopped = false;
  private sleepTimer: TimerHandle | undefined;
  private wake: (() => void) | null = null;
  private loop: Promise<void> | null = null;
  private sessionHost: SessionHost | null = null;
  private sessionHostLoading: Promise<SessionHost> | null = null;
  private readonly hostKeyOpenssh: string;

  constructor(private readonly opts: AgentOptions) {
    super();
    this.identity = { ...opts.identity };
    this.backoff = new Backoff(opts.backoff);
    this.clock = opts.clock ?? realClock;
    this.hostKeyOpenssh = opensshPrivateKey(this.identity.privateKey, 'jump-client');
  }

  /** Session results waiting for a connection (at most OUTBOX_MAX; the oldest go first). */
  private readonly outbox: AgentSessionMessage[] = [];

  /**
   * Sends a control message on the current connection. A session's end (its exit status) that
   * finds no connection waits in a small outbox and goes out after the next welcome; other
   * messages (recording chunks, answers to a start) are only useful now and are dropped.
   */
  private sendControl(msg: AgentSessionMessage): void {
    if (this.conn?.send(msg)) return;
    if (msg.t === 'session_ended') {
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
        // The session host builds its messages as plain objects (agent/session-host.ts); they are
        // the session-phase messages of protocol/messages.ts.
        sendControl: (msg) => this.sendControl(msg),
        isDisabled: this.opts.jump?.isDisabled ?? (() => false),
        forwardLan: this.opts.jump?.forwardLan,
        runAs: this.opts.jump?.runAs,
        localAddress: this.opts.localAddress,
        clock: this.clock,
      });
      return this.sessionHost;
    });
    return this.sessionHostLoading;
  }

  /** The identity key as PKCS#8 PEM, for the fleet simulator to save enrolled identities. */
  identityKeyPem(): string {
    return this.identity.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  }

  /**
   * Sends a message on the current connection when it is online (self-update's `update_status`
   * and `update_check`); false when there is no connection now (nothing is queued).
   */
  sendNow(msg: AgentSessionMessage): boolean {
    return this.conn?.send(msg) ?? false;
  }

  /** The current connection's site certificate fingerprint (Connection.siteCertFingerprint), null offline. */
  get siteCertFingerprint(): string | null {
    return this.conn?.siteCertFingerprint ?? null;
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
    this.clock.clearTimeout(this.sleepTimer);
    this.wake?.();
    this.sessionHost?.closeAll();
    this.conn?.close(1000, 'agent stopping');
    const cut = this.clock.setTimeout(() => this.conn?.terminate(), 5_000);
    await this.loop;
    this.clock.clearTimeout(cut);
  }

  private async run(): Promise<void> {
    const log = this.opts.log;
    while (!this.stopped) {
      const outcome = await this.connectOnce();
      if (this.stopped) break;
      if (outcome.online) this.backoff.reset();
      // A passive client comes back at its next check-in, with jitter so a fleet does not
      // check in together (issue #18 item 1); a failed check-in falls back to the backoff.
      if (this.passive && outcome.online && !outcome.error && outcome.closeReason !== 'settings changed') {
        const delay = Math.round(this.passive.check_in_ms * (1 - PASSIVE_JITTER + 2 * PASSIVE_JITTER * (this.opts.backoff?.random ?? Math.random)()));
        log.info({ delayMs: delay }, 'passive: next check-in');
        await this.sleep(delay);
        continue;
      }
      if (outcome.error && FATAL_CODES.has(outcome.error.code)) {
        log.error({ code: outcome.error.code }, `site refused this jump client: ${outcome.error.message}`);
        this.emit('fatal', outcome.error);
        break;
      }
      const delay = reconnectDelay(outcome, this.backoff, this.opts.backoff?.random);
      log.info({ delayMs: delay, code: outcome.error?.code }, 'reconnecting after delay');
      await this.sleep(delay);
    }
    this.stopped = true;
    this.emit('stopped');
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
      this.sleepTimer = this.clock.setTimeout(resolve, ms);
    });
  }

  /**
   * A passive client held for a Jump: closes `conn` once no session has been open for
   * PASSIVE_STAY_IDLE_MS (checked every 5 s), so it goes back to its check-ins.
   */
  private watchPassiveStay(conn: Connection): void {
    let idleSince = this.clock.now();
    this.clock.clearInterval(this.stayTimer);
    this.stayTimer = this.clock.setInterval(() => {
      if ((this.sessionHost?.openCount ?? 0) > 0) idleSince = this.clock.now();
      else if (this.clock.now() - idleSince >= PASSIVE_STAY_IDLE_MS) {
        this.opts.log.info('passive: no session for a minute; back to check-ins');
        conn.close(1000, 'passive: idle');
      }
    }, 5_000);
  }

  /** One connection attempt (agent/connection.ts), resolved when it closes. */
  private async connectOnce(): Promise<ConnectionOutcome> {
    const log = this.opts.log;
    const conn = new Connection({
      identity: this.identity,
      stats: this.opts.stats,
      log,
      agentVersion: this.opts.agentVersion ?? CLIENT_VERSION,
      platform: this.opts.platform ?? CLIENT_PLATFORM,
      onUpdate: this.opts.onUpdate,
      localAddress: this.opts.localAddress,
      uninstall: this.opts.uninstall,
      clock: this.clock,
      createSocket: this.opts.createSocket,
      onEnrolled: (clientId) => this.opts.onEnrolled(clientId),
      onOnline: (clientId, welcome) => {
        for (const m of this.outbox.splice(0)) conn.send(m);
        this.passive = welcome.passive ?? null;
        if (welcome.passive?.stay) this.watchPassiveStay(conn);
        this.emit('online', clientId, welcome);
      },
      onSessionOpen: (msg) => {
        this.sessions().then(
          (host) => host.open(msg),
          (err: Error) => log.error({ err: err.message }, 'Jump sessions are not available'),
        );
      },
      onSessionClose: (sessionId) => this.sessionHost?.close(sessionId),
    });
    this.conn = conn;
    this.emit('connecting');
    const outcome = await conn.run();
    this.conn = null;
    this.clock.clearInterval(this.stayTimer);
    this.stayTimer = undefined;
    if (outcome.online) this.emit('offline', outcome.closeReason);
    return outcome;
  }
}
