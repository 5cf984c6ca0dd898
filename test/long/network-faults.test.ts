/**
 * Network faults at length (docs/reliability.md section 3): a seeded random schedule of faults on
 * a small fleet of in-process agents, each behind its own fault proxy to one real site
 * (`--heartbeat 1s`). Each round picks an agent and a fault and checks that fault's invariant;
 * after every round each agent is online exactly once, and at the end nothing leaked.
 * JUMP_TEST_RUNS sets the rounds; JUMP_TEST_SEED replays a schedule.
 */
import { afterAll, expect, it } from 'vitest';
import { HANDSHAKE_TIMEOUT_MS } from '../../protocol/limits.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { cleanup, waitFor } from '../helpers/processes.js';
import { seededRandom, testRuns, testSeed } from '../helpers/seed.js';
import { SiteClient } from '../../console/http.js';
import { createInstaller, listClients } from '../helpers/site.js';
import { startApiSite } from '../reliability/crash-loop.js';
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
} from '../reliability/network-faults-lib.js';

afterAll(cleanup);

const SLACK_MS = 300;
const FAULTS = ['half-open', 'reset-mid-record', 'refuse', 'throttle', 'stall'] as const;

it('survives a long random schedule of network faults with every invariant held', async () => {
  const seed = testSeed('network-faults-long');
  const rnd = seededRandom(seed);
  const rounds = testRuns(3, 80);
  const started = await startApiSite({ heartbeat: `${HB_MS}ms` });
  const site = { ...started, api: new SiteClient(started.url, { certPem: started.certPem, token: started.token }) };
  const inst = await createInstaller(site.api, { tag: 'faults-long' });
  await siteGauges(site.api);
  const handlesBefore = handleCounts();
  const fdsBefore = fdCount(site.proc.child.pid!);
  const base = 100;
  const cap = 800;
  const fleet: { p: FaultProxy; a: ProxiedAgent }[] = [];
  for (let i = 0; i < 4; i++) {
    const p = await startFaultProxy(site.port);
    fleet.push({ p, a: proxiedAgent(inst, p, { baseMs: base, capMs: cap }) });
  }
  const counts: Record<string, number> = {};
  try {
    await waitFor(() => fleet.every((f) => f.a.onlineAt.length > 0), 30_000, 20, 'fleet online');
    for (let round = 1; round <= rounds; round++) {
      const { p, a } = fleet[Math.floor(rnd() * fleet.length)];
      // The stall waits out the 10 s handshake limit: rarer, to keep the run short.
      const fault = rnd() < 0.05 ? 'stall' : FAULTS[Math.floor(rnd() * 4)];
      counts[fault] = (counts[fault] ?? 0) + 1;
      const where = `round ${round}, ${fault} (seed ${seed})`;
      // A fault lands on a welcomed connection (a loaded machine may have dropped one by itself).
      await waitFor(() => a.connected(), 30_000, 20, `${where}: connected before the fault`);
      const id = a.agent.clientId!;
      const onlineBefore = a.onlineAt.length;
      const linesBefore = a.lines.length;
      const acceptsBefore = p.accepts.length;
      if (fault === 'half-open') {
        p.mode = 'reset';
        const t0 = Date.now();
        p.halfOpen();
        const lost = await agentDetection(a, p, linesBefore, t0, `${where}: agent detection`);
        expect(lost.time - t0, where).toBeLessThanOrEqual(2 * HB_MS);
        const c = await waitFor(async () => (await listClients(site.api)).items.find((x) => x.id === id && x.status === 'offline'), 10_000, 50, `${where}: site detection`);
        expect(Date.parse(c.last_disconnected!) - t0, where).toBeLessThanOrEqual(2 * HB_MS);
        p.mode = 'forward';
      } else if (fault === 'reset-mid-record') {
        p.resetMidRecord();
      } else if (fault === 'refuse') {
        // The site refuses for a while: the live link is cut and every dial is reset.
        p.mode = 'reset';
        p.resetMidRecord();
        await waitFor(() => p.accepts.length >= acceptsBefore + 4, 20_000, 20, `${where}: dials`);
        p.mode = 'forward';
        const g = gaps(p.accepts.slice(acceptsBefore, acceptsBefore + 4));
        const ceilings = backoffCeilings(base, cap, 4);
        // The first dial follows the working connection (backoff reset, ceiling base), then doubling.
        g.forEach((gap, i) => expect(gap, `${where}: wait ${i + 1} of ${g.join(' ')}`).toBeLessThanOrEqual(ceilings[i + 1] + SLACK_MS));
      } else if (fault === 'throttle') {
        const t0 = Date.now();
        p.throttle(1000);
        await new Promise((r) => setTimeout(r, 3 * HB_MS));
        p.throttle(null);
        const log = a.lines.slice(linesBefore).map((l) => `${l.time - t0} ${l.msg} ${l.silentMs ?? ''}`);
        expect(log.filter((l) => l.includes('site silent')), `${where}: agent log ${log.join('; ')}`).toHaveLength(0);
        expect(p.accepts.length, where).toBe(acceptsBefore);
      } else {
        p.mode = 'stall';
        p.resetMidRecord();
        await waitFor(() => p.accepts.length >= acceptsBefore + 1, 10_000, 20, `${where}: dial`);
        p.mode = 'forward';
        await waitFor(() => p.accepts.length >= acceptsBefore + 2, HANDSHAKE_TIMEOUT_MS + 5_000, 50, `${where}: dial after the stall`);
        const waited = p.accepts[acceptsBefore + 1] - p.accepts[acceptsBefore];
        expect(waited, where).toBeGreaterThanOrEqual(HANDSHAKE_TIMEOUT_MS - SLACK_MS);
        expect(waited, where).toBeLessThanOrEqual(HANDSHAKE_TIMEOUT_MS + cap + SLACK_MS);
      }
      if (fault !== 'throttle') await waitFor(() => a.onlineAt.length > onlineBefore, 30_000, 20, `${where}: back online`);
      // Every agent once, online, under its own id.
      const ids = fleet.map((f) => f.a.agent.clientId);
      await waitFor(
        async () => {
          const items = (await listClients(site.api, 'tag=faults-long')).items;
          return items.length === fleet.length && items.every((c) => c.status === 'online' && ids.includes(c.id));
        },
        10_000,
        50,
        `${where}: fleet online once`,
      );
      console.log(`[network-faults-long] round ${round}: ${fault} on client ${id}`);
    }
  } finally {
    await Promise.all(fleet.map((f) => f.a.agent.stop()));
    await Promise.all(fleet.map((f) => f.p.close()));
  }
  console.log(`[network-faults-long] ${rounds} rounds: ${JSON.stringify(counts)}`);
  await waitFor(async () => {
    const g = await siteGauges(site.api);
    return g.connected === 0 && g.tlsInProgress === 0;
  }, 10_000, 100, 'site gauges back to 0');
  const pid = site.proc.child.pid!;
  await waitFor(() => fdCount(pid) <= fdsBefore + 2, 10_000, 100, `site fds back to ${fdsBefore} (+2), now ${fdCount(pid)}`);
  await waitFor(() => grownHandles(handlesBefore, handleCounts(), 2).length === 0, 10_000, 100, `handles: ${grownHandles(handlesBefore, handleCounts(), 2).join(', ')}`);
});
