/**
 * The web console (issue #19) in a real Chromium (playwright-core driving Debian's /usr/bin/chromium,
 * never a downloaded browser) against a real `jump-site serve` and real in-process agents:
 * serving and its security headers, the cookie sign-in and its CSRF checks, the /login admin pages
 * (JUMP GROUPS, the Mass Deployment Wizard, USERS), the Jump interface (live enrollment, hostile
 * hostnames as text, search with chosen fields, Properties with the API's messages, Jump by
 * double-click / toolbar / right-click, sorting, columns, multi-select Delete), a technician's view
 * and events stream (nothing about clients they cannot see), and an ended session back at /login.
 *
 * One browser for the file; screenshots of the main pages go to docs/web/ (kept true by this test).
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from '../../agent/agent.js';
import { VERSION } from '../../protocol/version.js';
import { ROOT, cleanup, waitFor } from '../helpers/processes.js';
import { TEST_ADMIN_PASSWORD, createInstaller, fixtureStats, inProcessAgent, listClients, startTestSite, type TestSite } from '../helpers/site.js';

const CHROMIUM = '/usr/bin/chromium';
const SHOTS = join(ROOT, 'docs', 'web');
const HOSTILE = '<img src=x onerror="window.__pwned=1">';

let site: TestSite;
let browser: Browser;
const agents: Agent[] = [];

beforeAll(async () => {
  [site, browser] = await Promise.all([startTestSite(), chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] })]);
  mkdirSync(SHOTS, { recursive: true });
}, 60_000);
afterAll(async () => {
  await Promise.all(agents.map((a) => a.stop()));
  await browser?.close();
  site?.proc.child.kill('SIGTERM');
  await cleanup();
});

interface Raw {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One HTTPS request to the site, the site's certificate pinned, with exactly `headers`. */
function raw(method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const u = new URL(site.url);
    const req = httpsRequest(
      { host: u.hostname, port: u.port, method, path, headers: { ...headers, ...(body ? { 'content-type': 'application/json' } : {}) }, ca: site.certPem, checkServerIdentity: () => undefined },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Signs in through the API the way the page does; returns the session cookie (`name=value`). */
async function cookieLogin(user: string, password: string): Promise<string> {
  const r = await raw('POST', '/api/v1/login', { 'x-jump-web': '1' }, JSON.stringify({ user, password }));
  expect(r.status, r.body).toBe(200);
  const set = String(r.headers['set-cookie']);
  return /^(__Host-jump_session=[^;]+)/.exec(set)![1];
}

/** A context that ignores the self-signed certificate and records CSP violations and page errors. */
async function newContext(): Promise<BrowserContext> {
  const ctx = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1400, height: 800 } });
  await ctx.addInitScript(() => {
    (window as unknown as { __csp: string[] }).__csp = [];
    document.addEventListener('securitypolicyviolation', (e) => (window as unknown as { __csp: string[] }).__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  return ctx;
}

async function signIn(page: Page, user: string, password: string): Promise<void> {
  await page.goto(`${site.url}/login`);
  await page.fill('input[name=user]', user);
  await page.fill('input[name=password]', password);
  await page.click('button[type=submit]');
  await page.waitForSelector('.topbar .who');
}

/** Nothing hostile ran and the CSP refused nothing on `page`. */
async function expectClean(page: Page): Promise<void> {
  expect(await page.evaluate(() => (window as unknown as { __pwned?: unknown }).__pwned)).toBeUndefined();
  expect(await page.evaluate(() => (window as unknown as { __csp: string[] }).__csp)).toEqual([]);
}

function row(page: Page, id: number) {
  return page.locator(`table.clients tr[data-id="${id}"]`);
}

/** Starts an in-process agent enrolling with `keyInfo` and waits until the site lists it online. */
async function enroll(keyInfo: string, hostname: string): Promise<{ agent: Agent; id: number }> {
  const before = new Set((await listClients(site.api)).items.map((c) => c.id));
  const agent = inProcessAgent({ site_url: site.url, site_pin: site.pin, key_info: keyInfo }, { stats: async () => fixtureStats({ hostname }) });
  agents.push(agent);
  const c = await waitFor(async () => (await listClients(site.api)).items.find((x) => !before.has(x.id) && x.status === 'online' && x.hostname === hostname), 30_000, 100, `${hostname} online`);
  return { agent, id: c.id };
}

describe('web console', () => {
  it('serves the pages and assets with strict headers; the cookie sign-in refuses cross-site and header-less writes; logout ends it', async () => {
    for (const path of ['/', '/web/', '/login']) {
      const r = await raw('GET', path);
      expect(r.status, path).toBe(200);
      expect(r.headers['content-type']).toMatch(/^text\/html/);
      const csp = String(r.headers['content-security-policy']);
      expect(csp).toContain("default-src 'self'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).not.toMatch(/unsafe-(inline|eval)/);
      expect(r.headers['x-content-type-options']).toBe('nosniff');
      expect(r.headers['referrer-policy']).toBe('no-referrer');
      // No inline script: every <script> has a src on this site.
      for (const tag of r.body.match(/<script[^>]*>/g) ?? []) expect(tag).toMatch(/ src="\/web\/assets\/[a-z-]+\.js"/);
    }
    const js = await raw('GET', '/web/assets/jump.js');
    expect(js.status).toBe(200);
    expect(js.headers['content-type']).toMatch(/javascript/);
    for (const evil of ['/web/assets/..%2f..%2fsite%2fmain.js', '/web/assets/%2e%2e/%2e%2e/site/main.js', '/web/assets/.hidden']) {
      expect((await raw('GET', evil)).status, evil).toBe(404);
    }

    // Sign-in for the page: the token goes into an HttpOnly, Secure, SameSite=Strict cookie, never the body.
    const login = await raw('POST', '/api/v1/login', { 'x-jump-web': '1' }, JSON.stringify({ user: 'admin', password: TEST_ADMIN_PASSWORD }));
    expect(login.status).toBe(200);
    expect(JSON.parse(login.body).token).toBeUndefined();
    const set = String(login.headers['set-cookie']);
    expect(set).toMatch(/^__Host-jump_session=jst_/);
    for (const attr of ['HttpOnly', 'Secure', 'SameSite=Strict', 'Path=/']) expect(set).toContain(attr);
    const cookie = /^([^;]+)/.exec(set)![1];
    const host = new URL(site.url).host;
    expect((await raw('GET', '/api/v1/me', { cookie })).status).toBe(200);

    // State-changing calls by cookie: without the console's header, from another Origin, or cross-site: 403 CSRF_REJECTED, nothing done.
    const body = JSON.stringify({ name: 'csrf-victim' });
    for (const headers of <Record<string, string>[]>[
      { cookie },
      { cookie, 'x-jump-web': '1', origin: 'https://evil.example' },
      { cookie, 'x-jump-web': '1', 'sec-fetch-site': 'cross-site' },
      { cookie, 'x-jump-web': '1', 'sec-fetch-site': 'same-site' },
    ]) {
      const r = await raw('POST', '/api/v1/jump-groups', headers, body);
      expect(r.status, JSON.stringify(headers)).toBe(403);
      expect(JSON.parse(r.body).error.code).toBe('CSRF_REJECTED');
    }
    // Login CSRF: a forged sign-in from another site gets no cookie.
    const forged = await raw('POST', '/api/v1/login', { 'x-jump-web': '1', origin: 'https://evil.example' }, JSON.stringify({ user: 'admin', password: TEST_ADMIN_PASSWORD }));
    expect(forged.status).toBe(403);
    expect(forged.headers['set-cookie']).toBeUndefined();
    expect((await site.api.request<{ items: { name: string }[] }>('GET', '/api/v1/jump-groups')).items.map((g) => g.name)).not.toContain('csrf-victim');
    const ok = await raw('POST', '/api/v1/jump-groups', { cookie, 'x-jump-web': '1', origin: `https://${host}`, 'sec-fetch-site': 'same-origin' }, body);
    expect(ok.status, ok.body).toBe(201);

    // Logout by cookie: the token is deleted and the cookie cleared.
    const out = await raw('POST', '/api/v1/logout', { cookie, 'x-jump-web': '1' });
    expect(out.status).toBe(200);
    expect(String(out.headers['set-cookie'])).toMatch(/^__Host-jump_session=; .*Max-Age=0/);
    expect((await raw('GET', '/api/v1/me', { cookie })).status).toBe(401);
  });

  it('admin: creates a group and an installer in the wizard, a client enrolled with its KEY_INFO appears live as text; search, Properties, Jump, sort, columns, Delete', async () => {
    const ctx = await newContext();
    const admin = await ctx.newPage();
    await signIn(admin, 'admin', TEST_ADMIN_PASSWORD);

    // JUMP GROUPS: create one.
    await admin.click('text=JUMP GROUPS');
    await admin.fill('input[name=group_name]', 'Web Servers');
    await admin.click('text=Create jump group');
    await admin.waitForSelector('tr[data-group="Web Servers"]');

    // JUMP CLIENTS: the Mass Deployment Wizard, platform defaulting to the browser's OS (Linux here).
    await admin.click('text=JUMP CLIENTS');
    await admin.click('text=Create a Jump Client Installer');
    await admin.waitForSelector('.wizard select[name=jump_group] option[value="Web Servers"]', { state: 'attached' });
    await admin.selectOption('.wizard select[name=jump_group]', 'Web Servers');
    await admin.fill('.wizard input[name=tag]', 'rack-1');
    await admin.fill('.wizard textarea[name=comments]', 'from the wizard');
    expect(await admin.inputValue('.wizard select[name=platform]')).toBe('linux-x64');
    await admin.click('.wizard button[type=submit]');
    const keyInfo = await (await admin.waitForSelector('.wizard input.key-info')).inputValue();
    expect(keyInfo).toMatch(/^[0-9a-z]{47}$/);
    const lines = await admin.locator('.wizard code[data-command]').allInnerTexts();
    expect(lines.some((l) => l.includes(`--key-info ${keyInfo}`))).toBe(true);
    await admin.selectOption('.wizard .created select[name=platform]', 'windows-x64-msi');
    expect(await admin.locator('.wizard code[data-command]').first().innerText()).toBe(`msiexec /i bomgar-scc-win64.msi KEY_INFO=${keyInfo} /quiet`);
    await admin.screenshot({ path: join(SHOTS, 'login-mass-deployment-wizard.png') });
    const uid = await admin.locator('.wizard .created').getAttribute('data-uid');
    await admin.click('text=Done');
    await admin.waitForSelector(`tr[data-uid="${uid}"] td[data-col=state]:text("VALID")`);

    // The Jump interface, open before the client exists: it must appear without a reload.
    const jump = await ctx.newPage();
    await jump.goto(`${site.url}/web/`);
    await jump.waitForSelector('.live[data-live="1"]');
    const hostile = await enroll(keyInfo, HOSTILE);
    const db = await enroll(keyInfo, 'web-db-1');
    await row(jump, hostile.id).waitFor();
    await row(jump, db.id).waitFor();
    // Rendered as the exact text, never as HTML.
    expect(await row(jump, hostile.id).locator('td[data-col=name]').innerText()).toBe(HOSTILE);
    expect(await jump.locator('table.clients img').count()).toBe(0);
    expect(await jump.locator('.totals').innerText()).toMatch(/^2 Jump Items total\. 2 Jump Clients total\. 2 online\. 0 offline\. 0 passive\.$/);
    // The group's tag under its arrow.
    await jump.click('li[data-group="Web Servers"] button.arrow');
    await jump.waitForSelector('a.tag:text("rack-1 (2)")');

    // Search with chosen fields: "web-db" in Comments only finds nothing, in Name finds one.
    await jump.click('button.magnifier');
    await jump.check('input[name=field-comments]');
    await jump.fill('input[name=search]', 'web-db');
    await jump.click('form.search button[type=submit]');
    await waitFor(async () => (await jump.locator('table.clients tbody tr').count()) === 0, 10_000, 50, 'no match in comments');
    await jump.click('button.magnifier');
    await jump.uncheck('input[name=field-comments]');
    await jump.check('input[name=field-name]');
    await jump.click('form.search button[type=submit]');
    await waitFor(async () => (await jump.locator('table.clients tbody tr').count()) === 1, 10_000, 50, 'one match in name');
    await row(jump, db.id).waitFor();
    await jump.fill('input[name=search]', '');
    await jump.click('form.search button[type=submit]');
    await row(jump, hostile.id).waitFor();

    // Properties: a 1025-character comment is refused with the API's message, nothing saved; then a good edit.
    await row(jump, db.id).click();
    await jump.waitForSelector(`.statistics[data-id="${db.id}"] dd[data-stat=Hostname]:text("web-db-1")`);
    await jump.click('.toolbar button:text("Properties")');
    await jump.fill('textarea[name=comments]', 'x'.repeat(1025));
    await jump.click('.modal button[type=submit]');
    const err = await jump.waitForSelector('.modal .error');
    expect(await err.innerText()).toMatch(/VALIDATION_FAILED: comments: must be at most 1024 characters/);
    expect((await listClients(site.api)).items.find((c) => c.id === db.id)!.comments).toBe('from the wizard');
    await jump.fill('textarea[name=comments]', 'database server');
    await jump.fill('input[name=name]', 'Database');
    await jump.click('.modal button[type=submit]');
    await row(jump, db.id).locator('td[data-col=comments]:text("database server")').waitFor();
    expect(await row(jump, db.id).locator('td[data-col=name]').innerText()).toBe('Database');

    // Jump: double-click, the toolbar, the right-click menu and the statistics panel each open /web/jump/<id> in a new tab.
    const opened = async (act: () => Promise<void>) => {
      const [tab] = await Promise.all([ctx.waitForEvent('page'), act()]);
      await tab.waitForURL(/\/web\/jump\/\d+$/);
      const url = tab.url();
      await tab.close();
      return url;
    };
    expect(await opened(() => row(jump, db.id).dblclick())).toBe(`${site.url}/web/jump/${db.id}`);
    expect(await opened(() => jump.click('.toolbar button:text("Jump")'))).toBe(`${site.url}/web/jump/${db.id}`);
    expect(await opened(() => jump.click('.statistics button:text("Jump")'))).toBe(`${site.url}/web/jump/${db.id}`);
    await row(jump, hostile.id).click({ button: 'right' });
    expect(await opened(() => jump.click('.context-menu li:text("Jump")'))).toBe(`${site.url}/web/jump/${hostile.id}`);

    // Sorting by a column (server-side), both ways (by Name ascending at first); the column chooser adds Tag.
    const firstId = async () => jump.locator('table.clients tbody tr').first().getAttribute('data-id');
    expect(await jump.getAttribute('th[data-col=name]', 'aria-sort')).toBe('ascending');
    await waitFor(async () => (await firstId()) === String(hostile.id), 10_000, 50, 'name asc');
    await jump.click('th[data-col=name]');
    await waitFor(async () => (await firstId()) === String(db.id), 10_000, 50, 'name desc');
    await jump.click('th[data-col=comments]');
    await waitFor(async () => (await firstId()) === String(db.id), 10_000, 50, 'comments asc'); // "database server" < "from the wizard"
    await jump.click('th[data-col=comments]');
    await waitFor(async () => (await firstId()) === String(hostile.id), 10_000, 50, 'comments desc');
    await jump.click('.chooser button');
    await jump.check('.chooser input[type=checkbox] >> nth=5');
    await jump.waitForSelector('th[data-col=tag]');
    await jump.click('body', { position: { x: 5, y: 5 } });

    // Live: a client going offline shows without a reload.
    await hostile.agent.stop();
    await row(jump, hostile.id).locator('td[data-col=status]:text("offline")').waitFor({ timeout: 20_000 });
    await jump.screenshot({ path: join(SHOTS, 'jump-interface.png') });

    // What the site found wrong with an identity shows above the statistics, as text: here a copy of
    // the hostile client reported itself with a hostile machine id (written to the store as the
    // gateway records it; test/integration/clone-report.test.ts covers the recording).
    const sdb = new Database(join(site.dataDir, 'site.db'));
    sdb.prepare('UPDATE jump_clients SET clone_reported_at = ?, clone_machine_id = ?, clone_public_ip = ?, clone_reports = 3 WHERE id = ?').run(Date.now(), HOSTILE, '203.0.113.9', hostile.id);
    sdb.close();
    await row(jump, db.id).click();
    await jump.waitForSelector(`.statistics[data-id="${db.id}"]`);
    expect(await jump.locator('.statistics dl.warnings').count()).toBe(0);
    await row(jump, hostile.id).click();
    const warn = jump.locator(`.statistics[data-id="${hostile.id}"] dd[data-warn=clone_report]`);
    await warn.waitFor();
    expect(await warn.innerText()).toContain(`a copy on machine id ${HOSTILE} from 203.0.113.9 stopped (3 reports in all)`);
    expect(await jump.locator('.statistics img').count()).toBe(0);

    // Delete two at once, after confirmation.
    await row(jump, hostile.id).click();
    await row(jump, db.id).click({ modifiers: ['Control'] });
    await jump.click('.toolbar button:text("Delete")');
    expect(await jump.locator('.modal ul.names li').allInnerTexts()).toEqual(expect.arrayContaining([HOSTILE, 'Database']));
    await jump.click('.modal button.danger');
    await waitFor(async () => (await jump.locator('table.clients tbody tr').count()) === 0, 10_000, 50, 'both rows gone');
    expect((await listClients(site.api)).items.filter((c) => c.id === hostile.id || c.id === db.id)).toEqual([]);

    await expectClean(jump);
    await expectClean(admin);
    await ctx.close();
  });

  it('technician: added on the USERS page; sees only their groups, is refused the rest by the API, gets no events about clients they cannot see; an ended session goes back to /login', async () => {
    // USERS and JUMP GROUPS pages as the admin: add a technician, a group they belong to and one they do not.
    const actx = await newContext();
    const admin = await actx.newPage();
    await signIn(admin, 'admin', TEST_ADMIN_PASSWORD);
    await admin.click('text=USERS');
    await admin.fill('.add-user input[name=name]', 'tech1');
    await admin.fill('.add-user input[name=password]', 'short');
    await admin.click('.add-user button[type=submit]');
    expect(await (await admin.waitForSelector('.users .error')).innerText()).toMatch(/password: must be at least/);
    await admin.fill('.add-user input[name=password]', 'tech1 password');
    await admin.click('.add-user button[type=submit]');
    await admin.waitForSelector('tr[data-user=tech1]');
    await admin.screenshot({ path: join(SHOTS, 'login-users.png') });
    await admin.click('text=JUMP GROUPS');
    for (const g of ['Tech Desk', 'Secret Servers']) {
      await admin.fill('input[name=group_name]', g);
      await admin.click('text=Create jump group');
      await admin.waitForSelector(`tr[data-group="${g}"]`);
    }
    await admin.selectOption('tr[data-group="Tech Desk"] select[name=member]', 'tech1');
    await admin.click('tr[data-group="Tech Desk"] button:text("Add")');
    await admin.waitForSelector('tr[data-group="Tech Desk"] .member:text("tech1")');
    // view-personal-groups on the USERS page: the technician's second panel lists the admin.
    await admin.click('text=USERS');
    await admin.click('tr[data-user=tech1] input[name=view_personal_groups]');
    await admin.waitForSelector('tr[data-user=tech1] input[name=view_personal_groups]:checked');
    await expectClean(admin);

    const desk = await createInstaller(site.api, { jump_group: 'Tech Desk' });
    const secret = await createInstaller(site.api, { jump_group: 'Secret Servers' });
    const seen = await enroll(desk.key_info, 'desk-pc');
    const hidden = await enroll(secret.key_info, 'secret-db');

    // Two event streams, the admin's and the technician's (cookies, as the page holds them).
    const streams = { admin: await openEvents(await cookieLogin('admin', TEST_ADMIN_PASSWORD)), tech: await openEvents(await cookieLogin('tech1', 'tech1 password')) };
    try {
      // The hidden client goes offline and online again; then the visible one does. The admin hears
      // all of it; the technician only of the visible one, whose events come after the hidden one's.
      await hidden.agent.stop();
      await waitFor(() => streams.admin.ids().includes(hidden.id), 20_000, 50, 'admin hears the hidden client');
      await seen.agent.stop();
      await waitFor(() => streams.tech.ids().includes(seen.id), 20_000, 50, 'technician hears their client');
      await waitFor(() => streams.admin.ids().includes(seen.id), 20_000, 50, 'admin hears it too');
      expect(streams.tech.ids()).not.toContain(hidden.id);
      expect(streams.tech.text()).not.toContain('secret');
    } finally {
      streams.admin.close();
      streams.tech.close();
    }

    // The technician in the browser: no admin tabs, only their clients, and the API refuses the rest.
    const tctx = await newContext();
    const tech = await tctx.newPage();
    await signIn(tech, 'tech1', 'tech1 password');
    expect(await tech.locator('.tabs a').allInnerTexts()).toEqual(['STATUS', 'MY ACCOUNT', 'REPORTS', 'Jump interface']);
    // STATUS: the site's version and the counts of what the technician may see (desk-pc, offline now).
    await tech.waitForSelector(`dd[data-stat=version]:text("${VERSION}")`);
    await tech.waitForSelector('dd[data-stat=offline]:text("1")');
    expect(await tech.locator('dd[data-stat=online]').innerText()).toBe('0');
    expect(await tech.locator('dd[data-stat=sessions]').innerText()).toBe('0');
    // MY ACCOUNT: a new password; the cookie gets the fresh token and the page stays signed in.
    await tech.click('text=MY ACCOUNT');
    await tech.fill('input[name=current_password]', 'tech1 password');
    await tech.fill('input[name=new_password]', 'tech1 new password');
    await tech.fill('input[name=new_password_again]', 'tech1 new password');
    await tech.click('form.password button[type=submit]');
    await tech.waitForSelector('form.password .ok');
    await tech.goto(`${site.url}/web/`);
    await row(tech, seen.id).waitFor();
    expect(await tech.locator(`table.clients tr[data-id="${hidden.id}"]`).count()).toBe(0);
    expect(await tech.locator('.groups').innerText()).not.toContain('Secret Servers');
    await tech.waitForSelector('.groups ul.users a:text("admin")');
    const refused = await tech.evaluate(async (id) => {
      const h = { 'x-jump-web': '1', 'content-type': 'application/json' };
      const get = await fetch(`/api/v1/jump-clients/${id}`);
      const patch = await fetch(`/api/v1/jump-clients/${id}`, { method: 'PATCH', headers: h, body: JSON.stringify({ comments: 'mine now' }) });
      const users = await fetch('/api/v1/users', { method: 'POST', headers: h, body: JSON.stringify({ name: 'evil', password: 'evil password 1' }) });
      const csv = await (await fetch('/api/v1/jump-clients.csv')).text();
      return { get: get.status, getCode: (await get.json()).error.code, patch: patch.status, users: users.status, usersCode: (await users.json()).error.code, csv };
    }, hidden.id);
    expect(refused).toMatchObject({ get: 404, getCode: 'JUMP_CLIENT_NOT_FOUND', patch: 404, users: 403, usersCode: 'PERMISSION_DENIED' });
    expect(refused.csv).toContain('desk-pc');
    expect(refused.csv).not.toContain('secret-db');
    await expectClean(tech);

    // A cross-site page cannot act with the technician's cookie (SameSite=Strict, then the CSRF check).
    const other = await tctx.newPage();
    // Another site on this machine (localhost is not the same site as 127.0.0.1), a page with no CSP.
    const evil = site.url.replace('127.0.0.1', 'localhost');
    await other.route(`${evil}/**`, (r) => r.fulfill({ contentType: 'text/html', body: '<!doctype html><title>evil</title><p>evil</p>' }));
    await other.goto(`${evil}/evil.html`);
    const status = await other.evaluate(async (target) => {
      // The request is sent; its answer is withheld from this page (CORP same-origin): a network error.
      return fetch(`${target}/api/v1/installers`, { method: 'POST', credentials: 'include', mode: 'no-cors', headers: { 'content-type': 'text/plain' }, body: '{}' }).then(
        (r) => r.type,
        (e: Error) => e.name,
      );
    }, site.url);
    expect(status).toBe('TypeError');
    expect((await site.api.request<{ items: unknown[] }>('GET', '/api/v1/installers')).items.length).toBe(3);

    // The admin ends the technician's sessions: their next call lands on /login with the reason.
    await site.api.request('DELETE', '/api/v1/users/tech1/tokens');
    await tech.click('th[data-col=name]');
    await tech.waitForURL(/\/login\?reason=/);
    expect(await tech.locator('.notice').innerText()).toMatch(/session expired or was ended/);
    // Disabled on the USERS page: the right password gets USER_DISABLED.
    await admin.click('text=USERS');
    await admin.click('tr[data-user=tech1] button:text("Disable")');
    await admin.waitForSelector('tr[data-user=tech1] td[data-col=state]:text("disabled")');
    await tech.fill('input[name=user]', 'tech1');
    await tech.fill('input[name=password]', 'tech1 new password');
    await tech.click('button[type=submit]');
    expect(await (await tech.waitForSelector('.signin .error')).innerText()).toMatch(/^USER_DISABLED:/);
    await tech.screenshot({ path: join(SHOTS, 'login-sign-in.png') });
    await actx.close();
    await tctx.close();
  });
});

/** A raw reader of `GET /api/v1/events` with `cookie`: the ids of the clients its events named. */
async function openEvents(cookie: string): Promise<{ ids: () => number[]; text: () => string; close: () => void }> {
  const u = new URL(site.url);
  let text = '';
  const req = httpsRequest({ host: u.hostname, port: u.port, method: 'GET', path: '/api/v1/events', headers: { cookie }, ca: site.certPem, checkServerIdentity: () => undefined });
  await new Promise<void>((resolve, reject) => {
    req.on('response', (res) => {
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      resolve();
    });
    req.on('error', reject);
    req.end();
  });
  return {
    ids: () =>
      [...text.matchAll(/^data: (.*)$/gm)].flatMap((m) => (JSON.parse(m[1]) as { changes: { id: number }[] }).changes.map((c) => c.id)),
    text: () => text,
    close: () => req.destroy(),
  };
}
