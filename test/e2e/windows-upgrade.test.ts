/**
 * Windows fleet rollout (issue #16), under wine: the MSI upgrades in place and keeps the enrollment
 * (item 1), KEY_INFO stays out of the msiexec log and off the custom action's command line, and a
 * failed install leaves no config behind (item 3), and a NOSTART template makes one identity per
 * machine at first start (item 5).
 *
 * One wine prefix for the file; wine programs run one at a time. Installs use NOSTART=1 and the test
 * starts the agent itself (test/e2e/windows-service.test.ts runs the real service).
 */
import { newWinePrefix } from '../helpers/wine.js';
import { execFileSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeSiteMsi } from '../../protocol/installer-files/msi-file.js';
import { cleanup, ROOT, run, start, tempDir, waitFor, type Proc } from '../helpers/processes.js';
import { jump, listClients, startTestSite, type TestSite } from '../helpers/site.js';

const PKG = join(ROOT, 'dist', 'package', 'win-x64');
const UPGRADE_CODE = '{6F1D9C3E-4B7A-4E0B-9A55-2C1B7E4D8A10}';

/** `msiinfo export` of one table as rows of columns (after the three header lines). */
function table(msi: string, name: string): string[][] {
  return execFileSync('msiinfo', ['export', msi, name], { encoding: 'utf8' })
    .split(/\r?\n/)
    .slice(3)
    .filter(Boolean)
    .map((l) => l.split('\t'));
}

function property(msi: string, name: string): string | undefined {
  return table(msi, 'Property').find((r) => r[0] === name)?.[1];
}

/** The MSI's PackageCode: its summary's revision number. */
function packageCode(msi: string): string {
  return /^Revision number \(UUID\): (.*)$/m.exec(execFileSync('msiinfo', ['suminfo', msi], { encoding: 'utf8' }))![1].trim();
}

function agentJson(configDir: string): Record<string, unknown> | null {
  try {
    return JSON.parse(readFileSync(join(configDir, 'agent.json'), 'utf8')) as Record<string, unknown>;
  } catch {
    return null;
  }
}

/** A ProductCode from Windows Installer's packed form (each group's hex digits reversed, the last two bytewise). */
function unpackGuid(p: string): string {
  const rev = (x: string) => [...x].reverse().join('');
  const swap = (x: string) => x.replace(/(.)(.)/g, '$2$1');
  const u = p.toUpperCase();
  return `{${rev(u.slice(0, 8))}-${rev(u.slice(8, 12))}-${rev(u.slice(12, 16))}-${swap(u.slice(16, 20))}-${swap(u.slice(20))}}`;
}

/** The next patch version of `v` (major.minor.patch). */
function bump(v: string): string {
  const [a, b, c] = v.split('.').map(Number);
  return `${a}.${b}.${c + 1}`;
}

