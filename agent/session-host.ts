/**
 * Jump sessions on the endpoint (DESIGN.md flow step 7): for each `session_open` from the site, the
 * agent checks the ticket (signed by the pinned site key, for this client, this session, within its
 * lifetime), opens a second WebSocket for the session's bytes, and runs an SSH server (ssh2) on it.
 *
 * - Host key: the jump client's own Ed25519 identity key, which the site knows, so consoles can
 *   write correct known_hosts entries.
 * - Authentication: public key only, and only the technician key named in the ticket. The relay
 *   (and anyone on the network path) therefore cannot open a shell.
 * - What a session can do: a shell with a real PTY (node-pty), commands with their exit status,
 *   SFTP (OpenSSH's sftp-server, as the run-as user), and direct-tcpip port forwarding to this
 *   machine's own addresses, or to private (LAN) addresses when `forwardLan` is set.
 * - The ticket's `kind` is enforced (protocol/ticket.ts `kindAllows`): a `shell` ticket cannot
 *   exec, sftp or forward; an `exec` ticket cannot open a shell or sftp; `sftp` only sftp; `tunnel`
 *   only direct-tcpip. A request outside the kind is refused and logged.
 * - Every PTY is recorded (a shell, or a command run with a pty-req): output and resizes go to the
 *   site as asciicast v2 events. A command without a PTY is recorded the same way (its stdout and
 *   stderr as output, an 80x24 `dumb` terminal), and every command line is sent (`session_exec`).
 *   SFTP sessions send their file operations (`sftp_log`), OpenSSH's extensions included.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { verify, type KeyObject } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { existsSync } from 'node:fs';
import { BlockList, connect as tcpConnect, isIP } from 'node:net';
import { userInfo } from 'node:os';
import { lookupAccount } from './install/accounts.js';
import type { Logger } from 'pino';
import ssh2 from 'ssh2';
import WebSocket from 'ws';
import { sessionStream } from '../protocol/ws-stream.js';
import { AGENT_SESSION_WS_PATH, SESSION_ATTACH_HEADERS, type SFTP_OPS, type AgentSessionMessage, type SessionOpen, type Ticket } from '../protocol/messages.js';
import { kindAllows, verifyTicket } from '../protocol/ticket.js';
import type { Clock } from '../protocol/clock.js';
import { TicketWindow } from './ticket-window.js';
import { parseSshPublicKey, sshPublicKeyBlob } from '../protocol/ssh-keys.js';

export interface SessionHostOptions {
  clientId: number;
  siteUrl: string;
  sitePublicKey: KeyObject;
  /** The jump client's identity key in OpenSSH format (its SSH host key). */
  hostKeyOpenssh: string;
  log: Logger;
  /** Sends a control message to the site (accepted, refused, ended, recording). */
  sendControl: (msg: AgentSessionMessage) => void;
  /** The local user's switch (seeds: "disabled by the user"). Read at each session start. */
  isDisabled: () => boolean;
  /** Allow port forwarding to private (LAN) addresses, not only this machine's own. Default false. */
  forwardLan?: boolean;
  localAddress?: string;
  /**
   * Service mode (the agent runs as root, like sshd): the user every session process (shell, exec,
   * sftp-server) runs as, resolved at each session start; it must be a real non-root account.
   * Undefined in user mode: sessions run as the agent's own user.
   */
  runAs?: string;
  /** The clock that times a ticket's lifetime (agent/ticket-window.ts); default the real clock. */
  clock?: Clock;
}

/** Where distributions keep OpenSSH's SFTP server. */
const SFTP_SERVER_PATHS = [
  '/usr/lib/openssh/sftp-server',
  '/usr/libexec/openssh/sftp-server',
  '/usr/libexec/sftp-server',
  '/usr/lib/ssh/sftp-server',
  '/usr/lib/sftp-server',
];

/** Recording: one message per 100 ms per shell at most, holding at most 24 KiB of output (32 KiB base64). */
const REC_FLUSH_MS = 100;
const REC_CHUNK_BYTES = 24 * 1024;

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');
const PRIVATE = new BlockList();
PRIVATE.addSubnet('10.0.0.0', 8, 'ipv4');
PRIVATE.addSubnet('172.16.0.0', 12, 'ipv4');
PRIVATE.addSubnet('192.168.0.0', 16, 'ipv4');
PRIVATE.addSubnet('169.254.0.0', 16, 'ipv4');
PRIVATE.addSubnet('fc00::', 7, 'ipv6');
PRIVATE.addSubnet('fe80::', 10, 'ipv6');

