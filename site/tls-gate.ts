/**
 * A cap on TLS handshakes in progress, enforced before any TLS work.
 *
 * Every connection costs the site a TLS handshake (about 1 ms of CPU in Node 20 with OpenSSL 3.0,
 * docs/benchmarks.md) before it can even say "busy" (a 503 is an HTTP answer inside TLS). When more
 * agents knock than the node can serve, handshakes queue, admitted agents time out
 * (HANDSHAKE_TIMEOUT) and retry, and the node spends all its time on work it throws away
 * (congestion collapse: docs/benchmarks.md, P1 at 50 000). So the site keeps at most `max`
 * handshakes in progress: a TCP connection over that is closed right after accept, which costs
 * almost nothing, and the agent backs off exponentially (agent/backoff.ts) instead of retrying at
 * once. A handshake ends when TLS is established, fails, or its socket closes.
 */
import type { Socket } from 'node:net';
import type { Server as TlsServer, TLSSocket } from 'node:tls';

export interface TlsGate {
  /** TLS handshakes accepted and not yet finished. */
  readonly inProgress: number;
}

/**
 * Installs the gate on `server` (a `tls.Server` or `https.Server`, before it listens and before any
 * other 'connection' listener is added). `onDrop` is called for each connection closed over the
 * cap. `max` >= 1.
 */
export function gateTlsHandshakes(server: TlsServer, max: number, onDrop: () => void): TlsGate {
  const pending = new WeakSet<Socket>();
  let inProgress = 0;
  const finish = (raw: unknown) => {
    if (raw && pending.delete(raw as Socket)) inProgress--;
  };
  // The TLS server's own 'connection' listener wraps each TCP socket in a TLSSocket. It now runs
  // only for admitted sockets: wrapping one only to close it cost about 200 µs per dropped
  // connection, close to what the drop was meant to save (docs/benchmarks.md).
  const wrapped = server.listeners('connection') as ((raw: Socket) => void)[];
  server.removeAllListeners('connection');
  server.on('connection', (raw: Socket) => {
    if (inProgress >= max) {
      raw.destroy();
      onDrop();
      return;
    }
    pending.add(raw);
    inProgress++;
    raw.once('close', () => finish(raw));
    for (const listener of wrapped) listener.call(server, raw);
  });
  // `_parent` is the TCP socket a server-side TLSSocket wraps (Node's _tls_wrap); the 'close'
  // above is the fallback, and test/integration/capacity.test.ts checks the count returns to 0.
  const parent = (tls: TLSSocket) => (tls as unknown as { _parent?: Socket })._parent;
  server.on('secureConnection', (tls: TLSSocket) => finish(parent(tls)));
  server.on('tlsClientError', (_err: Error, tls: TLSSocket) => finish(parent(tls)));
  return {
    get inProgress() {
      return inProgress;
    },
  };
}
