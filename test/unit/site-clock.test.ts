/**
 * The site's time rules on a manual clock (protocol/clock.ts): heartbeat loss in the agent gateway,
 * admission of new agent connections, and the Jump session broker's ticket expiry and connect
 * timeout. No real heartbeat or timeout is waited out.
 */
import { EventEmitter } from 'node:events';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Duplex } from 'node:stream';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AGENT_WS_PATH, type SiteMessage } from '../../protocol/messages.js';
import { ticketSchema } from '../../protocol/messages.js';
import { verifyTicket } from '../../protocol/ticket.js';
import { AgentGateway, GATEWAY_DEFAULTS, type AgentLink } from '../../site/agent-gateway.js';
import { installerRefusal } from '../../site/installers.js';
import { BROKER_DEFAULTS, SessionBroker } from '../../site/sessions.js';
import { SqliteStore } from '../../site/store/sqlite.js';
import type { Store, User } from '../../site/store/store.js';
import { ManualClock } from '../../protocol/clock.js';

const log = pino({ level: 'silent' });
const siteKey = generateKeyPairSync('ed25519');

/** The part of a `ws` WebSocket the gateway uses once an agent is authenticated. */
class FakeAgentSocket extends EventEmitter {
  readonly OPEN = 1;
  readyState = 1;
  sent: string[] = [];
  terminated = false;
  send(text: string): void {
    this.sent.push(text);
  }
  terminate(): void {
    this.terminated = true;
    this.readyState = 3;
    this.emit('close');
  }
  close(): void {
    this.terminate();
  }
  ping(): void {}
}

/** A store that records what the gateway writes about connections. */
function connectionStore(): Store & { offline: number[] } {
  const offline: number[] = [];
  return {
    offline,
    setClientOnline: async () => {},
    setClientOffline: async (id: number) => {
      offline.push(id);
    },
  } as unknown as Store & { offline: number[] };
}

type StartSession = (ws: unknown, id: number, remote: string, machine: string, version: string, release: () => void) => Promise<void>;

/** Brings agent `clientId` online on `fake` as a finished handshake would; `release` ends its admission. */
async function online(gw: AgentGateway, fake: FakeAgentSocket, clientId: number, release: () => void = () => undefined): Promise<void> {
  const start = (gw as unknown as { startSession: StartSession }).startSession;
  await start.call(gw, fake, clientId, '192.0.2.1', 'm', '1.0.0', release);
}

describe('agent gateway: heartbeat loss', () => {
  it('disconnects an agent silent for more than 1.5 heartbeat intervals, and not one that beats', async () => {
    const clock = new ManualClock();
    const store = connectionStore();
    const gw = new AgentGateway({ store, identityKey: siteKey.privateKey, log, clock, heartbeatMs: 1_000 });
    const silent = new FakeAgentSocket();
    const beating = new FakeAgentSocket();
    await online(gw, silent, 1);
    await online(gw, beating, 2);
    expect(gw.connectedCount).toBe(2);
    expect(JSON.parse(silent.sent[0])).toMatchObject({ t: 'welcome', client_id: 1, heartbeat_ms: 1_000 });

    for (let seq = 0; seq < 4; seq++) {
      clock.advance(500);
      beating.emit('message', Buffer.from(JSON.stringify({ t: 'hb', seq })), false);
    }
    // 2 s without a word (> 1.5 intervals): gone; the beating one stays, its beats acknowledged.
    expect(silent.terminated).toBe(true);
    expect(beating.terminated).toBe(false);
    expect(gw.isConnected(1)).toBe(false);
    expect(gw.isConnected(2)).toBe(true);
    expect(store.offline).toEqual([1]);
    expect(beating.sent.slice(1).map((m) => JSON.parse(m))).toEqual([0, 1, 2, 3].map((seq) => ({ t: 'hb_ack', seq })));
    await gw.close();
  });

  it('keeps an agent through exactly 1.5 intervals of silence (the bound is "more than")', async () => {
    const clock = new ManualClock();
    const gw = new AgentGateway({ store: connectionStore(), identityKey: siteKey.privateKey, log, clock, heartbeatMs: 1_000 });
    const fake = new FakeAgentSocket();
    await online(gw, fake, 7);
    clock.advance(1_500);
    expect(fake.terminated).toBe(false);
    clock.advance(250);
    expect(fake.terminated).toBe(true);
    await gw.close();
  });
});

