/**
 * Site settings and the license limits they set (issue #18 items 2 and 4): `jump-site settings`
 * beside a running site (picked up within seconds), `jump settings` over the API for admins, the
 * validation of every key, and the seeds' limit errors at enrollment, at installer creation and on
 * a switch from passive to active.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SiteClient } from '../../console/http.js';
import { SITE_BIN, cleanup, run, tempDir, waitFor } from '../helpers/processes.js';
import { rawAgent, type RawAgent } from '../helpers/raw-agent.js';
import { apiToken, createInstaller, jump, login, startTestSite, type ClientJson, type TestSite } from '../helpers/site.js';

let site: TestSite;
const raws: RawAgent[] = [];

beforeAll(async () => {
  site = await startTestSite();
  const add = await run(process.execPath, [SITE_BIN, 'user', 'add', 'tess', '--password-stdin', '--data', site.dataDir], { input: 'correct horse battery' });
  expect(add.code, add.stderr).toBe(0);
});
afterAll(async () => {
  for (const r of raws) r.close();
  await cleanup();
});

const siteSettings = (args: string[]) => run(process.execPath, [SITE_BIN, 'settings', ...args, '--data', site.dataDir]);

/** Enrolls a raw agent, or returns the code its handshake was refused with. */
async function enroll(inst: Parameters<typeof rawAgent>[0]): Promise<{ clientId?: number; code?: string }> {
  try {
    const r = await rawAgent(inst, 'ignore');
    raws.push(r);
    return { clientId: r.clientId };
  } catch (err) {
    return { code: (err as Error).message };
  }
}

describe('jump-site settings (on the site host) and jump settings (admins, over the API)', () => {
  it('lists every setting with its default, and refuses an unknown key or a bad value naming the key and the form, changing nothing', async () => {
    const list = await siteSettings(['list', '--json']);
    expect(list.code, list.stderr).toBe(0);
    const items = (JSON.parse(list.stdout) as { items: { key: string; value: string; source: string }[] }).items;
    expect(items).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ key: 'jump-clients.max-total', value: 'unlimited', source: 'default' }),
        expect.objectContaining({ key: 'jump-clients.max-active', value: 'unlimited', source: 'default' }),
      ]),
    );

    for (const [args, field] of [
      [['set', 'jump-clients.max-total', '-1'], 'jump-clients.max-total'],
      [['set', 'jump-clients.max-total', '10x'], 'jump-clients.max-total'],
      [['set', 'jump-clients.max-totl', '5'], 'key'],
    ] as const) {
      const r = await siteSettings([...args]);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`^VALIDATION_FAILED: ${field.replace('.', '\\.')}: .*Fix: `, 'm'));
      const c = await jump(site.consoleDir, ['settings', ...args]);
      expect(c.code).toBe(1);
      expect(c.stderr).toMatch(new RegExp(`^VALIDATION_FAILED: ${field.replace('.', '\\.')}: `, 'm'));
    }
    expect((await jump(site.consoleDir, ['settings', 'get', 'jump-clients.max-total'])).stdout).toMatch(/^jump-clients\.max-total = unlimited \(default\)$/m);
  });

  it('is for admins only: a technician is refused, at the API and at the console', async () => {
    const tech = new SiteClient(site.url, { certPem: site.certPem, token: await apiToken(site.url, site.certPem, 'tess', 'correct horse battery') });
    await expect(tech.request('GET', '/api/v1/settings')).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
    await expect(tech.request('PUT', '/api/v1/settings/jump-clients.max-total', { value: '0' })).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
    const dir = tempDir('jump-console-');
    await login(site, dir, 'tess', 'correct horse battery');
    const r = await jump(dir, ['settings', 'set', 'jump-clients.max-total', '0']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^PERMISSION_DENIED: /m);
  });
});