/**
 * True when a forward to `ip` is allowed: loopback always; RFC 1918, link-local and ULA addresses
 * only with `lan`; public addresses never.
 */
export function forwardAllowed(ip: string, lan: boolean): boolean {
  const family = isIP(ip);
  if (family === 0) return false;
  const type = family === 4 ? 'ipv4' : 'ipv6';
  return LOOPBACK.check(ip, type) || (lan && PRIVATE.check(ip, type));
}

/** Re-exported from protocol/ticket.ts, the one ticket module (issue #13). */
export { verifyTicket };

function findSftpServer(): string | null {
  return SFTP_SERVER_PATHS.find((p) => existsSync(p)) ?? null;
}

/** The environment for shells and commands: the agent's, minus its own settings. */
function childEnv(term?: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('JUMP_')) env[k] = v;
  const u = userInfo();
  env.USER = u.username;
  env.LOGNAME = u.username;
  env.HOME = u.homedir;
  env.SHELL = u.shell ?? '/bin/sh';
  if (term) env.TERM = term;
  return env;
}

/** Where util-linux keeps setpriv(1). */
const SETPRIV_PATHS = ['/usr/bin/setpriv', '/bin/setpriv'];

/** How to start one session process: the program, its argv, environment and working dir. */
export interface SessionSpawn {
  file: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** The login shell of the session's user. */
  shell: string;
}

/**
 * How to run `file args` (or, with `file` null, the session user's login shell) for a session.
 *
 * User mode (`runAs` undefined): as the agent's own user, with the agent's environment minus JUMP_*.
 * Service mode: the agent is root; the process is started through
 * `setpriv --reuid UID --regid GID --init-groups --reset-env --` as `runAs`, looked up now
 * (getent), with its supplementary groups (libuv's uid/gid spawn would drop them), a clean
 * environment (HOME, SHELL, USER, LOGNAME, PATH set by setpriv; TERM kept) and its home as cwd
 * (security issue #12 items 4 and 18). Throws an Error naming the user when `runAs` does not
 * resolve to a non-root account or setpriv is missing: no session process is ever started as root.
 */
export function sessionSpawn(file: string | null, args: string[], runAs: string | undefined, term?: string): SessionSpawn {
  if (runAs === undefined) {
    const u = userInfo();
    const shell = u.shell ?? '/bin/sh';
    return { file: file ?? shell, args, env: childEnv(term), cwd: existsSync(u.homedir) ? u.homedir : '/', shell };
  }
  const account = lookupAccount(runAs);
  if (!account) throw new Error(`the session user "${runAs}" (run_as) does not exist on this machine`);
  if (account.uid === 0 || account.name === 'root') throw new Error(`the session user "${runAs}" is root; sessions never run as root`);
  const setpriv = SETPRIV_PATHS.find((p) => existsSync(p));
  if (!setpriv) throw new Error('setpriv (util-linux) is missing: sessions cannot be started as the run-as user');
  const shell = account.shell || '/bin/sh';
  return {
    file: setpriv,
    args: ['--reuid', String(account.uid), '--regid', String(account.gid), '--init-groups', '--reset-env', '--', file ?? shell, ...args],
    env: { PATH: '/usr/local/bin:/usr/bin:/bin', ...(term ? { TERM: term } : {}) },
    cwd: existsSync(account.home) ? account.home : '/',
    shell,
  };
}

type PtyModule = typeof import('node-pty');
let ptyModule: Promise<PtyModule | null> | null = null;
/** node-pty, loaded on first use; null when its native part is missing (then no PTY is offered). */
function loadPty(): Promise<PtyModule | null> {
  ptyModule ??= import('node-pty').then(
    (m) => ((m as { default?: PtyModule }).default ?? m) as PtyModule,
    () => null,
  );
  return ptyModule;
}

interface PtyInfo {
  cols: number;
  rows: number;
  term: string;
}

/** Session ids whose tickets an agent remembers having accepted (the oldest are forgotten first). */
export const USED_TICKETS_KEPT = 10_000;

