/**
 * The agent's persistent connection: enrollment of a fleet, statistics, liveness within two
 * heartbeat intervals (process killed, peer silently gone on either side).
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { readFileSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanup, readJsonLines, waitFor } from '../helpers/processes.js';
import { clientStatus, createInstaller, listClients, startAgentProcess, startTestSite, type TestSite } from '../helpers/site.js';

const HEARTBEAT_MS = 1000;
let site: TestSite;

beforeAll(async () => {
  site = await startTestSite({ heartbeat: `${HEARTBEAT_MS}ms` });
});
afterAll(cleanup);

/** Waits for `id` to show `status`, returning how long it took from `since`, in ms. */
async function timeUntilStatus(id: number, status: string, since: number): Promise<number> {
  await waitFor(async () => (await clientStatus(site.api, id)) === status, 10_000, 25, `client ${id} ${status}`);
  return Date.now() - since;
}

/**
 * A TCP relay between agent and site whose site-to-agent direction can be frozen: bytes stop
 * arriving at the agent but no FIN or RST is sent, as when a NAT drops state on the way back.
 */
function freezableProxy(targetPort: number): Promise<{ port: number; freezeToAgent(): void; server: Server }> {
  const pairs: [Socket, Socket][] = [];
  const server = createServer((inbound) => {
    const outbound = createConnection(targetPort, '127.0.0.1');
    inbound.pipe(outbound);
    outbound.pipe(inbound);
    inbound.on('error', () => undefined);
    outbound.on('error', () => undefined);
    pairs.push([inbound, outbound]);
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        port: (server.address() as { port: number }).port,
        server,
        freezeToAgent() {
          for (const [inbound, outbound] of pairs.splice(0)) {
            outbound.unpipe(inbound);
            outbound.pause();
          }
        },
      }),
    ),
  );
}

describe('a fleet of jump clients', () => {
  it('enrolls 20 agents that all show online with their statistics', async () => {
    const inst = await createInstaller(site.api, { tag: 'fleet', comments: 'twenty' });
    const agents = Array.from({ length: 20 }, () => startAgentProcess(inst));
    await waitFor(async () => (await listClients(site.api, 'tag=fleet')).summary.online === 20, 60_000, 200, '20 online');
    const { items, summary } = await listClients(site.api, 'tag=fleet');
    // All 20 were online together (above); on an overloaded CI machine (3 s heartbeats, 20 Node
    // processes on 2 cores) one may be between a missed beat and its reconnect by now.
    expect(summary).toMatchObject({ jump_items: 20, jump_clients: 20 });
    expect(new Set(items.map((c) => c.id)).size).toBe(20);
    // Statistics arrive right after connect; every client reports this machine's hostname.
    // 20 processes each starting Node and reading the machine on 2 shared cores: allow for load.
    await waitFor(async () => (await listClients(site.api, 'tag=fleet')).items.every((c) => c.hostname === hostname()), 60_000, 200, 'stats');
    const shown = await site.api.request<{ item: { stats: Record<string, unknown> } }>('GET', `/api/v1/jump-clients/${items[0].id}`);
    expect(shown.item.stats).toMatchObject({ hostname: hostname(), platform: 'linux', agent_version: '0.1.0' });
    expect(shown.item.stats.mem_total_bytes).toBeGreaterThan(0);
    // The identity files are private to the run-as user.
    expect(statSync(join(agents[0].configDir, 'agent.key')).mode & 0o777).toBe(0o600);
    expect(statSync(join(agents[0].configDir, 'agent.json')).mode & 0o777).toBe(0o600);
    expect(statSync(agents[0].configDir).mode & 0o777).toBe(0o700);
    // The installer key is gone from the config once enrolled.
    const cfg = JSON.parse(readFileSync(join(agents[0].configDir, 'agent.json'), 'utf8'));
    expect(cfg.key_info).toBeUndefined();
    expect(cfg.client_id).toBeGreaterThan(0);
    // SIGTERM stops an agent cleanly (exit 0) and the site shows it offline.
    for (const a of agents) a.proc.child.kill('SIGTERM');
    for (const a of agents) expect((await a.proc.exited).code).toBe(0);
    await waitFor(async () => (await listClients(site.api, 'tag=fleet')).summary.offline === 20, 10_000, 100, '20 offline');
  });

  it('shows an agent killed with SIGKILL offline within 2 heartbeat intervals', async () => {
    const inst = await createInstaller(site.api, { tag: 'kill9' });
    const a = startAgentProcess(inst);
    const c = await waitFor(async () => (await listClients(site.api, 'tag=kill9')).items.find((x) => x.status === 'online'));
    const t0 = Date.now();
    a.proc.child.kill('SIGKILL');
    expect(await timeUntilStatus(c.id, 'offline', t0)).toBeLessThanOrEqual(2 * HEARTBEAT_MS);
  });

  it('detects a silent agent (SIGSTOP: connection open, no traffic) within 2 heartbeat intervals', async () => {
    const inst = await createInstaller(site.api, { tag: 'stopped' });
    const a = startAgentProcess(inst);
    const c = await waitFor(async () => (await listClients(site.api, 'tag=stopped')).items.find((x) => x.status === 'online'));
    const t0 = Date.now();
    a.proc.child.kill('SIGSTOP');
    try {
      expect(await timeUntilStatus(c.id, 'offline', t0)).toBeLessThanOrEqual(2 * HEARTBEAT_MS);
    } finally {
      a.proc.child.kill('SIGCONT');
    }
    // Once it runs again it notices the dead connection and comes back by itself.
    await timeUntilStatus(c.id, 'online', Date.now());
  });

  it('detects a silent site (half-open: nothing arrives, nothing closes) within 2 heartbeat intervals and reconnects', async () => {
    const proxy = await freezableProxy(site.port);
    try {
      const inst = await createInstaller(site.api, { tag: 'half-open' });
      const viaProxy = { ...inst, site_url: `https://127.0.0.1:${proxy.port}` };
      const a = startAgentProcess(viaProxy);
      // Steady state: connected and past the first statistics snapshot.
      await waitFor(async () => (await listClients(site.api, 'tag=half-open')).items.find((x) => x.status === 'online' && x.hostname));
      const connectsBefore = readJsonLines(join(a.configDir, 'agent.log')).filter((l) => l.msg === 'online').length;
      proxy.freezeToAgent();
      const lost = await waitFor(
        () => readJsonLines(join(a.configDir, 'agent.log')).find((l) => String(l.msg).startsWith('site silent')),
        10_000,
        50,
        'agent-side detection',
      );
      expect(Number(lost.silentMs)).toBeLessThanOrEqual(2 * HEARTBEAT_MS);
      // It dials again (through the relay, whose new connections flow) and is online once more.
      await waitFor(() => readJsonLines(join(a.configDir, 'agent.log')).filter((l) => l.msg === 'online').length > connectsBefore, 10_000, 50, 'reconnect');
      const clients = await listClients(site.api, 'tag=half-open');
      expect(clients.items).toHaveLength(1);
      expect(clients.items[0].status).toBe('online');
    } finally {
      proxy.server.close();
    }
  });
});
