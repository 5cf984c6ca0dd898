/**
 * Self-update, the site side (issue #17, site/updates.ts, docs/updates.md), against a real
 * `jump-site serve` with hand-driven agents (updates-agent.ts) reporting fake versions and
 * platforms, and fake builds (random bytes with a build.json) imported by `jump-site builds import`
 * beside the running site: import errors, offers and their absence, signature and bytes, resume,
 * tokens refused before the upgrade, failures and retry, pause/resume, the concurrency cap, the
 * bandwidth cap, status from a client never offered, a Jump during an update.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sshPublicKey } from '../../protocol/ssh-keys.js';
import { newEd25519Key } from '../../protocol/handshake.js';
import { stampFromCreated } from '../../protocol/stamp.js';
import { MAX_BUILD_BYTES, sha256Of, verifyBuild, type ClientPlatform } from '../../protocol/update.js';
import { SITE_BIN, cleanup, run, tempDir, waitFor } from '../helpers/processes.js';
import { TEST_ADMIN_PASSWORD, apiToken, changeBootstrapPassword, createInstaller, jump, login, startSiteProcess, startTestSite, type InstallerInfo, type TestSite } from '../helpers/site.js';
import { SiteClient, probeCertificate } from '../../console/http.js';
import { download, getText, metric, updateAgent, type UpdateAgent } from './updates-agent.js';
import type { ApiUpdateStatus } from '../../protocol/api.js';
import { VERSION } from '../../protocol/version.js';

/** Writes a fake `npm run package` output: `<dir>/<platform>/{jump-client[.exe], build.json}`; returns the bytes per platform. */
function fakeBuilds(builds: { platform: string; version?: string; hash?: string; size: number; folder?: string }[]): { dir: string; bytes: Map<string, Buffer> } {
  const dir = tempDir('jump-builds-');
  const bytes = new Map<string, Buffer>();
  for (const b of builds) {
    const folder = join(dir, b.folder ?? b.platform);
    mkdirSync(folder, { recursive: true });
    const data = randomBytes(b.size);
    writeFileSync(join(folder, b.platform === 'win-x64' ? 'jump-client.exe' : 'jump-client'), data);
    writeFileSync(join(folder, 'build.json'), JSON.stringify({ platform: b.platform, node: process.versions.node, hash: b.hash ?? sha256Of(data), built_at: new Date().toISOString(), ...(b.version ? { version: b.version } : {}) }));
    bytes.set(b.platform, data);
  }
  return { dir, bytes };
}

const siteCli = (args: string[]) => run(process.execPath, [SITE_BIN, ...args]);

let site: TestSite;
let inst: InstallerInfo;
const agents: UpdateAgent[] = [];
const agent = async (version: string, platform: ClientPlatform | undefined, opts: Parameters<typeof updateAgent>[3] = {}) => {
  const a = await updateAgent(inst, version, platform, opts);
  agents.push(a);
  return a;
};
const status = async () => (await site.api.request<{ item: ApiUpdateStatus }>('GET', '/api/v1/updates')).item;
const setting = async (key: string, value: string) => site.api.request('PUT', `/api/v1/settings/${key}`, { value });
/** Imports builds beside the running site and waits until it serves `version` for `platform`. */
async function importAndWait(dir: string, platform: string, version: string): Promise<void> {
  const r = await siteCli(['builds', 'import', dir, '--data', site.dataDir]);
  expect(r.code, r.stderr).toBe(0);
  await waitFor(async () => (await status()).builds.some((b) => b.platform === platform && b.version === version), 15_000, 100, `site serving ${platform} ${version}`);
}
/** Asserts that `a` gets neither an offer nor a later for an update_check (a positive control runs alongside in each test). */
async function expectNothing(a: UpdateAgent): Promise<void> {
  a.send({ t: 'update_check' });
  await a.roundTrip();
  await new Promise((r) => setTimeout(r, 400));
  expect(a.messages.filter((m) => m.t === 'update_offer' || m.t === 'update_later')).toEqual([]);
}

