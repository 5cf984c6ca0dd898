/**
 * Network faults, bounded (docs/reliability.md section 3): in-process agents reach a real site
 * (`--heartbeat 1s`) through a fault proxy (test/helpers/fault-proxy.ts) that goes half-open,
 * throttles, resets mid-record, refuses, and stalls before TLS or after the upgrade. Invariants:
 * a dead link is detected within two heartbeat intervals on both sides; reconnects follow the
 * capped exponential backoff with full jitter (different between agents); a stalled handshake is
 * given up and retried; no socket, timer or file descriptor is left behind. The scenarios run
 * concurrently (two of them wait out the 10 s handshake limit). test/long/network-faults.test.ts
 * runs a long randomized fault schedule.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HANDSHAKE_TIMEOUT_MS } from '../../protocol/limits.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { cleanup, waitFor } from '../helpers/processes.js';
import { seededRandom, testSeed } from '../helpers/seed.js';
import { SiteClient } from '../../console/http.js';
import { createInstaller, listClients, type InstallerInfo } from '../helpers/site.js';
import { startApiSite, type CrashSite } from './crash-loop.js';
import {
  HB_MS,
  agentDetection,
  backoffCeilings,
  fdCount,
  gaps,
  grownHandles,
  handleCounts,
  proxiedAgent,
  siteGauges,
  type ProxiedAgent,
} from './network-faults-lib.js';

let site: CrashSite & { api: SiteClient };
let inst: InstallerInfo;
let seed: number;
const proxies: FaultProxy[] = [];
const agents: ProxiedAgent[] = [];
let handlesBefore: Record<string, number>;
let fdsBefore: number;

/** Scheduling slack on a loaded 2-core machine for one dial through the proxy and a timer firing, in ms. */
const SLACK_MS = 300;

async function proxy(): Promise<FaultProxy> {
  const p = await startFaultProxy(site.port);
  proxies.push(p);
  return p;
}

function agentVia(p: FaultProxy, backoff?: Parameters<typeof proxiedAgent>[2]): ProxiedAgent {
  const a = proxiedAgent(inst, p, backoff);
  agents.push(a);
  return a;
}

const online = (a: ProxiedAgent, n = 1) => waitFor(() => a.onlineAt.length >= n, 20_000, 20, `agent online (${n})`);

beforeAll(async () => {
  seed = testSeed('network-faults');
  const started = await startApiSite({ heartbeat: `${HB_MS}ms` });
  site = { ...started, api: new SiteClient(started.url, { certPem: started.certPem, token: started.token }) };
  inst = await createInstaller(site.api, { tag: 'faults' });
  await siteGauges(site.api);
  handlesBefore = handleCounts();
  fdsBefore = fdCount(site.proc.child.pid!);
});
afterAll(async () => {
  await Promise.all(agents.map((a) => a.agent.stop()));
  await Promise.all(proxies.map((p) => p.close()));
  await cleanup();
});

