/**
 * Jump in the browser (issue #19 item 3): the site is the SSH client on the technician's behalf.
 *
 * The page `/web/jump/<client id>` (web/entries/terminal.tsx) opens ONE WebSocket to
 * `WEB_TERMINAL_PATH`. Its frames:
 * - browser -> site, text: `{"t":"open","client":"<id>","cols":C,"rows":R,"token"?:"<API token>"}`
 *   first (and only once), then `{"t":"resize","cols":C,"rows":R}`; binary: keyboard input bytes;
 * - site -> browser, text: `{"t":"ready","session_id","client":{"id","name"}}`,
 *   `{"t":"error","code","message"}` (the Jump failed: the catalog's code and text, e.g. the seeds'
 *   "The jump client is offline."), `{"t":"ended","reason","exit_status"}`; binary: terminal output.
 *
 * What it does, with the same rules as the API and the CLI (docs/jump.md):
 * 1. Before the upgrade: the `Origin` header must be the site's own origin (`siteUrl`), or the
 *    upgrade is answered 403 (cross-site WebSocket hijacking: a page elsewhere would otherwise ride
 *    the technician's cookie). At most `maxSockets` terminal sockets at once (503 past that).
 * 2. The first message within `authTimeoutMs`: the user comes from `terminalUser` (the token in the
 *    message, else the sign-in cookie), never from the URL.
 * 3. `SessionBroker.start` (the broker path of `POST /api/v1/jump-clients/:ref/sessions`: jump
 *    groups, offline/disabled/deleted/too-busy, the start limits, audit) with a fresh Ed25519 key
 *    made here, then `SessionBroker.attachLocal` instead of a relay socket (same byte counts, idle
 *    timeout and end), then SSH with the host key checked against the jump client's identity key
 *    (console/ssh.ts connectSsh), a shell on a PTY of the page's size: recorded by the agent like
 *    every PTY (asciicast v2), listed in REPORTS.
 * 4. Bounds: frames at most `maxMessageBytes` (ws closes with 1009 past it), `cols`/`rows` within
 *    `TERMINAL_SIZE`, one bridge per socket (a second `open` is refused), output paused while the
 *    browser has more than `maxBufferedBytes` unread, a ping every `pingMs` (a socket that missed
 *    one pong is closed), and the broker's session idle timeout.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { ClientChannel } from 'ssh2';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { z } from 'zod';
import { connectSsh, ephemeralKey } from '../console/ssh.js';
import { JumpError, type ErrorCode } from '../protocol/errors.js';
import { hashToken } from './auth.js';
import { findClient } from './jump-clients.js';
import type { SiteMetrics } from './metrics.js';
import { refusalLog, type RefusalFields } from './refusal-log.js';
import { sessionCookie } from './routes/web.js';
import type { SessionBroker } from './sessions.js';
import type { Store, User } from './store/store.js';

/** The path of the terminal WebSocket (an upgrade; the page itself is `/web/jump/<client id>`). */
export const WEB_TERMINAL_PATH = '/web/terminal';

/** Terminal sizes the site accepts, in character cells (the PTY gets exactly these). */
export const TERMINAL_SIZE = { minCols: 2, maxCols: 500, minRows: 1, maxRows: 200 } as const;

/** Bounds of the terminal WebSocket (bytes, ms, counts). */
export const WEB_TERMINAL_LIMITS = {
  /** One frame, either way (keyboard input, a paste, a control message), in bytes. */
  maxMessageBytes: 64 * 1024,
  /** The first (`open`) message must arrive within this, in ms. */
  authTimeoutMs: 10_000,
  /** Terminal sockets open at once, site-wide (each holds at most one Jump session). */
  maxSockets: 200,
  /** Output is paused while the browser has more than this unread, in bytes. */
  maxBufferedBytes: 1024 * 1024,
  /** A ping this often; a socket that did not answer the previous one is closed, in ms. */
  pingMs: 30_000,
} as const;

const size = {
  cols: z.number().int().min(TERMINAL_SIZE.minCols).max(TERMINAL_SIZE.maxCols),
  rows: z.number().int().min(TERMINAL_SIZE.minRows).max(TERMINAL_SIZE.maxRows),
};
/** The first message: which client to Jump into, the terminal's size, and optionally the API token. */
export const terminalOpenSchema = z.strictObject({
  t: z.literal('open'),
  client: z.string().min(1).max(128),
  token: z.string().min(1).max(256).optional(),
  ...size,
});
/** A window size change of the page's terminal. */
export const terminalResizeSchema = z.strictObject({ t: z.literal('resize'), ...size });

