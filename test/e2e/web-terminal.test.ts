/**
 * Jump in the browser and REPORTS (issue #19 item 3), for real: a `jump-site serve` process, a real
 * in-process agent whose shell runs on a real PTY, and Debian's Chromium (playwright-core, headless)
 * on the pages `/web/jump/<id>` and `/web/reports`. The terminal socket's own rules (Origin, the
 * token, bounds) are attacked with a plain WebSocket client too.
 */
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { existsSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { Agent } from '../../agent/agent.js';
import { CastPlayer, IDLE_LIMIT_S, parseCast } from '../../web/terminal/cast.js';
import { SITE_BIN, cleanup, run, waitFor } from '../helpers/processes.js';
import { apiToken, clientStatus, createInstaller, inProcessAgent, listClients, startTestSite, type TestSite } from '../helpers/site.js';

const CHROMIUM = '/usr/bin/chromium';
const TECH_PASSWORD = 'tess technician pw';

let site: TestSite;
let browser: Browser;
let admin: BrowserContext;
let adminToken: string;
let techToken: string;
let clientId: number;
let offlineId: number;
let disabledId: number;
const agents: Agent[] = [];

/** A browser context whose tabs carry `token` as the page's API token (web/terminal/auth.ts TOKEN_KEY). */
async function contextWith(token: string): Promise<BrowserContext> {
  const ctx = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1000, height: 600 } });
  await ctx.addInitScript((t) => sessionStorage.setItem('jump.token', t), token);
  return ctx;
}

/**
 * Saves a screenshot of `page` as `<JUMP_SCREENSHOTS_DIR>/<name>.png` when that variable is set
 * (the docs' screenshots come from the tests, so they stay true); does nothing otherwise.
 */
async function screenshot(page: Page, name: string): Promise<void> {
  const dir = process.env.JUMP_SCREENSHOTS_DIR;
  if (dir) await page.screenshot({ path: join(dir, `${name}.png`) });
}

/** The text on a page's (or a part's) xterm screen, rows joined with newlines. */
async function screen(page: Page, scope = ''): Promise<string> {
  return (await page.locator(`${scope} .xterm-rows`).innerText()).replace(/\u00a0/g, ' ');
}

/** Waits until the terminal screen matches `re`; returns the match. */
async function waitScreen(page: Page, re: RegExp, what: string, scope = ''): Promise<RegExpMatchArray> {
  return waitFor(async () => (await screen(page, scope)).match(re), 20_000, 100, what);
}

/** Opens the terminal page of jump client `ref` and waits for it to be connected. */
async function openTerminal(ctx: BrowserContext, ref: number | string): Promise<Page> {
  const page = await ctx.newPage();
  await page.goto(`${site.url}/web/jump/${ref}`);
  await page.locator('.state[data-state="ready"]').waitFor({ timeout: 20_000 });
  return page;
}

/** The banner a failed Jump shows: its code and text. */
async function jumpError(ctx: BrowserContext, ref: number | string): Promise<{ code: string | null; text: string }> {
  const page = await ctx.newPage();
  await page.goto(`${site.url}/web/jump/${ref}`);
  const banner = page.locator('.banner.error');
  await banner.waitFor({ timeout: 20_000 });
  const r = { code: await banner.getAttribute('data-code'), text: await banner.innerText() };
  await page.close();
  return r;
}

/** A raw terminal socket with `headers`; resolves with its messages once it closes, or the HTTP status that refused it. */
function rawTerminal(
  headers: Record<string, string>,
  send: (ws: WebSocket) => void,
  until: (msgs: Record<string, unknown>[]) => boolean = () => false,
): Promise<{ status: number | null; msgs: Record<string, unknown>[]; ws: WebSocket }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(site.url.replace(/^https/, 'wss') + '/web/terminal', { headers, rejectUnauthorized: false });
    const msgs: Record<string, unknown>[] = [];
    const timer = setTimeout(() => reject(new Error(`no answer; got ${JSON.stringify(msgs)}`)), 20_000);
    ws.on('unexpected-response', (_req, res) => {
      clearTimeout(timer);
      res.resume();
      resolve({ status: res.statusCode ?? null, msgs, ws });
    });
    ws.on('error', () => undefined);
    ws.on('open', () => send(ws));
    ws.on('message', (d, binary) => {
      if (!binary) msgs.push(JSON.parse(d.toString()));
      if (until(msgs)) {
        clearTimeout(timer);
        resolve({ status: 101, msgs, ws });
      }
    });
    ws.on('close', () => {
      clearTimeout(timer);
      resolve({ status: 101, msgs, ws });
    });
  });
}