export class SessionHost {
  private readonly active = new Map<string, { ws: WebSocket; end: () => void }>();
  /**
   * Session ids whose ticket was accepted, oldest first: a ticket is good for one session start.
   * A replayed `session_open` would otherwise get a fresh ticket window (the window counts from
   * acceptance, by this machine's clock) and dial a session socket again (issue #15 item 5).
   */
  private readonly usedTickets = new Set<string>();

  constructor(private readonly o: SessionHostOptions) {}

  /**
   * Handles `session_open`. Never throws: refusals go back to the site as `session_refused`
   * (JUMP_TICKET_INVALID for a ticket not signed by the pinned site key, for another client or
   * session, or already used once; JUMP_CLIENT_DISABLED).
   */
  open(msg: SessionOpen): void {
    const { log } = this.o;
    const ticket = verifyTicket(msg, this.o.sitePublicKey, this.o.clientId);
    if (!ticket) {
      log.warn({ session: msg.session_id }, 'session ticket refused');
      return this.o.sendControl({ t: 'session_refused', session_id: msg.session_id, code: 'JUMP_TICKET_INVALID' });
    }
    if (this.usedTickets.has(ticket.sid)) {
      log.warn({ session: msg.session_id, user: ticket.user }, 'session ticket already used; replay refused');
      return this.o.sendControl({ t: 'session_refused', session_id: msg.session_id, code: 'JUMP_TICKET_INVALID' });
    }
    this.usedTickets.add(ticket.sid);
    if (this.usedTickets.size > USED_TICKETS_KEPT) this.usedTickets.delete(this.usedTickets.values().next().value as string);
    if (this.o.isDisabled()) {
      log.info({ session: msg.session_id, user: ticket.user }, 'session refused: jump client disabled by its local user');
      return this.o.sendControl({ t: 'session_refused', session_id: msg.session_id, code: 'JUMP_CLIENT_DISABLED' });
    }
    // The ticket is good for its lifetime from now, by this machine's clock (clocks may differ).
    const ticketWindow = new TicketWindow(ticket, this.o.clock);
    this.o.sendControl({ t: 'session_accepted', session_id: msg.session_id });

    const url = new URL(AGENT_SESSION_WS_PATH, this.o.siteUrl.replace(/^http/, 'ws'));
    url.protocol = 'wss:';
    // SSH inside is authenticated end to end (host key and ticket key), so this socket carries
    // only ciphertext; the certificate is not what protects it.
    // The session id and one-time token travel in the upgrade request, so the site refuses a
    // stranger before any WebSocket frame (security issue #12 item 14).
    const ws = new WebSocket(url, {
      rejectUnauthorized: false,
      minVersion: 'TLSv1.3',
      perMessageDeflate: false,
      localAddress: this.o.localAddress,
      headers: { [SESSION_ATTACH_HEADERS.sessionId]: msg.session_id, [SESSION_ATTACH_HEADERS.token]: msg.token },
    });
    ws.on('error', (err) => log.warn({ session: msg.session_id, err: err.message }, 'session socket error'));
    ws.on('open', () => {
      const stream = sessionStream(ws);
      const server = new ssh2.Server({ hostKeys: [this.o.hostKeyOpenssh], ident: 'jump-client' }, (client) =>
        this.serve(client, ticket, ticketWindow),
      );
      server.on('error', (err: Error) => log.warn({ err: err.message }, 'ssh server error'));
      server.injectSocket(stream as unknown as import('node:net').Socket);
      log.info({ session: msg.session_id, user: ticket.user }, 'session started');
    });
    const entry = { ws, end: () => ws.terminate() };
    this.active.set(msg.session_id, entry);
    ws.once('close', () => {
      this.active.delete(msg.session_id);
      log.info({ session: msg.session_id }, 'session socket closed');
    });
  }

  /** The site ended a session. */
  close(sessionId: string): void {
    this.active.get(sessionId)?.end();
  }

  /** Sessions open now (socket attached and not closed). */
  get openCount(): number {
    return this.active.size;
  }

  closeAll(): void {
    for (const s of this.active.values()) s.end();
  }

