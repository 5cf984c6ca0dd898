/**
 * A site node at its connection budget (site/capacity.ts): with a low open-file limit it holds
 * what the limit allows, tells the agents over it to come back later, closes extra TCP connections
 * before TLS, and stays reachable for the API throughout. `--max-agents` sets the number by hand and
 * a number the limit cannot hold is refused at start.
 */
import { existsSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { Agent } from '../../agent/agent.js';
import { AGENT_WS_PATH } from '../../protocol/messages.js';
import { SITE_BIN, cleanup, run, tempDir, waitFor } from '../helpers/processes.js';
import { probeCertificate } from '../../console/http.js';
import { createInstaller, inProcessAgent, listClients, startSiteProcess, startTestSite, type TestSite } from '../helpers/site.js';

const agents: Agent[] = [];
afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.stop()));
});
afterAll(cleanup);

async function metric(site: TestSite, re: RegExp): Promise<number> {
  const text = await site.api.requestText('GET', '/metrics');
  return Number(re.exec(text)?.[1] ?? NaN);
}

describe('a site at its open-file limit', () => {
  // 220 descriptors: 220 - 64 reserved = 156 connections, of which 64 are kept for non-agents: 92 agents.
  const FILE_LIMIT = 220;
  const CAPACITY = 92;

  it('holds as many agents as the limit allows, refuses the rest with a long Retry-After, and keeps the API answering', async () => {
    const site = await startTestSite({ fileLimit: FILE_LIMIT });
    expect(site.proc.stderr()).toMatch(new RegExp(`Agent capacity:\\s+${CAPACITY} \\(open-file limit ${FILE_LIMIT};`));
    expect(await metric(site, /^jump_site_agent_capacity (\d+)$/m)).toBe(CAPACITY);

    const inst = await createInstaller(site.api, { tag: 'capacity', max_uses: 1000 });
    for (let i = 0; i < CAPACITY + 18; i++) agents.push(inProcessAgent(inst));
    await waitFor(async () => (await metric(site, /^jump_site_agent_admission_rejected_total\{reason="full"\} (\d+)$/m)) >= 18, 30_000, 200, 'agents over capacity refused');
    await waitFor(async () => (await listClients(site.api, 'tag=capacity')).summary.online === CAPACITY, 30_000, 200, 'capacity online');

    // Full, and the API still answers; no agent over capacity got in.
    const list = await listClients(site.api, 'tag=capacity');
    expect(list.summary.online).toBe(CAPACITY);
    expect(list.items).toHaveLength(CAPACITY);
    expect(await metric(site, /^jump_site_connected_agents (\d+)$/m)).toBe(CAPACITY);
    expect(site.proc.stdout()).toMatch(/holds as many agents as it can/);
    // What an agent over capacity hears: 503, come back in 2 to 5 minutes.
    const refusal = await new Promise<{ status: number; retryAfter: number }>((resolve, reject) => {
      const req = httpsRequest(`${site.url}${AGENT_WS_PATH}`, {
        ca: site.certPem,
        headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==' },
      });
      req.on('response', (res) => resolve({ status: res.statusCode ?? 0, retryAfter: Number(res.headers['retry-after']) }));
      req.on('upgrade', () => reject(new Error('upgraded while full')));
      req.on('error', reject);
      req.end();
    });
    expect(refusal.status).toBe(503);
    expect(refusal.retryAfter).toBeGreaterThanOrEqual(120);
    expect(refusal.retryAfter).toBeLessThanOrEqual(300);

    // More TCP connections than the budget: the extra ones are closed right after accept (no TLS).
    // They come from 20 addresses, so the per-address cap of the TLS gate is not what stops them.
    const flood: Socket[] = [];
    let closedByServer = 0;
    await Promise.all(
      Array.from({ length: 120 }, (_, i) =>
        new Promise<void>((resolve) => {
          const s = connect({ port: site.port, host: '127.0.0.1', localAddress: `127.0.6.${1 + (i % 20)}` }, () => resolve());
          s.on('close', () => {
            closedByServer++;
            resolve();
          });
          s.on('error', () => resolve());
          flood.push(s);
        }),
      ),
    );
    await waitFor(() => closedByServer > 0 || null, 10_000, 50, 'extra connections closed');
    for (const s of flood) s.destroy();
    await waitFor(async () => (await metric(site, /^jump_site_connections_dropped_total\{reason="budget"\} (\d+)$/m)) > 0, 10_000, 200, 'drops counted');
    expect(site.proc.stdout()).toMatch(/connection budget reached/);
    // The flood is gone: the node answers and still holds its agents.
    expect((await listClients(site.api, 'tag=capacity')).summary.online).toBe(CAPACITY);
  });
});

