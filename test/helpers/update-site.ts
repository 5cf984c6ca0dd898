/**
 * A minimal stand-in for the site side of self-update (issue #17), for the agent's tests until the
 * real site side (site/updates.ts) lands: a TLS 1.3 server on 127.0.0.1 with a real site identity
 * (the agent's channel-binding proof runs for real), the control WebSocket (AGENT_WS_PATH: hello,
 * challenge, enroll or auth accepted without checks, welcome with `update_pin`, then an
 * `update_offer` when the agent's version differs from the served build) and the download socket
 * (AGENT_UPDATE_WS_PATH: token, resume offset, binary frames of UPDATE_CHUNK_BYTES).
 *
 * Faults for tests: `served` bytes other than the signed ones (tamper), a signature by another key,
 * a slow download (`chunkDelayMs`, `chunkBytes`) to kill the agent mid-way, and `offerWhen` to hold
 * offers back. It records hellos, update_status messages and downloads (offset, bytes sent).
 */
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { randomBytes, type KeyObject } from 'node:crypto';
import WebSocket, { WebSocketServer } from 'ws';
import { channelBinding, newEd25519Key, newNonce, signAsSite, sitePin } from '../../protocol/handshake.js';
import { AGENT_WS_PATH, type UpdateStatus } from '../../protocol/messages.js';
import { AGENT_UPDATE_WS_PATH, UPDATE_ATTACH_HEADERS, UPDATE_CHUNK_BYTES, sha256Of, signBuild, type ClientPlatform } from '../../protocol/update.js';
import { loadSiteIdentity } from '../../site/identity.js';

/** A build the stand-in offers. */
export interface StandInBuild {
  platform: ClientPlatform;
  version: string;
  /** The bytes signed (their size and sha256 go in the offer). */
  bytes: Buffer;
  /** The bytes actually served (default `bytes`): a tampered copy for the tamper case. */
  served?: Buffer;
  /** The key that signs (default the stand-in's update key): another key for the wrong-key case. */
  signWith?: KeyObject;
  healthTimeoutMs?: number;
  /** Delay between download frames, ms (default 0), and frame size (default UPDATE_CHUNK_BYTES). */
  chunkDelayMs?: number;
  chunkBytes?: number;
  /** Cut the download socket (terminate, no close frame) once this many bytes of the build were sent; once. */
  cutAt?: number;
}

export interface UpdateSiteRecord {
  hellos: { version: string; platform?: string; clientId?: number }[];
  statuses: (UpdateStatus & { clientId: number })[];
  downloads: { clientId: number; offset: number; sent: number; done: boolean }[];
  checks: number;
}

export interface UpdateSite {
  url: string;
  pin: string;
  updatePin: string;
  updateKey: KeyObject;
  record: UpdateSiteRecord;
  /** The build to offer (null: none). */
  build: StandInBuild | null;
  /** Offer only while this returns true (default always). */
  offerWhen: (clientId: number) => boolean;
  /** Live control sockets by client id. */
  sockets: Map<number, WebSocket>;
  /** Sends the current build's offer to a connected client now (as at its welcome). */
  offerNow(clientId: number): void;
  close(): Promise<void>;
}

