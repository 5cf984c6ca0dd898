/**
 * Passive jump clients (issue #18 item 1): a real `jump-client run` enrolled passive (by its
 * installer, or by `--jc-passive`) checks in on
 * jump-clients.passive-interval, reports its statistics and leaves; the list shows it "passive";
 * a Jump waits for its next check-in and runs; a passive client that does not check in fails the
 * Jump with the seeds' timeout; a switch to active reconnects it at once and it stays.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanup, waitFor, type Proc } from '../helpers/processes.js';
import { rawAgent, type RawAgent } from '../helpers/raw-agent.js';
import { createInstaller, jump, listClients, startAgentProcess, startSiteProcess, startTestSite, type ClientJson, type TestSite } from '../helpers/site.js';

let site: TestSite;
const agents: Proc[] = [];
const raws: RawAgent[] = [];

beforeAll(async () => {
  site = await startTestSite({ extraArgs: ['--session-connect-timeout', '6s'] });
  const r = await jump(site.consoleDir, ['settings', 'set', 'jump-clients.passive-interval', '2s']);
  expect(r.code, r.stderr).toBe(0);
});
afterAll(async () => {
  for (const p of agents) p.child.kill('SIGKILL');
  for (const r of raws) r.close();
  await cleanup();
});

const get = async (id: number) => (await site.api.request<{ item: ClientJson & { stats: { hostname?: string } } }>('GET', `/api/v1/jump-clients/${id}`)).item;

/** Check-ins seen so far: `last_connected` changes at each. */
async function checkIns(id: number, n: number): Promise<string[]> {
  const seen = new Set<string>();
  await waitFor(async () => {
    const c = await get(id);
    if (c.last_connected) seen.add(c.last_connected);
    return seen.size >= n || null;
  }, 30_000, 100, `${n} check-ins`);
  return [...seen];
}

