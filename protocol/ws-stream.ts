/**
 * A WebSocket as a byte stream, for the Jump session sockets (agent, site relay, console).
 *
 * `ws`'s `createWebSocketStream` only pushes end-of-stream when the socket closes; a consumer that
 * never ends its own writable side (ssh2) then never sees `close`, and the session never ends.
 * This wrapper destroys the stream when the socket closes, and absorbs stream errors (the socket's
 * own `close` is what callers act on).
 */
import type { Duplex } from 'node:stream';
import { createWebSocketStream, type WebSocket } from 'ws';

export function sessionStream(ws: WebSocket): Duplex {
  const stream = createWebSocketStream(ws);
  stream.on('error', () => undefined);
  ws.once('close', () => stream.destroy());
  return stream;
}