beforeAll(async () => {
  expect(existsSync(CHROMIUM), `${CHROMIUM} (Debian's chromium package; .ci/run installs it)`).toBe(true);
  const [s, b] = await Promise.all([startTestSite(), chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] })]);
  site = s;
  browser = b;
  adminToken = site.api.token!;
  const inst = await createInstaller(site.api, { tag: 'web' });
  agents.push(inProcessAgent(inst), inProcessAgent(inst));
  // Disabled by the user at the remote machine (seeds: `jump-client disable`).
  const disabled = inProcessAgent({ ...inst, key_info: (await createInstaller(site.api, { tag: 'disabled' })).key_info }, { jump: { isDisabled: () => true } });
  agents.push(disabled);
  const online = await waitFor(async () => {
    const items = (await listClients(site.api, 'tag=web')).items.filter((c) => c.status === 'online');
    return items.length === 2 ? items : null;
  }, 20_000, 100, 'two jump clients online');
  [clientId, offlineId] = online.map((c) => c.id);
  disabledId = await waitFor(async () => (await listClients(site.api, 'tag=disabled')).items.find((c) => c.status === 'online')?.id, 20_000, 100, 'the disabled jump client online');
  // The second one goes offline for good: the seeds' "offline" Jump error.
  const second = agents.find((a) => a.clientId === offlineId)!;
  await second.stop();
  await waitFor(async () => (await clientStatus(site.api, offlineId)) === 'offline', 20_000, 100, 'jump client offline');
  // A technician in no jump group: may see and use no jump client.
  const r = await run(process.execPath, [SITE_BIN, 'user', 'add', 'tess', '--password-stdin', '--data', site.dataDir], { input: TECH_PASSWORD });
  expect(r.code, r.stderr).toBe(0);
  techToken = await apiToken(site.url, site.certPem, 'tess', TECH_PASSWORD);
  admin = await contextWith(adminToken);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await Promise.all(agents.map((a) => a.stop()));
  await cleanup();
});