/** What the site sends as text frames (see the module comment). */
export type TerminalServerMessage =
  | { t: 'ready'; session_id: string; client: { id: number; name: string } }
  | { t: 'error'; code: ErrorCode; message: string; field?: string }
  | { t: 'ended'; reason: string; exit_status: number | null };

/**
 * The one place the terminal finds who is asking (the lead switches the rule here): the API token
 * sent in the socket's first message, else the web console's sign-in cookie (site/routes/web.ts `sessionCookie`,
 * which holds an API token), looked up like a bearer token (expiry, idle timeout, revocation).
 * Returns null when neither names a live token. Never reads the URL.
 */
export async function terminalUser(
  store: Pick<Store, 'userForToken'>,
  req: Pick<IncomingMessage, 'headers'>,
  messageToken: string | undefined,
  now: number,
  idleMs: number,
): Promise<User | null> {
  const token = messageToken ?? sessionCookie(req.headers.cookie);
  if (!token || token.length > 256) return null;
  return store.userForToken(hashToken(token), now, idleMs);
}

/** The origin (`scheme://host[:port]`) of `url`, or null when it is not a URL. */
function originOf(url: string): string | null {
  try {
    return new URL(url).origin;
  } catch {
    return null;
  }
}

export interface WebTerminalOptions {
  store: Store;
  sessions: SessionBroker;
  metrics: SiteMetrics;
  log: Logger;
  /** The site's public URL (read at each upgrade: it is known only once the site listens). */
  siteUrl: () => string;
  /** A token unused for this long stops working, in ms (as for the API). */
  tokenIdleMs: number;
  /** Overrides of WEB_TERMINAL_LIMITS (tests). */
  limits?: Partial<typeof WEB_TERMINAL_LIMITS>;
}

/** The terminal WebSockets of one site: upgrade, authenticate, bridge to an SSH shell. */
export class WebTerminal {
  private readonly wss: WebSocketServer;
  private readonly limits: typeof WEB_TERMINAL_LIMITS;
  private readonly sockets = new Set<WebSocket>();
  private readonly ping: NodeJS.Timeout;
  private readonly alive = new WeakSet<WebSocket>();
  private readonly logRefused: (fields: RefusalFields) => void;

