/**
 * Self-update, agent side (issue #17), against the site stand-in (test/helpers/update-site.ts):
 * the packaged jump-client (dist/package/linux-x64, which `npm test` builds first) installed by
 * hand in a temporary install dir (user-mode layout: install.conf, config/, the executable),
 * started with `jump-client start` like DIR/init-script does, and offered builds that must be
 * refused or rolled back:
 * - a build with one byte changed after signing: UPDATE_SIGNATURE_INVALID, no part left, still online on A;
 * - a build signed by another key: the same;
 * - a download cut mid-way: resumed from the part after `update_check` and a fresh offer;
 * - kill -9 during the download: the live binary untouched, the part resumed from its size at the next offer;
 * - that build (a program that exits at once with status 7) swapped in: the watchdog rolls back to A,
 *   which reports UPDATE_FAILED "exited at once with status 7";
 * - a build that runs but never comes online as its version: rolled back at the health deadline.
 */
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentConfig } from '../../agent/config.js';
import { formatInstallConf } from '../../agent/install/service.js';
import { newEd25519Key } from '../../protocol/handshake.js';
import { sha256Of } from '../../protocol/update.js';
import { cleanup, ROOT, run, tempDir, waitFor } from '../helpers/processes.js';
import { startUpdateSite, type UpdateSite } from '../helpers/update-site.js';

const PACKAGE_DIR = join(ROOT, 'dist', 'package', 'linux-x64');
const packaged = existsSync(join(PACKAGE_DIR, 'jump-client')) && existsSync(join(PACKAGE_DIR, 'build.json'));
if (!packaged) console.warn('SKIPPED test/integration/update-agent.test.ts: run `npm run package -- --platform linux-x64` first (npm test does)');

/** A fake jump-client build: a shell script that exits at once with `status`, padded to `bytes`. */
function exitingBuild(status: number, bytes: number): Buffer {
  const head = Buffer.from(`#!/bin/sh\nexit ${status}\n`);
  return Buffer.concat([head, Buffer.alloc(bytes - head.length, 0x23)]);
}

let site: UpdateSite;
let dir: string;
let versionA: string;
let shaA: string;
let clientId: number;

const exe = () => join(dir, 'jump-client');
const updDir = () => join(dir, 'update');
const pidOf = () => Number(readFileSync(join(dir, 'jump-client.pid'), 'utf8').trim());
const agentStatus = () => JSON.parse(readFileSync(join(dir, 'config', 'status.json'), 'utf8')) as { state: string };
const statusesFor = (version: string) => site.record.statuses.filter((s) => s.version === version);
/** What to print when an assertion fails: the watchdog's output, the agent's last log lines, the statuses. */
const diag = () =>
  [
    existsSync(join(updDir(), 'watchdog.log')) ? readFileSync(join(updDir(), 'watchdog.log'), 'utf8') : '(no watchdog.log)',
    readFileSync(join(dir, 'config', 'agent.log'), 'utf8').trim().split('\n').slice(-15).join('\n'),
    JSON.stringify(site.record.statuses.slice(-6)),
  ].join('\n');
const failedFor = (version: string) => statusesFor(version).find((s) => s.state === 'failed');

