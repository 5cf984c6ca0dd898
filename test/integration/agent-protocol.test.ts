/**
 * The agent endpoint at its edges: admission rate, malformed and oversized messages, forged
 * signatures, and statistics updates sent as deltas.
 *
 * Each test makes what it needs (its own installer, client or connections): none depends on
 * another's leftovers or on the order they run in.
 */
import { generateKeyPairSync } from 'node:crypto';
import { Writable } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { pino } from 'pino';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from '../../agent/agent.js';
import { channelBinding, newNonce, rawPublicKey, signAsAgent } from '../../protocol/handshake.js';
import type { Stats } from '../../protocol/messages.js';
import { cleanup, waitFor } from '../helpers/processes.js';
import { createInstaller, fixtureStats, inProcessAgent, listClients, startTestSite, type ClientJson, type TestSite } from '../helpers/site.js';

let site: TestSite;
const agents: Agent[] = [];
beforeAll(async () => {
  site = await startTestSite({ statsInterval: '1s', extraArgs: ['--admission-rate', '5'] });
});
afterAll(async () => {
  await Promise.all(agents.map((a) => a.stop()));
  await cleanup();
});

/** Opens a raw agent WebSocket and returns it with its channel binding and the first messages. */
async function rawConnection(): Promise<{ ws: WebSocket; cb: Buffer; messages: unknown[]; closed: Promise<number> }> {
  for (;;) {
    const ws = new WebSocket(`wss://127.0.0.1:${site.port}/agent/v1`, { rejectUnauthorized: false });
    let cb: Buffer | null = null;
    const messages: unknown[] = [];
    ws.on('upgrade', (res) => (cb = channelBinding(res.socket as TLSSocket)));
    ws.on('message', (d) => messages.push(JSON.parse(d.toString())));
    ws.on('error', () => undefined);
    const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
    const ok = await new Promise<boolean>((r) => {
      ws.once('open', () => r(true));
      ws.once('unexpected-response', (_q, res) => {
        res.resume();
        ws.terminate();
        r(false); // admission said "retry after": do so
      });
    });
    if (ok) return { ws, cb: cb!, messages, closed };
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** A jump client enrolled and online for this test alone (tagged `tag`), so no test needs another's. */
async function enrolledClient(tag: string): Promise<ClientJson> {
  const inst = await createInstaller(site.api, { tag });
  agents.push(inProcessAgent(inst));
  return waitFor(async () => (await listClients(site.api, `tag=${tag}`)).items.find((x) => x.status === 'online'), 30_000, 100, `${tag} online`);
}

/** Authenticates as `clientId` with a key that is not its own; returns the site's messages. */
async function forgedAuth(clientId: number): Promise<unknown[]> {
  const c = await rawConnection();
  const nonce = newNonce();
  c.ws.send(JSON.stringify({ t: 'hello', protocol: 1, agent_version: '0.1.0', nonce }));
  await waitFor(() => c.messages.length === 1);
  const challenge = c.messages[0] as { nonce: string };
  const forger = generateKeyPairSync('ed25519').privateKey;
  const sig = signAsAgent(forger, c.cb, nonce, challenge.nonce, String(clientId));
  c.ws.send(JSON.stringify({ t: 'auth', client_id: clientId, machine_id: 'm', sig }));
  await c.closed;
  return c.messages;
}

/**
 * Dials `n` raw agent connections at once, from 127.0.3.1, 127.0.3.2, ... (one each, so the TLS
 * gate's per-address cap does not cut them before admission); returns how many the site turned
 * away with 503 (busy). A connection cut for any other reason counts as not turned away.
 */
async function burstOfDials(n: number): Promise<number> {
  const answers = await Promise.all(
    Array.from({ length: n }, (_, i) => new Promise<boolean>((resolve) => {
      const ws = new WebSocket(`wss://127.0.0.1:${site.port}/agent/v1`, { rejectUnauthorized: false, localAddress: `127.0.3.${i + 1}` });
      ws.on('error', () => undefined);
      ws.once('close', () => resolve(false));
      ws.once('open', () => {
        ws.terminate();
        resolve(false);
      });
      ws.once('unexpected-response', (_q, res) => {
        res.resume();
        ws.terminate();
        resolve(res.statusCode === 503);
      });
    })),
  );
  return answers.filter(Boolean).length;
}

describe('admission control', () => {
  it('admits a burst over the rate with retry-after instead of failing, and everyone gets in', async () => {
    const inst = await createInstaller(site.api, { tag: 'burst' });
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, cb) {
        lines.push(chunk.toString());
        cb();
      },
    });
    const log = pino({ level: 'info' }, sink);
    for (let i = 0; i < 15; i++) agents.push(inProcessAgent(inst, { log }));
    await waitFor(async () => (await listClients(site.api, 'tag=burst')).summary.online === 15, 30_000, 200, '15 online');
    const busy = lines.filter((l) => l.includes('"code":"SITE_BUSY"'));
    expect(busy.length).toBeGreaterThan(0);
  });
});

