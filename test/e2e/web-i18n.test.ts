/**
 * The web console's languages (issue #19 item 5) in a real Chromium (Debian's /usr/bin/chromium
 * through playwright-core) against a real `jump-site serve` and one in-process agent: a browser
 * whose Accept-Language / navigator.languages is de-DE gets the German Jump interface (the seeds'
 * terms) and a refused action's error in German by its code, the site's detail as sent; the header's
 * select switches to French without a reload, and French survives a reload; en-US stays English.
 * Writes docs/web/jump-interface-de.png.
 */
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from '../../agent/agent.js';
import { ROOT, cleanup, waitFor } from '../helpers/processes.js';
import { TEST_ADMIN_PASSWORD, createInstaller, fixtureStats, inProcessAgent, listClients, startTestSite, type TestSite } from '../helpers/site.js';

const CHROMIUM = '/usr/bin/chromium';

let site: TestSite;
let browser: Browser;
let agent: Agent | undefined;
let clientId: number;

beforeAll(async () => {
  [site, browser] = await Promise.all([startTestSite(), chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] })]);
  const inst = await createInstaller(site.api, { valid_for_ms: 3_600_000, max_uses: 1 });
  agent = inProcessAgent({ site_url: site.url, site_pin: site.pin, key_info: inst.key_info }, { stats: async () => fixtureStats({ hostname: 'i18n-host' }) });
  clientId = (await waitFor(async () => (await listClients(site.api)).items.find((c) => c.hostname === 'i18n-host' && c.status === 'online'), 30_000, 100, 'i18n-host online')).id;
}, 60_000);
afterAll(async () => {
  await agent?.stop();
  await browser?.close();
  site?.proc.child.kill('SIGTERM');
  await cleanup();
});

async function context(locale: string): Promise<BrowserContext> {
  return browser.newContext({ ignoreHTTPSErrors: true, locale, viewport: { width: 1400, height: 800 } });
}

/** Signs in on /login (by field names: the labels are in the page's language) and opens the Jump interface. */
async function jumpInterface(ctx: BrowserContext): Promise<Page> {
  const page = await ctx.newPage();
  await page.goto(`${site.url}/login`);
  await page.fill('input[name=user]', 'admin');
  await page.fill('input[name=password]', TEST_ADMIN_PASSWORD);
  await page.click('button[type=submit]');
  await page.waitForSelector('.topbar .who');
  await page.goto(`${site.url}/web/`);
  await page.locator(`table.clients tr[data-id="${clientId}"]`).waitFor();
  await page.waitForSelector('.totals:not(:empty)');
  return page;
}

// textContent: the stylesheet shows headings in capitals.
const heading = (page: Page) => page.locator('aside.groups h3').first().textContent();