describe('--max-agents', () => {
  it('holds at most the given number of agents', async () => {
    const site = await startTestSite({ extraArgs: ['--max-agents', '5'] });
    expect(site.proc.stderr()).toMatch(/Agent capacity:\s+5 /);
    const inst = await createInstaller(site.api, { tag: 'max-agents' });
    for (let i = 0; i < 8; i++) agents.push(inProcessAgent(inst));
    await waitFor(async () => (await metric(site, /^jump_site_agent_admission_rejected_total\{reason="full"\} (\d+)$/m)) >= 3, 30_000, 200, '3 refused');
    await waitFor(async () => (await listClients(site.api, 'tag=max-agents')).summary.online === 5, 30_000, 200, '5 online');
    expect((await listClients(site.api, 'tag=max-agents')).items).toHaveLength(5);
  });

  it('refuses a number the open-file limit cannot hold, naming the limit it needs, and creates nothing', async () => {
    const dataDir = join(tempDir(), 'data');
    const r = await run('prlimit', ['--nofile=220:220', '--', process.execPath, SITE_BIN, 'serve', '--data', dataDir, '--listen', '127.0.0.1:0', '--max-agents', '50000']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^VALIDATION_FAILED: .*--max-agents 50000 needs an open-file limit of at least 51085; this process has 220\. Raise it/m);
    expect(existsSync(dataDir)).toBe(false);
  });
});

describe('--max-tls-handshakes', () => {
  /** Opens `n` TCP connections from `from` that never start TLS; each records whether the site closed it. */
  async function silentSockets(port: number, n: number, from = '127.0.0.1'): Promise<{ sockets: Socket[]; closed: () => number }> {
    const sockets: Socket[] = [];
    let closed = 0;
    await Promise.all(
      Array.from({ length: n }, () =>
        new Promise<void>((resolve) => {
          const s = connect({ port, host: '127.0.0.1', localAddress: from }, () => resolve());
          s.on('close', () => closed++);
          s.on('error', () => resolve());
          sockets.push(s);
        }),
      ),
    );
    return { sockets, closed: () => closed };
  }

  it('closes connections over the cap before TLS, frees slots as handshakes end, and times out silent ones', async () => {
    const site = await startTestSite({ extraArgs: ['--max-tls-handshakes', '4'] });
    const inst = await createInstaller(site.api, { tag: 'tls-gate' });
    // Completed TLS connections free their slots: after these, exactly 4 silent sockets fit.
    for (let i = 0; i < 5; i++) agents.push(inProcessAgent(inst));
    await waitFor(async () => (await listClients(site.api, 'tag=tls-gate')).summary.online === 5, 30_000, 200, '5 online');

    const droppedBefore = (await metric(site, /^jump_site_connections_dropped_total\{reason="handshakes"\} (\d+)$/m)) || 0;
    const held = await silentSockets(site.port, 4);
    const over = await silentSockets(site.port, 6);
    await waitFor(() => over.closed() === 6 || null, 5_000, 50, 'connections over the cap closed');
    await new Promise((r) => setTimeout(r, 500));
    expect(held.closed()).toBe(0); // the 4 in the gate wait for their ClientHello

    // The console tries again a connection closed before TLS (a probe always opens a new one):
    // it succeeds once a slot is free.
    const waiting = probeCertificate(site.url);
    setTimeout(() => held.sockets.forEach((s) => s.destroy()), 700);
    expect((await waiting).fingerprint).toBe(site.fingerprint);
    await waitFor(() => held.closed() === 4 || null, 5_000, 50, 'held sockets closed');
    await waitFor(async () => (await metric(site, /^jump_site_tls_handshakes_in_progress (\d+)$/m)) === 0 || null, 5_000, 100, 'gate empty');
    const heldAgain = await silentSockets(site.port, 4);
    const heldAt = Date.now();
    await new Promise((r) => setTimeout(r, 500));
    expect(heldAgain.closed()).toBe(0);

    // A client that sends no ClientHello holds its slot for the hello timer (3 s), then it is closed.
    await waitFor(() => heldAgain.closed() === 4 || null, 8_000, 100, 'silent sockets timed out');
    expect(Date.now() - heldAt).toBeGreaterThanOrEqual(2_500);
    expect(await metric(site, /^jump_site_connections_dropped_total\{reason="handshakes"\} (\d+)$/m)).toBeGreaterThan(droppedBefore + 6);
    expect(await metric(site, /^jump_site_connections_dropped_total\{reason="hello_timeout"\} (\d+)$/m)).toBeGreaterThanOrEqual(4);
    // The gate is empty again: agents still connect.
    agents.push(inProcessAgent(inst));
    await waitFor(async () => (await listClients(site.api, 'tag=tls-gate')).summary.online === 6, 30_000, 200, '6 online');
  });
});