describe('the terminal page /web/jump/<id>', () => {
  it('runs a shell on a real PTY: typed input reaches it, output shows, copy and paste work, 5 000 lines of scrollback, resize reaches the PTY, the end shows a banner', async () => {
    const page = await openTerminal(admin, clientId);
    await page.keyboard.type('echo web-$((6*7))\n');
    await waitScreen(page, /^web-42$/m, 'the output of echo');

    // Copy: select a word with the mouse, Ctrl+Shift+C. Paste: the browser's paste event.
    await admin.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(site.url).origin });
    const rows = page.locator('.xterm-rows > div');
    const index = (await rows.allInnerTexts()).findIndex((t) => t.replace(/\u00a0/g, ' ').trim() === 'web-42');
    const box = (await rows.nth(index).boundingBox())!;
    await page.mouse.dblclick(box.x + 12, box.y + box.height / 2);
    await page.keyboard.press('Control+Shift+C');
    expect(await waitFor(async () => (await page.evaluate(() => navigator.clipboard.readText())) || null, 5_000, 50, 'the clipboard')).toBe('web-42');
    await page.evaluate(() => {
      const dt = new DataTransfer();
      dt.setData('text/plain', 'echo pasted-$((7*7))');
      document.querySelector('.xterm-helper-textarea')!.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
    });
    await page.keyboard.press('Enter');
    await waitScreen(page, /^pasted-49$/m, 'the pasted command run');

    // The PTY has the page's size, and follows the window.
    await page.keyboard.type('stty size\n');
    const [, rows1, cols1] = await waitScreen(page, /^(\d+) (\d+)\s*$/m, 'stty size');
    const domRows = await page.locator('.xterm-rows > div').count();
    expect(Number(rows1)).toBe(domRows);
    await page.setViewportSize({ width: 640, height: 360 });
    await waitFor(async () => (await page.locator('.xterm-rows > div').count()) < domRows || null, 10_000, 50, 'the terminal refitted');
    await page.keyboard.type('clear; stty size\n');
    const [, rows2, cols2] = await waitFor(
      async () => {
        const m = (await screen(page)).match(/^(\d+) (\d+)\s*$/m);
        return m && (m[1] !== rows1 || m[2] !== cols1) ? m : null;
      },
      20_000,
      100,
      'stty size after the resize',
    );
    expect(Number(rows2)).toBeLessThan(Number(rows1));
    expect(Number(cols2)).toBeLessThan(Number(cols1));
    expect(Number(rows2)).toBe(await page.locator('.xterm-rows > div').count());

    // Scrollback: 5 000 lines (xterm's default of 1 000 would have lost the first of these).
    await page.keyboard.type('seq 1 1500\n');
    await waitScreen(page, /^1500$/m, 'seq printed');
    // Shift+PageUp scrolls back a page at a time: to the top, past 1 500 lines.
    await waitFor(
      async () => {
        for (let i = 0; i < 20; i++) await page.keyboard.press('Shift+PageUp');
        return (await screen(page)).match(/ seq 1 1500\s*$/m);
      },
      15_000,
      0,
      'the command line of seq, 1 500 lines up',
    );
    await page.keyboard.type('clear\n');

    // Endpoint output is terminal text, never page HTML.
    await page.keyboard.type("echo '<img src=x onerror=window.__pwned=1>'\n");
    await waitScreen(page, /^<img src=x onerror=window\.__pwned=1>$/m, 'markup echoed as text');
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    expect(await page.locator('img').count()).toBe(0);

    await screenshot(page, 'web-terminal');
    await page.keyboard.type('exit 3\n');
    const banner = page.locator('.banner.ended');
    await banner.waitFor({ timeout: 20_000 });
    expect(await banner.innerText()).toContain('The shell exited with status 3.');
    await screenshot(page, 'web-terminal-ended');
    await page.close();
  });

  it('several tabs at once: each its own socket and session', async () => {
    type Item = { id: string; ended_at: string | null };
    const sessions = async () => (await site.api.request<{ items: Item[] }>('GET', `/api/v1/sessions?client=${clientId}`)).items;
    const before = new Set((await sessions()).map((s) => s.id));
    const [a, b] = await Promise.all([openTerminal(admin, clientId), openTerminal(admin, clientId)]);
    await a.keyboard.type('echo tab-$((1+1))-a\n');
    await b.keyboard.type('echo tab-$((2+2))-b\n');
    await waitScreen(a, /^tab-2-a$/m, 'tab a output');
    await waitScreen(b, /^tab-4-b$/m, 'tab b output');
    expect(await screen(a)).not.toContain('tab-4-b');
    expect(await screen(b)).not.toContain('tab-2-a');
    const mine = (await sessions()).filter((s) => !before.has(s.id));
    expect(mine.map((s) => s.ended_at)).toEqual([null, null]);
    await Promise.all([a.close(), b.close()]);
    // Closing a tab ends its session.
    await waitFor(
      async () => (await sessions()).filter((s) => !before.has(s.id)).every((s) => s.ended_at !== null) || null,
      20_000,
      100,
      'both sessions ended after the tabs closed',
    );
  });

  it("shows the seeds' error for an offline, a disabled and a deleted jump client, and refuses a technician without its jump group", async () => {
    const offline = await jumpError(admin, offlineId);
    expect(offline.code).toBe('JUMP_CLIENT_OFFLINE');
    expect(offline.text).toContain('The jump client is offline.');
    expect(offline.text).toMatch(new RegExp(`jump client ${offlineId}, offline since \\d{4}-\\d\\d-\\d\\dT`));
    if (process.env.JUMP_SCREENSHOTS_DIR) {
      const p = await admin.newPage();
      await p.goto(`${site.url}/web/jump/${offlineId}`);
      await p.locator('.banner.error').waitFor();
      await screenshot(p, 'web-terminal-offline');
      await p.close();
    }

    const disabled = await jumpError(admin, disabledId);
    expect(disabled.code).toBe('JUMP_CLIENT_DISABLED');
    expect(disabled.text).toContain('The user at the remote machine has disabled this jump client');
    // Deleted: gone for the page as for the API.
    await site.api.request('DELETE', `/api/v1/jump-clients/${offlineId}`);
    const deleted = await jumpError(admin, offlineId);
    expect(deleted.code).toBe('JUMP_CLIENT_NOT_FOUND');
    expect(deleted.text).toContain('The jump client does not exist.');

    const tech = await contextWith(techToken);
    const refused = await jumpError(tech, clientId);
    // The same answer as the API's: a client of a group one may not see does not exist for them.
    expect(refused.code).toBe('JUMP_CLIENT_NOT_FOUND');
    expect(refused.text).toContain('The jump client does not exist.');
    // Nothing was started for them.
    const sessions = await site.api.request<{ items: { user: string }[] }>('GET', '/api/v1/sessions');
    expect(sessions.items.filter((s) => s.user === 'tess')).toEqual([]);
    // Nor does REPORTS show them the admin's sessions.
    const reports = await tech.newPage();
    await reports.goto(`${site.url}/web/reports`);
    await reports.getByText('No sessions you may see yet.').waitFor({ timeout: 20_000 });
    await tech.close();

    const anonymous = await browser.newContext({ ignoreHTTPSErrors: true });
    expect((await jumpError(anonymous, clientId)).code).toBe('UNAUTHENTICATED');
    await anonymous.close();
  });
});

