/**
 * A hand-driven agent for tests of the site's Jump error paths: it speaks the real protocol
 * (handshake, enrollment, heartbeats) and then answers `session_open` as told, including ways a
 * faulty or hostile agent might.
 */
import type { KeyObject } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import WebSocket from 'ws';
import { channelBinding, newEd25519Key, newNonce, parseSitePin, rawPublicKey, signAsAgent, verifySite } from '../../protocol/handshake.js';
import { fixtureStats } from './site.js';

/**
 * How the raw agent answers `session_open`: not at all, accept and never attach, refuse with
 * JUMP_INTERNAL_ERROR, drop the connection, or accept and attach the session socket
 * (`accept-and-attach`: the session goes live; the socket is kept in `sessionSockets`).
 */
export type SessionBehaviour = 'ignore' | 'accept-and-stall' | 'refuse-internal' | 'disconnect' | 'accept-and-attach';

export interface RawAgent {
  clientId: number;
  /** The agent's identity key (share it with another raw agent to play a copied key). */
  key: KeyObject;
  ws: WebSocket;
  /** Error codes the site sent after the welcome, in order. */
  errors: string[];
  /** Resolves with the close code and reason when the connection closes. */
  closed: Promise<{ code: number; reason: string }>;
  /** Session sockets attached with `accept-and-attach`, by session id. */
  sessionSockets: Map<string, WebSocket>;
  close(): void;
}

/** How a raw agent identifies itself and what it reports; everything may be hostile. */
export interface RawAgentOptions {
  /** Use this identity key (default: a new one). */
  key?: KeyObject;
  /** Authenticate as this client id (with `key`) instead of enrolling. */
  clientId?: number;
  /** With `clientId`: report this as a copy whose key was made on `key_machine_id` (issue #16 item 5). */
  clone?: { key_machine_id: string };
  machineId?: string;
  /** Requested fields sent with `enroll`, as given (not validated here). */
  requested?: Record<string, unknown>;
  /** Statistics sent after the welcome, as given (default: fixtureStats). */
  stats?: Record<string, unknown>;
  /** Local (source) address of the connection, e.g. `127.0.0.7` (default: the system's choice). */
  localAddress?: string;
  /** Heartbeat interval in ms after the welcome (default 500); 0 sends none (the caller sends its own). */
  heartbeatMs?: number;
}

/**
 * Enrolls with `inst` (or authenticates, with `opts.clientId`) and stays online (heartbeats every
 * 500 ms), answering session starts with `behaviour`. Rejects with Error(<site error code>) when the
 * handshake is refused.
 */
export async function rawAgent(
  inst: { site_url: string; site_pin: string; key_info: string },
  behaviour: SessionBehaviour,
  opts: RawAgentOptions = {},
): Promise<RawAgent> {
  const key = opts.key ?? newEd25519Key();
  const errors: string[] = [];
  const wsBase = inst.site_url.replace(/^https/, 'wss');
  const ws = new WebSocket(wsBase + '/agent/v1', { rejectUnauthorized: false, localAddress: opts.localAddress });
  const sessionSockets = new Map<string, WebSocket>();
  let cb: Buffer | null = null;
  ws.on('upgrade', (res) => (cb = channelBinding(res.socket as TLSSocket)));
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  const nonce = newNonce();
  let beat: NodeJS.Timeout | null = null;
  const clientId = await new Promise<number>((resolve, reject) => {
    ws.on('open', () => ws.send(JSON.stringify({ t: 'hello', protocol: 1, agent_version: '0.1.0', nonce })));
    ws.on('error', reject);
    ws.on('message', (data) => {
      const m = JSON.parse(data.toString());
      if (m.t === 'challenge') {
        if (!verifySite(parseSitePin(inst.site_pin), m.site_sig, cb!, nonce, m.nonce)) return reject(new Error('site not verified'));
        const pub = rawPublicKey(key);
        if (opts.clientId !== undefined) {
          const sig = signAsAgent(key, cb!, nonce, m.nonce, String(opts.clientId));
          ws.send(JSON.stringify({ t: 'auth', client_id: opts.clientId, machine_id: opts.machineId ?? `raw-${pub.slice(0, 8)}`, sig, ...(opts.clone ? { clone: opts.clone } : {}) }));
          return;
        }
        const sig = signAsAgent(key, cb!, nonce, m.nonce, pub);
        ws.send(
          JSON.stringify({ t: 'enroll', key_info: inst.key_info, public_key: pub, machine_id: opts.machineId ?? `raw-${pub.slice(0, 8)}`, requested: opts.requested ?? {}, sig }),
        );
      } else if (m.t === 'welcome') {
        ws.send(JSON.stringify({ t: 'stats', full: true, stats: opts.stats ?? fixtureStats({ hostname: `raw-${behaviour}` }) }));
        let seq = 0;
        const every = opts.heartbeatMs ?? 500;
        if (every > 0) beat = setInterval(() => ws.send(JSON.stringify({ t: 'hb', seq: seq++ })), every);
        resolve(m.client_id);
      } else if (m.t === 'session_open') {
        if (behaviour === 'accept-and-stall') ws.send(JSON.stringify({ t: 'session_accepted', session_id: m.session_id }));
        else if (behaviour === 'refuse-internal') ws.send(JSON.stringify({ t: 'session_refused', session_id: m.session_id, code: 'JUMP_INTERNAL_ERROR' }));
        else if (behaviour === 'disconnect') ws.terminate();
        else if (behaviour === 'accept-and-attach') {
          ws.send(JSON.stringify({ t: 'session_accepted', session_id: m.session_id }));
          const s = new WebSocket(wsBase + '/agent/v1/session', {
            rejectUnauthorized: false,
            localAddress: opts.localAddress,
            headers: { 'x-jump-session-id': m.session_id, 'x-jump-session-token': m.token },
          });
          s.on('error', () => undefined);
          sessionSockets.set(m.session_id, s);
          s.once('close', () => sessionSockets.delete(m.session_id));
        }
      } else if (m.t === 'error') {
        errors.push(m.code);
        reject(Object.assign(new Error(m.code), { message_text: m.message }));
      }
    });
  });
  ws.on('close', () => beat && clearInterval(beat));
  return {
    clientId,
    key,
    ws,
    errors,
    closed,
    sessionSockets,
    close() {
      if (beat) clearInterval(beat);
      for (const s of sessionSockets.values()) s.terminate();
      ws.terminate();
    },
  };
}