  private serve(client: ssh2.Connection, ticket: Ticket, ticketWindow: TicketWindow): void {
    const { log } = this.o;
    const allowedKey = parseSshPublicKey(ticket.key);
    const allowedBlob = sshPublicKeyBlob(allowedKey);
    let exitStatus: number | null = null;

    client.on('authentication', (ctx) => {
      if (ctx.method !== 'publickey' || !ticketWindow.isOpen()) return ctx.reject(['publickey']);
      if (ctx.key.algo !== 'ssh-ed25519' || !Buffer.from(ctx.key.data).equals(allowedBlob)) return ctx.reject(['publickey']);
      if (!ctx.signature) return ctx.accept(); // "would this key do?": yes
      const ok = ctx.blob ? verify(null, ctx.blob, allowedKey, ctx.signature) : false;
      return ok ? ctx.accept() : ctx.reject(['publickey']);
    });
    client.on('error', (err) => log.debug({ err: err.message }, 'ssh connection error'));

    /** Refuses (and logs) a request the ticket's kind does not allow; true when allowed. */
    const allowed = (request: Parameters<typeof kindAllows>[1], reject?: () => void): boolean => {
      if (kindAllows(ticket.kind, request)) return true;
      log.warn({ session: ticket.sid, user: ticket.user, kind: ticket.kind, request }, 'request outside the session kind refused');
      reject?.();
      return false;
    };

    client.on('ready', () => {
      client.on('session', (acceptSession, rejectSession) => {
        if (ticket.kind === 'tunnel') return allowed('shell', rejectSession);
        const session = acceptSession();
        let pty: PtyInfo | null = null;
        let resize: ((cols: number, rows: number) => void) | null = null;
        session.on('pty', (accept, reject, info) => {
          if (!allowed('pty', reject)) return;
          pty = { cols: info.cols || 80, rows: info.rows || 24, term: info.term || 'xterm' };
          accept?.();
        });
        session.on('window-change', (accept, _reject, info) => {
          if (pty) {
            pty.cols = info.cols;
            pty.rows = info.rows;
          }
          resize?.(info.cols, info.rows);
          accept?.();
        });
        session.on('env', (accept) => accept?.());
        session.on('shell', (accept, reject) => {
          if (!allowed('shell', reject)) return;
          const channel = accept();
          void this.runPty(channel, null, pty ?? { cols: 80, rows: 24, term: 'xterm' }, ticket.sid, true, (fn) => (resize = fn)).then((code) => {
            exitStatus = code;
          });
        });
        session.on('exec', (accept, reject, info) => {
          if (!allowed('exec', reject)) return;
          const channel = accept();
          // The command line is kept for every exec (security issue #12 item 12), PTY or not.
          this.o.sendControl({ t: 'session_exec', session_id: ticket.sid, command: info.command.slice(0, 8192), pty: pty !== null });
          // Every PTY is recorded: a command with a terminal is as interactive as a shell.
          const run = pty
            ? this.runPty(channel, info.command, pty, ticket.sid, true, (fn) => (resize = fn))
            : this.runCommand(channel, info.command, ticket.sid);
          void run.then((code) => {
            exitStatus = code;
          });
        });
        session.on('subsystem', (accept, reject, info) => {
          if (!allowed(info.name === 'sftp' ? 'sftp' : 'subsystem', reject)) return;
          const server = info.name === 'sftp' ? findSftpServer() : null;
          if (!server) {
            log.warn({ subsystem: info.name }, 'subsystem not available (sftp needs OpenSSH sftp-server on this machine)');
            return reject();
          }
          let how: SessionSpawn;
          try {
            how = sessionSpawn(server, [], this.o.runAs);
          } catch (err) {
            log.error({ err: (err as Error).message }, 'sftp refused');
            return reject();
          }
          const channel = accept();
          const child = spawn(how.file, how.args, { env: how.env, cwd: how.cwd, stdio: ['pipe', 'pipe', 'inherit'] });
          channel.pipe(child.stdin!);
          // The exit status must go out before the channel closes: end it ourselves.
          child.stdout!.pipe(channel, { end: false });
          child.on('close', (code) => {
            exitStatus = code ?? 0;
            channel.exit(exitStatus);
            channel.end();
          });
          channel.on('close', () => child.kill());
          // The SFTP "recording": which files the client opened, removed, renamed... (read from its
          // requests; file contents are not kept).
          const audit = new SftpAudit(ticket.sid, this.o.sendControl);
          channel.on('data', (d: Buffer) => audit.feed(d));
          channel.on('close', () => audit.flush());
        });
      });

      client.on('tcpip', (accept, reject, info) => {
        if (!allowed('tcpip', reject)) return;
        void (async () => {
          let ip = info.destIP;
          if (isIP(ip) === 0) {
            try {
              ip = (await lookup(ip)).address;
            } catch {
              return reject();
            }
          }
          if (!forwardAllowed(ip, Boolean(this.o.forwardLan))) {
            log.warn({ dest: info.destIP, port: info.destPort }, 'port forward refused: target outside the allowed set');
            return reject();
          }
          const sock = tcpConnect(info.destPort, ip);
          sock.once('connect', () => {
            const channel = accept();
            sock.pipe(channel).pipe(sock);
            channel.on('close', () => sock.destroy());
          });
          sock.once('error', () => reject());
        })();
      });
    });

    client.on('close', () => {
      log.info({ session: ticket.sid, exitStatus }, 'ssh connection closed');
      this.o.sendControl({ t: 'session_ended', session_id: ticket.sid, exit_status: exitStatus });
    });
  }