describe('REPORTS /web/reports', () => {
  it('lists the sessions and plays a recording back in a terminal (play/pause, restart, speed), as text only', async () => {
    type Item = { id: string; exit_status: number | null; recording: boolean };
    const items = (await site.api.request<{ items: Item[] }>('GET', `/api/v1/sessions?client=${clientId}`)).items;
    // The first test's session (it ended with `exit 3`) and tab a's of the second.
    const first = items.find((s) => s.exit_status === 3)!;
    const recordings = await Promise.all(items.filter((s) => s.recording).map(async (s) => ({ s, text: await site.api.requestText('GET', `/api/v1/sessions/${s.id}/recording?part=terminal`) })));
    const tabA = recordings.find((r) => r.text.includes('tab-2-a'))!.s;
    expect(first.recording).toBe(true);

    const page = await admin.newPage();
    await page.goto(`${site.url}/web/reports`);
    const row = page.locator(`tr[data-session="${first.id}"]`);
    await row.waitFor({ timeout: 20_000 });
    expect(await row.innerText()).toMatch(/admin\s+shell\s+3\s/);
    await row.locator('button.watch').click();
    let player = page.locator(`.player[data-session="${first.id}"]`);
    await player.locator('.speed').selectOption('16');
    // Its last screen: the markup it echoed, as text in the terminal, not as an element of the page.
    await waitScreen(page, /^<img src=x onerror=window\.__pwned=1>$/m, 'the recorded markup played back as text', '.player');
    await waitScreen(page, /^logout$/m, 'the recording played to its end', '.player');
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    expect(await page.locator('img').count()).toBe(0);

    await page.locator(`tr[data-session="${tabA.id}"] button.watch`).click();
    player = page.locator(`.player[data-session="${tabA.id}"]`);
    await player.locator('.speed').selectOption('16');
    await waitScreen(page, /^tab-2-a$/m, "tab a's output played back", '.player');
    await screenshot(page, 'web-reports');
    await player.locator('.position[data-playing="false"]').waitFor({ timeout: 20_000 });
    // Restart clears the screen; Play plays again; Pause stops it.
    await player.locator('button.restart').click();
    expect(await screen(page, '.player')).not.toContain('tab-2-a');
    await player.locator('.speed').selectOption('0.5');
    await player.locator('button.play').click();
    await player.locator('.position[data-playing="true"]').waitFor({ timeout: 5_000 });
    await player.locator('button.play').click();
    await player.locator('.position[data-playing="false"]').waitFor({ timeout: 5_000 });
    await page.close();
  });
});

