/**
 * A TCP relay with injectable network faults, between an agent (or any client) and a real site
 * (docs/reliability.md section 3). node:net only; it forwards both ways and can:
 * - `halfOpen()`: stop forwarding on every open connection, silently: bytes are read and dropped,
 *   and a close by one side is not passed to the other (no FIN, no RST), as when a NAT or a
 *   firewall forgets the flow;
 * - `throttle(bytesPerSecond)`: forward site-to-client at that rate with backpressure (a slow
 *   reader: the site's writes pile up on its side);
 * - `resetMidRecord()`: on the next TLS record from either side, forward its header and half of
 *   its body, then reset both sockets (`resetAndDestroy`: an RST, not a FIN);
 * - new connections by `mode`: `forward`; `stall` (TCP accepted, nothing forwarded or closed: a
 *   site that never starts its TLS handshake); `reset` (accepted, then reset at once: a site
 *   refusing); `freeze-after` (forward until the client has sent `freezeAfterRecords` TLS
 *   application-data records, then behave as half-open: a link lost mid-handshake).
 *
 * `accepts` holds the time (ms, Date.now) of every connection the relay accepted: the client's
 * reconnect attempts.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';

export type ProxyMode = 'forward' | 'stall' | 'reset' | 'freeze-after';

/** One relayed connection. */
export interface ProxyPair {
  client: Socket;
  site: Socket | null;
  /** Bytes are read and dropped in both directions. */
  frozen: boolean;
  /** Set by resetMidRecord: the next record from either side is cut. */
  cutNextRecord: boolean;
  /** Site-to-client bytes per second, or null for no limit. */
  rate: number | null;
  /** Client-to-site TLS application-data records seen. */
  clientAppRecords: number;
  closed: boolean;
}

export interface FaultProxy {
  port: number;
  /** `https://127.0.0.1:<port>`. */
  url: string;
  /** Times (ms) of each accepted connection. */
  accepts: number[];
  pairs: ProxyPair[];
  /** How new connections are treated. */
  mode: ProxyMode;
  /** For `freeze-after`: application-data records the client may send before the link freezes. */
  freezeAfterRecords: number;
  halfOpen(): void;
  throttle(bytesPerSecond: number | null): void;
  resetMidRecord(): void;
  /** Open pairs (neither side closed). */
  open(): ProxyPair[];
  close(): Promise<void>;
}

/** TLS record header: content type (1 byte), version (2), length (2). 23 = application data. */
const TLS_HEADER = 5;
const TLS_APPLICATION_DATA = 23;

/**
 * Splits a byte stream into TLS records across chunks: `feed(chunk)` returns the chunk's bytes
 * with the offsets where each record ends, and the type of each.
 */
class RecordCounter {
  private header = Buffer.alloc(0);
  private remaining = 0;
  private type = 0;

  /** Calls `onEnd(offsetAfterRecord, type)` for every record that ends in `chunk`; `onStart(offsetOfBody, length, type)` when a body starts. */
  feed(chunk: Buffer, onEnd: (offset: number, type: number) => boolean | void, onStart?: (offset: number, length: number, type: number) => boolean | void): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.remaining === 0) {
        const need = TLS_HEADER - this.header.length;
        this.header = Buffer.concat([this.header, chunk.subarray(i, i + need)]);
        i += Math.min(need, chunk.length - i);
        if (this.header.length < TLS_HEADER) return;
        this.type = this.header[0];
        this.remaining = this.header.readUInt16BE(3);
        this.header = Buffer.alloc(0);
        if (onStart?.(i, this.remaining, this.type)) return;
        if (this.remaining === 0 && onEnd(i, this.type)) return;
        continue;
      }
      const take = Math.min(this.remaining, chunk.length - i);
      i += take;
      this.remaining -= take;
      if (this.remaining === 0 && onEnd(i, this.type)) return;
    }
  }
}

