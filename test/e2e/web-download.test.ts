/**
 * The Mass Deployment Wizard's Download (issue #19) in a real Chromium (Debian's /usr/bin/chromium
 * through playwright-core) against a real `jump-site serve` using its default packages folder
 * (dist/package, from `npm run package`): the admin creates an installer, Download saves the real
 * `bomgar-scc-<uid>.bin` built by the site, and that file, run with `sh` in user mode as the seeds'
 * headless Linux command, installs a jump client that comes online. A Download the site refuses
 * shows the API's message in the wizard.
 */
import { chmodSync, existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, agentsOf, cleanup, run, tempDir, waitFor } from '../helpers/processes.js';
import { TEST_ADMIN_PASSWORD, listClients, startTestSite, type TestSite } from '../helpers/site.js';

const CHROMIUM = '/usr/bin/chromium';
const PACKAGE = join(ROOT, 'dist', 'package', 'linux-x64', 'jump-client');
/** As root the install runs as `nobody` (user mode: never as root, as the seeds ask); otherwise as this user. */
const isRoot = process.getuid?.() === 0;

let site: TestSite;
let browser: Browser;
const installDirs: string[] = [];

beforeAll(async () => {
  expect(existsSync(PACKAGE), 'run `npm run package` first').toBe(true);
  [site, browser] = await Promise.all([startTestSite(), chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] })]);
}, 60_000);
afterAll(async () => {
  for (const d of installDirs) for (const pid of agentsOf(d)) process.kill(pid, 'SIGKILL');
  await browser?.close();
  site?.proc.child.kill('SIGTERM');
  await cleanup();
});

/** Runs `args` as the installing user (see isRoot) in `cwd`, with a TMPDIR that user may write. */
function asInstaller(args: string[], cwd: string, tmp: string) {
  if (isRoot) return run('runuser', ['-u', 'nobody', '--', 'env', `TMPDIR=${tmp}`, 'HOME=/nonexistent', ...args], { cwd });
  return run(args[0], args.slice(1), { cwd, env: { TMPDIR: tmp } });
}

async function signIn(page: Page): Promise<void> {
  await page.goto(`${site.url}/login`);
  await page.fill('input[name=user]', 'admin');
  await page.fill('input[name=password]', TEST_ADMIN_PASSWORD);
  await page.click('button[type=submit]');
  await page.waitForSelector('.topbar .who');
}

describe('the wizard downloads the real installer file', () => {
  it('Download saves bomgar-scc-<uid>.bin; run with sh it installs a jump client that comes online; a refused Download shows the API message', async () => {
    const ctx = await browser.newContext({ ignoreHTTPSErrors: true, acceptDownloads: true, viewport: { width: 1400, height: 800 } });
    const page = await ctx.newPage();
    await signIn(page);
    await page.click('text=JUMP CLIENTS');
    await page.click('text=Create a Jump Client Installer');
    await page.waitForSelector('.wizard select[name=jump_group] option', { state: 'attached' });
    await page.fill('.wizard input[name=tag]', 'downloaded');
    // The platform defaults to the browser's OS: Linux x64 here.
    expect(await page.inputValue('.wizard select[name=platform]')).toBe('linux-x64');
    await page.click('.wizard button[type=submit]');
    const keyInfo = await (await page.waitForSelector('.wizard input.key-info')).inputValue();
    const uid = (await page.locator('.wizard .created').getAttribute('data-uid'))!;
    // The command lines stay shown.
    expect(await page.locator('.wizard code[data-command]').first().innerText()).toBe(`sh ./bomgar-scc-${uid}.bin`);

    const [download] = await Promise.all([page.waitForEvent('download', { timeout: 120_000 }), page.click('.wizard button[data-action=download]')]);
    expect(download.suggestedFilename()).toBe(`bomgar-scc-${uid}.bin`);
    const work = tempDir('jump-web-download-');
    chmodSync(work, 0o755);
    const bin = join(work, download.suggestedFilename());
    await download.saveAs(bin);
    expect(await download.failure()).toBeNull();
    expect(statSync(bin).size).toBeGreaterThan(1_000_000);
    const tmp = tempDir('jump-web-bintmp-');
    chmodSync(tmp, 0o1777);
    const home = join(work, 'installs');
    await run('mkdir', ['-m', '0777', home]);
    const dir = join(home, 'jc');
    installDirs.push(dir);
    chmodSync(bin, 0o644);

    // The seeds' headless Linux command, as the wizard shows it.
    const inst = await asInstaller(['sh', `./${download.suggestedFilename()}`, '--install-dir', dir], work, tmp);
    expect(inst.code, inst.stderr + inst.stdout).toBe(0);
    expect(inst.stdout).toContain('user mode');
    expect(readdirSync(tmp)).toEqual([]);
    const started = await asInstaller([join(dir, 'init-script'), 'start'], work, tmp);
    expect(started.code, started.stderr).toBe(0);
    const mine = await waitFor(
      async () => (await listClients(site.api)).items.find((c) => c.tag === 'downloaded' && c.status === 'online'),
      60_000,
      200,
      'the downloaded installer\'s jump client online',
    );
    expect((await site.api.request<{ item: { uses: number } }>('GET', `/api/v1/installers/${uid}`)).item.uses).toBe(1);
    expect(keyInfo).toMatch(/^[0-9a-z]{47}$/);

    // Refused: the installer revoked meanwhile. The wizard shows the API's message, and saves nothing.
    await site.api.request('POST', `/api/v1/installers/${uid}/revoke`, {});
    let saved = false;
    page.once('download', () => (saved = true));
    await page.click('.wizard button[data-action=download]');
    expect(await (await page.waitForSelector('.wizard .created .error')).innerText()).toMatch(/^INSTALLER_REVOKED: This installer was revoked on the site\./);
    expect(saved).toBe(false);

    const un = await asInstaller([join(dir, 'uninstall')], work, tmp);
    expect(un.code, un.stderr).toBe(0);
    await waitFor(async () => (await listClients(site.api)).items.find((c) => c.id === mine.id)?.status === 'uninstalled', 20_000, 200, 'uninstalled');
    await ctx.close();
  }, 180_000);
});