describe('agent gateway: admission', () => {
  /** An upgrade request to the agent endpoint on a socket that keeps what the gateway writes. */
  function upgrade(gw: AgentGateway): string {
    let out = '';
    const socket = new Duplex({
      read() {},
      write(chunk, _enc, cb) {
        out += String(chunk);
        cb();
      },
    });
    const req = { method: 'GET', url: AGENT_WS_PATH, headers: {}, socket: { remoteAddress: '192.0.2.9' } } as unknown as IncomingMessage;
    gw.handleUpgrade(req, socket, Buffer.alloc(0));
    return out;
  }

  it('admits the rate per second and tells the rest when to come back, by the clock', async () => {
    const clock = new ManualClock();
    const gw = new AgentGateway({ store: connectionStore(), identityKey: siteKey.privateKey, log, clock, admissionRate: 2 });
    // Admitted callers reach the WebSocket handshake (which refuses these header-less requests with 400).
    expect(upgrade(gw)).not.toMatch(/^HTTP\/1.1 503/);
    expect(upgrade(gw)).not.toMatch(/^HTTP\/1.1 503/);
    const third = upgrade(gw);
    expect(third).toMatch(/^HTTP\/1.1 503/);
    expect(third).toMatch(/X-Retry-After-Ms: 500\r\n/);
    // The next caller is queued behind the third: one slot (1 / rate) later.
    expect(upgrade(gw)).toMatch(/X-Retry-After-Ms: 1000\r\n/);
    clock.advance(1_000);
    expect(upgrade(gw)).not.toMatch(/^HTTP\/1.1 503/);
    await gw.close();
  });

  it('ends an admission as the agent joins the connected set, before its online mark is written (never counted twice against --max-agents)', async () => {
    const clock = new ManualClock();
    let written!: () => void;
    const store = { ...connectionStore(), setClientOnline: () => new Promise<void>((r) => (written = r)) } as unknown as Store;
    const gw = new AgentGateway({ store, identityKey: siteKey.privateKey, log, clock, maxAgents: 2 });
    let connectedWhenReleased = -1;
    const starting = online(gw, new FakeAgentSocket(), 1, () => (connectedWhenReleased = gw.connectedCount));
    // The store has not answered yet: the agent is connected and no longer pending.
    await Promise.resolve();
    expect(connectedWhenReleased).toBe(1);
    written();
    await starting;
    await gw.close();
  });

  it('uses GATEWAY_DEFAULTS when no option is given', async () => {
    const clock = new ManualClock();
    const gw = new AgentGateway({ store: connectionStore(), identityKey: siteKey.privateKey, log, clock });
    const fake = new FakeAgentSocket();
    await online(gw, fake, 3);
    expect(JSON.parse(fake.sent[0])).toMatchObject({ heartbeat_ms: GATEWAY_DEFAULTS.heartbeatMs, stats_interval_ms: GATEWAY_DEFAULTS.statsIntervalMs });
    await gw.close();
  });
});

describe('session broker: ticket expiry and connect timeout', () => {
  let dir: string;
  let store: SqliteStore;
  let admin: User;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'jump-broker-'));
    store = new SqliteStore(join(dir, 'site.db'));
    admin = await store.createUser({ name: 'admin', role: 'admin', passwordHash: 'x', viewPersonalGroups: false, now: 1 });
    const g = (await store.getGroupByName('user:admin'))!;
    await store.createInstaller({
      uid: 'u1', name: null, keyHash: 'k1', createdAt: 1, expiresAt: Date.now() + 60_000, maxUses: 1, uses: 0, revokedAt: null,
      jumpGroupId: g.id, tag: '', comments: '', mode: 'active', allowOverride: [], createdBy: admin.id,
    });
    const agentKey = generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' }).subarray(-32).toString('base64url');
    await store.enroll({ keyHash: 'k1', publicKey: agentKey, machineId: 'm', name: 'web-1', jumpGroupId: g.id, tag: '', comments: '', now: 2, mode: 'active', limits: { maxTotal: null, maxActive: null }, checkInstaller: installerRefusal });
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** An agent link with client 1 connected, keeping what the broker sends it. */
  function link(sent: SiteMessage[]): AgentLink {
    return {
      isConnected: (id) => id === 1,
      agentVersion: () => '1.0.0',
      connection: () => ({}),
      send: (_id, msg) => (sent.push(msg), true),
      waitOnline: async (id) => id === 1,
    };
  }

  const sshKey = (() => {
    const raw = generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
    const type = Buffer.from('ssh-ed25519');
    const u32 = (n: number) => Buffer.from([n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]);
    return `ssh-ed25519 ${Buffer.concat([u32(type.length), type, u32(raw.length), raw]).toString('base64')}`;
  })();

  it('signs a ticket valid from now for ticketTtlMs, and fails the start at the connect timeout', async () => {
    const clock = new ManualClock();
    const sent: SiteMessage[] = [];
    const broker = new SessionBroker({ store, gateway: link(sent), identityKey: siteKey.privateKey, dataDir: dir, log, version: '1.0.0', clock, ticketTtlMs: 5_000 });
    const start = broker.start(admin, '1', sshKey, 'shell');
    const outcome = start.then(
      () => 'started',
      (err: { code?: string }) => err.code,
    );
    await expect.poll(() => sent.length).toBe(1);
    const open = sent[0];
    if (open.t !== 'session_open') throw new Error(`expected session_open, got ${open.t}`);
    const ticket = ticketSchema.parse(JSON.parse(open.ticket));
    expect(ticket.iat).toBe(clock.now());
    expect(ticket.exp).toBe(clock.now() + 5_000);
    expect(verifyTicket(open, siteKey.publicKey, 1)).toMatchObject({ sid: open.session_id, exp: clock.now() + 5_000 });

    // The agent never accepts: JUMP_CONNECT_TIMEOUT after connectTimeoutMs, not a moment before.
    clock.advance(BROKER_DEFAULTS.connectTimeoutMs - 1);
    await Promise.resolve();
    expect(await Promise.race([outcome, new Promise((r) => setTimeout(() => r('pending'), 20))])).toBe('pending');
    clock.advance(1);
    expect(await outcome).toBe('JUMP_CONNECT_TIMEOUT');
    expect(await store.getSession(open.session_id)).toMatchObject({ endReason: 'JUMP_CONNECT_TIMEOUT', endedAt: clock.now() });
    broker.close();
  });
});