  /** Runs `command` (or the login shell) on a PTY; records it when `record`. Resolves with the exit status. */
  private async runPty(
    channel: ssh2.ServerChannel,
    command: string | null,
    info: PtyInfo,
    sessionId: string,
    record: boolean,
    onResize: (fn: (cols: number, rows: number) => void) => void,
  ): Promise<number> {
    let how: SessionSpawn;
    try {
      how = sessionSpawn(null, [], this.o.runAs, info.term);
      if (command !== null) how = sessionSpawn('/bin/sh', ['-c', command], this.o.runAs, info.term);
      else how.args.push('-l');
    } catch (err) {
      return refuseChannel(channel, err as Error, this.o.log);
    }
    const ptyLib = await loadPty();
    if (!ptyLib) {
      channel.stderr.write('jump-client: no PTY support on this machine (node-pty is missing); running without one\r\n');
      return this.runCommand(channel, command ?? `exec ${how.shell} -i`, record ? sessionId : null);
    }
    const p = ptyLib.spawn(how.file, how.args, {
      name: info.term,
      cols: info.cols,
      rows: info.rows,
      cwd: how.cwd,
      env: how.env as Record<string, string>,
    });
    const rec = record ? new Recorder(sessionId, info, this.o.sendControl) : null;
    p.onData((d) => {
      channel.write(d);
      rec?.output(d);
    });
    channel.on('data', (d: Buffer) => p.write(d.toString('utf8')));
    onResize((cols, rows) => {
      p.resize(cols, rows);
      rec?.resize(cols, rows);
    });
    channel.on('close', () => p.kill());
    return new Promise((resolve) =>
      p.onExit(({ exitCode }) => {
        rec?.flush();
        channel.exit(exitCode);
        channel.end();
        resolve(exitCode);
      }),
    );
  }

  /**
   * Runs `command` with `sh -c` and plain pipes. Resolves with its exit status (128 + n for signal n).
   * With `recordSession`, its stdout and stderr are recorded like a PTY's output (Recorder, 80x24 `dumb`).
   */
  private runCommand(channel: ssh2.ServerChannel, command: string | null, recordSession: string | null = null): Promise<number> {
    let how: SessionSpawn;
    try {
      how = sessionSpawn('/bin/sh', ['-c', command ?? 'exec /bin/sh -i'], this.o.runAs);
    } catch (err) {
      return Promise.resolve(refuseChannel(channel, err as Error, this.o.log));
    }
    const child: ChildProcess = spawn(how.file, how.args, { env: how.env, cwd: how.cwd });
    channel.pipe(child.stdin!);
    child.stdout!.pipe(channel, { end: false });
    child.stderr!.pipe(channel.stderr, { end: false });
    const rec = recordSession === null ? null : new Recorder(recordSession, { cols: 80, rows: 24, term: 'dumb' }, this.o.sendControl);
    if (rec) {
      child.stdout!.on('data', (d: Buffer) => rec.output(d));
      child.stderr!.on('data', (d: Buffer) => rec.output(d));
    }
    channel.on('close', () => child.kill());
    return new Promise((resolve) =>
      child.on('close', (code, signal) => {
        rec?.flush();
        const status = code ?? (signal ? 128 + (signalNumbers[signal] ?? 1) : 1);
        channel.exit(status);
        channel.end();
        resolve(status);
      }),
    );
  }
}