describe.concurrent('faults', () => {
  it('detects a half-open link within two heartbeat intervals, at the agent and at the site', async () => {
    const p = await proxy();
    const a = agentVia(p);
    await online(a);
    const id = a.agent.clientId!;
    await waitFor(() => a.connected(), 20_000, 20, 'connected');
    // New connections are refused while the old one is half-open, so no reconnect hides the site's side.
    p.mode = 'reset';
    const t0 = Date.now();
    p.halfOpen();
    const lost = await agentDetection(a, p, a.lines.length, t0, 'agent-side detection');
    expect(Number(lost.silentMs)).toBeLessThanOrEqual(2 * HB_MS);
    expect(lost.time - t0).toBeLessThanOrEqual(2 * HB_MS);
    // The site writes when it noticed (last_disconnected, ms): the exact detection time, no polling error.
    const c = await waitFor(async () => (await listClients(site.api)).items.find((x) => x.id === id && x.status === 'offline'), 10_000, 50, 'site-side detection');
    expect(Date.parse(c.last_disconnected!) - t0).toBeLessThanOrEqual(2 * HB_MS);
    p.mode = 'forward';
    await online(a, 2);
    const mine = (await listClients(site.api)).items.filter((x) => x.id === id);
    expect(mine).toHaveLength(1);
    expect(mine[0].status).toBe('online');
  });

  it('reconnects with capped exponential backoff and full jitter, different for two agents', async () => {
    const [p1, p2] = [await proxy(), await proxy()];
    p1.mode = p2.mode = 'reset';
    const base = 100;
    const cap = 1600;
    const n = 8;
    const replay = seededRandom(seed);
    const a1 = agentVia(p1, { baseMs: base, capMs: cap, random: seededRandom(seed) });
    agentVia(p2, { baseMs: base, capMs: cap }); // Math.random, the agent's default jitter
    await waitFor(() => p1.accepts.length >= n && p2.accepts.length >= n, 20_000, 20, `${n} attempts each`);
    const ceilings = backoffCeilings(base, cap, n - 1);
    const g1 = gaps(p1.accepts.slice(0, n));
    const g2 = gaps(p2.accepts.slice(0, n));
    console.log(`[network-faults] reconnect gaps (ms): seeded ${g1.join(' ')}; Math.random ${g2.join(' ')}; ceilings ${ceilings.join(' ')}`);
    for (const g of [g1, g2]) g.forEach((gap, i) => expect(gap, `attempt ${i + 1}`).toBeLessThanOrEqual(ceilings[i] + SLACK_MS));
    // The seeded agent waits exactly what the rule gives for its random draws (plus the dial).
    const expected = ceilings.map((c) => Math.floor(replay() * c));
    g1.forEach((gap, i) => {
      expect(gap, `attempt ${i + 1}`).toBeGreaterThanOrEqual(expected[i] - 5);
      expect(gap, `attempt ${i + 1}`).toBeLessThanOrEqual(expected[i] + SLACK_MS);
    });
    // Growth: the ceilings double up to the cap (checked above for every wait); a sample sum is
    // not asserted, as full jitter may draw three short waits in a row (a flaky assertion).
    // Jitter: two agents refused together do not retry in step.
    expect(g1.some((gap, i) => Math.abs(gap - g2[i]) > 20)).toBe(true);
    // Once the site answers again, the agent comes online and its backoff starts over.
    p1.mode = 'forward';
    await online(a1);
  });

  it('gives up a site that stalls before its TLS handshake, and dials again', async () => {
    const p = await proxy();
    p.mode = 'stall';
    const a = agentVia(p);
    await waitFor(() => p.accepts.length >= 1, 10_000, 20, 'first dial');
    p.mode = 'forward'; // for the next dial: the first connection stays stalled
    await online(a);
    const waited = p.accepts[1] - p.accepts[0];
    // The agent's 10 s run from its dial; the relay, in this busy process, may see the accept late.
    expect(waited).toBeGreaterThanOrEqual(HANDSHAKE_TIMEOUT_MS - SLACK_MS);
    expect(waited).toBeLessThanOrEqual(HANDSHAKE_TIMEOUT_MS + 100 + SLACK_MS); // + the first backoff ceiling
    // The stalled socket was closed by the agent, not left open, and the agent says why.
    expect(p.pairs[0].closed).toBe(true);
    expect(a.lines.find((l) => l.msg.startsWith('site did not finish the handshake'))?.state).toBe('connecting');
  });

  it('gives up a link lost between the upgrade and the welcome (half-open mid-handshake), and dials again', async () => {
    const p = await proxy();
    // Forwarded: the client's TLS Finished, the HTTP upgrade and the agent's hello; then silence.
    p.mode = 'freeze-after';
    p.freezeAfterRecords = 3;
    const a = agentVia(p);
    await waitFor(() => p.accepts.length >= 1, 10_000, 20, 'first dial');
    p.mode = 'forward';
    await online(a);
    const gaveUp = a.lines.find((l) => l.msg.startsWith('site did not finish the handshake'));
    expect(gaveUp, 'the agent names the handshake timeout').toBeDefined();
    expect(['handshaking', 'authenticating']).toContain(gaveUp!.state);
    expect(p.accepts[1] - p.accepts[0]).toBeGreaterThanOrEqual(HANDSHAKE_TIMEOUT_MS - SLACK_MS);
    // The 10 s count from the upgrade (as the site's do), which follows the accept by the TLS
    // handshake: up to a second on a loaded machine; then at most the first backoff ceiling.
    expect(p.accepts[1] - p.accepts[0]).toBeLessThanOrEqual(HANDSHAKE_TIMEOUT_MS + 1000 + 100 + SLACK_MS);
    expect(p.pairs[0].closed).toBe(true);
  });

  it('comes back after resets in the middle of a TLS record, once, with no duplicate', async () => {
    const p = await proxy();
    const a = agentVia(p);
    await online(a);
    for (let i = 2; i <= 4; i++) {
      p.resetMidRecord(); // the next record either way (a heartbeat or its ack within 1 s) is cut
      await online(a, i);
    }
    const id = a.agent.clientId!;
    const mine = await waitFor(async () => (await listClients(site.api)).items.filter((x) => x.id === id && x.status === 'online'), 10_000, 50, 'online');
    expect(mine).toHaveLength(1);
    expect(a.lines.filter((l) => l.msg === 'enrolled with the site')).toHaveLength(1);
  });

  it('keeps a slow but live link (site-to-agent throttled to 1 KB/s) without a false detection', async () => {
    const p = await proxy();
    const a = agentVia(p);
    await online(a);
    p.throttle(1000);
    await new Promise((r) => setTimeout(r, 4 * HB_MS));
    expect(a.lines.filter((l) => l.msg.startsWith('site silent'))).toHaveLength(0);
    expect(p.accepts).toHaveLength(1);
    expect(a.onlineAt).toHaveLength(1);
    p.throttle(null);
  });
});

describe('after the faults', () => {
  it('leaves no socket, timer or descriptor behind, in the test process and in the site', async () => {
    await Promise.all(agents.map((a) => a.agent.stop()));
    await Promise.all(proxies.splice(0).map((p) => p.close()));
    // The site lets go of every agent connection and handshake.
    await waitFor(async () => {
      const g = await siteGauges(site.api);
      return g.connected === 0 && g.tlsInProgress === 0;
    }, 10_000, 100, 'site gauges back to 0');
    // Descriptors: the same as before the faults, give or take the test's own keep-alive API
    // connections (at most 2 sockets at once here: the API client and its metrics scrape).
    const pid = site.proc.child.pid!;
    await waitFor(() => fdCount(pid) <= fdsBefore + 2, 10_000, 100, `site fds back to ${fdsBefore} (+2), now ${fdCount(pid)}`);
    // In this process: per resource type, no more than 2 over the count before (same reason).
    await waitFor(() => grownHandles(handlesBefore, handleCounts(), 2).length === 0, 10_000, 100, `handles: ${grownHandles(handlesBefore, handleCounts(), 2).join(', ')}`);
  });
});
