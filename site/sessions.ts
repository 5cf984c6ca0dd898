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
 * Shell recordings arrive from the agent as `rec` messages and are written as asciicast v2 files in
 * `<data dir>/recordings/` (mode 0600).
 */
import { randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import { sessionStream } from '../protocol/ws-stream.js';
import { JumpError } from '../protocol/errors.js';
import { SESSION_ATTACH_HEADERS, SESSION_KINDS, sessionAttachSchema, type Recording, type SessionKind, type SftpLog } from '../protocol/messages.js';
import { signTicket } from '../protocol/ticket.js';
import { parseSshPublicKey, sshPublicKeyFromRaw } from '../protocol/ssh-keys.js';
import type { AgentGateway } from './agent-gateway.js';
import { findClient } from './jump-clients.js';
import type { Store, User } from './store/store.js';

export { SESSION_KINDS, type SessionKind };

export interface SessionBrokerOptions {
  store: Store;
  gateway: AgentGateway;
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
  relay: WebSocket | null;
  bytesToClient: number;
  bytesFromClient: number;
  lastActivity: number;
  relayTimer: NodeJS.Timeout | null;
  ended: boolean;
  recording: { file: string; start: number; decoder: TextDecoder } | null;
}

/** 16 random bytes, base64url (22 characters). */
function newSessionId(): string {
  return randomBytes(16).toString('base64url');
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
  private readonly wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 1024 * 1024 });
  private readonly idleSweep: NodeJS.Timeout;
  private readonly o: Required<Omit<SessionBrokerOptions, 'store' | 'gateway' | 'identityKey' | 'dataDir' | 'log' | 'version'>>;

  constructor(private readonly opts: SessionBrokerOptions) {
    this.o = {
      maxStarts: opts.maxStarts ?? 20,
      maxStartsPerUser: opts.maxStartsPerUser ?? 4,
      maxStartsPerClient: opts.maxStartsPerClient ?? 2,
      connectTimeoutMs: opts.connectTimeoutMs ?? 15_000,
      attachTimeoutMs: opts.attachTimeoutMs ?? 15_000,
      relayTimeoutMs: opts.relayTimeoutMs ?? 30_000,
      idleTimeoutMs: opts.idleTimeoutMs ?? 30 * 60_000,
      ticketTtlMs: opts.ticketTtlMs ?? 60_000,
    };
    mkdirSync(join(opts.dataDir, 'recordings'), { recursive: true, mode: 0o700 });
    this.idleSweep = setInterval(() => this.sweepIdle(), Math.min(5_000, Math.max(100, this.o.idleTimeoutMs / 4)));
    this.idleSweep.unref();
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
    if (!this.opts.gateway.isConnected(client.id)) throw new JumpError('JUMP_CLIENT_OFFLINE');
    const agentVersion = this.opts.gateway.agentVersion(client.id) ?? '';
    if (!compatibleVersion(agentVersion, this.opts.version)) {
      throw new JumpError('JUMP_VERSION_MISMATCH', { detail: `Jump client ${agentVersion}, site ${this.opts.version}.` });
    }
    if (this.starting >= this.o.maxStarts) throw new JumpError('JUMP_SERVER_BUSY');
    if ((this.startingByUser.get(user.id) ?? 0) >= this.o.maxStartsPerUser) {
      throw new JumpError('JUMP_STARTS_IN_PROGRESS', { detail: `You have ${this.o.maxStartsPerUser} session starts in progress (the limit per technician).` });
    }
    if ((this.startingByClient.get(client.id) ?? 0) >= this.o.maxStartsPerClient) {
      throw new JumpError('JUMP_STARTS_IN_PROGRESS', { detail: `Jump client ${client.id} has ${this.o.maxStartsPerClient} session starts in progress (the limit per jump client).` });
    }
    this.starting++;
    bump(this.startingByUser, user.id, 1);
    bump(this.startingByClient, client.id, 1);
    const id = newSessionId();
    const token = randomBytes(32).toString('base64url');
    const now = Date.now();
    try {
      const { ticket, ticketSig } = signTicket(this.opts.identityKey, { sid: id, cid: client.id, user: user.name, key: sshKey, kind, iat: now, exp: now + this.o.ticketTtlMs });
      await this.opts.store.createSession({ id, clientId: client.id, userId: user.id, kind, startedAt: now });
      await this.opts.store.audit({ at: now, userId: user.id, action: 'session.start', target: `jump_client:${client.id}`, detail: `${kind} ${id}` });

      const agent = await new Promise<WebSocket>((resolve, reject) => {
        const p: Pending = { clientId: client.id, token, accepted: false, attaching: false, resolve, reject };
        this.pending.set(id, p);
        const sent = this.opts.gateway.send(client.id, { t: 'session_open', session_id: id, token, ticket, ticket_sig: ticketSig });
        if (!sent) return reject(new JumpError('JUMP_ACTIVE_NOT_CONNECTED'));
        const t1 = setTimeout(() => {
          if (!p.accepted) reject(new JumpError('JUMP_CONNECT_TIMEOUT'));
        }, this.o.connectTimeoutMs);
        const t2 = setTimeout(() => reject(new JumpError('JUMP_INTERNAL_TIMEOUT')), this.o.connectTimeoutMs + this.o.attachTimeoutMs);
        const done = () => {
          clearTimeout(t1);
          clearTimeout(t2);
          this.pending.delete(id);
        };
        p.resolve = (ws) => (done(), resolve(ws));
        p.reject = (err) => (done(), reject(err));
      }).catch(async (err: unknown) => {
        const e = err instanceof JumpError ? err : new JumpError('JUMP_INTERNAL_ERROR');
        await this.opts.store.endSession(id, { endedAt: Date.now(), bytesToClient: 0, bytesFromClient: 0, endReason: e.code });
        throw e;
      });
      this.goLive(id, client.id, user.id, kind, agent);
      return { sessionId: id, clientId: client.id, name: client.name ?? client.stats.hostname ?? `jump client ${client.id}`, hostKey: sshPublicKeyFromRaw(client.publicKey) };
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

  /** Session messages from an authenticated agent's control connection. */
  onAgentMessage(clientId: number, msg: { t: string; session_id: string } & Record<string, unknown>): void {
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
    if (msg.t === 'rec' && s && s.clientId === clientId) this.record(s, msg as unknown as Recording);
    if (msg.t === 'sftp_log') {
      if (s) {
        if (s.clientId === clientId) this.recordSftp(s.id, msg as unknown as SftpLog);
        return;
      }
      // The last batch is sent when the SFTP channel closes, often just after the relay ended the
      // session here: accept it for a minute after the end, for a session of this client.
      void this.opts.store
        .getSession(msg.session_id)
        .then((rec) => {
          if (rec && rec.clientId === clientId && (rec.endedAt === null || Date.now() - rec.endedAt < 60_000)) this.recordSftp(rec.id, msg as unknown as SftpLog);
        })
        .catch((err) => this.opts.log.error({ err, session: msg.session_id }, 'sftp log not saved'));
    }
  }

  /** The agent's control connection closed: its pending starts fail, its live sessions end. */
  onAgentDisconnected(clientId: number): void {
    for (const p of this.pending.values()) if (p.clientId === clientId) p.reject(new JumpError('JUMP_ACTIVE_NOT_CONNECTED'));
    for (const s of this.live.values()) if (s.clientId === clientId) this.end(s, 'agent disconnected');
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
      s.relay = ws;
      if (s.relayTimer) clearTimeout(s.relayTimer);
      const relayStream = sessionStream(ws);
      relayStream.on('data', (d: Buffer) => {
        s.bytesToClient += d.length;
        s.lastActivity = Date.now();
      });
      // pipe() pauses the faster side when the slower one's buffer is full: no unbounded buffers.
      relayStream.pipe(s.agentStream);
      s.agentStream.pipe(relayStream);
      relayStream.on('close', () => this.end(s, 'technician closed'));
      relayStream.on('error', () => this.end(s, 'technician connection failed'));
    });
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
    clearInterval(this.idleSweep);
    for (const s of this.live.values()) this.end(s, 'site shutting down');
    for (const p of this.pending.values()) p.reject(new JumpError('JUMP_INTERNAL_ERROR'));
    this.wss.close();
  }

  private goLive(id: string, clientId: number, userId: number, kind: SessionKind, agent: WebSocket): void {
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
      lastActivity: Date.now(),
      relayTimer: null,
      ended: false,
      recording: null,
    };
    agentStream.on('data', (d: Buffer) => {
      s.bytesFromClient += d.length;
      s.lastActivity = Date.now();
    });
    agentStream.pause(); // until the relay pipes it
    agentStream.on('close', () => this.end(s, 'jump client closed'));
    agentStream.on('error', () => this.end(s, 'jump client connection failed'));
    s.relayTimer = setTimeout(() => this.end(s, 'technician did not attach'), this.o.relayTimeoutMs);
    this.live.set(id, s);
  }

  private end(s: Live, reason: string): void {
    if (s.ended) return;
    s.ended = true;
    this.live.delete(s.id);
    if (s.relayTimer) clearTimeout(s.relayTimer);
    s.agentStream.destroy();
    s.agent.terminate();
    s.relay?.close(1000, reason.slice(0, 100));
    this.opts.gateway.send(s.clientId, { t: 'session_close', session_id: s.id });
    void this.opts.store
      .endSession(s.id, { endedAt: Date.now(), bytesToClient: s.bytesToClient, bytesFromClient: s.bytesFromClient, endReason: reason })
      .catch((err) => this.opts.log.error({ err, session: s.id }, 'session end not saved'));
    this.opts.log.info({ session: s.id, clientId: s.clientId, reason, bytesToClient: s.bytesToClient, bytesFromClient: s.bytesFromClient }, 'session ended');
  }

  private sweepIdle(): void {
    const limit = Date.now() - this.o.idleTimeoutMs;
    for (const s of this.live.values()) if (s.relay && s.lastActivity < limit) this.end(s, 'idle timeout');
  }

  /**
   * Appends an SFTP session's file operations to `<session>.sftp.jsonl` (0600) in recordings/, one
   * JSON array `[seconds, op, path, path2 | mode | null]` per line, and names that file as the
   * session's recording (GET /api/v1/sessions/:id/recording returns it).
   */
  private recordSftp(id: string, msg: SftpLog): void {
    try {
      const file = `${id}.sftp.jsonl`;
      const path = join(this.opts.dataDir, 'recordings', file);
      if (!existsSync(path)) {
        writeFileSync(path, '', { mode: 0o600, flag: 'wx' });
        void this.opts.store.setSessionRecording(id, file);
      }
      appendFileSync(path, msg.ops.map((o) => JSON.stringify(o)).join('\n') + '\n');
    } catch (err) {
      this.opts.log.warn({ err, session: id }, 'sftp log not written');
    }
  }

  /** Appends asciicast v2 lines (header, then `[time, code, data]` events). */
  private record(s: Live, msg: Recording): void {
    try {
      if (msg.header && !s.recording) {
        const file = `${s.id}.cast`;
        const start = Date.now();
        const header = { version: 2, width: msg.header.width, height: msg.header.height, timestamp: Math.floor(start / 1000), env: { TERM: msg.header.term } };
        writeFileSync(join(this.opts.dataDir, 'recordings', file), JSON.stringify(header) + '\n', { mode: 0o600, flag: 'wx' });
        s.recording = { file, start, decoder: new TextDecoder('utf-8') };
        void this.opts.store.setSessionRecording(s.id, file);
      }
      if (!s.recording) return;
      let out = '';
      for (const [t, code, data] of msg.events) {
        const text = code === 'o' ? s.recording.decoder.decode(Buffer.from(data, 'base64'), { stream: true }) : data;
        out += JSON.stringify([Math.round(t * 1e6) / 1e6, code, text]) + '\n';
      }
      if (out) appendFileSync(join(this.opts.dataDir, 'recordings', s.recording.file), out);
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