/** Starts a relay on 127.0.0.1 (a free port) to `targetPort` on 127.0.0.1. */
export async function startFaultProxy(targetPort: number): Promise<FaultProxy> {
  const pairs: ProxyPair[] = [];
  const accepts: number[] = [];
  const sockets = new Set<Socket>();

  const proxy: FaultProxy = {
    port: 0,
    url: '',
    accepts,
    pairs,
    mode: 'forward',
    freezeAfterRecords: 3,
    halfOpen() {
      for (const p of pairs) p.frozen = true;
    },
    throttle(bytesPerSecond) {
      for (const p of pairs) if (!p.closed) p.rate = bytesPerSecond;
    },
    resetMidRecord() {
      for (const p of pairs) if (!p.closed) p.cutNextRecord = true;
    },
    open: () => pairs.filter((p) => !p.closed),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };

  const track = (s: Socket) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.once('close', () => sockets.delete(s));
  };

  const server: Server = createServer((client) => {
    accepts.push(Date.now());
    track(client);
    const pair: ProxyPair = { client, site: null, frozen: false, cutNextRecord: false, rate: null, clientAppRecords: 0, closed: false };
    pairs.push(pair);
    const closeBoth = () => {
      pair.closed = true;
      // Half-open: a close is lost like any other packet; the other side is not told (its socket
      // stays open until the relay closes).
      if (pair.frozen) return;
      client.destroy();
      pair.site?.destroy();
    };
    client.once('close', closeBoth);
    if (proxy.mode === 'reset') {
      client.resetAndDestroy();
      pair.closed = true;
      return;
    }
    if (proxy.mode === 'stall') {
      // Read and drop: the client's ClientHello goes nowhere, and nothing ever comes back.
      pair.frozen = true;
      client.on('data', () => undefined);
      return;
    }
    const freezeAfter = proxy.mode === 'freeze-after' ? proxy.freezeAfterRecords : null;
    const site = createConnection(targetPort, '127.0.0.1');
    pair.site = site;
    track(site);
    site.once('close', closeBoth);

    const cut = () => {
      pair.closed = true;
      client.resetAndDestroy();
      site.resetAndDestroy();
    };
    /** Forwards `chunk` from `from` to `to`, cutting mid-record when asked. */
    const relay = (from: 'client' | 'site', counter: RecordCounter) => (chunk: Buffer) => {
      if (pair.frozen || pair.closed) return;
      const to = from === 'client' ? site : client;
      let end = chunk.length;
      let freezeHere = false;
      let cutHere = false;
      counter.feed(
        chunk,
        (offset, type) => {
          if (from === 'client' && type === TLS_APPLICATION_DATA && freezeAfter !== null) {
            pair.clientAppRecords++;
            if (pair.clientAppRecords >= freezeAfter) {
              end = offset;
              freezeHere = true;
              return true;
            }
          }
        },
        (offset, length) => {
          if (pair.cutNextRecord && length > 1) {
            end = offset + Math.floor(length / 2);
            cutHere = true;
            return true;
          }
        },
      );
      const out = chunk.subarray(0, Math.min(end, chunk.length));
      // Through the queue while it holds bytes, even after the throttle is lifted: never reorder.
      if (from === 'site' && (pair.rate !== null || queued > 0)) slowWrite(out);
      else to.write(out);
      if (cutHere) return void setImmediate(cut);
      if (freezeHere) pair.frozen = true;
    };

    // Site-to-client under a throttle: a queue drained `rate` bytes per second; the site socket is
    // paused while more than 64 KiB wait, so the site itself sees a slow reader.
    const queue: Buffer[] = [];
    let queued = 0;
    let drainTimer: NodeJS.Timeout | null = null;
    const slowWrite = (buf: Buffer) => {
      queue.push(buf);
      queued += buf.length;
      if (queued > 64 * 1024) site.pause();
      drainTimer ??= setInterval(() => {
        if (pair.closed) {
          clearInterval(drainTimer!);
          return;
        }
        let budget = Math.max(1, Math.floor((pair.rate ?? Infinity) / 20));
        while (budget > 0 && queue.length > 0 && !pair.frozen) {
          const head = queue[0];
          const part = head.subarray(0, budget);
          client.write(part);
          budget -= part.length;
          queued -= part.length;
          if (part.length === head.length) queue.shift();
          else queue[0] = head.subarray(part.length);
        }
        if (queued <= 64 * 1024) site.resume();
        if (queue.length === 0 && pair.rate === null) {
          clearInterval(drainTimer!);
          drainTimer = null;
        }
      }, 50);
    };
    client.once('close', () => drainTimer && clearInterval(drainTimer));

    client.on('data', relay('client', new RecordCounter()));
    site.on('data', relay('site', new RecordCounter()));
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.port = (server.address() as { port: number }).port;
  proxy.url = `https://127.0.0.1:${proxy.port}`;
  return proxy;
}