describe('the Windows MSI: upgrades, secrets, identity (issue #16)', () => {
  let site: TestSite;
  let msi: string;
  let msiV2: string;
  let installer: { uid: string; key_info: string; site_url: string; site_pin: string };
  let env: NodeJS.ProcessEnv;
  let outDir: string;
  let agent: Proc | null = null;
  const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

  const clients = async () => (await listClients(site.api)).items;

  /** A Windows program under wine; stdout to a file (wine's console breaks on a pipe). */
  async function wine(args: string[]) {
    const out = join(outDir, `out-${Date.now()}.txt`);
    const r = await run('sh', ['-c', 'wine "$@" > "$OUT" 2>&1', 'wine', ...args], { env: { ...env, OUT: out } });
    return { code: r.code, stdout: existsSync(out) ? readFileSync(out, 'utf8') : '' };
  }

  /**
   * The products Windows Installer has registered for the machine, as ProductCodes (wine lists no
   * ...\\Uninstall entries for MSI products; its Installer\\UserData key has them, packed).
   */
  async function installedProducts(): Promise<string[]> {
    const r = await wine(['reg', 'query', 'HKLM\\Software\\Microsoft\\Windows\\CurrentVersion\\Installer\\UserData\\S-1-5-18\\Products']);
    return [...r.stdout.matchAll(/\\Products\\([0-9A-F]{32})\s*$/gim)].map((m) => unpackGuid(m[1]));
  }

  /** A log msiexec wrote to C:\<name> (UTF-16 or 8-bit, as wine writes it). */
  function readLog(name: string): string {
    const raw = readFileSync(join(env.WINEPREFIX!, 'drive_c', name));
    return raw[0] === 0xff && raw[1] === 0xfe ? raw.subarray(2).toString('utf16le') : raw.toString('latin1');
  }

  /**
   * Fails when `text` holds `key`, in any case, or any run of 8+ base64 characters of it (its base64 at
   * each of the three alignments, without the edge characters that depend on what comes before or after).
   */
  function expectNoKey(text: string, key: string): void {
    expect(text.toLowerCase()).not.toContain(key.toLowerCase());
    for (let shift = 0; shift < 3; shift++) {
      const b64 = Buffer.from('x'.repeat(shift) + key).toString('base64');
      const inner = b64.slice(Math.ceil((shift * 4) / 3) + 1, -4);
      expect(inner.length).toBeGreaterThan(8);
      expect(text).not.toContain(inner);
    }
  }

  /** Starts the agent of the install in C:\<dir> under wine. */
  function startAgent(dir: string, tag: string): Proc {
    return start('sh', ['-c', 'exec wine "$@" > "$OUT" 2>&1', 'wine', `C:\\${dir}\\jump-client.exe`, 'run', '--config', `C:\\${dir}\\config`], {
      env: { ...env, OUT: join(outDir, `agent-${tag}.txt`) },
    });
  }

  async function stopAgent(): Promise<void> {
    agent?.child.kill('SIGTERM');
    agent = null;
    await run('wineserver', ['-k'], { env });
  }

  beforeAll(async () => {
    expect(existsSync(join(PKG, 'jump-client.msi')), 'run `npm run package` first').toBe(true);
    // The site, the v2 package's MSI and the wine prefix, at once.
    const pkg2 = tempDir('jump-pkg-v2-');
    cpSync(PKG, pkg2, { recursive: true });
    outDir = tempDir('jump-wine-msi16-out-');
    const [s, b, w] = await Promise.all([
      startTestSite(),
      run(process.execPath, [join(ROOT, 'packaging', 'build.mjs'), '--msi-only', pkg2, '--msi-version', bump(version), '--quiet']),
      newWinePrefix('msi16'),
    ]);
    site = s;
    env = w;
    expect(b.code, b.stderr).toBe(0);
    const out = tempDir('jump-msi16-');
    const r = await jump(site.consoleDir, ['installer', 'create', '--platform', 'windows-x64', '--out', out, '--json']);
    expect(r.code, r.stderr).toBe(0);
    installer = JSON.parse(r.stdout) as typeof installer;
    msi = (JSON.parse(r.stdout) as { msi: string }).msi;
    // v2: the same package, its MSI built at the next version, stamped for the same site.
    msiV2 = (await writeSiteMsi(pkg2, installer.site_url, installer.site_pin, tempDir('jump-msi16-v2-'))).path;
  }, 180_000);

  afterAll(async () => {
    agent?.child.kill('SIGKILL');
    await run('wineserver', ['-k'], { env });
    await cleanup();
  });

  it('Upgrade table: one UpgradeCode for the product line, older versions upgraded, newer ones refused; ProductCode per version; a PackageCode per MSI written', async () => {
    expect(property(msi, 'UpgradeCode')).toBe(UPGRADE_CODE);
    const up = table(msi, 'Upgrade');
    // Attributes: 1 migrate features (an upgrade), 2 only detect (a downgrade: LaunchCondition refuses it).
    // Remove: the old version's one feature, so its uninstall runs with REMOVE=Complete, not REMOVE=ALL.
    expect(up).toContainEqual([UPGRADE_CODE, '', version, '', '1', 'Complete', 'WIX_UPGRADE_DETECTED']);
    expect(table(msi, 'Feature').map((r) => r[0])).toEqual(['Complete']);
    expect(up).toContainEqual([UPGRADE_CODE, version, '', '', '2', '', 'WIX_DOWNGRADE_DETECTED']);
    expect(table(msi, 'LaunchCondition').map((r) => r[0])).toContain('NOT WIX_DOWNGRADE_DETECTED');
    const seq = Object.fromEntries(table(msi, 'InstallExecuteSequence').map(([a, cond, n]) => [a, { cond, n: Number(n) }]));
    expect(seq.FindRelatedProducts.n).toBeLessThan(seq.RestoreInstallDir.n);
    // After InstallInitialize: the old version's removal is inside the upgrade's transaction.
    expect(seq.RemoveExistingProducts.n).toBeGreaterThan(seq.InstallInitialize.n);
    expect(seq.RemoveExistingProducts.n).toBeLessThan(seq.InstallFiles.n);
    expect(seq.Unconfigure.cond).toBe('REMOVE="ALL" AND NOT UPGRADINGPRODUCTCODE');
    // Item 4: Configure runs on install, upgrade and repair (a repair's StopServices stops the service;
    // Configure starts it again and sets its recovery actions), never on an uninstall.
    for (const a of ['SetConfigureData', 'ConfigureRollback', 'Configure', 'ClearKeyInfo']) expect(seq[a].cond, a).toBe('NOT REMOVE');
    expect(property(msi, 'SecureCustomProperties')!.split(';')).toEqual(expect.arrayContaining(['WIX_UPGRADE_DETECTED', 'KEY_INFO']));

    // ProductCode: one per version (the generic MSI and every site's copy), another for v2.
    const generic = join(PKG, 'jump-client.msi');
    expect(property(msi, 'ProductCode')).toBe(property(generic, 'ProductCode'));
    expect(property(msiV2, 'ProductCode')).not.toBe(property(msi, 'ProductCode'));
    expect(property(msiV2, 'ProductVersion')).toBe(bump(version));
    // PackageCode: the generic MSI, this site's, a second write for the site, v2: all different.
    const again = (await writeSiteMsi(PKG, installer.site_url, installer.site_pin, tempDir('jump-msi16-again-'))).path;
    const codes = [generic, msi, again, msiV2].map(packageCode);
    for (const c of codes) expect(c).toMatch(/^\{[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}\}$/);
    expect(new Set(codes).size).toBe(4);
    // The copy's summary keeps what the build wrote (msibuild -s rewrites four fields together).
    const sum = execFileSync('msiinfo', ['suminfo', again], { encoding: 'utf8' });
    expect(sum).toContain('Subject: Jump Client: unattended remote access agent');
    expect(sum).toContain('Template: x64;1033');
  });

  it('under wine: v1 installs (NOSTART=1: no identity key yet; a copy of that template becomes a second identity) and enrolls; v2 upgrades it in place without KEY_INFO (one product listed, the same client id online, the site told nothing); msiexec /x of v2 tells the site', async () => {
    const drive = join(env.WINEPREFIX!, 'drive_c', 'JCU');
    const v1 = await wine(['msiexec', '/i', msi, `KEY_INFO=${installer.key_info}`, 'installdir=C:\\JCU', 'NOSTART=1', '/l*v', 'C:\\v1.log', '/quiet']);
    expect(v1.code, v1.stdout).toBe(0);
    // Item 3: KEY_INFO reached the config (on stdin), and the verbose log holds none of it.
    expect(agentJson(join(drive, 'config'))).toMatchObject({ key_info: installer.key_info });
    const log = readLog('v1.log');
    expect(log).toContain('jump-client: '); // the configure action's output is in the log ...
    // Item 4: the service's recovery actions were set (wine's sc accepts `sc failure`; it has no qfailure to read them back).
    expect(log).toMatch(/jump-client: jump-client msi-configure: service JumpClient: on failure, restart after 10 s, 30 s, 60 s; failure count reset after 24 h/);
    expect(log).toMatch(/Property\(S\): KEY_INFO = -/); // ... and KEY_INFO was in the property table until Configure was scheduled
    expectNoKey(log, installer.key_info);
    expect(await installedProducts()).toEqual([property(msi, 'ProductCode')]);
    // Item 5: a NOSTART=1 install is a template: no identity key until the agent's first start. Its
    // config copied to a second "machine" (another dir, another machine id) makes a second identity.
    expect(existsSync(join(drive, 'config', 'agent.key'))).toBe(false);
    const twinCfg = join(env.WINEPREFIX!, 'drive_c', 'JCT', 'config');
    cpSync(join(drive, 'config'), twinCfg, { recursive: true });
    agent = startAgent('JCU', 'v1');
    const twin = start('sh', ['-c', 'exec wine "$@" > "$OUT" 2>&1', 'wine', 'C:\\JCU\\jump-client.exe', 'run', '--config', 'C:\\JCT\\config', '--machine-id', 'second-machine'], {
      env: { ...env, OUT: join(outDir, 'agent-twin.txt') },
    });
    const ids = await waitFor(
      async () => {
        const a = agentJson(join(drive, 'config'))?.client_id;
        const b = agentJson(twinCfg)?.client_id;
        const on = (await clients()).filter((c) => c.installer === installer.uid && c.status === 'online').map((c) => c.id);
        return typeof a === 'number' && typeof b === 'number' && on.includes(a) && on.includes(b) ? [a, b] : null;
      },
      120_000,
      500,
      'both copies of the template enrolled and online',
    );
    expect(ids[0]).not.toBe(ids[1]);
    expect(readFileSync(join(twinCfg, 'agent.key'), 'utf8')).not.toBe(readFileSync(join(drive, 'config', 'agent.key'), 'utf8'));
    const mine = (await clients()).find((c) => c.id === ids[0])!;
    twin.child.kill('SIGTERM');
    await stopAgent();
    await waitFor(async () => (await clients()).find((c) => c.id === mine.id)?.status === 'offline', 30_000, 250, 'v1 offline');
    const keyBefore = readFileSync(join(drive, 'config', 'agent.key'), 'utf8');

    // v2, as SCCM would push it: no KEY_INFO, no installdir.
    const v2 = await wine(['msiexec', '/i', msiV2, 'NOSTART=1', '/l*v', 'C:\\v2.log', '/quiet']);
    expect(v2.code, v2.stdout).toBe(0);
    expect(readLog('v2.log')).toMatch(/jump-client: jump-client msi-configure: kept the enrollment in C:\\JCU\\config \(an upgrade or repair\)/);
    expect(v2.stdout).not.toContain('uninstalled');
    expect(await installedProducts()).toEqual([property(msiV2, 'ProductCode')]);
    expect(existsSync(join(drive, 'jump-client.exe'))).toBe(true);
    expect(agentJson(join(drive, 'config'))).toMatchObject({ client_id: mine.id, site_url: installer.site_url });
    expect(readFileSync(join(drive, 'config', 'agent.key'), 'utf8')).toBe(keyBefore);
    // The old version's removal did not tell the site: the client is not "uninstalled".
    expect((await clients()).find((c) => c.id === mine.id)!.status).toBe('offline');
    agent = startAgent('JCU', 'v2');
    await waitFor(async () => (await clients()).find((c) => c.id === mine.id)?.status === 'online', 60_000, 500, 'v2 online as the same client');
    expect((await clients()).filter((c) => c.installer === installer.uid && c.status === 'online').map((c) => c.id)).toEqual([mine.id]);
    await stopAgent();

    const un = await wine(['msiexec', '/x', msiV2, '/quiet']);
    expect(un.code, un.stdout).toBe(0);
    expect(await installedProducts()).toEqual([]);
    expect(existsSync(join(drive, 'jump-client.exe'))).toBe(false);
    expect((await clients()).find((c) => c.id === mine.id)!.status).toBe('uninstalled');
  }, 300_000);

  it('under wine: an install that fails after its config was written (sc.exe fails setting the recovery actions) is rolled back with no agent.json or agent.key left, the reason in the MSI log, and no KEY_INFO in it', async () => {
    const key = (JSON.parse((await jump(site.consoleDir, ['installer', 'create', '--json'])).stdout) as { key_info: string }).key_info;
    // A failing sc.exe: the packaged jump-client.exe in its place, loaded as native (it exits 2 on sc's arguments).
    const sc = join(env.WINEPREFIX!, 'drive_c', 'windows', 'system32', 'sc.exe');
    const override = ['HKCU\\Software\\Wine\\DllOverrides', '/v', 'sc.exe'];
    renameSync(sc, `${sc}.stub`);
    let r: { code: number | null; stdout: string };
    try {
      copyFileSync(join(PKG, 'jump-client.exe'), sc);
      expect((await wine(['reg', 'add', ...override, '/d', 'native', '/f'])).code).toBe(0);
      r = await wine(['msiexec', '/i', msi, `KEY_INFO=${key}`, 'installdir=C:\\JCF', '/l*v', 'C:\\fail.log', '/quiet']);
    } finally {
      await wine(['reg', 'delete', ...override, '/f']);
      rmSync(sc, { force: true });
      renameSync(`${sc}.stub`, sc);
    }
    const log = readLog('fail.log');
    expect(r.code, log.slice(-3000)).not.toBe(0);
    const dir = join(env.WINEPREFIX!, 'drive_c', 'JCF');
    const said = log.split(/\r?\n/).filter((l) => /rollback|jump-client|Configure/i.test(l)).join('\n');
    for (const f of ['jump-client.exe', 'config/agent.json', 'config/agent.key']) expect(existsSync(join(dir, f)), `${f}\n${said}`).toBe(false);
    // The reason, from msi-configure through the configure action, and what the rollback action removed.
    expect(log).toMatch(/jump-client: jump-client msi-configure: INSTALL_FAILED: .*setting the service's recovery actions failed: sc failure JumpClient/);
    expect(log).toMatch(/jump-client: rollback: removed agent\.json.* msi-new-config/);
    expectNoKey(log, key);
  }, 180_000);
});