describe('license limits (seeds: "The total number of Jump Clients that can be deployed for this site has been reached")', () => {
  it('max-total set beside the running site: the next enrollment past it and an installer create are refused with the seeds\' message; enrolled clients stay', async () => {
    const inst = await createInstaller(site.api, { tag: 'limits', max_uses: 100 });
    const first = await enroll(inst);
    expect(first.clientId).toBeGreaterThan(0);
    const count = (await site.api.request<{ summary: { jump_clients: number } }>('GET', '/api/v1/jump-clients')).summary.jump_clients;

    // Another process sets the limit to what the site has now; the running site applies it within seconds.
    const set = await siteSettings(['set', 'jump-clients.max-total', String(count)]);
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toMatch(new RegExp(`^jump-clients\\.max-total = ${count}$`, 'm'));
    const refusedCode = await waitFor(async () => (await enroll(inst)).code ?? null, 10_000, 300, 'enrollment refused at max-total');
    expect(refusedCode).toBe('DEPLOY_LIMIT_REACHED');

    const create = await jump(site.consoleDir, ['installer', 'create', '--tag', 'one-too-many']);
    expect(create.code).toBe(1);
    expect(create.stderr).toMatch(/^DEPLOY_LIMIT_REACHED: The total number of Jump Clients that can be deployed for this site has been reached\. \(jump-clients\.max-total=\d+\) Fix: /m);

    // The enrolled client is not dropped: it authenticates again with its key.
    raws[0].close();
    await raws[0].closed;
    await waitFor(async () => (await site.api.request<{ item: { status: string } }>('GET', `/api/v1/jump-clients/${first.clientId}`)).item.status === 'offline' || null, 10_000, 100, 'offline');
    const again = await rawAgent(inst, 'ignore', { key: raws[0].key, clientId: first.clientId });
    raws.push(again);
    expect(again.clientId).toBe(first.clientId);

    // Back to unlimited over the API: enrollment works at once.
    const unset = await jump(site.consoleDir, ['settings', 'unset', 'jump-clients.max-total']);
    expect(unset.code, unset.stderr).toBe(0);
    expect((await enroll(inst)).clientId).toBeGreaterThan(0);
  });

  it('max-active: an active enrollment and a switch from passive to active past it are refused with the seeds\' messages; passive ones still enroll', async () => {
    const active = await createInstaller(site.api, { tag: 'active-limit', mode: 'active' });
    const passive = await createInstaller(site.api, { tag: 'active-limit', mode: 'passive' });
    const a = await enroll(active);
    expect(a.clientId).toBeGreaterThan(0);
    const counts = (await site.api.request<{ summary: { jump_clients: number; passive: number } }>('GET', '/api/v1/jump-clients')).summary;
    const activeNow = counts.jump_clients - counts.passive;
    expect((await jump(site.consoleDir, ['settings', 'set', 'jump-clients.max-active', String(activeNow)])).code).toBe(0);

    expect((await enroll(active)).code).toBe('DEPLOY_ACTIVE_LIMIT_REACHED');
    const p = await enroll(passive);
    expect(p.clientId).toBeGreaterThan(0);
    const create = await jump(site.consoleDir, ['installer', 'create', '--mode', 'active']);
    expect(create.stderr).toMatch(/^DEPLOY_ACTIVE_LIMIT_REACHED: The total number of active Jump Clients that can be deployed for this site has been reached\./m);

    const toActive = await jump(site.consoleDir, ['clients', 'edit', String(p.clientId), '--active']);
    expect(toActive.code).toBe(1);
    expect(toActive.stderr).toMatch(/^ACTIVE_LIMIT_REACHED: The number of active Jump Clients has been reached\. \(jump-clients\.max-active=\d+\) Fix: /m);
    // Make room by switching the active one to passive; then the switch goes through.
    expect((await jump(site.consoleDir, ['clients', 'edit', String(a.clientId), '--passive'])).code).toBe(0);
    const ok = await jump(site.consoleDir, ['clients', 'edit', String(p.clientId), '--active', '--json']);
    expect(ok.code, ok.stderr).toBe(0);
    expect((JSON.parse(ok.stdout) as { items: { mode: string }[] }).items[0].mode).toBe('active');
    await jump(site.consoleDir, ['settings', 'unset', 'jump-clients.max-active']);
  });
});