describe('a passive jump client', () => {
  it('checks in on its interval with its statistics, is listed passive, and a Jump waits for its next check-in', async () => {
    const inst = await createInstaller(site.api, { tag: 'passive', mode: 'passive' });
    const { proc } = startAgentProcess(inst);
    agents.push(proc);
    const c = await waitFor(async () => (await listClients(site.api, 'tag=passive')).items[0] ?? null, 20_000, 200, 'enrolled');
    // Several check-ins, each a separate connection that ends by itself.
    await checkIns(c.id, 3);
    const between = await waitFor(async () => {
      const x = await get(c.id);
      return x.status === 'passive' ? x : null;
    }, 10_000, 100, 'passive between check-ins');
    expect(between.stats.hostname).toBeTruthy();
    const list = await listClients(site.api, 'tag=passive');
    expect(list.summary.passive).toBe(1);
    expect((await jump(site.consoleDir, ['clients', '--tag', 'passive'])).stdout).toMatch(/Passive/);

    // A Jump: held at the next check-in, then the command runs.
    const r = await jump(site.consoleDir, ['jump', String(c.id), '--', 'echo passive-ok']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('passive-ok');
    // Held: it stays connected for the session (and a minute after), instead of leaving.
    expect((await get(c.id)).status).toBe('online');
  });

  it('--jc-passive makes the client of an active installer passive, without the installer allowing overrides, and it does not count against max-active', async () => {
    const inst = await createInstaller(site.api, { tag: 'jc-passive', mode: 'active' });
    const counts = (await site.api.request<{ summary: { jump_clients: number; passive: number } }>('GET', '/api/v1/jump-clients')).summary;
    expect((await jump(site.consoleDir, ['settings', 'set', 'jump-clients.max-active', String(counts.jump_clients - counts.passive)])).code).toBe(0);
    try {
      const { proc } = startAgentProcess(inst, { extraArgs: ['--jc-passive'] });
      agents.push(proc);
      const c = await waitFor(async () => (await listClients(site.api, 'tag=jc-passive')).items[0] ?? null, 20_000, 200, 'enrolled');
      expect(c.mode).toBe('passive');
      await checkIns(c.id, 2);
    } finally {
      await jump(site.consoleDir, ['settings', 'unset', 'jump-clients.max-active']);
    }
  });

  it('fails a Jump with JUMP_CONNECT_TIMEOUT when the passive client does not check in', async () => {
    const inst = await createInstaller(site.api, { tag: 'passive-gone', mode: 'passive' });
    const { proc } = startAgentProcess(inst);
    agents.push(proc);
    const c = await waitFor(async () => (await listClients(site.api, 'tag=passive-gone')).items[0] ?? null, 20_000, 200, 'enrolled');
    await checkIns(c.id, 1);
    proc.child.kill('SIGKILL');
    await proc.exited;
    const started = Date.now();
    const r = await jump(site.consoleDir, ['jump', String(c.id), '--', 'true']);
    expect(r.code).toBe(255);
    expect(r.stderr).toMatch(/^JUMP_CONNECT_TIMEOUT: Timed out while trying to connect to the jump client\. Jump client \d+ is passive and did not check in within 6 s\./m);
    expect(Date.now() - started).toBeGreaterThanOrEqual(5_000);
  });

  it('switched to active, reconnects at once and stays connected', async () => {
    const inst = await createInstaller(site.api, { tag: 'passive-switch', mode: 'passive' });
    const { proc } = startAgentProcess(inst);
    agents.push(proc);
    const c = await waitFor(async () => (await listClients(site.api, 'tag=passive-switch')).items[0] ?? null, 20_000, 200, 'enrolled');
    await checkIns(c.id, 1);
    const edit = await jump(site.consoleDir, ['clients', 'edit', String(c.id), '--active']);
    expect(edit.code, edit.stderr).toBe(0);
    // Active from its next connection on: online, and still online after several passive intervals.
    await waitFor(async () => ((await get(c.id)).status === 'online' ? true : null), 15_000, 100, 'online');
    const since = (await get(c.id)).last_connected;
    await new Promise((r) => setTimeout(r, 6_000));
    expect(await get(c.id)).toMatchObject({ status: 'online', mode: 'active', last_connected: since });
  });
});

describe('a site restarted while clients are passive', () => {
  it('loses none: after kill -9 and a restart on the same data dir and port, each passive client checks in again, listed passive, not lost', async () => {
    const inst = await createInstaller(site.api, { tag: 'passive-restart', mode: 'passive' });
    for (let i = 0; i < 3; i++) {
      const { proc } = startAgentProcess(inst);
      agents.push(proc);
    }
    const ids = (await waitFor(async () => {
      const items = (await listClients(site.api, 'tag=passive-restart')).items;
      return items.length === 3 ? items : null;
    }, 20_000, 200, 'three enrolled')).map((c) => c.id);
    for (const id of ids) await checkIns(id, 1);
    const before = new Map<number, string | null>();
    for (const id of ids) before.set(id, (await get(id)).last_connected);

    site.proc.child.kill('SIGKILL');
    await site.proc.exited;
    const again = await startSiteProcess({ dataDir: site.dataDir, port: site.port });
    site = { ...site, proc: again.proc };
    // Each comes back at its next check-in (a newer last_connected), and is passive between them.
    for (const id of ids) {
      await waitFor(async () => ((await get(id)).last_connected !== before.get(id) ? true : null), 30_000, 200, `client ${id} checked in after the restart`);
    }
    const list = await listClients(site.api, 'tag=passive-restart');
    expect(list.items).toHaveLength(3);
    for (const c of list.items) expect(['passive', 'online']).toContain(c.status);
  });
});

describe('a passive fleet over the admission rate', () => {
  it('is warned about in the site log, naming the rate, the admission rate and the fix', async () => {
    const small = await startTestSite({ extraArgs: ['--admission-rate', '2'] });
    try {
      expect((await jump(small.consoleDir, ['settings', 'set', 'jump-clients.passive-interval', '1s'])).code).toBe(0);
      const inst = await createInstaller(small.api, { tag: 'passive-load', mode: 'passive' });
      for (let i = 0; i < 2; i++) raws.push(await rawAgent(inst, 'ignore'));
      // 2 passive clients every second: 2/s, over 80 % of an admission rate of 2/s.
      await waitFor(() => /passive jump clients check in at 2\.0\/s, over 80 % of --admission-rate 2/.test(small.proc.stdout()) || null, 20_000, 200, 'the warning');
      expect(small.proc.stdout()).toMatch(/raise --admission-rate or jump-clients\.passive-interval/);
    } finally {
      small.proc.child.kill('SIGTERM');
      await small.proc.exited;
    }
  });
});

