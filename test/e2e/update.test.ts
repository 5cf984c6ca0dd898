/**
 * End to end, self-update (issue #17), agent side: two packaged versions, A (dist/package/linux-x64,
 * which `npm test` builds first) and B (`npm run package -- --platform linux-x64 --client-version
 * 0.1.1 --out DIR`, built here); a jump client installed from A's bomgar-scc-<uid>.bin as root with
 * `--user` (service mode) and started with `DIR/init-script start`; the site side offers B and the
 * client swaps to it: back online on B, `init-script status` 0, the install dir runs B, nothing of
 * the update left behind.
 *
 * The site side is the stand-in (test/helpers/update-site.ts) until the real site side lands; the
 * .bin is made with the console's own writer (writeBinInstaller) and a stamp naming the stand-in.
 * Needs root (useradd, a service-mode install under /opt).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeBinInstaller } from '../../console/installer-files/bin-file.js';
import { readInstallConf } from '../../agent/install/service.js';
import { sha256Of } from '../../protocol/update.js';
import { cleanup, ROOT, run, tempDir, waitFor } from '../helpers/processes.js';
import { startUpdateSite, type UpdateSite } from '../helpers/update-site.js';

const isRoot = process.getuid?.() === 0;
const PACKAGE_A = join(ROOT, 'dist', 'package', 'linux-x64');
const SKIP_REASON = !isRoot
  ? `needs root to create a test user and install in service mode (uid ${process.getuid?.() ?? 'n/a'}); CI runs it as root`
  : !existsSync(join(PACKAGE_A, 'build.json'))
    ? 'run `npm run package -- --platform linux-x64` first (npm test does)'
    : null;
if (SKIP_REASON) console.warn(`SKIPPED test/e2e/update.test.ts: ${SKIP_REASON}`);

let site: UpdateSite;
let user: string;
let dir: string;
let packageB: string;
let versionA: string;
let versionB: string;

/** Pids of `jump-client run` processes of the install in `d` (from /proc). */
function agentsOf(d: string): number[] {
  const pids: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const argv = readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0');
      if (argv[0] === join(d, 'jump-client') && argv[1] === 'run') pids.push(Number(e));
    } catch {
      /* gone */
    }
  }
  return pids;
}

describe.runIf(SKIP_REASON === null)(`self-update of an installed jump client from version A to B${SKIP_REASON ? ` (SKIPPED: ${SKIP_REASON})` : ''}`, () => {
  beforeAll(async () => {
    versionA = JSON.parse(readFileSync(join(PACKAGE_A, 'build.json'), 'utf8')).version;
    const out = tempDir('jump-upd-pkgB-');
    const pkg = await run(process.execPath, [join(ROOT, 'packaging', 'build.mjs'), '--platform', 'linux-x64', '--client-version', '0.1.1', '--out', out, '--quiet']);
    expect(pkg.code, pkg.stderr).toBe(0);
    packageB = join(out, 'linux-x64');
    const buildB = JSON.parse(readFileSync(join(packageB, 'build.json'), 'utf8')) as { version: string; hash: string };
    versionB = buildB.version;
    expect(versionB).toBe(`0.1.1+${buildB.hash.slice(0, 12)}`);
    expect(versionB).not.toBe(versionA);
    // `jump-client --version` prints what build.json says.
    expect((await run(join(packageB, 'jump-client'), ['--version'])).stdout.trim()).toBe(versionB);

    site = await startUpdateSite(tempDir('jump-upd-e2e-site-'));
    user = `jcu${Math.random().toString(36).slice(2, 8)}`;
    execFileSync('useradd', ['-m', '-s', '/bin/sh', user]);
    dir = `/opt/jc-update-${Math.random().toString(36).slice(2, 8)}`;
  }, 120_000);

  afterAll(async () => {
    if (dir) {
      for (const pid of agentsOf(dir)) process.kill(pid, 'SIGKILL');
      const conf = readInstallConf(dir);
      if (conf?.unit) rmSync(join('/etc/cron.d', conf.unit), { force: true });
      rmSync(dir, { recursive: true, force: true });
    }
    if (user) await run('userdel', ['-r', user]);
    await site?.close();
    await cleanup();
  });

  it('installs A from its .bin with --user, starts it with init-script, swaps to B offered by the site, and runs B', async () => {
    const binDir = tempDir('jump-upd-bin-');
    const uid = Math.random().toString(16).slice(2, 10).padEnd(16, '0');
    const bin = await writeBinInstaller(
      PACKAGE_A,
      {
        format: 1,
        uid,
        site_url: site.url,
        site_pin: site.pin,
        key_info: 'k'.repeat(40),
        expires_at: new Date(Date.now() + 3_600_000).toISOString(),
        defaults: { name: null, jump_group: null, tag: '', comments: '' },
        allow_override: [],
        update_pin: site.updatePin,
      },
      binDir,
    );
    const inst = await run('sh', [bin.path, '--install-dir', dir, '--user', user, '--offline']);
    expect(inst.code, inst.stdout + inst.stderr).toBe(0);
    // The stamp's update key is pinned at install, before the first start.
    expect(JSON.parse(readFileSync(join(dir, 'config', 'agent.json'), 'utf8')).update_pin).toBe(site.updatePin);
    const started = await run(join(dir, 'init-script'), ['start']);
    expect(started.code, started.stdout + started.stderr).toBe(0);
    const hello = await waitFor(() => site.record.hellos.find((h) => h.version === versionA), 20_000, 50, 'A online');
    expect(hello.platform).toBe('linux-x64');
    const pidA = agentsOf(dir)[0];

    const bytesB = readFileSync(join(packageB, 'jump-client'));
    site.build = { platform: 'linux-x64', version: versionB, bytes: bytesB, healthTimeoutMs: 60_000 };
    site.offerNow(hello.clientId!);
    const online = await waitFor(() => site.record.hellos.find((h) => h.version === versionB && h.clientId === hello.clientId), 60_000, 100, 'B online');
    expect(online.platform).toBe('linux-x64');
    expect(site.record.statuses.filter((s) => s.version === versionB).map((s) => s.state)).toEqual(['downloading', 'installing']);

    // The watchdog removes the old binary and the state once B marked itself healthy.
    await waitFor(() => !existsSync(join(dir, 'jump-client.old')) && !existsSync(join(dir, 'update', 'state.json')), 20_000, 100, 'the update cleaned up');
    expect(sha256Of(readFileSync(join(dir, 'jump-client')))).toBe(sha256Of(bytesB));
    expect((await run(join(dir, 'jump-client'), ['--version'])).stdout.trim()).toBe(versionB);
    const st = statSync(join(dir, 'jump-client'));
    expect([st.uid, st.mode & 0o777]).toEqual([0, 0o755]); // root's, as init-script requires in service mode
    const [pidB] = agentsOf(dir);
    expect(pidB).toBeDefined();
    expect(pidB).not.toBe(pidA);
    expect(readlinkSync(`/proc/${pidB}/exe`)).toBe(join(dir, 'jump-client'));
    const status = await run(join(dir, 'init-script'), ['status']);
    expect(status.code, status.stdout + status.stderr).toBe(0);
    expect(status.stdout).toMatch(/connected to its site/);
    expect(readdirSync(join(dir, 'update')).filter((f) => f.endsWith('.part'))).toEqual([]);
  }, 120_000);
});
