/**
 * Jump sessions at the site (DESIGN.md flow step 7, seeds "Jump" error rows).
 *
 * start(): authorize (the client exists, is visible, not uninstalled, online, runs a compatible
 * version; at most `maxStarts` starts in progress site-wide) -> record the session -> send the agent
 * `session_open` with a ticket signed by the site key -> wait for `session_accepted`
 * (JUMP_CONNECT_TIMEOUT) -> wait for the agent's session socket (JUMP_INTERNAL_TIMEOUT).
 * Then the technician attaches the relay socket and the site pipes bytes both ways, with
 * backpressure (stream pipes), byte counts, and an idle timeout. SSH runs end to end inside: the
 * site sees only ciphertext, and the agent accepts only the key named in the ticket.
 *
 * Recordings (security issue #12 item 12) arrive from the agent on its control connection and are
 * kept in `<data dir>/recordings/` (mode 0600):
 * - every PTY (shell, or exec with a pty-req) as asciicast v2 `<id>.cast` (`rec` messages);
 * - SFTP file operations as `<id>.sftp.jsonl` (`sftp_log`), next to the terminal recording in a
 *   `proxy` session that has both;
 * - the command line of every exec, with or without a PTY (`session_exec`), in the session record.
 * Each file has a byte cap per session (`recordingMaxBytes`, `fileLogMaxBytes`); past it one note
 * line says so and the rest is dropped. Writes are asynchronous, queued per file (at most the cap
 * is ever queued). Only the agent connection that the session was opened on may add to it, while
 * the session is live and for REC_GRACE_MS after it ended (the last batches), never later.
 */
import { randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { duplexPair, type Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import { sessionStream } from '../protocol/ws-stream.js';
import { JumpError } from '../protocol/errors.js';
import {
  SESSION_ATTACH_HEADERS,
  SESSION_KINDS,
  sessionAttachSchema,
  type Recording,
  type SessionExec,
  type SessionKind,
  type SftpLog,
} from '../protocol/messages.js';
import { signTicket } from '../protocol/ticket.js';
import { parseSshPublicKey, sshPublicKeyFromRaw } from '../protocol/ssh-keys.js';
import type { AgentLink } from './agent-gateway.js';
import { backgroundClock, type Clock, type TimerHandle } from '../protocol/clock.js';
import { findClient } from './jump-clients.js';
import { refusalLog, type RefusalFields } from './refusal-log.js';
import { clientDisplayName, type Store, type User } from './store/store.js';

export { SESSION_KINDS, type SessionKind };

export interface SessionBrokerOptions {
  store: Store;
  /** The agents' control connections (site/agent-gateway.ts, which makes the broker). */
  gateway: AgentLink;
  identityKey: KeyObject;
  dataDir: string;
  log: Logger;
  /** This site's version; agents must share its major.minor. */
  version: string;
  /** Session starts in progress at once, site-wide (seeds: twenty). Default 20. */
  maxStarts?: number;
  /**
   * Session starts in progress at once for one technician. Default 4, so one technician (or an
   * agent that accepts and never attaches) cannot hold all `maxStarts` slots (issue #12 item 15).
   */
  maxStartsPerUser?: number;
  /** Session starts in progress at once into one jump client. Default 2. */
  maxStartsPerClient?: number;
  /** How long the agent has to accept a session, in ms. Default 15 000. */
  connectTimeoutMs?: number;
  /** How long the agent has to attach the session socket after accepting, in ms. Default 15 000. */
  attachTimeoutMs?: number;
  /** How long the technician has to attach the relay, in ms. Default 30 000. */
  relayTimeoutMs?: number;
  /** A session with no bytes either way for this long is ended, in ms. Default 30 min. */
  idleTimeoutMs?: number;
  /** Validity of a session ticket, in ms. Default 60 000. */
  ticketTtlMs?: number;
  /**
   * Bytes of terminal recording (asciicast) kept per session. Default: the environment variable
   * JUMP_SITE_RECORDING_MAX_BYTES, else 64 MiB.
   */
  recordingMaxBytes?: number;
  /**
   * Bytes of SFTP file log kept per session. Default: JUMP_SITE_SFTP_LOG_MAX_BYTES, else 4 MiB.
   */
  fileLogMaxBytes?: number;
  /** Time and timers (default: the system clock); tests pass a manual one. */
  clock?: Clock;
  /**
   * The version jump client `id` is updating to while its update is in flight, else null (site/updates.ts):
   * a Jump to it is refused JUMP_VERSION_MISMATCH meanwhile (issue #17). Default: never updating.
   */
  updatingTo?: (id: number) => string | null;
}

/** Default per-session caps, in bytes. */
export const RECORDING_MAX_BYTES_DEFAULT = 64 * 1024 * 1024;
export const FILE_LOG_MAX_BYTES_DEFAULT = 4 * 1024 * 1024;

/**
 * Defaults of `SessionBrokerOptions` (times in ms, sizes in bytes), read by the constructor and by
 * `jump-site serve`'s flags (site/server.ts SITE_DEFAULTS, site/main.ts): the one copy. The byte
 * caps apply when their environment variables (JUMP_SITE_RECORDING_MAX_BYTES,
 * JUMP_SITE_SFTP_LOG_MAX_BYTES) are unset.
 */
export const BROKER_DEFAULTS = {
  /** Site-wide starts in progress (seeds: twenty). */
  maxStarts: 20,
  maxStartsPerUser: 4,
  maxStartsPerClient: 2,
  connectTimeoutMs: 15_000,
  attachTimeoutMs: 15_000,
  relayTimeoutMs: 30_000,
  idleTimeoutMs: 30 * 60_000,
  ticketTtlMs: 60_000,
  recordingMaxBytes: RECORDING_MAX_BYTES_DEFAULT,
  fileLogMaxBytes: FILE_LOG_MAX_BYTES_DEFAULT,
} as const;
/** How long after a session ended its agent connection may still send its last batches, in ms. */
export const REC_GRACE_MS = 10_000;
/** Exec command lines kept per session. */
export const MAX_SESSION_COMMANDS = 1000;

/** A positive byte count from environment variable `name`, or `fallback` when it is unset. Throws naming the variable. */
function envBytes(name: string, fallback: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 1024) throw new Error(`${name}: "${v}" is not a byte count of at least 1024 (e.g. ${fallback})`);
  return n;
}

/**
 * An append-only file with a byte cap, written asynchronously in order. `append` never blocks and
 * never throws: it queues at most `cap` bytes in all; the append that would cross the cap is
 * replaced by `note(cap)` (one line) and everything later is dropped.
 */
export class CappedFile {
  private accepted = 0;
  private full = false;
  private chain: Promise<void> = Promise.resolve();

  /** Creates `path` (mode 0600, must not exist) holding `first`, which counts against `cap`. */
  constructor(
    readonly path: string,
    first: string,
    private readonly cap: number,
    private readonly note: (cap: number) => string,
    private readonly onError: (err: unknown) => void,
  ) {
    writeFileSync(path, first, { mode: 0o600, flag: 'wx' });
    this.accepted = Buffer.byteLength(first);
  }

  /** True once the cap was reached. */
  get truncated(): boolean {
    return this.full;
  }

  append(text: string): void {
    if (this.full || text === '') return;
    if (this.accepted + Buffer.byteLength(text) > this.cap) {
      this.full = true;
      text = this.note(this.cap);
    }
    this.accepted += Buffer.byteLength(text);
    this.chain = this.chain.then(() => appendFile(this.path, text)).catch(this.onError);
  }

  /** Resolves when every queued append is written. */
  flushed(): Promise<void> {
    return this.chain;
  }
}

interface Pending {
  clientId: number;
  token: string;
  accepted: boolean;
  /** Set when the agent's session socket upgrade is under way (the token is used up). */
  attaching: boolean;
  resolve: (agent: WebSocket) => void;
  reject: (err: JumpError) => void;
}

interface Live {
  id: string;
  clientId: number;
  userId: number;
  kind: SessionKind;
  agent: WebSocket;
  agentStream: Duplex;
  /** The technician's end once attached: the relay WebSocket, or an in-process one (attachLocal). */
  relay: { close(code: number, reason: string): void } | null;
  bytesToClient: number;
  bytesFromClient: number;
  lastActivity: number;
  relayTimer: TimerHandle | null;
  ended: boolean;
  /** The agent control connection the session was opened on: the only one that may add to its records. */
  conn: object | null;
  recording: { file: string; start: number; decoder: TextDecoder; out: CappedFile } | null;
  fileLog: CappedFile | null;
}

/**
 * 16 random bytes, base64url (22 characters), never starting with "-": one id in 64 did, and
 * `jump sessions show -5SHV...` then reads as an unknown option (found by the authz matrix).
 */
function newSessionId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

/** True when two versions share major.minor (the compatibility rule for Jump). */
export function compatibleVersion(a: string, b: string): boolean {
  const mm = (v: string) => v.split('.').slice(0, 2).join('.');
  return mm(a) === mm(b);
}

export class SessionBroker {
  private starting = 0;
  /** Starts in progress per user id and per jump client id (entries removed at 0). */
  private readonly startingByUser = new Map<number, number>();
  private readonly startingByClient = new Map<number, number>();
  private readonly pending = new Map<string, Pending>();
  private readonly live = new Map<string, Live>();
  /** Ended sessions whose agent connection may still send last batches (REC_GRACE_MS). */
  private readonly draining = new Map<string, Live>();
  private readonly wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 1024 * 1024 });
  private readonly idleSweep: TimerHandle;
  private readonly clock: Clock;
  private readonly o: Required<Omit<SessionBrokerOptions, 'store' | 'gateway' | 'identityKey' | 'dataDir' | 'log' | 'version' | 'clock' | 'updatingTo'>>;
  private readonly recDir: string;
  /** Refused starts (a console flooding them) and refused session sockets, logged without flooding the log. */
  private readonly logStartRefused: (fields: RefusalFields) => void;
  private readonly logSocketRefused: (fields: RefusalFields) => void;

  constructor(private readonly opts: SessionBrokerOptions) {
    const d = BROKER_DEFAULTS;
    this.logStartRefused = refusalLog(opts.log, 'session start refused: too many starts in progress');
    this.logSocketRefused = refusalLog(opts.log, 'agent session socket refused (404): no accepted session start with that id and token');
    this.clock = opts.clock ?? backgroundClock;
    this.o = {
      maxStarts: opts.maxStarts ?? d.maxStarts,
      maxStartsPerUser: opts.maxStartsPerUser ?? d.maxStartsPerUser,
      maxStartsPerClient: opts.maxStartsPerClient ?? d.maxStartsPerClient,
      connectTimeoutMs: opts.connectTimeoutMs ?? d.connectTimeoutMs,
      attachTimeoutMs: opts.attachTimeoutMs ?? d.attachTimeoutMs,
      relayTimeoutMs: opts.relayTimeoutMs ?? d.relayTimeoutMs,
      idleTimeoutMs: opts.idleTimeoutMs ?? d.idleTimeoutMs,
      ticketTtlMs: opts.ticketTtlMs ?? d.ticketTtlMs,
      recordingMaxBytes: opts.recordingMaxBytes ?? envBytes('JUMP_SITE_RECORDING_MAX_BYTES', d.recordingMaxBytes),
      fileLogMaxBytes: opts.fileLogMaxBytes ?? envBytes('JUMP_SITE_SFTP_LOG_MAX_BYTES', d.fileLogMaxBytes),
    };
    this.recDir = join(opts.dataDir, 'recordings');
    mkdirSync(this.recDir, { recursive: true, mode: 0o700 });
    this.idleSweep = this.clock.setInterval(() => this.sweepIdle(), Math.min(5_000, Math.max(100, this.o.idleTimeoutMs / 4)));
  }

  /** Sessions with their agent attached, for metrics. */
  get liveCount(): number {
    return this.live.size;
  }

  /**
   * Starts a session into jump client `ref` for `user`, who will authenticate with `sshKey`
   * (`ssh-ed25519 AAAA...`). Resolves once the agent's session socket is attached. Throws
   * JumpError: JUMP_CLIENT_NOT_FOUND, JUMP_CLIENT_UNINSTALLED, JUMP_CLIENT_OFFLINE,
   * JUMP_CLIENT_QUARANTINED, JUMP_VERSION_MISMATCH, JUMP_SERVER_BUSY (site-wide `maxStarts`),
   * JUMP_STARTS_IN_PROGRESS (`maxStartsPerUser` / `maxStartsPerClient`), JUMP_ACTIVE_NOT_CONNECTED, JUMP_CONNECT_TIMEOUT,
   * JUMP_INTERNAL_TIMEOUT, JUMP_CLIENT_DISABLED, JUMP_TICKET_INVALID, JUMP_INTERNAL_ERROR,
   * VALIDATION_FAILED (the key).
   */
  async start(user: User, ref: string, sshKey: string, kind: SessionKind): Promise<{ sessionId: string; clientId: number; name: string; hostKey: string }> {
    try {
      parseSshPublicKey(sshKey);
    } catch (err) {
      throw new JumpError('VALIDATION_FAILED', { field: 'public_key', detail: `public_key: ${(err as Error).message}` });
    }
    const client = await findClient(this.opts.store, user, ref);
    if (client.uninstalledAt !== null) throw new JumpError('JUMP_CLIENT_UNINSTALLED');
    if (client.quarantinedAt !== null) {
      throw new JumpError('JUMP_CLIENT_QUARANTINED', { detail: `Reason: ${client.quarantineReason ?? 'unknown'}. An admin releases it: jump client ${client.id}.` });
    }
    // A passive client (issue #18) is waited for: its next check-in is held for this Jump.
    const passive = client.mode === 'passive' && !this.opts.gateway.isConnected(client.id);
    if (!passive && !this.opts.gateway.isConnected(client.id)) throw new JumpError('JUMP_CLIENT_OFFLINE');
    if (this.starting >= this.o.maxStarts) {
      this.logStartRefused({ code: 'JUMP_SERVER_BUSY', user: user.name, clientId: client.id, limit: this.o.maxStarts });
      throw new JumpError('JUMP_SERVER_BUSY');
    }
    if ((this.startingByUser.get(user.id) ?? 0) >= this.o.maxStartsPerUser) {
      this.logStartRefused({ code: 'JUMP_STARTS_IN_PROGRESS', reason: 'per technician', user: user.name, clientId: client.id, limit: this.o.maxStartsPerUser });
      throw new JumpError('JUMP_STARTS_IN_PROGRESS', { detail: `You have ${this.o.maxStartsPerUser} session starts in progress (the limit per technician).` });
    }
    if ((this.startingByClient.get(client.id) ?? 0) >= this.o.maxStartsPerClient) {
      this.logStartRefused({ code: 'JUMP_STARTS_IN_PROGRESS', reason: 'per jump client', user: user.name, clientId: client.id, limit: this.o.maxStartsPerClient });
      throw new JumpError('JUMP_STARTS_IN_PROGRESS', { detail: `Jump client ${client.id} has ${this.o.maxStartsPerClient} session starts in progress (the limit per jump client).` });
    }
    this.starting++;
    bump(this.startingByUser, user.id, 1);
    bump(this.startingByClient, client.id, 1);
    const id = newSessionId();
    const token = randomBytes(32).toString('base64url');
    try {
      if (passive && !(await this.opts.gateway.waitOnline(client.id, this.o.connectTimeoutMs))) {
        throw new JumpError('JUMP_CONNECT_TIMEOUT', { detail: `Jump client ${client.id} is passive and did not check in within ${this.o.connectTimeoutMs / 1000} s.` });
      }
      // Issue #17: a client whose update is in flight is about to restart on another version.
      const updatingTo = this.opts.updatingTo?.(client.id) ?? null;
      if (updatingTo !== null) {
        throw new JumpError('JUMP_VERSION_MISMATCH', { detail: `Jump client ${client.id} is updating to ${updatingTo}; try again once the update has completed (\`jump updates status\`).` });
      }
      const agentVersion = this.opts.gateway.agentVersion(client.id) ?? '';
      if (!compatibleVersion(agentVersion, this.opts.version)) {
        throw new JumpError('JUMP_VERSION_MISMATCH', { detail: `Jump client ${agentVersion}, site ${this.opts.version}.` });
      }
      const now = this.clock.now();
      const { ticket, ticketSig } = signTicket(this.opts.identityKey, { sid: id, cid: client.id, user: user.name, key: sshKey, kind, iat: now, exp: now + this.o.ticketTtlMs });
      await this.opts.store.createSession({ id, clientId: client.id, userId: user.id, kind, startedAt: now });
      await this.opts.store.audit({ at: now, userId: user.id, action: 'session.start', target: `jump_client:${client.id}`, detail: `${kind} ${id}` });

      const agent = await new Promise<WebSocket>((resolve, reject) => {
        const p: Pending = { clientId: client.id, token, accepted: false, attaching: false, resolve, reject };
        this.pending.set(id, p);
        const sent = this.opts.gateway.send(client.id, { t: 'session_open', session_id: id, token, ticket, ticket_sig: ticketSig });
        if (!sent) return reject(new JumpError('JUMP_ACTIVE_NOT_CONNECTED'));
        const t1 = this.clock.setTimeout(() => {
          if (!p.accepted) reject(new JumpError('JUMP_CONNECT_TIMEOUT'));
        }, this.o.connectTimeoutMs);
        const t2 = this.clock.setTimeout(() => reject(new JumpError('JUMP_INTERNAL_TIMEOUT')), this.o.connectTimeoutMs + this.o.attachTimeoutMs);
        const done = () => {
          this.clock.clearTimeout(t1);
          this.clock.clearTimeout(t2);
          this.pending.delete(id);
        };
        p.resolve = (ws) => (done(), resolve(ws));
        p.reject = (err) => (done(), reject(err));
      }).catch(async (err: unknown) => {
        const e = err instanceof JumpError ? err : new JumpError('JUMP_INTERNAL_ERROR');
        await this.opts.store.endSession(id, { endedAt: this.clock.now(), bytesToClient: 0, bytesFromClient: 0, endReason: e.code });
        throw e;
      });
      this.goLive(id, client.id, user.id, kind, agent, this.opts.gateway.connection(client.id));
      return { sessionId: id, clientId: client.id, name: clientDisplayName({ id: client.id, name: client.name, hostname: client.stats.hostname }), hostKey: sshPublicKeyFromRaw(client.publicKey) };
    } catch (err) {
      if (err instanceof JumpError) throw err;
      this.opts.log.error({ err }, 'session start failed');
      throw new JumpError('JUMP_INTERNAL_ERROR');
    } finally {
      this.starting--;
      bump(this.startingByUser, user.id, -1);
      bump(this.startingByClient, client.id, -1);
    }
  }

  /**
   * Session messages from an authenticated agent's control connection `conn` (an identity: the
   * gateway's object for that connection). Recording messages (`rec`, `sftp_log`, `session_exec`)
   * count only for a session opened on that same connection, live or ended less than REC_GRACE_MS
   * ago; anything else (another client's session, a finished one, one left open by a crash) is
   * ignored.
   */
  onAgentMessage(clientId: number, msg: { t: string; session_id: string } & Record<string, unknown>, conn: object | null = null): void {
    const p = this.pending.get(msg.session_id);
    if (p && p.clientId === clientId) {
      if (msg.t === 'session_accepted') p.accepted = true;
      else if (msg.t === 'session_refused') p.reject(new JumpError(msg.code as 'JUMP_CLIENT_DISABLED'));
      return;
    }
    const s = this.live.get(msg.session_id);
    if (msg.t === 'session_ended') {
      if (s && s.clientId !== clientId) return;
      // Sessions that already ended at the relay are still in the store: record the status there.
      this.opts.log.info({ session: msg.session_id, clientId, exitStatus: msg.exit_status }, 'session result from the jump client');
      void this.opts.store
        .getSession(msg.session_id)
        .then((rec) => {
          if (rec && rec.clientId === clientId) return this.opts.store.setSessionExit(msg.session_id, msg.exit_status as number | null);
          this.opts.log.warn({ session: msg.session_id, clientId, found: Boolean(rec) }, 'session result for an unknown session ignored');
        })
        .catch((err) => this.opts.log.error({ err, session: msg.session_id }, 'session result not saved'));
      return;
    }
    // Every PTY the agent opens is recorded, whatever the kind (the agent enforces the kind).
    const target = s ?? this.draining.get(msg.session_id);
    if (!target || target.clientId !== clientId || target.conn === null || target.conn !== conn) {
      this.opts.log.warn({ session: msg.session_id, clientId, t: msg.t }, 'recording message for a session not live on this agent connection ignored');
      return;
    }
    if (msg.t === 'rec') this.record(target, msg as unknown as Recording);
    else if (msg.t === 'sftp_log') this.recordSftp(target, msg as unknown as SftpLog);
    else if (msg.t === 'session_exec') {
      const command = (msg as unknown as SessionExec).command;
      void this.opts.store
        .addSessionCommand(target.id, command, MAX_SESSION_COMMANDS)
        .catch((err) => this.opts.log.error({ err, session: target.id }, 'session command not saved'));
    }
  }

  /** The agent's control connection closed: its pending starts fail, its live sessions end. */
  onAgentDisconnected(clientId: number): void {
    for (const p of this.pending.values()) if (p.clientId === clientId) p.reject(new JumpError('JUMP_ACTIVE_NOT_CONNECTED'));
    for (const s of this.live.values()) if (s.clientId === clientId) this.end(s, 'agent disconnected');
    for (const s of this.draining.values()) if (s.clientId === clientId) this.draining.delete(s.id);
  }

  /**
   * Handles an upgrade to `AGENT_SESSION_WS_PATH`. The request must name a pending, accepted session
   * and its one-time token in SESSION_ATTACH_HEADERS; anything else is answered 404 before the
   * upgrade, so a stranger never gets a WebSocket (no pre-authentication frames at all).
   */
  handleAgentSocket(req: import('node:http').IncomingMessage, socket: Duplex, head: Buffer): void {
    const h = (name: string) => {
      const v = req.headers[name];
      return typeof v === 'string' ? v : undefined;
    };
    const attach = sessionAttachSchema.safeParse({ session_id: h(SESSION_ATTACH_HEADERS.sessionId), token: h(SESSION_ATTACH_HEADERS.token) });
    const p = attach.success ? this.pending.get(attach.data.session_id) : undefined;
    if (!attach.success || !p || !p.accepted || p.attaching || !safeEqual(p.token, attach.data.token)) {
      const reason = !attach.success ? 'no session id and token headers' : !p ? 'unknown session' : !p.accepted || p.attaching ? 'session not waiting for its socket' : 'wrong token';
      this.logSocketRefused({ reason, remote: req.socket.remoteAddress ?? null, session: attach.success ? attach.data.session_id : null });
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    p.attaching = true; // the token is one-time: a second upgrade with it is refused
    const id = attach.data.session_id;
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      if (this.pending.get(id) === p) p.resolve(ws);
      else ws.terminate(); // the start timed out meanwhile
    });
  }

  /** Handles the technician's relay upgrade for session `id`, owned by `user`. */
  handleRelaySocket(req: import('node:http').IncomingMessage, socket: Duplex, head: Buffer, id: string, user: User): void {
    const s = this.live.get(id);
    if (!s || s.userId !== user.id || s.relay) {
      socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      if (s.ended) return ws.close(1000, 'session ended');
      this.pipeRelay(s, ws, sessionStream(ws));
    });
  }

  /**
   * Attaches an in-process technician end to live session `id` of `user`, for the site itself as
   * the SSH client (the browser terminal, site/web-terminal.ts): the same checks as the relay
   * socket (the session is live, the user's, not attached yet), the same byte counts, idle timeout
   * and end. Returns the stream to speak SSH over, or null when the session cannot be attached.
   */
  attachLocal(id: string, user: User): Duplex | null {
    const s = this.live.get(id);
    if (!s || s.ended || s.userId !== user.id || s.relay) return null;
    const [ours, theirs] = duplexPair();
    this.pipeRelay(s, { close: () => ours.destroy() }, ours);
    ours.on('error', () => undefined);
    theirs.on('error', () => undefined);
    // The pair does not pass a destroy on: either end closing ends the other.
    theirs.once('close', () => ours.destroy());
    ours.once('close', () => theirs.destroy());
    return theirs;
  }

  /** Pipes the technician's end `relayStream` to the session's agent stream, both ways. */
  private pipeRelay(s: Live, relay: { close(code: number, reason: string): void }, relayStream: Duplex): void {
    s.relay = relay;
    if (s.relayTimer) this.clock.clearTimeout(s.relayTimer);
    relayStream.on('data', (d: Buffer) => {
      s.bytesToClient += d.length;
      s.lastActivity = this.clock.now();
    });
    // pipe() pauses the faster side when the slower one's buffer is full: no unbounded buffers.
    relayStream.pipe(s.agentStream);
    s.agentStream.pipe(relayStream);
    relayStream.on('close', () => this.end(s, 'technician closed'));
    relayStream.on('error', () => this.end(s, 'technician connection failed'));
  }

  /** Ends every live session of `clientId` (deleted clients). */
  endClientSessions(clientId: number, reason: string): void {
    for (const s of this.live.values()) if (s.clientId === clientId) this.end(s, reason);
  }

  /**
   * Ends every live session of `userId` (tokens revoked, password changed, user removed: security
   * issue #12, round 2 item 18), recorded with `reason`. Returns how many were live.
   */
  endUserSessions(userId: number, reason: string): number {
    let n = 0;
    for (const s of this.live.values()) {
      if (s.userId !== userId) continue;
      n++;
      this.end(s, reason);
    }
    return n;
  }

  close(): void {
    this.clock.clearInterval(this.idleSweep);
    for (const s of this.live.values()) this.end(s, 'site shutting down');
    for (const p of this.pending.values()) p.reject(new JumpError('JUMP_INTERNAL_ERROR'));
    this.wss.close();
  }

  private goLive(id: string, clientId: number, userId: number, kind: SessionKind, agent: WebSocket, conn: object | null): void {
    const agentStream = sessionStream(agent);
    const s: Live = {
      id,
      clientId,
      userId,
      kind,
      agent,
      agentStream,
      relay: null,
      bytesToClient: 0,
      bytesFromClient: 0,
      lastActivity: this.clock.now(),
      relayTimer: null,
      ended: false,
      conn,
      recording: null,
      fileLog: null,
    };
    agentStream.on('data', (d: Buffer) => {
      s.bytesFromClient += d.length;
      s.lastActivity = this.clock.now();
    });
    agentStream.pause(); // until the relay pipes it
    agentStream.on('close', () => this.end(s, 'jump client closed'));
    agentStream.on('error', () => this.end(s, 'jump client connection failed'));
    s.relayTimer = this.clock.setTimeout(() => this.end(s, 'technician did not attach'), this.o.relayTimeoutMs);
    this.live.set(id, s);
  }

  private end(s: Live, reason: string): void {
    if (s.ended) return;
    s.ended = true;
    this.live.delete(s.id);
    // The agent's last recording batches often arrive just after the relay ended the session.
    this.draining.set(s.id, s);
    this.clock.setTimeout(() => this.draining.delete(s.id), REC_GRACE_MS);
    if (s.relayTimer) this.clock.clearTimeout(s.relayTimer);
    s.agentStream.destroy();
    s.agent.terminate();
    s.relay?.close(1000, reason.slice(0, 100));
    this.opts.gateway.send(s.clientId, { t: 'session_close', session_id: s.id });
    void this.opts.store
      .endSession(s.id, { endedAt: this.clock.now(), bytesToClient: s.bytesToClient, bytesFromClient: s.bytesFromClient, endReason: reason })
      .catch((err) => this.opts.log.error({ err, session: s.id }, 'session end not saved'));
    this.opts.log.info({ session: s.id, clientId: s.clientId, reason, bytesToClient: s.bytesToClient, bytesFromClient: s.bytesFromClient }, 'session ended');
  }

  private sweepIdle(): void {
    const limit = this.clock.now() - this.o.idleTimeoutMs;
    for (const s of this.live.values()) if (s.relay && s.lastActivity < limit) this.end(s, 'idle timeout');
  }

  /**
   * Appends a session's SFTP file operations to `<session>.sftp.jsonl` (0600) in recordings/, one
   * JSON array `[seconds, op, path, path2 | mode | null]` per line, capped at `fileLogMaxBytes`
   * (then one `[seconds, "truncated", note, null]` line), and names it as the session's file log
   * (a terminal recording of the same session stays referenced: GET /api/v1/sessions/:id/recording
   * returns either).
   */
  private recordSftp(s: Live, msg: SftpLog): void {
    try {
      if (!s.fileLog) {
        const file = `${s.id}.sftp.jsonl`;
        s.fileLog = new CappedFile(join(this.recDir, file), '', this.o.fileLogMaxBytes, (cap) => JSON.stringify([0, 'truncated', `[jump: file log cap of ${cap} bytes reached; later operations not kept]`, null]) + '\n', (err) =>
          this.opts.log.warn({ err, session: s.id }, 'sftp log not written'),
        );
        void this.opts.store.setSessionFileLog(s.id, file).catch((err) => this.opts.log.error({ err, session: s.id }, 'file log not saved'));
      }
      s.fileLog.append(msg.ops.map((o) => JSON.stringify(o)).join('\n') + '\n');
    } catch (err) {
      this.opts.log.warn({ err, session: s.id }, 'sftp log not written');
    }
  }

  /** Appends asciicast v2 lines (header, then `[time, code, data]` events), capped at `recordingMaxBytes`. */
  private record(s: Live, msg: Recording): void {
    try {
      if (msg.header && !s.recording) {
        const file = `${s.id}.cast`;
        const start = this.clock.now();
        const header = { version: 2, width: msg.header.width, height: msg.header.height, timestamp: Math.floor(start / 1000), env: { TERM: msg.header.term } };
        const out = new CappedFile(
          join(this.recDir, file),
          JSON.stringify(header) + '\n',
          this.o.recordingMaxBytes,
          (cap) => JSON.stringify([(this.clock.now() - start) / 1000, 'o', `\r\n[jump: recording cap of ${cap} bytes reached; the rest of the session is not recorded]\r\n`]) + '\n',
          (err) => this.opts.log.warn({ err, session: s.id }, 'recording chunk not written'),
        );
        s.recording = { file, start, decoder: new TextDecoder('utf-8'), out };
        void this.opts.store.setSessionRecording(s.id, file).catch((err) => this.opts.log.error({ err, session: s.id }, 'recording not saved'));
      }
      if (!s.recording || s.recording.out.truncated) return;
      let out = '';
      for (const [t, code, data] of msg.events) {
        const text = code === 'o' ? s.recording.decoder.decode(Buffer.from(data, 'base64'), { stream: true }) : data;
        out += JSON.stringify([Math.round(t * 1e6) / 1e6, code, text]) + '\n';
      }
      s.recording.out.append(out);
    } catch (err) {
      this.opts.log.warn({ err, session: s.id }, 'recording chunk not written');
    }
  }
}

function bump(m: Map<number, number>, key: number, by: number): void {
  const n = (m.get(key) ?? 0) + by;
  if (n > 0) m.set(key, n);
  else m.delete(key);
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
