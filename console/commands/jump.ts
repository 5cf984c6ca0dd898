/**
 * The Jump commands: `jump jump` (an interactive shell or one command over SSH through the site's
 * relay), `jump proxy` (the relay on stdin/stdout for OpenSSH) and `jump tunnel` (a local TCP
 * server whose connections are forwarded from the endpoint).
 */
import type { Command } from 'commander';
import { createServer } from 'node:net';
import shellQuote from 'shell-quote';
import type { Client as SshClient } from 'ssh2';
import { JumpError } from '../../protocol/errors.js';
import { clientRef, configDir, out, site } from '../cli.js';
import { safeText } from '../format.js';
import { connectSsh, ephemeralKey, identityPublicLine, jumpIdentity, openSession } from '../ssh.js';

const { quote } = shellQuote;

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
    .description('Jump into a jump client: an interactive shell, or run COMMAND (after --) and exit with its status.')
    .action(async (ref: string, command: string[], _o, cmd: Command) => {
      const client = site(cmd);
      const key = ephemeralKey();
      const { info, stream } = await openSession(client, clientRef(ref), command.length ? 'exec' : 'shell', key.publicLine);
      const conn = await connectSsh(stream, info.host_key, key.privatePem);
      const code = await (command.length ? runRemoteCommand(conn, quote(command)) : runShell(conn));
      conn.end();
      process.exit(code);
    });

  program
    .command('proxy <id|name>')
    .description('Bridge standard input/output to a jump client, for OpenSSH: ProxyCommand "jump proxy %n".')
    .option('--identity <file>', 'the OpenSSH key ssh will offer (default: <config dir>/id_ed25519)')
    .action(async (ref: string, o, cmd: Command) => {
      const client = site(cmd);
      const publicLine = o.identity ? identityPublicLine(o.identity) : jumpIdentity(configDir()).publicLine;
      const { stream } = await openSession(client, clientRef(ref), 'proxy', publicLine);
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
      const key = ephemeralKey();
      const { info, stream } = await openSession(client, clientRef(ref), 'tunnel', key.publicLine);
      const conn = await connectSsh(stream, info.host_key, key.privatePem);
      const server = createServer((sock) => {
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
      server.listen(localPort, o.bind, () => {
        const addr = server.address() as { port: number };
        out({ local_port: addr.port, host, port, client: info.name }, `Forwarding ${o.bind}:${addr.port} -> ${host}:${port} via ${safeText(info.name)}. Ctrl-C to stop.`);
      });
      conn.on('close', () => {
        process.stderr.write('The jump session ended.\n');
        process.exit(1);
      });
      const stop = () => {
        server.close();
        conn.end();
        process.exit(0);
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
}
