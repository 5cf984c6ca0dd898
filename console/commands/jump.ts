/**
 * The Jump commands: `jump jump` (an interactive shell or one command over SSH through the site's
 * relay), `jump proxy` (the relay on stdin/stdout for OpenSSH) and `jump tunnel` (a local TCP
 * server whose connections are forwarded from the endpoint).
 */
import type { Command } from 'commander';
import { createServer } from 'node:net';
import type { Client as SshClient } from 'ssh2';
import { JumpError } from '../../protocol/errors.js';
import { clientRef, configDir, fail, out, resolveClient, site } from '../cli.js';
import { safeText } from '../format.js';
import type { SiteClient } from '../http.js';
import { connectSsh, ephemeralKey, identityPublicLine, jumpIdentity, openSession, type SessionInfo } from '../ssh.js';

/** `jump jump`'s exit status for its own failures (the remote command's status otherwise), as ssh. */
export const JUMP_OWN_FAILURE = 255;

/**
 * Asks the site for a session into `ref` (openSession). A JUMP_CLIENT_OFFLINE gets since when
 * the jump client is offline and what to check on the endpoint; other errors pass unchanged.
 */
async function openSessionExplained(client: SiteClient, ref: string, kind: 'exec' | 'shell' | 'proxy' | 'tunnel', publicLine: string): Promise<Awaited<ReturnType<typeof openSession>>> {
  try {
    return await openSession(client, ref, kind, publicLine);
  } catch (err) {
    if (err instanceof JumpError && err.code === 'JUMP_CLIENT_OFFLINE') {
      const c = await resolveClient(client, ref).catch(() => null);
      if (c) {
        const since = c.last_disconnected ?? c.last_connected;
        // The console knows which client and since when: its own detail and fix replace the site's.
        throw new JumpError('JUMP_CLIENT_OFFLINE', {
          detail:
            `(client=jump-${c.id} "${c.name}", offline since ${since ?? 'it enrolled, never connected'}).` +
            ` Fix: on the endpoint, check that the jump client runs (\`jump-client status\`) and can reach ${client.siteUrl}.`,
        });
      }
    }
    throw err;
  }
}

/** Runs a command; streams stdout/stderr; resolves with its exit status (255 when there is none). */
function runRemoteCommand(conn: SshClient, command: string): Promise<number> {
  return new Promise((resolve, reject) => {
    conn.exec(command, (err, ch) => {
      if (err) return reject(new JumpError('JUMP_INTERNAL_ERROR', { detail: err.message }));
      let code = 255;
      ch.on('exit', (c: number | null, signal?: string) => (code = c ?? (signal ? 128 + 15 : 255)));
      ch.pipe(process.stdout, { end: false });
      ch.stderr.pipe(process.stderr, { end: false });
      if (process.stdin.isTTY) ch.end();
      else process.stdin.pipe(ch);
      ch.on('close', () => resolve(code));
    });
  });
}

/** An interactive shell on a PTY sized like this terminal; resizes follow. */
function runShell(conn: SshClient): Promise<number> {
  const tty = process.stdout.isTTY;
  return new Promise((resolve, reject) => {
    conn.shell({ term: process.env.TERM ?? 'xterm-256color', cols: process.stdout.columns ?? 80, rows: process.stdout.rows ?? 24 }, (err, ch) => {
      if (err) return reject(new JumpError('JUMP_INTERNAL_ERROR', { detail: err.message }));
      let code = 0;
      if (process.stdin.isTTY) process.stdin.setRawMode(true);
      const onResize = () => ch.setWindow(process.stdout.rows ?? 24, process.stdout.columns ?? 80, 0, 0);
      if (tty) process.stdout.on('resize', onResize);
      process.stdin.pipe(ch);
      ch.pipe(process.stdout, { end: false });
      ch.stderr.pipe(process.stderr, { end: false });
      ch.on('exit', (c: number | null) => (code = c ?? 255));
      ch.on('close', () => {
        if (process.stdin.isTTY) process.stdin.setRawMode(false);
        process.stdin.unpipe(ch);
        if (tty) process.stdout.off('resize', onResize);
        resolve(code);
      });
    });
  });
}