  constructor(private readonly o: WebTerminalOptions) {
    this.limits = { ...WEB_TERMINAL_LIMITS, ...o.limits };
    this.logRefused = refusalLog(o.log, 'web terminal socket refused');
    this.wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: this.limits.maxMessageBytes });
    // A socket that did not answer the previous ping by the next one is gone (a closed laptop lid).
    this.ping = setInterval(() => {
      for (const ws of this.sockets) {
        if (!this.alive.has(ws)) {
          ws.terminate();
          continue;
        }
        this.alive.delete(ws);
        ws.ping();
      }
    }, this.limits.pingMs);
    this.ping.unref();
  }

  /** Sockets open now (tests, metrics). */
  get openCount(): number {
    return this.sockets.size;
  }

  /**
   * Handles an HTTP upgrade if its path is WEB_TERMINAL_PATH (returns true), refusing it before
   * the upgrade with 403 for a missing or foreign `Origin` and 503 past `maxSockets`. Returns
   * false for any other path (not ours).
   */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, refuse: (status: string) => void): boolean {
    if ((req.url ?? '').split('?')[0] !== WEB_TERMINAL_PATH) return false;
    const own = originOf(this.o.siteUrl());
    const origin = req.headers.origin;
    if (!own || origin !== own) {
      this.logRefused({ reason: 'Origin is not the site', origin: typeof origin === 'string' ? origin.slice(0, 200) : null, remote: req.socket.remoteAddress ?? null });
      refuse('403 Forbidden');
      return true;
    }
    if (this.sockets.size >= this.limits.maxSockets) {
      this.logRefused({ reason: 'too many terminal sockets', limit: this.limits.maxSockets });
      refuse('503 Service Unavailable');
      return true;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.serve(ws, req));
    return true;
  }

  /** Closes every terminal socket (site shutdown). */
  close(): void {
    clearInterval(this.ping);
    for (const ws of this.sockets) ws.close(1001, 'site shutting down');
    this.wss.close();
  }

  private serve(ws: WebSocket, req: IncomingMessage): void {
    this.sockets.add(ws);
    this.alive.add(ws);
    ws.on('pong', () => this.alive.add(ws));
    const send = (m: TerminalServerMessage) => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(m));
    };
    const fail = (err: unknown) => {
      const e = err instanceof JumpError ? err : new JumpError('JUMP_INTERNAL_ERROR');
      if (!(err instanceof JumpError)) this.o.log.error({ err }, 'web terminal failed');
      send({ t: 'error', ...e.toJSON() });
      ws.close(1008, e.code);
    };
    let state: 'auth' | 'starting' | 'live' | 'done' = 'auth';
    let ch: ClientChannel | null = null;
    let end: (() => void) | null = null;
    /** Input and the last resize sent while the session starts (at most maxMessageBytes of input). */
    const early: Buffer[] = [];
    let earlyBytes = 0;
    let size: { cols: number; rows: number } | null = null;
    const authTimer = setTimeout(() => {
      if (state === 'auth') fail(new JumpError('UNAUTHENTICATED', { detail: `No "open" message within ${this.limits.authTimeoutMs / 1000} s.` }));
    }, this.limits.authTimeoutMs);
    ws.on('close', () => {
      clearTimeout(authTimer);
      this.sockets.delete(ws);
      state = 'done';
      end?.();
    });
    ws.on('error', () => undefined);
    ws.on('message', (data: RawData, isBinary: boolean) => {
      const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
      if (isBinary) {
        if (state === 'starting') {
          // Typed while the session starts: kept (bounded) and written once the shell is there.
          early.push(buf);
          earlyBytes += buf.length;
          if (earlyBytes > this.limits.maxMessageBytes) fail(new JumpError('VALIDATION_FAILED', { field: 'message', detail: `message: more than ${this.limits.maxMessageBytes} bytes of input before the session was ready. Fix: wait for "ready".` }));
          return;
        }
        if (state !== 'live' || !ch) return fail(new JumpError('VALIDATION_FAILED', { field: 'message', detail: 'message: keyboard input before the session is ready. Fix: send "open" first and wait for "ready".' }));
        if (!ch.write(buf)) {
          ws.pause();
          ch.once('drain', () => ws.resume());
        }
        return;
      }
      let json: unknown;
      try {
        json = JSON.parse(buf.toString('utf8'));
      } catch {
        return fail(new JumpError('VALIDATION_FAILED', { field: 'message', detail: 'message: not JSON. Fix: send {"t":"open",...} or {"t":"resize",...} as text, keyboard input as binary.' }));
      }
      const t = (json as { t?: unknown } | null)?.t;
      if (t === 'open') {
        if (state !== 'auth') return fail(new JumpError('VALIDATION_FAILED', { field: 't', detail: 't: "open" was already sent; one socket carries one session. Fix: open another socket (another tab).' }));
        const r = terminalOpenSchema.safeParse(json);
        if (!r.success) return fail(schemaError(r.error));
        state = 'starting';
        size = null;
        clearTimeout(authTimer);
        this.open(ws, req, r.data, send)
          .then((bridge) => {
            if (!bridge) return;
            ch = bridge.channel;
            end = bridge.end;
            if (state === 'done') return end();
            state = 'live';
            if (size) ch.setWindow(size.rows, size.cols, 0, 0);
            for (const b of early.splice(0)) ch.write(b);
          })
          .catch(fail);
      } else if (t === 'resize') {
        const r = terminalResizeSchema.safeParse(json);
        if (!r.success) return fail(schemaError(r.error));
        if (ch) ch.setWindow(r.data.rows, r.data.cols, 0, 0);
        else size = r.data; // applied once the shell is there
      } else {
        fail(new JumpError('VALIDATION_FAILED', { field: 't', detail: 't: must be "open" or "resize". Fix: send one of those (keyboard input as binary frames).' }));
      }
    });
  }

  /**
   * Starts the session and the shell. Resolves with the channel and a function that ends it, or
   * null when the socket closed meanwhile (then nothing is left open). Throws JumpError.
   */
  private async open(
    ws: WebSocket,
    req: IncomingMessage,
    msg: z.output<typeof terminalOpenSchema>,
    send: (m: TerminalServerMessage) => void,
  ): Promise<{ channel: ClientChannel; end: () => void } | null> {
    const { store, sessions, metrics } = this.o;
    const user = await terminalUser(store, req, msg.token, Date.now(), this.o.tokenIdleMs);
    if (!user) throw new JumpError('UNAUTHENTICATED', { detail: 'Sign in again at /login.' });
    if (user.mustChangePassword) throw new JumpError('PASSWORD_CHANGE_REQUIRED');
    const key = ephemeralKey();
    const started = await sessions.start(user, msg.client, key.publicLine, 'shell').catch(async (err: unknown) => {
      metrics.jumpStarts.inc({ result: err instanceof JumpError ? err.code : 'INTERNAL_ERROR' });
      throw err instanceof JumpError && err.code === 'JUMP_CLIENT_OFFLINE' ? await offlineSince(store, user, msg.client, err) : err;
    });
    metrics.jumpStarts.inc({ result: 'ok' });
    const stream = sessions.attachLocal(started.sessionId, user);
    if (!stream) throw new JumpError('JUMP_SESSION_NOT_FOUND');
    if (ws.readyState !== ws.OPEN) {
      stream.destroy();
      return null;
    }
    const conn = await connectSsh(stream, started.hostKey, key.privatePem).catch((err: unknown) => {
      stream.destroy();
      throw err;
    });
    const channel = await new Promise<ClientChannel>((resolve, reject) => {
      conn.shell({ term: 'xterm-256color', cols: msg.cols, rows: msg.rows }, (err, c) => {
        if (err) reject(new JumpError('JUMP_INTERNAL_ERROR', { detail: `The shell could not start: ${err.message}` }));
        else resolve(c);
      });
    }).catch((err: unknown) => {
      conn.end();
      throw err;
    });
    let exitStatus: number | null = null;
    let exitSignal: string | null = null;
    let paused = false;
    const out = (d: Buffer) => {
      if (ws.readyState !== ws.OPEN) return;
      ws.send(d, { binary: true }, () => {
        if (paused && ws.bufferedAmount < this.limits.maxBufferedBytes / 2) {
          paused = false;
          channel.resume();
        }
      });
      if (!paused && ws.bufferedAmount > this.limits.maxBufferedBytes) {
        paused = true;
        channel.pause();
      }
    };
    channel.on('data', out);
    channel.stderr.on('data', out);
    channel.on('exit', (code: number | null, signal?: string) => {
      exitStatus = code;
      exitSignal = signal ?? null;
    });
    let closed = false;
    const finish = () => {
      if (closed) return;
      closed = true;
      void this.endReason(started.sessionId, exitStatus, exitSignal).then((reason) => {
        send({ t: 'ended', reason, exit_status: exitStatus });
        ws.close(1000, 'session ended');
      });
    };
    channel.on('close', finish);
    conn.on('close', finish);
    conn.on('error', () => undefined);
    send({ t: 'ready', session_id: started.sessionId, client: { id: started.clientId, name: started.name } });
    return { channel, end: () => conn.end() };
  }

  /** Why a session ended, in a sentence for the page: the shell's exit, else the site's record. */
  private async endReason(id: string, status: number | null, signal: string | null): Promise<string> {
    if (status !== null) return `The shell exited with status ${status}.`;
    if (signal !== null) return `The shell was ended by signal ${signal}.`;
    // The broker writes its reason (idle timeout, jump client closed, password changed...) on end.
    for (let i = 0; i < 20; i++) {
      const s = await this.o.store.getSession(id).catch(() => null);
      if (s?.endReason) return `The session was ended: ${s.endReason}.`;
      await new Promise((r) => setTimeout(r, 50));
    }
    return 'The session was ended.';
  }
}