/** Ends a session channel whose process cannot be started as the session user: exit status 1. */
function refuseChannel(channel: ssh2.ServerChannel, err: Error, log: Logger): number {
  log.error({ err: err.message }, 'session process refused');
  channel.stderr.write(`jump-client: ${err.message}\r\n`);
  channel.exit(1);
  channel.end();
  return 1;
}

/** SFTP v3 request types read by SftpAudit (draft-ietf-secsh-filexfer-02 §3). */
const FXP = { OPEN: 3, SETSTAT: 9, FSETSTAT: 10, REMOVE: 13, MKDIR: 14, RMDIR: 15, RENAME: 18, SYMLINK: 20, EXTENDED: 200 } as const;
const FXF = { READ: 1, WRITE: 2, APPEND: 4, CREAT: 8, TRUNC: 0x10 } as const;
/** Requests larger than this (writes with data) are skipped without being buffered, in bytes. */
const SFTP_AUDIT_MAX_PACKET = 64 * 1024;

/**
 * Reads the SFTP requests a client sends (the byte stream into sftp-server) and reports the file
 * operations to the site as `sftp_log` batches: at most one message per 250 ms and 256 operations
 * per message; operations past 256 in one batch are counted and reported as one `open` note.
 * Packets it does not log (reads, writes, stat...) are skipped without buffering their data.
 */
export class SftpAudit {
  private readonly start = performance.now();
  private buf: Buffer = Buffer.alloc(0);
  private skip = 0;
  private ops: [number, (typeof SFTP_OPS)[number], string, string | null][] = [];
  private dropped = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly sessionId: string,
    private readonly send: (msg: AgentSessionMessage) => void,
  ) {}

  /** Feeds bytes the client sent on the SFTP channel. */
  feed(chunk: Buffer): void {
    let data = chunk;
    if (this.skip > 0) {
      const n = Math.min(this.skip, data.length);
      this.skip -= n;
      data = data.subarray(n);
    }
    this.buf = this.buf.length ? Buffer.concat([this.buf, data]) : data;
    while (this.buf.length >= 5) {
      const len = this.buf.readUInt32BE(0);
      const type = this.buf[4];
      const logged = (Object.values(FXP) as number[]).includes(type);
      if (!logged || len > SFTP_AUDIT_MAX_PACKET) {
        const n = Math.min(len + 4, this.buf.length);
        this.skip = len + 4 - n;
        this.buf = this.buf.subarray(n);
        continue;
      }
      if (this.buf.length < len + 4) break;
      this.parse(type, this.buf.subarray(9, len + 4)); // after length, type and request id
      this.buf = this.buf.subarray(len + 4);
    }
    if (this.buf.length === 0) this.buf = Buffer.alloc(0);
    else this.buf = Buffer.from(this.buf); // do not pin the channel's chunk
  }

  private parse(type: number, p: Buffer): void {
    try {
      let off = 0;
      const str = () => {
        const n = p.readUInt32BE(off);
        const s = p.subarray(off + 4, off + 4 + n).toString('utf8');
        off += 4 + n;
        return s;
      };
      /** An SFTP handle (opaque bytes) as `handle:<hex>`. */
      const handle = () => {
        const n = p.readUInt32BE(off);
        const h = p.subarray(off + 4, off + 4 + Math.min(n, 256)).toString('hex');
        off += 4 + n;
        return `handle:${h}`;
      };
      if (type === FXP.FSETSTAT) return this.push('fsetstat', handle(), null);
      if (type === FXP.EXTENDED) return this.extended(str(), str, handle, () => (off += 8));
      const path = str();
      if (type === FXP.OPEN) {
        const f = p.readUInt32BE(off);
        let mode = f & FXF.READ && f & FXF.WRITE ? 'rw' : f & FXF.WRITE ? 'w' : 'r';
        if (f & FXF.CREAT) mode += '+create';
        if (f & FXF.TRUNC) mode += '+trunc';
        if (f & FXF.APPEND) mode += '+append';
        this.push('open', path, mode);
      } else if (type === FXP.RENAME) this.push('rename', path, str());
      else if (type === FXP.SYMLINK) this.push('symlink', path, str());
      else if (type === FXP.REMOVE) this.push('remove', path, null);
      else if (type === FXP.MKDIR) this.push('mkdir', path, null);
      else if (type === FXP.RMDIR) this.push('rmdir', path, null);
      else if (type === FXP.SETSTAT) this.push('setstat', path, null);
    } catch {
      // A malformed request: sftp-server answers it; nothing to log.
    }
  }

  /**
   * Logs an SSH_FXP_EXTENDED request (OpenSSH's sftp renames with posix-rename@openssh.com and
   * links with hardlink@openssh.com): known ones with their paths or handles, any other as
   * `extended` with its name and its first string (when it has one).
   */
  private extended(name: string, str: () => string, handle: () => string, skipU64: () => void): void {
    if (name === 'posix-rename@openssh.com') this.push('posix-rename', str(), str());
    else if (name === 'hardlink@openssh.com') this.push('hardlink', str(), str());
    else if (name === 'lsetstat@openssh.com') this.push('lsetstat', str(), null);
    else if (name === 'copy-data') {
      const from = handle();
      skipU64(); // read offset
      skipU64(); // read length
      this.push('copy-data', from, handle());
    } else if (name === 'fsync@openssh.com' || name === 'fstatvfs@openssh.com') this.push('extended', name, handle());
    else {
      let first: string | null = null;
      try {
        first = str();
      } catch {
        // No argument (limits@openssh.com).
      }
      this.push('extended', name, first);
    }
  }

  private push(op: (typeof SFTP_OPS)[number], path: string, extra: string | null): void {
    if (this.ops.length >= 255) {
      this.dropped++;
      return;
    }
    this.ops.push([Math.round(performance.now() - this.start) / 1000, op, path.slice(0, 4096), extra === null ? null : extra.slice(0, 4096)]);
    this.timer ??= setTimeout(() => this.flush(), 250);
  }

  /** Sends what is pending. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.dropped > 0) {
      this.ops.push([Math.round(performance.now() - this.start) / 1000, 'open', `[jump: ${this.dropped} more operations not logged]`, null]);
      this.dropped = 0;
    }
    if (this.ops.length === 0) return;
    this.send({ t: 'sftp_log', session_id: this.sessionId, ops: this.ops });
    this.ops = [];
  }
}

const signalNumbers: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15, SIGPIPE: 13 };

/**
 * Batches a shell's output into asciicast v2 events and sends them to the site: at most one
 * message per 100 ms per shell, at most 24 KiB of output each (so a `cat` of a large file cannot
 * flood the control connection). Output beyond that is left out of the recording, and a note in
 * the recording says how much.
 */