/** `jump jump` (a shell or a command) and `jump proxy` (for OpenSSH ProxyCommand). */
export function registerJumpCommands(program: Command): void {
  program
    .command('jump <id|name> [command...]')
    .description(
      'Jump into a jump client: an interactive shell (needs a terminal), or run COMMAND (after --) and exit with its status. ' +
        'As with ssh, the words of COMMAND are joined with spaces and run by the remote shell; ' +
        'exit status: the remote command\'s, 255 for a failure of jump itself, 2 for a usage error.',
    )
    .action(async (ref: string, command: string[], _o, cmd: Command) => {
      if (command.length === 0 && !process.stdin.isTTY) {
        fail(
          new JumpError('VALIDATION_FAILED', {
            field: 'command',
            detail: `command: standard input is not a terminal, so there is no interactive shell. Fix: give a command after --, e.g. jump jump ${ref} -- uptime`,
          }),
          2,
        );
      }
      let code: number;
      try {
        const client = site(cmd);
        const key = ephemeralKey();
        const { info, stream } = await openSessionExplained(client, clientRef(ref), command.length ? 'exec' : 'shell', key.publicLine);
        const conn = await connectSsh(stream, info.host_key, key.privatePem);
        // Like ssh: the words are joined with spaces and the remote shell parses the line, so
        // `jump jump ID -- 'cd /tmp; ls'` runs both commands.
        code = await (command.length ? runRemoteCommand(conn, command.join(' ')) : runShell(conn));
        conn.end();
      } catch (err) {
        fail(err, JUMP_OWN_FAILURE);
      }
      process.exit(code);
    });

  program
    .command('proxy <id|name>')
    .description('Bridge standard input/output to a jump client, for OpenSSH: ProxyCommand "jump proxy %n".')
    .option('--identity <file>', 'the OpenSSH key ssh will offer (default: <config dir>/id_ed25519)')
    .action(async (ref: string, o, cmd: Command) => {
      const client = site(cmd);
      const publicLine = o.identity ? identityPublicLine(o.identity) : jumpIdentity(configDir()).publicLine;
      const { stream } = await openSessionExplained(client, clientRef(ref), 'proxy', publicLine);
      process.stdin.pipe(stream);
      stream.pipe(process.stdout);
      stream.on('close', () => process.exit(0));
      stream.on('end', () => process.exit(0));
    });
}

/** `jump tunnel`: a local port forwarded through a jump client (the tunnel server). */
export function registerTunnelCommand(program: Command): void {
  program
    .command('tunnel <id|name> <spec>')
    .description('Forward LOCALPORT:HOST:PORT through a jump client (HOST as seen from the endpoint), until interrupted.')
    .option('--bind <address>', 'local address to listen on', '127.0.0.1')
    .action(async (ref: string, spec: string, o, cmd: Command) => {
      const m = /^(\d{1,5}):(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(spec);
      if (!m || Number(m[1]) > 65535 || Number(m[3]) > 65535 || Number(m[3]) === 0) {
        throw new JumpError('VALIDATION_FAILED', { field: 'spec', detail: 'Give LOCALPORT:HOST:PORT, e.g. 8080:127.0.0.1:80 (LOCALPORT 0 picks a free port).' });
      }
      const [localPort, host, port] = [Number(m[1]), m[2].replace(/^\[|\]$/g, ''), Number(m[3])];
      const client = site(cmd);
      // The local port first: a busy one is reported before a session is asked for.
      let conn: SshClient | null = null;
      const server = createServer((sock) => {
        if (!conn) return sock.destroy();
        conn.forwardOut(sock.remoteAddress ?? '127.0.0.1', sock.remotePort ?? 0, host, port, (err, ch) => {
          if (err) {
            process.stderr.write(`JUMP_FORWARD_REFUSED: ${new JumpError('JUMP_FORWARD_REFUSED').message} (${host}:${port})\n`);
            sock.destroy();
            return;
          }
          sock.pipe(ch).pipe(sock);
          sock.on('error', () => ch.close());
          ch.on('close', () => sock.destroy());
        });
      });
      await new Promise<void>((resolve, reject) => {
        server.once('error', (err: NodeJS.ErrnoException) =>
          reject(
            err.code === 'EADDRINUSE'
              ? new JumpError('LOCAL_PORT_IN_USE', { detail: `(${o.bind}:${localPort}). Fix: choose another LOCALPORT, or 0 for a free one.` })
              : new JumpError('VALIDATION_FAILED', { field: '--bind', detail: `--bind: cannot listen on ${o.bind}:${localPort} (${err.code ?? err.message}). Fix: choose a local address and a port you may use (1024 and up).` }),
          ),
        );
        server.listen(localPort, o.bind, () => resolve());
      });
      const key = ephemeralKey();
      let info: SessionInfo;
      try {
        const s = await openSessionExplained(client, clientRef(ref), 'tunnel', key.publicLine);
        info = s.info;
        conn = await connectSsh(s.stream, info.host_key, key.privatePem);
      } catch (err) {
        server.close();
        throw err;
      }
      const ssh = conn;
      const addr = server.address() as { port: number };
      out({ local_port: addr.port, host, port, client: info.name }, `Forwarding ${o.bind}:${addr.port} -> ${host}:${port} via ${safeText(info.name)}. Ctrl-C to stop.`);
      ssh.on('close', () => {
        process.stderr.write('The jump session ended.\n');
        process.exit(1);
      });
      const stop = () => {
        server.close();
        ssh.end();
        process.exit(0);
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
}