describe('the terminal socket', () => {
  const own = () => new URL(site.url).origin;
  const open = (over: Record<string, unknown> = {}) => (ws: WebSocket) => ws.send(JSON.stringify({ t: 'open', client: String(clientId), cols: 80, rows: 24, ...over }));

  it('refuses a foreign Origin and a missing one before the upgrade (cross-site WebSocket hijacking), even with the cookie', async () => {
    for (const origin of ['https://evil.example', `http://${new URL(site.url).host}`, 'null']) {
      const r = await rawTerminal({ origin, cookie: `__Host-jump_session=${adminToken}` }, open());
      expect(r.status, origin).toBe(403);
    }
    expect((await rawTerminal({ cookie: `__Host-jump_session=${adminToken}` }, open())).status).toBe(403);
  });

  it('takes the sign-in cookie, or the token in the first message; never a token in the URL', async () => {
    const viaCookie = await rawTerminal({ origin: own(), cookie: `__Host-jump_session=${adminToken}` }, open(), (m) => m.some((x) => x.t === 'ready'));
    expect(viaCookie.msgs[0]).toMatchObject({ t: 'ready', client: { id: clientId } });
    viaCookie.ws.close();
    const viaMessage = await rawTerminal({ origin: own() }, open({ token: adminToken }), (m) => m.some((x) => x.t === 'ready'));
    expect(viaMessage.msgs[0]).toMatchObject({ t: 'ready' });
    viaMessage.ws.close();
    const wrong = await rawTerminal({ origin: own() }, open({ token: 'x'.repeat(43) }));
    expect(wrong.msgs).toEqual([expect.objectContaining({ t: 'error', code: 'UNAUTHENTICATED' })]);
    const inUrl = await new Promise<number | null>((resolve) => {
      const ws = new WebSocket(`${site.url.replace(/^https/, 'wss')}/web/terminal?token=${adminToken}`, { headers: { origin: own() }, rejectUnauthorized: false });
      ws.on('error', () => undefined);
      ws.on('unexpected-response', (_q, res) => resolve(res.statusCode ?? null));
      ws.on('open', () => ws.send(JSON.stringify({ t: 'open', client: String(clientId), cols: 80, rows: 24 })));
      ws.on('message', (d) => resolve(JSON.parse(d.toString()).code === 'UNAUTHENTICATED' ? 401 : 0));
    });
    expect(inUrl).toBe(401);
  });

  it('keeps input and a resize sent while the session starts, and writes them once the shell is there', async () => {
    const ws = new WebSocket(site.url.replace(/^https/, 'wss') + '/web/terminal', { headers: { origin: own() }, rejectUnauthorized: false });
    let out = '';
    ws.on('message', (d, binary) => binary && (out += d.toString()));
    await new Promise((r) => ws.once('open', r));
    open({ token: adminToken })(ws);
    ws.send(JSON.stringify({ t: 'resize', cols: 91, rows: 33 }));
    ws.send(Buffer.from('echo early-$((5*5)); stty size\n'));
    await waitFor(() => /early-25\r?\n33 91/.test(out) || null, 20_000, 50, 'the early input run on a 33x91 PTY');
    ws.close();
  });

  it('bounds what the browser sends: sizes, a second open, unknown messages, oversized frames', async () => {
    const cases: { send: (ws: WebSocket) => void; field: string }[] = [
      { send: open({ token: adminToken, cols: 100_000 }), field: 'cols' },
      { send: open({ token: adminToken, rows: 0 }), field: 'rows' },
      { send: open({ token: adminToken, extra: 1 }), field: 'extra' },
      { send: (ws) => ws.send(JSON.stringify({ t: 'shell' })), field: 't' },
      { send: (ws) => ws.send('not json'), field: 'message' },
      { send: (ws) => ws.send(Buffer.from('ls\n')), field: 'message' },
    ];
    for (const c of cases) {
      const r = await rawTerminal({ origin: own() }, c.send);
      expect(r.msgs, c.field).toEqual([expect.objectContaining({ t: 'error', code: 'VALIDATION_FAILED', field: c.field })]);
      expect(String(r.msgs[0].message)).toContain(`${c.field}:`);
    }
    // A live session: a resize out of range and a second open are refused, naming the field.
    const twice = await rawTerminal(
      { origin: own() },
      (ws) => {
        open({ token: adminToken })(ws);
        ws.once('message', () => ws.send(JSON.stringify({ t: 'open', client: String(clientId), cols: 80, rows: 24 })));
      },
      (m) => m.some((x) => x.t === 'error'),
    );
    expect(twice.msgs.map((m) => m.t)).toEqual(['ready', 'error']);
    expect(twice.msgs[1]).toMatchObject({ code: 'VALIDATION_FAILED', field: 't' });
    const big = await rawTerminal({ origin: own() }, (ws) => ws.send(Buffer.alloc(64 * 1024 + 1)));
    expect(big.msgs).toEqual([]);
    expect(big.ws.readyState).toBe(WebSocket.CLOSED);
  });
});