beforeAll(async () => {
  // Many agents at once from 127.0.0.1: past the per-address TLS handshake bound and the admission rate otherwise.
  site = await startTestSite({ extraArgs: ['--metrics-open-loopback', '--admission-rate', '1000', '--max-tls-handshakes-per-address', '200'] });
  inst = await createInstaller(site.api, { valid_for_ms: 3_600_000 });
}, 60_000);
afterAll(async () => {
  for (const a of agents) a.close();
  await cleanup();
});

describe('self-update: keys and builds', () => {
  it('makes the update-signing key 0600 on first start, stamps its pin into installers and sends it in the welcome', async () => {
    const mode = statSync(join(site.dataDir, 'update-signing.key')).mode & 0o777;
    expect(mode).toBe(0o600);
    expect(inst.update_pin).toMatch(/^ed25519:[A-Za-z0-9_-]{43}$/);
    expect(inst.update_pin).not.toBe(inst.site_pin);
    expect(stampFromCreated(inst).update_pin).toBe(inst.update_pin);
    const a = await agent('0.1.0+aaaaaaaaaaaa', 'linux-arm64');
    expect(a.welcome.update_pin).toBe(inst.update_pin);
    a.close();
  });

  it('refuses bad imports with a clear error and records nothing', async () => {
    const empty = tempDir('jump-builds-');
    let r = await siteCli(['builds', 'import', empty, '--data', site.dataDir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^UPDATE_BUILDS_NOT_FOUND: .*no <platform>\/build.json/);
    r = await siteCli(['builds', 'import', join(empty, 'nope'), '--data', site.dataDir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^VALIDATION_FAILED: .*cannot be read \(ENOENT\)/);
    // A platform folder this site does not serve, next to a good one: nothing of the good one is recorded.
    const mac = fakeBuilds([{ platform: 'linux-x64', size: 1000, version: '0.1.9+bbbbbbbbbbbb' }, { platform: 'mac-arm64', size: 1000 }]);
    r = await siteCli(['builds', 'import', mac.dir, '--data', site.dataDir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^UPDATE_PLATFORM_UNKNOWN: .*mac-arm64.*linux-x64, linux-arm64 or win-x64/s);
    // build.json says another platform than its folder.
    const lying = fakeBuilds([{ platform: 'win-x64', folder: 'linux-x64', size: 1000 }]);
    r = await siteCli(['builds', 'import', lying.dir, '--data', site.dataDir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^UPDATE_PLATFORM_UNKNOWN: .*"win-x64" in folder "linux-x64"/);
    // A version that is not <semver>+<build id>.
    const badVersion = fakeBuilds([{ platform: 'linux-x64', size: 1000, version: 'latest' }]);
    r = await siteCli(['builds', 'import', badVersion.dir, '--data', site.dataDir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^VALIDATION_FAILED: .*build.json: version "latest" must be <major>.<minor>.<patch>/);
    // Past MAX_BUILD_BYTES (a sparse file: nothing is read).
    const big = fakeBuilds([{ platform: 'linux-x64', size: 10, version: '0.1.9+bbbbbbbbbbbb' }]);
    truncateSync(join(big.dir, 'linux-x64', 'jump-client'), MAX_BUILD_BYTES + 1);
    r = await siteCli(['builds', 'import', big.dir, '--data', site.dataDir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^VALIDATION_FAILED: .*jump-client: 536870913 bytes, over the 536870912 bytes a jump client accepts/);
    const list = await siteCli(['builds', 'list', '--json', '--data', site.dataDir]);
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout).items).toEqual([]);
    expect(readdirSync(site.dataDir)).not.toContain('builds');
  });
});

describe('self-update: serve --client-builds', () => {
  it('imports on start and lists the build as served; a folder without builds stops the start with its code', async () => {
    const { dir, bytes } = fakeBuilds([{ platform: 'win-x64', size: 5000 }]);
    const data = join(tempDir(), 'data');
    const s = await startSiteProcess({ dataDir: data, extraArgs: ['--client-builds', dir] });
    const list = await siteCli(['builds', 'list', '--data', data]);
    expect(list.code, list.stderr).toBe(0);
    // build.json without a version: <site version>+<first 12 hex of its hash>.
    expect(list.stdout).toMatch(new RegExp(`win-x64\\s+${VERSION.replace(/\./g, '\\.')}\\+${sha256Of(bytes.get('win-x64')!).slice(0, 12)}\\s+5000 .*yes`));
    s.proc.child.kill('SIGKILL');
    const bad = await run(process.execPath, [SITE_BIN, 'serve', '--data', join(tempDir(), 'data'), '--listen', '127.0.0.1:0', '--client-builds', tempDir('jump-builds-')]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^UPDATE_BUILDS_NOT_FOUND: /m);
  });
});

describe('self-update: a site killed during a download', () => {
  it('offers the update again after a restart, and still accepts the failure of what it offered before', async () => {
    const { dir } = fakeBuilds([{ platform: 'linux-x64', size: 3 * 1024 * 1024, version: '0.1.2+ffffffffffff' }]);
    const data = join(tempDir(), 'data');
    const s1 = await startSiteProcess({ dataDir: data, extraArgs: ['--client-builds', dir] });
    const probe = await probeCertificate(s1.url);
    await changeBootstrapPassword(s1.url, probe.certPem, s1.password!);
    const api = new SiteClient(s1.url, { certPem: probe.certPem, token: await apiToken(s1.url, probe.certPem, 'admin', TEST_ADMIN_PASSWORD) });
    // 3 MiB at 4 MiB/s: at least 0.7 s, so a kill 300 ms in always cuts it.
    await api.request('PUT', '/api/v1/settings/updates.max-bandwidth', { value: '4' });
    const i = await createInstaller(api);
    const a = await updateAgent(i, '0.1.0+aaaaaaaaaaaa', 'linux-x64');
    agents.push(a);
    const offer = await a.next('update_offer');
    const partial = download(s1.url, offer.token as string, 0);
    await new Promise((r) => setTimeout(r, 300));
    s1.proc.child.kill('SIGKILL');
    const cut = await partial;
    expect(cut.ok && cut.data.length).toBeLessThan(offer.size as number);
    await a.closed;
    // The same data and port: the agent comes back on its old version and is offered the build again.
    const s2 = await startSiteProcess({ dataDir: data, port: s1.port });
    const b = await updateAgent(i, '0.1.0+aaaaaaaaaaaa', 'linux-x64', { key: a.key, clientId: a.clientId });
    agents.push(b);
    const again = await b.next('update_offer');
    expect(again).toMatchObject({ version: offer.version, sha256: offer.sha256, sig: offer.sig });
    const rest = await download(s2.url, again.token as string, cut.ok ? cut.data.length : 0);
    expect(sha256Of(Buffer.concat([cut.ok ? cut.data : Buffer.alloc(0), rest.ok ? rest.data : Buffer.alloc(0)]))).toBe(offer.sha256);
    // Killed again before the agent reports, and restarted paused (no new offer, nothing in flight): the
    // failure of the version offered before is still accepted, not refused as never offered.
    s2.proc.child.kill('SIGKILL');
    await b.closed;
    expect((await siteCli(['settings', 'set', 'updates.paused', 'yes', '--data', data])).code).toBe(0);
    await startSiteProcess({ dataDir: data, port: s1.port });
    const c = await updateAgent(i, '0.1.0+aaaaaaaaaaaa', 'linux-x64', { key: a.key, clientId: a.clientId });
    agents.push(c);
    await c.next('update_later');
    c.send({ t: 'update_status', version: offer.version, state: 'failed', code: 'UPDATE_FAILED', reason: 'health check timed out' });
    await c.roundTrip();
    await new Promise((r) => setTimeout(r, 300));
    expect(c.messages.filter((m) => m.t === 'error')).toEqual([]);
    const show = await api.request<{ item: { update_failure: { version: string; code: string; reason: string } | null } }>('GET', `/api/v1/jump-clients/${a.clientId}`).catch(async () => {
      // The API client's keep-alive socket died with the site: a fresh client.
      const t = await apiToken(s1.url, probe.certPem, 'admin', TEST_ADMIN_PASSWORD);
      return new SiteClient(s1.url, { certPem: probe.certPem, token: t }).request<{ item: { update_failure: { version: string; code: string; reason: string } | null } }>('GET', `/api/v1/jump-clients/${a.clientId}`);
    });
    expect(show.item.update_failure).toMatchObject({ version: offer.version, code: 'UPDATE_FAILED', reason: 'health check timed out' });
  }, 60_000);
});

describe('self-update: offers, download, resume, tokens', () => {
  it('offers the served build only to a client of that platform on another version; the bytes match and verify against the welcome pin', async () => {
    const old = await agent('0.1.0+aaaaaaaaaaaa', 'linux-x64');
    const same = await agent('0.1.1+cccccccccccc', 'linux-x64');
    const unpackaged = await agent('0.1.0+dev', undefined);
    const other = await agent('0.1.0+aaaaaaaaaaaa', 'linux-arm64');
    // Imported while they are connected: the running site picks it up and offers it at once.
    const { dir, bytes } = fakeBuilds([{ platform: 'linux-x64', size: 700_000, version: '0.1.1+cccccccccccc' }]);
    await importAndWait(dir, 'linux-x64', '0.1.1+cccccccccccc');
    const offer = await old.next('update_offer');
    const data = bytes.get('linux-x64')!;
    expect(offer).toMatchObject({ version: '0.1.1+cccccccccccc', platform: 'linux-x64', size: data.length, sha256: sha256Of(data), health_timeout_ms: 120_000 });
    const identity = { platform: 'linux-x64' as const, version: offer.version as string, sha256: offer.sha256 as string, size: offer.size as number };
    expect(verifyBuild(old.welcome.update_pin as string, identity, offer.sig as string)).toBe(true);
    expect(verifyBuild(inst.site_pin, identity, offer.sig as string)).toBe(false);
    expect(verifyBuild(old.welcome.update_pin as string, { ...identity, size: identity.size + 1 }, offer.sig as string)).toBe(false);
    for (const a of [same, unpackaged, other]) await expectNothing(a);
    // A Jump to it while the update is in flight: the seeds' version error, saying it is updating.
    const jumpRes = await site.api
      .request('POST', `/api/v1/jump-clients/${old.clientId}/sessions`, { public_key: sshPublicKey(newEd25519Key()) })
      .then(() => null, (e: { code?: string; message?: string }) => e);
    expect(jumpRes?.code).toBe('JUMP_VERSION_MISMATCH');
    expect(jumpRes?.message).toMatch(/updating to 0\.1\.1\+cccccccccccc/);
    // The connection drops after 300 000 bytes or more; the rest resumes from there with a new token.
    const first = await download(site.url, offer.token as string, 0, 300_000);
    const got = first.ok ? first.data : Buffer.alloc(0);
    expect(got.length).toBeGreaterThanOrEqual(300_000);
    expect(got.length).toBeLessThan(data.length);
    // The token was used: refused before the upgrade, as is a made-up one.
    expect(await download(site.url, offer.token as string, 0)).toEqual({ ok: false, status: 404 });
    expect(await download(site.url, randomBytes(32).toString('base64url'), 0)).toEqual({ ok: false, status: 404 });
    expect(await download(site.url, 'x', 0)).toEqual({ ok: false, status: 404 });
    old.send({ t: 'update_check' });
    const again = await old.next('update_offer');
    expect(again.token).not.toBe(offer.token);
    expect(await download(site.url, again.token as string, data.length + 1)).toEqual({ ok: false, status: 416 });
    old.send({ t: 'update_check' });
    const third = await old.next('update_offer');
    expect(await download(site.url, third.token as string, '12abc')).toEqual({ ok: false, status: 400 });
    old.send({ t: 'update_check' });
    const fourth = await old.next('update_offer');
    const tail = await download(site.url, fourth.token as string, got.length);
    expect(tail.ok && tail.code).toBe(1000);
    const whole = Buffer.concat([got, tail.ok ? tail.data : Buffer.alloc(0)]);
    expect(sha256Of(whole)).toBe(offer.sha256);
    expect(whole.equals(data)).toBe(true);
    // The new version connects with the same identity: completed, no longer in flight, listed on it.
    const before = await getText(site.url, '/metrics');
    old.close();
    const updated = await agent('0.1.1+cccccccccccc', 'linux-x64', { key: old.key, clientId: old.clientId });
    await waitFor(async () => metric(await getText(site.url, '/metrics'), 'jump_site_updates_completed_total') === metric(before, 'jump_site_updates_completed_total') + 1, 10_000, 100, 'completed');
    const m = await getText(site.url, '/metrics');
    expect(metric(m, 'jump_site_updates_in_flight')).toBe(0);
    expect(metric(m, 'jump_site_update_bytes_served_total')).toBeGreaterThanOrEqual(data.length);
    await expectNothing(updated);
    const c = await site.api.request<{ item: { version: string; platform: string } }>('GET', `/api/v1/jump-clients/${old.clientId}`);
    expect(c.item).toMatchObject({ version: '0.1.1+cccccccccccc', platform: 'linux-x64' });
    const wide = await jump(site.consoleDir, ['clients', 'list', '-o', 'wide']);
    expect(wide.stdout).toContain('0.1.1+cccccccccccc');
  }, 60_000);

  it('refuses an update_status from a client it never offered an update', async () => {
    const a = await agent('0.1.1+cccccccccccc', 'linux-x64');
    a.send({ t: 'update_status', version: '0.1.1+cccccccccccc', state: 'failed', code: 'UPDATE_FAILED', reason: 'made up' });
    const err = await a.next('error');
    expect(err.code).toBe('PROTOCOL_INVALID_MESSAGE');
    expect(err.message).toMatch(/did not offer/);
    expect((await a.closed).code).toBe(4000);
    expect((await status()).failed.filter((f) => f.client_id === a.clientId)).toEqual([]);
  });

  it('a reported failure stops offers to that client until `jump updates retry ID` (admins only)', async () => {
    const a = await agent('0.1.0+aaaaaaaaaaaa', 'linux-x64');
    const offer = await a.next('update_offer');
    a.send({ t: 'update_status', version: offer.version, state: 'downloading' });
    a.send({ t: 'update_status', version: offer.version, state: 'failed', code: 'UPDATE_SIGNATURE_INVALID', reason: 'sha256 differs' });
    await waitFor(async () => (await status()).failed.some((f) => f.client_id === a.clientId), 10_000, 100, 'failure listed');
    const st = await jump(site.consoleDir, ['updates', 'status']);
    expect(st.code, st.stderr).toBe(0);
    expect(st.stdout).toMatch(/Failed \(not offered again/);
    expect(st.stdout).toMatch(new RegExp(`${a.clientId}.*0\\.1\\.1\\+cccccccccccc.*UPDATE_SIGNATURE_INVALID.*sha256 differs`));
    expect((await status()).in_flight.some((f) => f.client_id === a.clientId)).toBe(false);
    expect(metric(await getText(site.url, '/metrics'), 'jump_site_updates_failed_total', 'code="UPDATE_SIGNATURE_INVALID"')).toBeGreaterThanOrEqual(1);
    // Reconnecting does not bring the offer back; a positive control on the same version does get one.
    a.close();
    const back = await agent('0.1.0+aaaaaaaaaaaa', 'linux-x64', { key: a.key, clientId: a.clientId });
    const control = await agent('0.1.0+aaaaaaaaaaaa', 'linux-x64');
    await control.next('update_offer');
    control.send({ t: 'update_status', version: '0.1.1+cccccccccccc', state: 'failed', code: 'UPDATE_FAILED', reason: 'control done' });
    await expectNothing(back);
    const show = await jump(site.consoleDir, ['clients', 'show', String(a.clientId)]);
    expect(show.stdout).toMatch(/Update Failed/);
    // A technician may read the status, not retry.
    const pw = 'technician password 1';
    const add = await run(process.execPath, [SITE_BIN, 'user', 'add', 'updtech', '--password-stdin', '--data', site.dataDir], { input: pw });
    expect(add.code, add.stderr).toBe(0);
    const techDir = tempDir('jump-console-');
    await login(site, techDir, 'updtech', pw);
    const denied = await jump(techDir, ['updates', 'retry', String(a.clientId)]);
    expect(denied.code).toBe(1);
    expect(denied.stderr).toMatch(/^PERMISSION_DENIED/);
    expect((await jump(techDir, ['updates', 'status', '--json'])).code).toBe(0);
    const bad = await jump(site.consoleDir, ['updates', 'retry', 'abc']);
    expect(bad.stderr).toMatch(/^VALIDATION_FAILED: ID: "abc" is not a jump client id/);
    const retry = await jump(site.consoleDir, ['updates', 'retry', String(a.clientId)]);
    expect(retry.code, retry.stderr).toBe(0);
    // Connected: offered at once.
    const offer2 = await back.next('update_offer');
    expect(offer2.version).toBe('0.1.1+cccccccccccc');
    back.send({ t: 'update_status', version: offer2.version, state: 'failed', code: 'UPDATE_FAILED', reason: 'test done' });
    const again = await jump(site.consoleDir, ['updates', 'retry', String(control.clientId + 1000)]);
    expect(again.stderr).toMatch(/^JUMP_CLIENT_NOT_FOUND/);
  }, 60_000);

  it('pause answers update_later (5-10 min) and resume offers again; updates.mode off too; bad values are refused', async () => {
    const p = await jump(site.consoleDir, ['updates', 'pause']);
    expect(p.code, p.stderr).toBe(0);
    const a = await agent('0.1.0+aaaaaaaaaaaa', 'linux-x64');
    const later = await a.next('update_later');
    expect(later.retry_after_ms).toBeGreaterThanOrEqual(5 * 60_000);
    expect(later.retry_after_ms).toBeLessThanOrEqual(10 * 60_000);
    expect((await status()).paused).toBe(true);
    expect((await jump(site.consoleDir, ['updates', 'resume'])).code).toBe(0);
    a.send({ t: 'update_check' });
    const offer = await a.next('update_offer');
    a.send({ t: 'update_status', version: offer.version, state: 'failed', code: 'UPDATE_FAILED', reason: 'test done' });
    await setting('updates.mode', 'off');
    const b = await agent('0.1.0+aaaaaaaaaaaa', 'linux-x64');
    expect((await b.next('update_later')).retry_after_ms).toBeGreaterThanOrEqual(10 * 60_000);
    await setting('updates.mode', 'auto');
    b.send({ t: 'update_check' });
    const offerB = await b.next('update_offer');
    b.send({ t: 'update_status', version: offerB.version, state: 'failed', code: 'UPDATE_FAILED', reason: 'test done' });
    const bad = await jump(site.consoleDir, ['settings', 'set', 'updates.mode', 'sometimes']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/updates\.mode: "sometimes" is not one of auto, off/);
    const bw = await jump(site.consoleDir, ['settings', 'set', 'updates.max-bandwidth', '0']);
    expect(bw.stderr).toMatch(/updates\.max-bandwidth: "0" is not a limit. Fix: give a whole number \(1 or more/);
    const ht = await jump(site.consoleDir, ['settings', 'set', 'updates.health-timeout', '1s']);
    expect(ht.stderr).toMatch(/updates\.health-timeout: "1s" is not a duration between 5s and 1h/);
  }, 60_000);
});

describe('self-update: limits', () => {
  it('with updates.max-concurrent 1 and ten agents, no sample of the in-flight gauge exceeds 1 and all are updated', async () => {
    const { dir } = fakeBuilds([{ platform: 'win-x64', size: 200_000, version: '0.1.1+dddddddddddd' }]);
    await importAndWait(dir, 'win-x64', '0.1.1+dddddddddddd');
    await setting('updates.max-concurrent', '1');
    let peak = 0;
    let samples = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        peak = Math.max(peak, metric(await getText(site.url, '/metrics').catch(() => ''), 'jump_site_updates_in_flight'));
        samples++;
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    let laters = 0;
    // Each agent: ask until offered (ignoring the 30-90 s retry_after, to keep the test short), download, come back on the new version.
    const one = async () => {
      const a = await agent('0.1.0+aaaaaaaaaaaa', 'win-x64');
      for (;;) {
        const m = await a.next(['update_offer', 'update_later'], 60_000);
        if (m.t === 'update_offer') {
          const d = await download(site.url, m.token as string, 0);
          expect(d.ok && d.data.length).toBe(200_000);
          a.close();
          const b = await agent(m.version as string, 'win-x64', { key: a.key, clientId: a.clientId });
          await b.roundTrip();
          return;
        }
        laters++;
        await new Promise((r) => setTimeout(r, 100 + Math.random() * 200));
        a.send({ t: 'update_check' });
      }
    };
    await Promise.all(Array.from({ length: 10 }, one)).finally(() => (sampling = false));
    await waitFor(async () => (await status()).in_flight.length === 0, 10_000, 100, 'no update in flight');
    sampling = false;
    await sampler;
    await setting('updates.max-concurrent', '500');
    const s = await status();
    expect(s.versions.find((v) => v.platform === 'win-x64' && v.version === '0.1.1+dddddddddddd')?.clients).toBe(10);
    expect(laters).toBeGreaterThan(0);
    expect(samples).toBeGreaterThan(5);
    expect(peak).toBe(1);
  }, 90_000);

  it('holds updates.max-bandwidth across downloads (bytes over time, measured)', async () => {
    const { dir, bytes } = fakeBuilds([{ platform: 'linux-arm64', size: 2 * 1024 * 1024, version: '0.1.1+eeeeeeeeeeee' }]);
    await setting('updates.max-concurrent', '500');
    await setting('updates.max-bandwidth', '1');
    await importAndWait(dir, 'linux-arm64', '0.1.1+eeeeeeeeeeee');
    const a = await agent('0.1.0+aaaaaaaaaaaa', 'linux-arm64');
    const b = await agent('0.1.0+aaaaaaaaaaaa', 'linux-arm64');
    const [oa, ob] = await Promise.all([a.next('update_offer'), b.next('update_offer')]);
    const t0 = Date.now();
    const [da, db] = await Promise.all([download(site.url, oa.token as string, 0), download(site.url, ob.token as string, 0)]);
    const seconds = (Date.now() - t0) / 1000;
    await setting('updates.max-bandwidth', '100');
    const total = (da.ok ? da.data.length : 0) + (db.ok ? db.data.length : 0);
    expect(da.ok && da.data.equals(bytes.get('linux-arm64')!)).toBe(true);
    expect(total).toBe(4 * 1024 * 1024);
    const rate = total / 1024 / 1024 / seconds;
    console.log(`[updates] bandwidth cap 1 MiB/s: ${total} bytes in ${seconds.toFixed(2)} s = ${rate.toFixed(2)} MiB/s`);
    // One chunk of burst (256 KiB) above the cap at most; an upper bound only, timing on a loaded machine is slow, never fast.
    expect(total - 256 * 1024).toBeLessThanOrEqual(1024 * 1024 * seconds * 1.05);
    for (const [x, o] of [[a, oa], [b, ob]] as const) x.send({ t: 'update_status', version: o.version, state: 'failed', code: 'UPDATE_FAILED', reason: 'test done' });
  }, 60_000);
});
