/**
 * A hand-driven agent for the self-update tests (issue #17): it speaks the real handshake with a
 * fake version and platform, keeps every site message, and downloads offered builds on the
 * update socket by hand (token, offset), so the tests need no packaged client.
 */
import type { KeyObject } from 'node:crypto';
import { request as httpsRequest } from 'node:https';
import type { TLSSocket } from 'node:tls';
import WebSocket from 'ws';
import { channelBinding, newEd25519Key, newNonce, parseSitePin, rawPublicKey, signAsAgent, verifySite } from '../../protocol/handshake.js';
import { AGENT_UPDATE_WS_PATH, UPDATE_ATTACH_HEADERS } from '../../protocol/update.js';

export interface UpdateAgent {
  clientId: number;
  key: KeyObject;
  ws: WebSocket;
  /** The welcome, as received. */
  welcome: Record<string, unknown>;
  /** Every site message after the welcome (hb_ack excluded). */
  messages: Record<string, unknown>[];
  closed: Promise<{ code: number; reason: string }>;
  send(msg: Record<string, unknown>): void;
  /** Resolves with the next message of type `t` (or one of `t`) not yet taken (already received or coming), or rejects after `ms`. */
  next(t: string | string[], ms?: number): Promise<Record<string, unknown>>;
  /** Resolves after a heartbeat round trip (every message sent before it has been read by the site), or once the connection closed. */
  roundTrip(): Promise<void>;
  close(): void;
}

type Site = { site_url: string; site_pin: string; key_info: string };

/**
 * Enrolls with `inst` (or authenticates as `opts.clientId` with `opts.key`) reporting
 * `version` and `platform` (omitted when undefined), and stays online with heartbeats.
 */
export async function updateAgent(inst: Site, version: string, platform: string | undefined, opts: { key?: KeyObject; clientId?: number } = {}): Promise<UpdateAgent> {
  const key = opts.key ?? newEd25519Key();
  const ws = new WebSocket(inst.site_url.replace(/^https/, 'wss') + '/agent/v1', { rejectUnauthorized: false });
  let cb: Buffer | null = null;
  ws.on('upgrade', (res) => (cb = channelBinding(res.socket as TLSSocket)));
  ws.on('error', () => undefined);
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  const nonce = newNonce();
  const messages: Record<string, unknown>[] = [];
  const taken = new Set<Record<string, unknown>>();
  const wake = new Set<() => void>();
  let seq = 0;
  const acks = new Map<number, () => void>();
  let beat: NodeJS.Timeout | null = null;
  const welcome = await new Promise<Record<string, unknown>>((resolve, reject) => {
    ws.on('open', () => ws.send(JSON.stringify({ t: 'hello', protocol: 1, agent_version: version, nonce, ...(platform ? { platform } : {}) })));
    ws.once('close', (code, reason) => reject(new Error(`closed ${code} ${reason.toString()}`)));
    ws.on('message', (data) => {
      const m = JSON.parse(data.toString()) as Record<string, unknown>;
      if (m.t === 'challenge') {
        if (!verifySite(parseSitePin(inst.site_pin), m.site_sig as string, cb!, nonce, m.nonce as string)) return reject(new Error('site not verified'));
        const pub = rawPublicKey(key);
        if (opts.clientId !== undefined) {
          ws.send(JSON.stringify({ t: 'auth', client_id: opts.clientId, machine_id: `upd-${pub.slice(0, 8)}`, sig: signAsAgent(key, cb!, nonce, m.nonce as string, String(opts.clientId)) }));
        } else {
          ws.send(JSON.stringify({ t: 'enroll', key_info: inst.key_info, public_key: pub, machine_id: `upd-${pub.slice(0, 8)}`, requested: {}, sig: signAsAgent(key, cb!, nonce, m.nonce as string, pub) }));
        }
      } else if (m.t === 'welcome') {
        beat = setInterval(() => ws.readyState === ws.OPEN && ws.send(JSON.stringify({ t: 'hb', seq: seq++ })), 1000);
        resolve(m);
      } else if (m.t === 'hb_ack') {
        acks.get(m.seq as number)?.();
      } else {
        if (m.t === 'error') reject(new Error(String(m.code)));
        messages.push(m);
        for (const w of wake) w();
      }
    });
  });
  ws.on('close', () => {
    if (beat) clearInterval(beat);
    for (const w of wake) w();
  });
  return {
    clientId: welcome.client_id as number,
    key,
    ws,
    welcome,
    messages,
    closed,
    send: (msg) => ws.send(JSON.stringify(msg)),
    next(t, ms = 15_000) {
      return new Promise((resolve, reject) => {
        const look = () => {
          const m = messages.find((x) => (Array.isArray(t) ? t.includes(x.t as string) : x.t === t) && !taken.has(x));
          if (m) {
            taken.add(m);
            done();
            resolve(m);
          } else if (ws.readyState === ws.CLOSED) {
            done();
            reject(new Error(`connection closed before a ${t}`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`no ${t} within ${ms} ms; got ${JSON.stringify(messages.map((x) => x.t))}`));
        }, ms);
        const done = () => {
          clearTimeout(timer);
          wake.delete(look);
        };
        wake.add(look);
        look();
      });
    },
    roundTrip() {
      const s = 1_000_000 + seq++;
      return new Promise((resolve) => {
        acks.set(s, () => {
          acks.delete(s);
          resolve();
        });
        ws.once('close', () => resolve());
        if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ t: 'hb', seq: s }));
        else resolve();
      });
    },
    close() {
      if (beat) clearInterval(beat);
      ws.terminate();
    },
  };
}

/** The answer to a download: the bytes and the close code, or the HTTP status of a refused upgrade. */
export type Download = { ok: true; data: Buffer; code: number } | { ok: false; status: number };

/** Opens the update socket with `token` (and `offset`) and reads until it closes, or drops it once `stopAfter` bytes arrived. */
export function download(siteUrl: string, token: string, offset?: number | string, stopAfter = Infinity): Promise<Download> {
  return new Promise((resolve) => {
    const headers: Record<string, string> = { [UPDATE_ATTACH_HEADERS.token]: token };
    if (offset !== undefined) headers[UPDATE_ATTACH_HEADERS.offset] = String(offset);
    const ws = new WebSocket(siteUrl.replace(/^https/, 'wss') + AGENT_UPDATE_WS_PATH, { rejectUnauthorized: false, headers });
    const parts: Buffer[] = [];
    ws.on('unexpected-response', (_req, res) => {
      resolve({ ok: false, status: res.statusCode ?? 0 });
      ws.terminate();
    });
    ws.on('error', () => undefined);
    let got = 0;
    ws.on('message', (d) => {
      parts.push(d as Buffer);
      got += (d as Buffer).length;
      if (got >= stopAfter) ws.terminate();
    });
    ws.on('close', (code) => resolve({ ok: true, data: Buffer.concat(parts), code }));
  });
}

/** GET `path` on the site without checking its certificate (for /metrics of a site started with --metrics-open-loopback). */
export function getText(siteUrl: string, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(siteUrl + path, { rejectUnauthorized: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The value of an unlabelled metric (or one with `labels`, e.g. `code="UPDATE_FAILED"`) in Prometheus text; 0 when absent. */
export function metric(text: string, name: string, labels = ''): number {
  const re = new RegExp(`^${name}${labels ? `\\{${labels.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\}` : ''} (\\S+)$`, 'm');
  const m = re.exec(text);
  return m ? Number(m[1]) : 0;
}