/**
 * The unauthenticated lockout of the security review (docs/security.md): sockets that never send a
 * ClientHello used to hold every TLS handshake slot for 10 s, so a few hundred of them, renewed,
 * made every new connection fail. These tests attack that way and check who still gets in.
 */
describe('the TLS gate under a handshake-slot flood', () => {
  /** A full TLS handshake from `from`: 'ok' when it completes, 'closed' when the site drops it. */
  function tlsFrom(port: number, from: string): Promise<'ok' | 'closed'> {
    return new Promise((resolve) => {
      const tcp = connect({ port, host: '127.0.0.1', localAddress: from });
      tcp.on('error', () => resolve('closed'));
      const s = tlsConnect({ socket: tcp, rejectUnauthorized: false }, () => {
        s.destroy();
        resolve('ok');
      });
      s.on('error', () => resolve('closed'));
      s.on('close', () => resolve('closed'));
    });
  }
  async function idle(port: number, from: string, n: number): Promise<Socket[]> {
    return Promise.all(
      Array.from({ length: n }, () => new Promise<Socket>((resolve) => {
        const s = connect({ port, host: '127.0.0.1', localAddress: from }, () => resolve(s));
        s.on('error', () => resolve(s));
      })),
    );
  }

  it('caps one address, closes silent sockets after the hello timer, and keeps slots for known addresses', async () => {
    // 8 slots, 2 of them reserved for known addresses, at most 2 per address, 1.5 s for a ClientHello.
    const site = await startTestSite({
      extraArgs: ['--max-tls-handshakes', '8', '--max-tls-handshakes-per-address', '2', '--tls-hello-timeout', '1500'],
    });
    const inst = await createInstaller(site.api, { tag: 'flood' });
    // 127.0.0.1 becomes known: an agent authenticates from it (and the API client logs in from it).
    agents.push(inProcessAgent(inst));
    await waitFor(async () => (await listClients(site.api, 'tag=flood')).summary.online === 1, 30_000, 200, 'agent online');

    // One address: only 2 of its 10 silent sockets are taken; another address still gets in.
    const single = await idle(site.port, '127.0.9.1', 10);
    await waitFor(async () => (await metric(site, /^jump_site_connections_dropped_total\{reason="per_address"\} (\d+)$/m)) >= 8 || null, 5_000, 50, 'per-address drops');
    expect(await tlsFrom(site.port, '127.0.9.2')).toBe('ok');
    single.forEach((s) => s.destroy());
    await waitFor(async () => (await metric(site, /^jump_site_tls_handshakes_in_progress (\d+)$/m)) === 0 || null, 5_000, 50, 'gate empty');

    // Many addresses: strangers fill the unreserved 6 slots; a new stranger is turned away, but a
    // known address (where agents and technicians authenticated) still completes TLS, and the agent
    // reconnects.
    const flood: Socket[] = [];
    for (let i = 1; i <= 10; i++) flood.push(...(await idle(site.port, `127.0.8.${i}`, 2)));
    await waitFor(async () => (await metric(site, /^jump_site_tls_handshakes_in_progress (\d+)$/m)) === 6 || null, 5_000, 50, 'flood holds the unreserved slots');
    expect(await tlsFrom(site.port, '127.0.7.1')).toBe('closed');
    expect(await tlsFrom(site.port, '127.0.0.1')).toBe('ok');
    expect((await listClients(site.api, 'tag=flood')).summary.online).toBe(1);

    // The flood sent no ClientHello: after the hello timer every one of its sockets is closed.
    const closed = await Promise.all(flood.map((s) => new Promise<boolean>((r) => (s.destroyed ? r(true) : s.once('close', () => r(true))))));
    expect(closed.every(Boolean)).toBe(true);
    expect(await metric(site, /^jump_site_connections_dropped_total\{reason="hello_timeout"\} (\d+)$/m)).toBeGreaterThanOrEqual(6);
    expect(await tlsFrom(site.port, '127.0.7.1')).toBe('ok');

    // A byte now and then does not buy a stranger the 10 s TLS limit: an unknown address that has
    // not finished TLS at the hello timer is closed; a known one keeps its slot.
    const dribble = async (from: string) => {
      const [s] = await idle(site.port, from, 1);
      s.write(Buffer.from([0x16])); // the first byte of a TLS record, then nothing
      const at = Date.now();
      return new Promise<number>((r) => s.once('close', () => r(Date.now() - at)));
    };
    const strangerClosedAfter = dribble('127.0.5.1');
    const knownSocket = (await idle(site.port, '127.0.0.1', 1))[0];
    knownSocket.write(Buffer.from([0x16]));
    expect(await strangerClosedAfter).toBeLessThan(4_000);
    expect(knownSocket.destroyed).toBe(false);
    knownSocket.destroy();
    expect(await metric(site, /^jump_site_connections_dropped_total\{reason="stranger_timeout"\} (\d+)$/m)).toBeGreaterThanOrEqual(1);
  });

  it('still knows, after a restart, the addresses its jump clients were last seen from', async () => {
    const args = ['--max-tls-handshakes', '8', '--max-tls-handshakes-per-address', '2', '--tls-hello-timeout', '5000'];
    const site = await startTestSite({ extraArgs: args });
    const inst = await createInstaller(site.api, { tag: 'restart-known' });
    const agent = inProcessAgent(inst);
    await waitFor(async () => (await listClients(site.api, 'tag=restart-known')).summary.online === 1, 30_000, 200, 'agent online');
    await agent.stop();
    site.proc.child.kill('SIGKILL');
    await site.proc.exited;
    const again = await startSiteProcess({ dataDir: site.dataDir, port: site.port, extraArgs: args });
    // Strangers hold every unreserved slot before anyone has authenticated since the restart...
    const flood: Socket[] = [];
    for (let i = 1; i <= 3; i++) flood.push(...(await idle(again.port, `127.0.4.${i}`, 2)));
    await new Promise((r) => setTimeout(r, 300));
    expect(await tlsFrom(again.port, '127.0.4.9')).toBe('closed');
    // ...and the address the jump client was last seen from still gets in.
    expect(await tlsFrom(again.port, '127.0.0.1')).toBe('ok');
    flood.forEach((s) => s.destroy());
  });
});
