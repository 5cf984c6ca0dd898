/**
 * End to end, self-update (issue #17) against the real site: two packaged versions, A
 * (dist/package/linux-x64, which `npm test` builds first) and B (`npm run package -- --platform
 * linux-x64 --client-version 0.1.1 --out DIR`, built here). Three jump clients are installed from
 * A's bomgar-scc-<uid>.bin (made by `jump installer create`) as root with `--user` (service mode)
 * and started with `DIR/init-script start`. Then `jump-site builds import` beside the running site
 * makes it serve B: all three come back online on B, `init-script status` is 0 and each install
 * dir runs B. Then a third build C is imported and one byte of the site's copy changed: every
 * client refuses it (UPDATE_SIGNATURE_INVALID) and stays on B. With the byte restored and
 * `jump updates retry`, C (a program that exits at once) is installed, fails, and is rolled back
 * by the watchdog: the clients are back on B and the failure names the exit.
 *
 * The agent's side of the faults (a cut or killed download resumed, another key's signature) is in
 * test/integration/update-agent.test.ts; the site's (tokens, concurrency, bandwidth, kill -9 of the
 * site) in test/integration/updates.test.ts. Needs root (useradd, service-mode installs under /opt).
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readInstallConf } from '../../agent/install/service.js';
import type { ApiUpdateStatus } from '../../protocol/api.js';
import { sha256Of } from '../../protocol/update.js';
import { agentsOf, cleanup, ROOT, run, tempDir, waitFor } from '../helpers/processes.js';
import { jump, listClients, startTestSite, type ClientJson, type TestSite } from '../helpers/site.js';

const isRoot = process.getuid?.() === 0;
const PACKAGE_A = join(ROOT, 'dist', 'package', 'linux-x64');
const SITE_BIN = join(ROOT, 'dist', 'site', 'main.js');
const SKIP_REASON = !isRoot
  ? `needs root to create a test user and install in service mode (uid ${process.getuid?.() ?? 'n/a'}); CI runs it as root`
  : !existsSync(join(PACKAGE_A, 'build.json'))
    ? 'run `npm run package -- --platform linux-x64` first (npm test does)'
    : null;
if (SKIP_REASON) console.warn(`SKIPPED test/e2e/update.test.ts: ${SKIP_REASON}`);

let site: TestSite;
let user: string;
const dirs: string[] = [];
let outB: string;
let versionA: string;
let versionB: string;

const clients = async (): Promise<ClientJson[]> => (await listClients(site.api)).items;
const updates = async (): Promise<ApiUpdateStatus> => {
  const r = await jump(site.consoleDir, ['updates', 'status', '--json']);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as ApiUpdateStatus;
};
const importBuilds = (dir: string) => run(process.execPath, [SITE_BIN, 'builds', 'import', dir, '--data', site.dataDir]);

describe.runIf(SKIP_REASON === null)(`self-update of installed jump clients from version A to B at a real site${SKIP_REASON ? ` (SKIPPED: ${SKIP_REASON})` : ''}`, () => {
  beforeAll(async () => {
    versionA = JSON.parse(readFileSync(join(PACKAGE_A, 'build.json'), 'utf8')).version;
    outB = tempDir('jump-upd-pkgB-');
    const pkg = await run(process.execPath, [join(ROOT, 'packaging', 'build.mjs'), '--platform', 'linux-x64', '--client-version', '0.1.1', '--out', outB, '--quiet']);
    expect(pkg.code, pkg.stderr).toBe(0);
    const buildB = JSON.parse(readFileSync(join(outB, 'linux-x64', 'build.json'), 'utf8')) as { version: string; hash: string };
    versionB = buildB.version;
    expect(versionB).toBe(`0.1.1+${buildB.hash.slice(0, 12)}`);
    expect(versionB).not.toBe(versionA);
    expect((await run(join(outB, 'linux-x64', 'jump-client'), ['--version'])).stdout.trim()).toBe(versionB);

    site = await startTestSite();
    user = `jcu${Math.random().toString(36).slice(2, 8)}`;
    execFileSync('useradd', ['-m', '-s', '/bin/sh', user]);
  }, 180_000);

  afterAll(async () => {
    for (const dir of dirs) {
      for (const pid of agentsOf(dir)) process.kill(pid, 'SIGKILL');
      const conf = readInstallConf(dir);
      if (conf?.unit) rmSync(join('/etc/cron.d', conf.unit), { force: true });
      rmSync(dir, { recursive: true, force: true });
    }
    if (user) await run('userdel', ['-r', user]);
    await cleanup();
  });

  it('three clients installed from A\'s .bin with --user and started by init-script come back online on B once the site serves B', async () => {
    const created = await jump(site.consoleDir, ['installer', 'create', '--platform', 'linux-x64', '--out', tempDir('jump-upd-bin-'), '--max-uses', '3', '--json']);
    expect(created.code, created.stderr).toBe(0);
    const bin = (JSON.parse(created.stdout) as { file: string }).file;
    for (let i = 0; i < 3; i++) {
      const dir = `/opt/jc-update-${Math.random().toString(36).slice(2, 8)}`;
      dirs.push(dir);
      const inst = await run('sh', [bin, '--install-dir', dir, '--user', user]);
      expect(inst.code, inst.stdout + inst.stderr).toBe(0);
      const started = await run(join(dir, 'init-script'), ['start']);
      expect(started.code, started.stdout + started.stderr).toBe(0);
    }
    // The update key of the site is pinned from the installer's stamp, at install.
    const pin = (await updates()).update_pin;
    for (const dir of dirs) expect(JSON.parse(readFileSync(join(dir, 'config', 'agent.json'), 'utf8')).update_pin).toBe(pin);
    await waitFor(async () => {
      const cs = await clients();
      return cs.length === 3 && cs.every((c) => c.status === 'online' && c.version === versionA && c.platform === 'linux-x64');
    }, 60_000, 250, 'three clients online on A');
    const pidsA = dirs.map((d) => agentsOf(d)[0]);

    const imp = await importBuilds(outB);
    expect(imp.code, imp.stdout + imp.stderr).toBe(0);
    await waitFor(async () => {
      const cs = await clients();
      return cs.length === 3 && cs.every((c) => c.status === 'online' && c.version === versionB);
    }, 120_000, 500, 'three clients online on B');

    const bytesB = readFileSync(join(outB, 'linux-x64', 'jump-client'));
    for (const [i, dir] of dirs.entries()) {
      // The watchdog removes the old binary and the state once B has marked itself healthy.
      await waitFor(() => !existsSync(join(dir, 'jump-client.old')) && !existsSync(join(dir, 'update', 'state.json')), 30_000, 100, 'the update cleaned up');
      expect(sha256Of(readFileSync(join(dir, 'jump-client')))).toBe(sha256Of(bytesB));
      const [pidB] = agentsOf(dir);
      expect(pidB).toBeDefined();
      expect(pidB).not.toBe(pidsA[i]);
      const status = await run(join(dir, 'init-script'), ['status']);
      expect(status.code, status.stdout + status.stderr).toBe(0);
      expect(readdirSync(join(dir, 'update')).filter((f) => f.endsWith('.part'))).toEqual([]);
    }
    const u = await updates();
    expect(u.in_flight).toEqual([]);
    expect(u.failed).toEqual([]);
    expect(u.versions.find((v) => v.version === versionB)).toMatchObject({ clients: 3, online: 3, current: true });
  }, 300_000);

  it('a build changed on the site after import is refused by every client, which stays on B; restored and retried, a build that exits at once is rolled back and reported', async () => {
    // Build C: a program that exits at once with status 3, as a packaging folder.
    const outC = tempDir('jump-upd-pkgC-');
    const folder = join(outC, 'linux-x64');
    mkdirSync(folder);
    const versionC = '0.1.2+badbadbadbad';
    writeFileSync(join(folder, 'jump-client'), '#!/bin/sh\n# build C: exits at once\nexit 3\n' + 'x'.repeat(4096) + '\n');
    chmodSync(join(folder, 'jump-client'), 0o755);
    writeFileSync(join(folder, 'build.json'), JSON.stringify({ platform: 'linux-x64', version: versionC, hash: 'bad'.repeat(8) }));
    const set = await run(process.execPath, [SITE_BIN, 'settings', 'set', 'updates.health-timeout', '20s', '--data', site.dataDir]);
    expect(set.code, set.stderr).toBe(0);

    // Tamper with the site's copy between import and offer: hold offers back until it is changed.
    expect((await jump(site.consoleDir, ['updates', 'pause'])).code).toBe(0);
    const imp = await importBuilds(outC);
    expect(imp.code, imp.stdout + imp.stderr).toBe(0);
    // The running site picks the import up within seconds; while paused its clients are told "later".
    await waitFor(async () => (await updates()).builds.some((b) => b.version === versionC), 20_000, 250, 'the site serving C');
    const copyDir = join(site.dataDir, 'builds', 'linux-x64', versionC);
    const copy = join(copyDir, readdirSync(copyDir)[0]);
    const original = readFileSync(copy);
    const tampered = Buffer.from(original);
    tampered[tampered.length - 2] ^= 0x01;
    writeFileSync(copy, tampered);
    // Clients told "later" while paused would come back in 5-10 min; resuming offers them C now.
    expect((await jump(site.consoleDir, ['updates', 'resume'])).code).toBe(0);
    const ids = (await clients()).map((c) => c.id);

    await waitFor(async () => (await updates()).failed.length === 3, 60_000, 500, 'three refusals of the tampered build');
    for (const f of (await updates()).failed) expect(f).toMatchObject({ version: versionC, code: 'UPDATE_SIGNATURE_INVALID' });
    for (const c of await clients()) expect([c.status, c.version]).toEqual(['online', versionB]);
    for (const dir of dirs) expect(readdirSync(join(dir, 'update')).filter((f) => f.endsWith('.part'))).toEqual([]);

    // Not offered again until an admin says so; restored and retried, C installs, fails, and is rolled back.
    writeFileSync(copy, original);
    for (const id of ids) {
      const r = await jump(site.consoleDir, ['updates', 'retry', String(id)]);
      expect(r.code, r.stderr).toBe(0);
    }
    await waitFor(async () => {
      const f = (await updates()).failed;
      return f.length === 3 && f.every((x) => x.code === 'UPDATE_FAILED');
    }, 150_000, 1000, 'three rollbacks of build C');
    for (const f of (await updates()).failed) expect(f.reason).toMatch(/exit|status 3|online/);
    await waitFor(async () => (await clients()).every((c) => c.status === 'online' && c.version === versionB), 60_000, 500, 'back online on B');
    const bytesB = readFileSync(join(outB, 'linux-x64', 'jump-client'));
    for (const dir of dirs) {
      expect(sha256Of(readFileSync(join(dir, 'jump-client')))).toBe(sha256Of(bytesB));
      const status = await run(join(dir, 'init-script'), ['status']);
      expect(status.code, status.stdout + status.stderr).toBe(0);
    }
  }, 300_000);
});
