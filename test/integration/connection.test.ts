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
 * A TCP relay between agent and site whose existing connections can be frozen: bytes stop flowing
 * both ways but no FIN or RST is sent, as when a NAT drops state or a cable is pulled.
 */
function freezableProxy(targetPort: number): Promise<{ port: number; freeze(): void; server: Server }> {
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
        freeze() {
          for (const [a, b] of pairs.splice(0)) {
            a.unpipe(b);
            b.unpipe(a);
            a.pause();
            b.pause();
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
    await waitFor(async () => (await listClients(site.api, 'tag=fleet')).summary.online === 20, 30_000, 200, '20 online');
    const { items, summary } = await listClients(site.api, 'tag=fleet');
    expect(summary).toMatchObject({ jump_clients: 20, online: 20, offline: 0 });
    expect(new Set(items.map((c) => c.id)).size).toBe(20);
    // Statistics arrive right after connect; every client reports this machine's hostname.
    await waitFor(async () => (await listClients(site.api, 'tag=fleet')).items.every((c) => c.hostname === hostname()), 15_000, 200, 'stats');
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

  it('detects a half-open connection on both sides and reconnects', async () => {
    const proxy = await freezableProxy(site.port);
    try {
      const inst = await createInstaller(site.api, { tag: 'half-open' });
      const viaProxy = { ...inst, site_url: `https://127.0.0.1:${proxy.port}` };
      const a = startAgentProcess(viaProxy);
      const c = await waitFor(async () => (await listClients(site.api, 'tag=half-open')).items.find((x) => x.status === 'online'));
      const t0 = Date.now();
      proxy.freeze();
      // Site side: the agent's heartbeats stop arriving.
      expect(await timeUntilStatus(c.id, 'offline', t0)).toBeLessThanOrEqual(2 * HEARTBEAT_MS);
      // Agent side: the site's answers stop arriving; it drops the connection and dials again.
      await timeUntilStatus(c.id, 'online', t0);
      const lost = readJsonLines(join(a.configDir, 'agent.log')).find((l) => String(l.msg).startsWith('site silent'));
      expect(lost).toBeDefined();
      expect(Number(lost!.silentMs)).toBeLessThanOrEqual(2 * HEARTBEAT_MS);
      const clients = await listClients(site.api, 'tag=half-open');
      expect(clients.items).toHaveLength(1);
    } finally {
      proxy.server.close();
    }
  });
});