/**
 * JUMP_CLIENT_OFFLINE with since when, as `jump jump` says it (console/commands/jump.ts): the
 * client passed the broker's visibility check, so naming it tells the user nothing new.
 */
async function offlineSince(store: Store, user: User, ref: string, err: JumpError): Promise<JumpError> {
  const c = await findClient(store, user, ref, 'see').catch(() => null);
  if (!c) return err;
  const since = c.lastDisconnectedAt ?? c.lastConnectedAt;
  return new JumpError('JUMP_CLIENT_OFFLINE', {
    detail: `(jump client ${c.id}, offline since ${since === null ? 'it enrolled; it never connected' : new Date(since).toISOString()}).`,
  });
}

/** VALIDATION_FAILED naming the first bad field of a terminal message. */
function schemaError(err: z.ZodError): JumpError {
  const issue = err.issues[0];
  if (issue.code === 'unrecognized_keys') return new JumpError('VALIDATION_FAILED', { field: issue.keys.join(', '), detail: `${issue.keys.join(', ')}: unknown field; remove it.` });
  const field = issue.path.join('.') || 'message';
  const range =
    field === 'cols'
      ? ` Fix: a whole number from ${TERMINAL_SIZE.minCols} to ${TERMINAL_SIZE.maxCols}.`
      : field === 'rows'
        ? ` Fix: a whole number from ${TERMINAL_SIZE.minRows} to ${TERMINAL_SIZE.maxRows}.`
        : '';
  return new JumpError('VALIDATION_FAILED', { field, detail: `${field}: ${issue.message}.${range}` });
}