describe.runIf(packaged)('jump client self-update against a site stand-in', () => {
  beforeAll(async () => {
    versionA = JSON.parse(readFileSync(join(PACKAGE_DIR, 'build.json'), 'utf8')).version;
    shaA = sha256Of(readFileSync(join(PACKAGE_DIR, 'jump-client')));
    site = await startUpdateSite(tempDir('jump-upd-site-'));
    dir = join(tempDir('jump-upd-'), 'jc');
    mkdirSync(dir, { mode: 0o755 });
    for (const f of ['jump-client', 'lib', 'init-script', 'uninstall']) cpSync(join(PACKAGE_DIR, f), join(dir, f), { recursive: true });
    const user = userInfo().username;
    writeFileSync(join(dir, 'install.conf'), formatInstallConf({ mode: 'user', run_as: user, installer: 'test', version: versionA }));
    new AgentConfig(join(dir, 'config')).update({
      site_url: site.url,
      site_pin: site.pin,
      key_info: 'k'.repeat(40),
      machine_id: `upd-${Math.random().toString(36).slice(2)}`,
    });
    const r = await run(exe(), ['start', '--install-dir', dir]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const hello = await waitFor(() => site.record.hellos.find((h) => h.version === versionA), 20_000, 50, 'the packaged agent to connect');
    clientId = hello.clientId!;
    // The packaged build says what it is: <version>+<build id>, its platform, and the first welcome's update key is pinned.
    expect(versionA).toMatch(/^\d+\.\d+\.\d+\+[0-9a-f]{12}$/);
    expect(versionA.split('+')[1]).toBe(JSON.parse(readFileSync(join(PACKAGE_DIR, 'build.json'), 'utf8')).hash.slice(0, 12));
    expect(hello.platform).toBe('linux-x64');
    await waitFor(() => new AgentConfig(join(dir, 'config')).data.update_pin === site.updatePin, 10_000, 50, 'the update key to be pinned');
  }, 60_000);

  afterAll(async () => {
    if (dir && existsSync(exe())) await run(exe(), ['stop', '--install-dir', dir]);
    await site?.close();
    await cleanup();
  });

  it('refuses a build changed by one byte after signing: UPDATE_SIGNATURE_INVALID, no part left, still online on the old version', async () => {
    const bytes = exitingBuild(0, 300_000);
    const served = Buffer.from(bytes);
    served[150_000] ^= 0x01;
    site.build = { platform: 'linux-x64', version: '0.1.1+tamper000001', bytes, served };
    site.offerNow(clientId);
    const failed = await waitFor(() => failedFor('0.1.1+tamper000001'), 20_000, 50, 'the tampered build to be refused');
    expect(failed).toMatchObject({ code: 'UPDATE_SIGNATURE_INVALID', clientId });
    expect(failed.reason).toMatch(/sha256/);
    expect(statusesFor('0.1.1+tamper000001').map((s) => s.state)).toEqual(['downloading', 'failed']);
    expect(site.record.downloads.at(-1)).toMatchObject({ offset: 0, sent: 300_000, done: true });
    expect(readdirSync(updDir())).toEqual([]);
    expect(sha256Of(readFileSync(exe()))).toBe(shaA);
    expect(existsSync(join(dir, 'jump-client.old'))).toBe(false);
    expect(site.sockets.has(clientId)).toBe(true);
    expect(agentStatus().state).toBe('connected');
  }, 30_000);

  it('refuses a build signed by another key the same way', async () => {
    const bytes = exitingBuild(0, 200_000);
    site.build = { platform: 'linux-x64', version: '0.1.1+otherkey0001', bytes, signWith: newEd25519Key() };
    site.offerNow(clientId);
    const failed = await waitFor(() => failedFor('0.1.1+otherkey0001'), 20_000, 50, 'the foreign-signed build to be refused');
    expect(failed).toMatchObject({ code: 'UPDATE_SIGNATURE_INVALID' });
    expect(failed.reason).toMatch(/signature/);
    expect(readdirSync(updDir())).toEqual([]);
    expect(sha256Of(readFileSync(exe()))).toBe(shaA);
    expect(site.sockets.has(clientId)).toBe(true);
    expect(agentStatus().state).toBe('connected');
  }, 30_000);

  it('a download cut mid-way is resumed from the part after a fresh offer (update_check), and only then verified', async () => {
    const version = '0.1.1+cut000000001';
    const bytes = exitingBuild(0, 1024 * 1024);
    site.build = { platform: 'linux-x64', version, bytes, signWith: newEd25519Key(), chunkBytes: 64 * 1024, cutAt: 300 * 1024 };
    const checks = site.record.checks;
    const downloadsBefore = site.record.downloads.length;
    site.offerNow(clientId);
    const failed = await waitFor(() => failedFor(version), 20_000, 50, 'the resumed build to be verified (and refused: another key)');
    expect(failed.code).toBe('UPDATE_SIGNATURE_INVALID');
    expect(site.record.checks).toBe(checks + 1);
    const [first, second] = site.record.downloads.slice(downloadsBefore);
    expect(first).toMatchObject({ offset: 0, done: false });
    expect(second.offset).toBeGreaterThan(0);
    expect(second.offset).toBeLessThanOrEqual(first.sent);
    expect(second).toMatchObject({ sent: bytes.length - second.offset, done: true });
    expect(statusesFor(version).map((s) => s.state)).toEqual(['downloading', 'downloading', 'failed']);
    expect(readdirSync(updDir()).filter((f) => f.endsWith('.part'))).toEqual([]);
    expect(site.sockets.has(clientId)).toBe(true);
  }, 30_000);

  it('after a kill -9 mid-download resumes the part; a build that exits at once is rolled back and reported UPDATE_FAILED', async () => {
    const version = '0.1.1+crash0000001';
    const size = 3 * 1024 * 1024;
    const build = { platform: 'linux-x64' as const, version, bytes: exitingBuild(7, size), chunkBytes: 64 * 1024, chunkDelayMs: 40, healthTimeoutMs: 30_000 };
    site.build = build;
    const pid = pidOf();
    site.offerNow(clientId);
    const part = join(updDir(), `${version}.part`);
    await waitFor(() => existsSync(part) && statSync(part).size >= 512 * 1024, 20_000, 20, 'part of the download');
    process.kill(pid, 'SIGKILL');
    await waitFor(() => !existsSync(`/proc/${pid}`), 5_000, 20, 'the agent to die');
    const kept = statSync(part).size;
    expect(kept, diag()).toBeGreaterThan(0);
    expect(kept, diag()).toBeLessThan(size);
    // Nothing half-downloaded is in use: the live binary is still A, no swap state.
    expect(sha256Of(readFileSync(exe())), diag()).toBe(shaA);
    expect(existsSync(join(updDir(), 'state.json')), diag()).toBe(false);

    build.chunkDelayMs = 0;
    const downloadsBefore = site.record.downloads.length;
    const r = await run(exe(), ['start', '--install-dir', dir]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const resumed = await waitFor(() => site.record.downloads.slice(downloadsBefore).find((d) => d.done), 20_000, 50, 'the resumed download');
    expect(resumed.offset, diag()).toBeGreaterThanOrEqual(kept);
    expect(resumed.offset, diag()).toBeGreaterThan(0);
    expect(resumed.sent, diag()).toBe(size - resumed.offset);

    // Verified, swapped in, restarted by the watchdog: it exits at once, so A comes back and reports it.
    const failed = await waitFor(() => failedFor(version), 30_000, 50, 'the rollback to be reported');
    expect(failed, diag()).toMatchObject({ code: 'UPDATE_FAILED', reason: 'exited at once with status 7' });
    expect(statusesFor(version).map((s) => s.state), diag()).toContain('installing');
    expect(sha256Of(readFileSync(exe())), diag()).toBe(shaA);
    expect(existsSync(join(dir, 'jump-client.old')), diag()).toBe(false);
    await waitFor(() => !existsSync(join(updDir(), 'state.json')) && !existsSync(part), 5_000, 50, 'the update files removed');
    expect(site.record.hellos.at(-1), diag()).toMatchObject({ version: versionA, clientId });
    await waitFor(() => agentStatus().state === 'connected', 10_000, 50, 'the restored agent online');
    const status = await run(exe(), ['status', '--install-dir', dir]);
    expect(status.code, status.stdout).toBe(0);
  }, 90_000);

  it('a build that runs but never comes online as the offered version is rolled back at the health deadline', async () => {
    // A's own bytes offered as another version: it starts and connects, but as A, so it never marks itself healthy.
    const version = '0.1.1+silent000001';
    site.build = { platform: 'linux-x64', version, bytes: readFileSync(exe()), healthTimeoutMs: 5_000 };
    // A part of another version left by a cut download is removed when this one starts.
    writeFileSync(join(updDir(), '0.1.1+stale0000001.part'), 'stale');
    const t0 = Date.now();
    site.offerNow(clientId);
    const failed = await waitFor(() => failedFor(version), 40_000, 50, 'the rollback to be reported');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(5_000);
    expect(failed).toMatchObject({ code: 'UPDATE_FAILED', reason: 'did not come online within 5 s' });
    expect(existsSync(join(dir, 'jump-client.old'))).toBe(false);
    expect(existsSync(join(updDir(), 'state.json'))).toBe(false);
    expect(readdirSync(updDir()).filter((f) => f.endsWith('.part'))).toEqual([]);
    expect(sha256Of(readFileSync(exe()))).toBe(shaA);
    await waitFor(() => agentStatus().state === 'connected', 10_000, 50, 'the restored agent online');
  }, 60_000);
});