describe('offline lifetime (seeds: 180 days offline: removed from the Jump interface)', () => {
  it('marks a client offline past jump-clients.max-offline lost (with its purge date), purges it after lost-grace, spares one with its own --max-offline and one that comes back', async () => {
    const inst = await createInstaller(site.api, { tag: 'lifetime', max_uses: 100 });
    const gone = await rawAgent(inst, 'ignore');
    const spared = await rawAgent(inst, 'ignore');
    const back = await rawAgent(inst, 'ignore');
    const get = async (id: number) => (await site.api.request<{ item: ClientJson }>('GET', `/api/v1/jump-clients/${id}`)).item;
    // A per-client lifetime: 1 h instead of the site's.
    const edit = await jump(site.consoleDir, ['clients', 'edit', String(spared.clientId), '--max-offline', '1h', '--json']);
    expect(edit.code, edit.stderr).toBe(0);
    expect((JSON.parse(edit.stdout) as { items: ClientJson[] }).items[0].max_offline).toBe('1h');
    const bad = await jump(site.consoleDir, ['clients', 'edit', String(spared.clientId), '--max-offline', 'soon']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^VALIDATION_FAILED: max_offline: must be a duration/m);
    for (const r of [gone, spared, back]) {
      r.close();
      await r.closed;
    }
    await waitFor(async () => (await get(gone.clientId)).status === 'offline' || null, 10_000, 100, 'offline');

    for (const [key, value] of [['jump-clients.max-offline', '2s'], ['jump-clients.lost-grace', '6s']]) {
      const r = await jump(site.consoleDir, ['settings', 'set', key, value]);
      expect(r.code, r.stderr).toBe(0);
    }
    const lost = await waitFor(async () => {
      const c = await get(gone.clientId);
      return c.status === 'lost' ? c : null;
    }, 15_000, 250, 'lost');
    expect(Date.parse(lost.purge_at!) - Date.parse(lost.lost_at!)).toBe(6_000);
    const shown = (await jump(site.consoleDir, ['clients', 'show', String(gone.clientId)])).stdout;
    expect(shown).toMatch(/│ Status\s+│ lost /);
    expect(shown).toMatch(/│ Lost\s+│ since \d{4}-\d\d-\d\d \d\d:\d\d UTC/);
    expect(shown).toContain('purged');
    expect((await get(spared.clientId)).status).toBe('offline');

    // One that connects again before its purge is online, and no longer lost.
    await waitFor(async () => (await get(back.clientId)).status === 'lost' || null, 15_000, 250, 'second lost');
    const again = await rawAgent(inst, 'ignore', { key: back.key, clientId: back.clientId });
    raws.push(again);
    expect(await get(back.clientId)).toMatchObject({ status: 'online', lost_at: null, purge_at: null });

    // Purged: gone from the Jump interface, audited.
    await waitFor(async () => {
      try {
        await get(gone.clientId);
        return null;
      } catch (err) {
        return (err as { code?: string }).code === 'JUMP_CLIENT_NOT_FOUND' ? true : null;
      }
    }, 20_000, 250, 'purged');
    expect((await get(spared.clientId)).status).toBe('offline');
    expect((await get(back.clientId)).status).toBe('online');
    for (const key of ['jump-clients.max-offline', 'jump-clients.lost-grace']) await jump(site.consoleDir, ['settings', 'unset', key]);
  });

  it('refuses a duration setting without its unit, naming the key and the form', async () => {
    const r = await jump(site.consoleDir, ['settings', 'set', 'jump-clients.max-offline', '180']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^VALIDATION_FAILED: jump-clients\.max-offline: "180" is not a duration\. Fix: give a positive number with its unit/m);
  });
});