describe('message validation', () => {
  it('answers a message that is not JSON with PROTOCOL_INVALID_MESSAGE and closes', async () => {
    const c = await rawConnection();
    c.ws.send('this is not json');
    const code = await c.closed;
    expect(code).toBe(4000);
    expect(c.messages).toContainEqual(expect.objectContaining({ t: 'error', code: 'PROTOCOL_INVALID_MESSAGE' }));
  });

  it('refuses a message with unknown fields', async () => {
    const c = await rawConnection();
    c.ws.send(JSON.stringify({ t: 'hello', protocol: 1, agent_version: '0.1.0', nonce: newNonce(), extra: 'x' }));
    await c.closed;
    expect(c.messages).toContainEqual(expect.objectContaining({ code: 'PROTOCOL_INVALID_MESSAGE' }));
  });

  it('refuses an unsupported protocol version', async () => {
    const c = await rawConnection();
    c.ws.send(JSON.stringify({ t: 'hello', protocol: 99, agent_version: '9.0.0', nonce: newNonce() }));
    await c.closed;
    expect(c.messages).toContainEqual(expect.objectContaining({ code: 'PROTOCOL_VERSION_UNSUPPORTED' }));
  });

  it('closes a connection that sends more than 64 KiB in one message (1009)', async () => {
    const c = await rawConnection();
    c.ws.send('x'.repeat(65 * 1024));
    expect(await c.closed).toBe(1009);
  });

  it('refuses an agent that signs for a client id with the wrong key (AGENT_AUTH_FAILED)', async () => {
    const existing = await enrolledClient('forged');
    expect(await forgedAuth(existing.id)).toContainEqual(expect.objectContaining({ code: 'AGENT_AUTH_FAILED' }));
  });

  it('refuses an enrollment signature made on another connection (channel binding)', async () => {
    const inst = await createInstaller(site.api, { tag: 'replay' });
    const key = generateKeyPairSync('ed25519').privateKey;
    const pub = rawPublicKey(key);
    const c = await rawConnection();
    const nonce = newNonce();
    c.ws.send(JSON.stringify({ t: 'hello', protocol: 1, agent_version: '0.1.0', nonce }));
    await waitFor(() => c.messages.length === 1);
    const challenge = c.messages[0] as { nonce: string };
    const otherBinding = Buffer.alloc(32, 7);
    const sig = signAsAgent(key, otherBinding, nonce, challenge.nonce, pub);
    c.ws.send(JSON.stringify({ t: 'enroll', key_info: inst.key_info, public_key: pub, machine_id: 'm', requested: {}, sig }));
    await c.closed;
    expect(c.messages).toContainEqual(expect.objectContaining({ code: 'AGENT_AUTH_FAILED' }));
    expect((await listClients(site.api, 'tag=replay')).items).toEqual([]);
  });
});

describe('statistics', () => {
  it('sends changes after connect, and the site keeps the rest of the snapshot', async () => {
    const inst = await createInstaller(site.api, { tag: 'stats' });
    let current: Stats = fixtureStats({ hostname: 'stats-host', console_user: null });
    agents.push(inProcessAgent(inst, { stats: async () => current }));
    const c = await waitFor(async () => (await listClients(site.api, 'tag=stats')).items.find((x) => x.hostname === 'stats-host'));
    current = { ...current, console_user: 'carol', private_ips: ['10.9.9.9'] };
    await waitFor(async () => {
      const s = (await site.api.request<{ item: { console_user: string | null; private_ips: string[]; stats: Stats } }>('GET', `/api/v1/jump-clients/${c.id}`)).item;
      return s.console_user === 'carol' && s.private_ips[0] === '10.9.9.9' && s.stats.hostname === 'stats-host' && s.stats.cpu_model === 'Test CPU';
    }, 10_000, 100, 'delta applied');
  });
});

describe('/metrics', () => {
  /** The metric `re` captures, 0 when the series does not exist yet (a labelled counter before its first count). */
  const metric = (text: string, re: RegExp) => Number(re.exec(text)?.[1] ?? 0);
  const CONNECTED = /^jump_site_connected_agents (\d+)$/m;
  const CONNECTS = /^jump_site_agent_connects_total (\d+)$/m;
  const REJECTED = /^jump_site_agent_admission_rejected_total\{reason="rate"\} (\d+)$/m;
  const INVALID = /^jump_site_errors_total\{code="PROTOCOL_INVALID_MESSAGE"\} (\d+)$/m;
  const AUTH_FAILED = /^jump_site_errors_total\{code="AGENT_AUTH_FAILED"\} (\d+)$/m;

  it('exposes the site numbers in the Prometheus text format, each moving with what it counts', async () => {
    const before = await site.api.requestText('GET', '/metrics');
    const client = await enrolledClient('metrics');
    const invalid = await rawConnection();
    invalid.ws.send('this is not json');
    await invalid.closed;
    await forgedAuth(client.id);
    const turnedAway = await burstOfDials(15);
    expect(turnedAway).toBeGreaterThan(0);

    const text = await site.api.requestText('GET', '/metrics');
    expect(metric(text, CONNECTED)).toBeGreaterThanOrEqual(1);
    expect(metric(text, CONNECTS) - metric(before, CONNECTS)).toBeGreaterThanOrEqual(1);
    expect(metric(text, REJECTED) - metric(before, REJECTED)).toBeGreaterThanOrEqual(turnedAway);
    expect(metric(text, INVALID) - metric(before, INVALID)).toBeGreaterThanOrEqual(1);
    expect(metric(text, AUTH_FAILED) - metric(before, AUTH_FAILED)).toBeGreaterThanOrEqual(1);
    expect(text).toMatch(/^# TYPE jump_site_heartbeat_lag_seconds histogram$/m);
    expect(text).toMatch(/^process_resident_memory_bytes \d+/m);
  });
});
