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
 *
 * The slots are a target for an unauthenticated lockout (docs/security.md): a stranger who opens
 * sockets and sends nothing would hold every slot and make the site refuse everyone. Three rules
 * keep the slots for the people they are for:
 *
 * - Per source address: at most `maxPerAddress` handshakes in progress from one IPv4 address or one
 *   IPv6 /56 (site/source-address.ts).
 * - Hello timer: `helloTimeoutMs` after accept, a connection that has sent nothing is closed, and so
 *   is one from an unknown address that has not finished TLS (a byte now and then must not buy a
 *   stranger the full 10 s TLS limit). A real client sends its ClientHello at once and finishes in a
 *   few round trips.
 * - Reserved share: `reserved` slots are usable only by known addresses, those that recently
 *   authenticated as a jump client or a technician (`markKnown`; after a restart the site marks the
 *   addresses its jump clients were last seen from). Unknown addresses share the rest, so a flood
 *   from many addresses still leaves reconnecting agents and technicians a way in.
 */
import type { Socket } from 'node:net';
import type { Server as TlsServer, TLSSocket } from 'node:tls';
import { addressKey } from './source-address.js';

/** Why a connection was closed before TLS (the `reason` label of jump_site_connections_dropped_total). */
export type DropReason = 'handshakes' | 'per_address' | 'hello_timeout' | 'stranger_timeout';

export interface TlsGateOptions {
  /** Handshakes in progress at once, site-wide; >= 1. Default 128 (`DEFAULT_TLS_GATE.max`). */
  max?: number;
  /** Handshakes in progress at once from one IPv4 address or IPv6 /56; >= 1. Default 8. */
  maxPerAddress?: number;
  /** Slots kept for known addresses, 0 <= reserved < max. Default a quarter of `max`. */
  reserved?: number;
  /** Time (ms) a new connection has to send its first byte, and an unknown address's to finish TLS. Default 3 000. */
  helloTimeoutMs?: number;
  /** How many known addresses are remembered (least recently seen are forgotten first). Default 100 000. */
  knownCapacity?: number;
  /** How long (ms) an address stays known after it last authenticated. Default 7 days. */
  knownTtlMs?: number;
  /** Called for each connection closed before TLS. */
  onDrop?: (reason: DropReason) => void;
  /** The clock (ms since the epoch); tests inject one. */
  now?: () => number;
}

/** The defaults of `TlsGateOptions` (one place: the site's CLI reads them). */
export const DEFAULT_TLS_GATE = {
  max: 128,
  maxPerAddress: 8,
  helloTimeoutMs: 3_000,
  knownCapacity: 100_000,
  knownTtlMs: 7 * 24 * 3600_000,
} as const;

export interface TlsGate {
  /** TLS handshakes accepted and not yet finished. */
  readonly inProgress: number;
  /**
   * Remembers `address` as known (an authenticated jump client or technician) as of `at` (ms since
   * the epoch, default now): it may use the reserved slots until `knownTtlMs` after that.
   */
  markKnown(address: string, at?: number): void;
  /** True when `address` is known and its mark has not expired. */
  isKnown(address: string): boolean;
}

/**
 * Installs the gate on `server` (a `tls.Server` or `https.Server`, before it listens and before any
 * other 'connection' listener is added). Throws `RangeError` when an option is out of range.
 */
export function gateTlsHandshakes(server: TlsServer, options: TlsGateOptions = {}): TlsGate {
  const max = options.max ?? DEFAULT_TLS_GATE.max;
  const maxPerAddress = options.maxPerAddress ?? DEFAULT_TLS_GATE.maxPerAddress;
  const reserved = options.reserved ?? Math.floor(max / 4);
  const helloTimeoutMs = options.helloTimeoutMs ?? DEFAULT_TLS_GATE.helloTimeoutMs;
  const knownCapacity = options.knownCapacity ?? DEFAULT_TLS_GATE.knownCapacity;
  const knownTtlMs = options.knownTtlMs ?? DEFAULT_TLS_GATE.knownTtlMs;
  const now = options.now ?? Date.now;
  const onDrop = options.onDrop ?? (() => undefined);
  if (!(max >= 1)) throw new RangeError('max TLS handshakes must be at least 1');
  if (!(maxPerAddress >= 1)) throw new RangeError('max TLS handshakes per address must be at least 1');
  if (!(reserved >= 0 && reserved < max)) throw new RangeError(`reserved TLS handshake slots must be from 0 to ${max - 1}`);

  /** Sockets in handshake, with the address key they count against. */
  const pending = new Map<Socket, string>();
  const perAddress = new Map<string, number>();
  /** Known address keys → when last marked (ms); Map order is least recently marked first. */
  const known = new Map<string, number>();

  const isKnownKey = (key: string): boolean => {
    const at = known.get(key);
    if (at === undefined) return false;
    if (now() - at <= knownTtlMs) return true;
    known.delete(key);
    return false;
  };
  const finish = (raw: unknown) => {
    const key = pending.get(raw as Socket);
    if (key === undefined) return;
    pending.delete(raw as Socket);
    const n = (perAddress.get(key) ?? 1) - 1;
    if (n <= 0) perAddress.delete(key);
    else perAddress.set(key, n);
  };
  const drop = (raw: Socket, reason: DropReason) => {
    raw.destroy();
    onDrop(reason);
  };

  // The TLS server's own 'connection' listener wraps each TCP socket in a TLSSocket. It now runs
  // only for admitted sockets: wrapping one only to close it cost about 200 µs per dropped
  // connection, close to what the drop was meant to save (docs/benchmarks.md).
  const wrapped = server.listeners('connection') as ((raw: Socket) => void)[];
  server.removeAllListeners('connection');
  server.on('connection', (raw: Socket) => {
    const key = addressKey(raw.remoteAddress ?? '');
    const fromAddress = perAddress.get(key) ?? 0;
    if (fromAddress >= maxPerAddress) return drop(raw, 'per_address');
    const limit = isKnownKey(key) ? max : max - reserved;
    if (pending.size >= limit) return drop(raw, 'handshakes');
    pending.set(raw, key);
    perAddress.set(key, fromAddress + 1);
    raw.once('close', () => finish(raw));
    // After the wrap the TLS layer reads the TCP handle itself; the handle's byte count still shows
    // whether anything arrived.
    const hello = setTimeout(() => {
      if (!pending.has(raw)) return;
      if (raw.bytesRead === 0) drop(raw, 'hello_timeout');
      else if (!isKnownKey(key)) drop(raw, 'stranger_timeout');
    }, helloTimeoutMs);
    hello.unref();
    raw.once('close', () => clearTimeout(hello));
    for (const listener of wrapped) listener.call(server, raw);
  });
  // `_parent` is the TCP socket a server-side TLSSocket wraps (Node's _tls_wrap); the 'close'
  // above is the fallback, and test/integration/capacity.test.ts checks the count returns to 0.
  const parent = (tls: TLSSocket) => (tls as unknown as { _parent?: Socket })._parent;
  server.on('secureConnection', (tls: TLSSocket) => finish(parent(tls)));
  server.on('tlsClientError', (_err: Error, tls: TLSSocket) => finish(parent(tls)));
  return {
    get inProgress() {
      return pending.size;
    },
    markKnown(address: string, at = now()) {
      const key = addressKey(address);
      if (now() - at > knownTtlMs || at < (known.get(key) ?? -Infinity)) return;
      known.delete(key);
      known.set(key, at);
      if (known.size > knownCapacity) known.delete(known.keys().next().value as string);
    },
    isKnown(address: string) {
      return isKnownKey(addressKey(address));
    },
  };
}