/** Starts the stand-in on 127.0.0.1 with a fresh identity (in `dataDir`) and update key. */
export async function startUpdateSite(dataDir: string): Promise<UpdateSite> {
  const id = await loadSiteIdentity(dataDir, {});
  const updateKey = newEd25519Key();
  const record: UpdateSiteRecord = { hellos: [], statuses: [], downloads: [], checks: 0 };
  const tokens = new Map<string, { clientId: number; build: StandInBuild }>();
  let nextClient = 1;
  const server: Server = createServer({ key: id.tlsKeyPem, cert: id.tlsCertPem, minVersion: 'TLSv1.3' });
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  const site: UpdateSite = {
    url: '',
    pin: id.pin,
    updatePin: sitePin(updateKey),
    updateKey,
    record,
    build: null,
    offerWhen: () => true,
    sockets: new Map(),
    offerNow: () => undefined,
    close: async () => {
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections();
    },
  };

  const offer = (ws: WebSocket, clientId: number, version: string, platform: string | undefined) => {
    const b = site.build;
    if (!b || b.platform !== platform || b.version === version || !site.offerWhen(clientId)) return;
    // Like the site: a build that failed on a client is not offered to it again (until `jump updates retry`).
    if (record.statuses.some((s) => s.clientId === clientId && s.version === b.version && s.state === 'failed')) return;
    const token = randomBytes(32).toString('base64url');
    tokens.set(token, { clientId, build: b });
    const sha256 = sha256Of(b.bytes);
    const sig = signBuild(b.signWith ?? updateKey, { platform: b.platform, version: b.version, sha256, size: b.bytes.length });
    ws.send(
      JSON.stringify({ t: 'update_offer', version: b.version, platform: b.platform, size: b.bytes.length, sha256, sig, token, health_timeout_ms: b.healthTimeoutMs ?? 20_000 }),
    );
  };

  const versions = new Map<number, { version: string; platform?: string }>();
  site.offerNow = (clientId) => {
    const ws = site.sockets.get(clientId);
    const v = versions.get(clientId);
    if (!ws || !v) throw new Error(`client ${clientId} is not connected`);
    offer(ws, clientId, v.version, v.platform);
  };

  const control = (ws: WebSocket, tls: TLSSocket) => {
    const cb = channelBinding(tls);
    let hello = null as { agent_version: string; platform?: string; nonce: string } | null;
    let clientId = 0;
    ws.on('message', (data) => {
      const m = JSON.parse(String(data)) as Record<string, unknown> & { t: string };
      if (m.t === 'hello') {
        hello = m as unknown as { agent_version: string; platform?: string; nonce: string };
        const siteNonce = newNonce();
        ws.send(JSON.stringify({ t: 'challenge', protocol: 1, nonce: siteNonce, site_sig: signAsSite(id.key, cb, hello!.nonce, siteNonce) }));
      } else if (m.t === 'enroll' || m.t === 'auth') {
        clientId = m.t === 'auth' ? (m.client_id as number) : nextClient++;
        nextClient = Math.max(nextClient, clientId + 1);
        site.sockets.set(clientId, ws);
        versions.set(clientId, { version: hello!.agent_version, platform: hello!.platform });
        record.hellos.push({ version: hello!.agent_version, platform: hello!.platform, clientId });
        ws.send(JSON.stringify({ t: 'welcome', client_id: clientId, heartbeat_ms: 30_000, stats_interval_ms: 60_000, update_pin: site.updatePin }));
        offer(ws, clientId, hello!.agent_version, hello!.platform);
      } else if (m.t === 'hb') {
        ws.send(JSON.stringify({ t: 'hb_ack', seq: m.seq }));
      } else if (m.t === 'update_status') {
        record.statuses.push({ ...(m as unknown as UpdateStatus), clientId });
      } else if (m.t === 'update_check') {
        record.checks++;
        offer(ws, clientId, hello!.agent_version, hello!.platform);
      }
    });
    ws.on('close', () => {
      if (site.sockets.get(clientId) === ws) site.sockets.delete(clientId);
    });
  };

  const download = async (ws: WebSocket, token: string, offset: number) => {
    const t = tokens.get(token);
    if (!t) return ws.close(4001, 'bad token');
    tokens.delete(token);
    const b = t.build;
    const bytes = b.served ?? b.bytes;
    const entry = { clientId: t.clientId, offset, sent: 0, done: false };
    record.downloads.push(entry);
    const step = b.chunkBytes ?? UPDATE_CHUNK_BYTES;
    for (let at = offset; at < bytes.length; at += step) {
      if (ws.readyState !== WebSocket.OPEN) return;
      const chunk = bytes.subarray(at, Math.min(at + step, bytes.length));
      ws.send(chunk, { binary: true });
      entry.sent += chunk.length;
      if (b.cutAt !== undefined && at + chunk.length >= b.cutAt) {
        b.cutAt = undefined;
        // Let what was sent reach the agent, then cut (no close frame).
        while (ws.bufferedAmount > 0) await new Promise((r) => setTimeout(r, 10));
        await new Promise((r) => setTimeout(r, 200));
        ws.terminate();
        return;
      }
      if (b.chunkDelayMs) await new Promise((r) => setTimeout(r, b.chunkDelayMs));
    }
    entry.done = true;
    ws.close(1000, 'done');
  };

  server.on('upgrade', (req, socket, head) => {
    const path = new URL(req.url ?? '/', 'https://x').pathname;
    if (path === AGENT_WS_PATH) wss.handleUpgrade(req, socket, head, (ws) => control(ws, socket as TLSSocket));
    else if (path === AGENT_UPDATE_WS_PATH) {
      const token = String(req.headers[UPDATE_ATTACH_HEADERS.token] ?? '');
      const offset = Number(req.headers[UPDATE_ATTACH_HEADERS.offset] ?? 0);
      wss.handleUpgrade(req, socket, head, (ws) => void download(ws, token, offset));
    } else socket.destroy();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  site.url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return site;
}