describe('the pages and their assets', () => {
  /** GET `path` of the site: status, headers, body (the site's self-signed certificate accepted). */
  const get = (path: string) =>
    new Promise<{ status: number; headers: IncomingHttpHeaders; body: string }>((resolve, reject) => {
      https
        .get(site.url + path, { rejectUnauthorized: false }, (res) => {
          let body = '';
          res.on('data', (d) => (body += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        })
        .on('error', reject);
    });

  it('serve static HTML with a script-only-from-the-site policy; the assets directory and nothing beside it', async () => {
    for (const path of [`/web/jump/${clientId}`, '/web/reports']) {
      const r = await get(path);
      expect(r.status, path).toBe(200);
      const csp = String(r.headers['content-security-policy']);
      expect(csp).toContain("script-src 'self';");
      expect(csp).toContain("connect-src 'self';");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(r.body).not.toMatch(/<script>|<script [^>]*>[^<]/); // no inline script
    }
    // The page is the same for every id: nothing from the URL is written into it.
    expect((await get('/web/jump/%3Cscript%3Ealert(1)%3C%2Fscript%3E')).body).toBe((await get(`/web/jump/${clientId}`)).body);
    const long = await get(`/web/jump/${'1'.repeat(129)}`);
    expect(long.status).toBe(400);
    expect(JSON.parse(long.body).error).toMatchObject({ code: 'VALIDATION_FAILED', field: 'id' });
    expect((await get('/web/assets/terminal.js')).status).toBe(200);
    for (const path of ['/web/assets/..%2F..%2Fsite%2Fmain.js', '/web/assets/%2e%2e/web/assets/terminal.js', '/web/assets/.hidden', '/web/assets/sub/x.js']) {
      expect((await get(path)).status, path).toBe(404);
    }
  });
});

describe('a session the site ends', () => {
  it('shows why in the banner (the jump client was deleted)', async () => {
    const page = await openTerminal(admin, clientId);
    await page.keyboard.type('echo still-$((3*3))\n');
    await waitScreen(page, /^still-9$/m, 'the session works');
    await site.api.request('DELETE', `/api/v1/jump-clients/${clientId}`);
    const banner = page.locator('.banner.ended');
    await banner.waitFor({ timeout: 20_000 });
    expect(await banner.innerText()).toContain('The session was ended: jump client deleted.');
    await page.close();
  });
});

describe('asciicast playback (web/terminal/cast.ts), on hostile recordings', () => {
  const header = JSON.stringify({ version: 2, width: 100, height: 30 });

  it('refuses what is not asciicast v2, naming why', () => {
    expect(() => parseCast('')).toThrow(/first line is not a JSON header/);
    expect(() => parseCast(JSON.stringify({ version: 1, width: 80, height: 24 }))).toThrow(/version is not 2/);
  });

  it('skips and counts malformed events, ignores input, shortens idle gaps, keeps absurd sizes out', () => {
    const text = [
      JSON.stringify({ version: 2, width: 1e9, height: -3 }),
      JSON.stringify([0.5, 'o', 'a']),
      'not json',
      JSON.stringify([1, 'o']),
      JSON.stringify(['1', 'o', 'x']),
      JSON.stringify([1, 'i', 'typed']),
      JSON.stringify([100, 'o', 'b']),
      JSON.stringify([50, 'o', 'c']), // time going backwards: kept at the previous time
    ].join('\n');
    const c = parseCast(text);
    expect(c).toMatchObject({ width: 80, height: 24, skipped: 3 });
    expect(c.events).toEqual([
      { t: 0.5, code: 'o', data: 'a' },
      { t: 0.5 + IDLE_LIMIT_S, code: 'o', data: 'b' },
      { t: 0.5 + IDLE_LIMIT_S, code: 'o', data: 'c' },
    ]);
    expect(c.duration).toBe(0.5 + IDLE_LIMIT_S);
  });

  it('plays output and resizes into the sink in order, pauses, restarts', async () => {
    const cast = parseCast([header, JSON.stringify([0, 'o', 'one ']), JSON.stringify([0.05, 'r', '9999x0']), JSON.stringify([0.06, 'r', 'x; rm']), JSON.stringify([0.1, 'o', 'two'])].join('\n'));
    const got: string[] = [];
    let done!: () => void;
    const finished = new Promise<void>((r) => (done = r));
    const player = new CastPlayer(
      cast,
      { write: (d) => got.push(d), resize: (c, r) => got.push(`[${c}x${r}]`), reset: () => got.push('[reset]') },
      (pos, playing) => !playing && pos === cast.duration && done(),
    );
    player.setSpeed(10);
    player.play();
    await finished;
    expect(got).toEqual(['[reset]', '[100x30]', 'one ', '[500x1]', 'two']);
    player.restart();
    expect(got.slice(-2)).toEqual(['[reset]', '[100x30]']);
    expect(player.position).toBe(0);
  });
});