describe('web console languages', () => {
  it('de-DE: the German Jump interface and a refused edit in German; switching to fr without reload, kept after reload; en-US stays English', async () => {
    const de = await context('de-DE');
    const page = await jumpInterface(de);
    expect(await page.evaluate(() => navigator.language)).toBe('de-DE');
    expect(await page.evaluate(() => document.documentElement.lang)).toBe('de');
    // The seeds' German terms.
    expect(await heading(page)).toBe('Jump-Gruppen');
    expect(await page.locator('aside.groups li a').first().innerText()).toBe('Alle Jump-Elemente');
    expect(await page.locator('table.clients th[data-col=comments]').innerText()).toMatch(/^Kommentare/);
    expect(await page.locator('.totals').innerText()).toBe('1 Jump-Elemente insgesamt. 1 Jump Clients insgesamt. 1 online. 0 offline. 0 passiv.');
    expect(await page.locator('select[name=lang]').inputValue()).toBe('de');
    await page.screenshot({ path: join(ROOT, 'docs', 'web', 'jump-interface-de.png') });

    // A refused action: a 1025-character comment. The site answers in English (the API is English);
    // the page shows the catalog row in German by its code, the site's detail as sent.
    await page.locator(`table.clients tr[data-id="${clientId}"]`).click();
    await page.click('.toolbar button:text("Eigenschaften")');
    await page.fill('textarea[name=comments]', 'x'.repeat(1025));
    await page.click('.modal button[type=submit]');
    const err = await page.waitForSelector('.modal .error');
    expect(await err.innerText()).toBe('VALIDATION_FAILED: Ein Feld hat einen ungültigen Wert. comments: must be at most 1024 characters');
    expect((await listClients(site.api)).items.find((c) => c.id === clientId)!.comments).toBe('');
    await page.click('.modal button[type=button]:not(.close)');

    // The /login administration in German too: its tabs and the seeds' wizard name.
    const admin = await de.newPage();
    await admin.goto(`${site.url}/login`);
    await admin.waitForSelector('.topbar .who');
    expect(await admin.locator('nav.tabs').textContent()).toContain('JUMP-GRUPPEN');
    await admin.click('nav.tabs a[role=tab]:text("JUMP CLIENTS")');
    await admin.click('button:text("Jump Client-Installationsprogramm erstellen")');
    expect(await admin.locator('.wizard h3').textContent()).toBe('Stapelbereitstellungsassistent für Jump Clients');
    expect(await admin.locator('.wizard label').filter({ hasText: 'Dieses Installationsprogramm gilt für' }).count()).toBe(1);
    await admin.close();

    // Switch to French in the header: the page changes in place (no navigation: the marker survives).
    await page.evaluate(() => ((window as unknown as { __same: number }).__same = 42));
    await page.selectOption('select[name=lang]', 'fr');
    await page.waitForFunction(() => document.querySelector('aside.groups h3')?.textContent === 'Groupes de Jumps');
    expect(await page.evaluate(() => (window as unknown as { __same?: number }).__same)).toBe(42);
    expect(await page.evaluate(() => document.documentElement.lang)).toBe('fr');
    expect(await page.locator('.totals').innerText()).toBe('1 éléments de Jump au total. 1 Jump Clients au total. 1 en ligne. 0 hors ligne. 0 passifs.');
    expect(await page.locator('table.clients th[data-col=tag]').count()).toBe(0);
    expect(await page.locator('.toolbar button').nth(1).innerText()).toBe('Propriétés');

    // Remembered: after a reload the page is French although the browser still asks for German.
    await page.reload();
    await page.locator(`table.clients tr[data-id="${clientId}"]`).waitFor();
    expect(await heading(page)).toBe('Groupes de Jumps');
    expect(await page.evaluate(() => document.documentElement.lang)).toBe('fr');
    expect(await page.locator('select[name=lang]').inputValue()).toBe('fr');
    await de.close();

    // en-US: English, as before this feature.
    const en = await context('en-US');
    const enPage = await jumpInterface(en);
    expect(await heading(enPage)).toBe('Jump Groups');
    expect(await enPage.evaluate(() => document.documentElement.lang)).toBe('en');
    expect(await enPage.locator('.totals').innerText()).toBe('1 Jump Items total. 1 Jump Clients total. 1 online. 0 offline. 0 passive.');
    await en.close();
  }, 60_000);

  it('dates follow the chosen language, not the browser\'s locale: German in an en-US browser', async () => {
    // An en-US browser (Chromium's own locale, what toLocaleString() would use) that chose German.
    const ctx = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'en-US', timezoneId: 'UTC', viewport: { width: 1400, height: 800 } });
    await ctx.addInitScript(() => localStorage.setItem('jump.lang', 'de'));
    const page = await jumpInterface(ctx);
    expect(await page.evaluate(() => navigator.language)).toBe('en-US');
    await page.locator(`table.clients tr[data-id="${clientId}"]`).click();
    const shown = (await page.locator('.statistics dd[data-stat="Last connected"]').innerText()).trim();
    const iso = (await listClients(site.api)).items.find((c) => c.id === clientId)!.last_connected!;
    const opts: Intl.DateTimeFormatOptions = { timeZone: 'UTC', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: '2-digit', second: '2-digit' };
    expect(shown).toBe(new Intl.DateTimeFormat('de', opts).format(new Date(iso)));
    // German's shape (day.month.year, 24-hour), and not what the browser's locale writes.
    expect(shown).toMatch(/^\d{1,2}\.\d{1,2}\.\d{4}, \d{2}:\d{2}:\d{2}$/);
    expect(shown).not.toBe(await page.evaluate((d) => new Date(d).toLocaleString(), iso));
    await ctx.close();
  }, 60_000);
});