class Recorder {
  private readonly start = performance.now();
  private events: [number, 'o' | 'r', string][] = [];
  private size = 0;
  private dropped = 0;
  private timer: NodeJS.Timeout | null = null;
  private headerSent = false;

  constructor(
    private readonly sessionId: string,
    private readonly info: PtyInfo,
    private readonly send: (msg: AgentSessionMessage) => void,
  ) {}

  private now(): number {
    return Math.round(performance.now() - this.start) / 1000;
  }

  output(d: string | Buffer): void {
    const b = typeof d === 'string' ? Buffer.from(d, 'utf8') : d;
    if (this.size + b.length > REC_CHUNK_BYTES || this.events.length >= 250) {
      this.dropped += b.length;
      return;
    }
    this.push([this.now(), 'o', b.toString('base64')], b.length);
  }

  resize(cols: number, rows: number): void {
    this.push([this.now(), 'r', `${cols}x${rows}`], 16);
  }

  private push(e: [number, 'o' | 'r', string], bytes: number): void {
    this.events.push(e);
    this.size += bytes;
    this.timer ??= setTimeout(() => this.flush(), REC_FLUSH_MS);
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.dropped > 0) {
      this.events.push([this.now(), 'o', Buffer.from(`\r\n[jump: ${this.dropped} bytes of output not recorded]\r\n`).toString('base64')]);
      this.dropped = 0;
    }
    if (this.events.length === 0 && this.headerSent) return;
    const header = this.headerSent ? undefined : { width: this.info.cols, height: this.info.rows, term: this.info.term.slice(0, 64) };
    this.headerSent = true;
    this.send({ t: 'rec', session_id: this.sessionId, events: this.events, ...(header ? { header } : {}) });
    this.events = [];
    this.size = 0;
  }
}
