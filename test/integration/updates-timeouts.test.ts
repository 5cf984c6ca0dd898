/**
 * Self-update timeouts (issue #17, site/updates.ts UPDATE_TIMINGS): an offer never downloaded, and
 * a build sent whose new version never connects, stop counting as in flight (counted failed with
 * code TIMEOUT, not stored on the client) and the client, still connected, is offered the build
 * again without asking. A site in
 * this process with the timings shortened (the defaults are 10 min and health-timeout + 30 s).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SiteClient, probeCertificate } from '../../console/http.js';
import { sha256Of } from '../../protocol/update.js';
import { startSite, type RunningSite } from '../../site/server.js';
import { cleanup, tempDir, waitFor } from '../helpers/processes.js';
import { TEST_ADMIN_PASSWORD, apiToken, changeBootstrapPassword, createInstaller, type InstallerInfo } from '../helpers/site.js';
import { download, getText, metric, updateAgent, type UpdateAgent } from './updates-agent.js';

let site: RunningSite;
let inst: InstallerInfo;
const agents: UpdateAgent[] = [];
const VERSION = '0.1.1+abcabcabcabc';

beforeAll(async () => {
  const builds = tempDir('jump-builds-');
  mkdirSync(join(builds, 'linux-x64'));
  const data = randomBytes(50_000);
  writeFileSync(join(builds, 'linux-x64', 'jump-client'), data);
  writeFileSync(join(builds, 'linux-x64', 'build.json'), JSON.stringify({ platform: 'linux-x64', version: VERSION, hash: sha256Of(data) }));
  site = await startSite({
    dataDir: join(tempDir(), 'data'),
    host: '127.0.0.1',
    port: 0,
    metricsOpenLoopback: true,
    clientBuildsDir: builds,
    updateTimings: { tokenTtlMs: 1_000, downloadIdleMs: 1_000, healthMarginMs: 0, refreshMs: 200 },
    log: pino({ level: 'silent' }),
  });
  const { certPem } = await probeCertificate(site.listenUrl);
  await changeBootstrapPassword(site.listenUrl, certPem, readFileSync(site.bootstrapPasswordFile!, 'utf8').trim());
  const api = new SiteClient(site.listenUrl, { certPem, token: await apiToken(site.listenUrl, certPem, 'admin', TEST_ADMIN_PASSWORD) });
  await api.request('PUT', '/api/v1/settings/updates.health-timeout', { value: '5s' });
  inst = await createInstaller(api);
}, 60_000);
afterAll(async () => {
  for (const a of agents) a.close();
  await site?.close();
  await cleanup();
});

const metrics = () => getText(site.listenUrl, '/metrics');

describe('self-update timeouts', () => {
  it('an offer not downloaded, then a build sent whose new version never connects: each times out, is counted, and is offered again', async () => {
    const a = await updateAgent(inst, '0.1.0+aaaaaaaaaaaa', 'linux-x64');
    agents.push(a);
    const offer = await a.next('update_offer');
    expect(metric(await metrics(), 'jump_site_updates_in_flight')).toBe(1);
    // Never downloaded: ended after the token's lifetime (counted TIMEOUT), the token refused.
    await waitFor(async () => metric(await metrics(), 'jump_site_updates_failed_total', 'code="TIMEOUT"') === 1, 10_000, 100, 'offer timed out');
    expect(await download(site.listenUrl, offer.token as string, 0)).toEqual({ ok: false, status: 404 });
    // Not a stored failure: the client, still connected, is offered it again without asking.
    const again = await a.next('update_offer');
    expect(again.token).not.toBe(offer.token);
    const d = await download(site.listenUrl, again.token as string, 0);
    expect(d.ok && sha256Of(d.data)).toBe(again.sha256);
    a.send({ t: 'update_status', version: VERSION, state: 'installing' });
    // Sent, but the new version never connects: out of flight after health-timeout (5 s) + margin (0 here), and offered again.
    const t0 = Date.now();
    await waitFor(async () => metric(await metrics(), 'jump_site_updates_failed_total', 'code="TIMEOUT"') === 2, 15_000, 100, 'health timeout');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(3_000);
    expect((await a.next('update_offer')).version).toBe(VERSION);
    expect(metric(await metrics(), 'jump_site_updates_in_flight')).toBe(1);
  }, 60_000);
});
