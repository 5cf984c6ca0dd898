/**
 * Security issue #12, items 7, 8, 11, 16, 17 and 18: each test attacks the running site the way
 * the review did, over real TLS sockets to a real `jump-site serve` process.
 */
import Database from 'better-sqlite3';
import { scryptSync, randomBytes } from 'node:crypto';
import { statSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect as netConnect } from 'node:net';
import { connect } from 'node:tls';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SITE_BIN, cleanup, run, tempDir, waitFor } from '../helpers/processes.js';
import {
  TEST_ADMIN_PASSWORD,
  apiToken,
  createInstaller,
  jump,
  listClients,
  login,
  startAgentProcess,
  startSiteProcess,
  startTestSite,
  type TestSite,
} from '../helpers/site.js';
import { startSite } from '../../site/server.js';
import { SiteClient } from '../../console/http.js';
import { ephemeralKey, openSession } from '../../console/ssh.js';

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/**
 * Sends one HTTP/1.1 request over a fresh TLS connection with the request line exactly as given
 * (no client-side normalisation of `path`), optionally from a chosen local address.
 */
function raw(
  site: { port: number },
  method: string,
  path: string,
  opts: { token?: string; body?: unknown; localAddress?: string } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const payload = opts.body === undefined ? '' : JSON.stringify(opts.body);
    const tcp = netConnect({ host: '127.0.0.1', port: site.port, localAddress: opts.localAddress });
    const sock = connect({ socket: tcp, rejectUnauthorized: false });
    const chunks: Buffer[] = [];
    sock.on('secureConnect', () => {
      sock.write(
        `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n` +
          (opts.token ? `Authorization: Bearer ${opts.token}\r\n` : '') +
          (payload ? `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(payload)}\r\n` : '') +
          `\r\n${payload}`,
      );
    });
    sock.on('data', (d) => chunks.push(d));
    sock.on('error', reject);
    sock.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const [head, ...rest] = text.split('\r\n\r\n');
      const lines = head.split('\r\n');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(lines[0])?.[1] ?? 0);
      const headers: Record<string, string> = {};
      for (const l of lines.slice(1)) {
        const i = l.indexOf(':');
        if (i > 0) headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
      }
      let body = rest.join('\r\n\r\n');
      if (headers['transfer-encoding'] === 'chunked') {
        let out = '';
        let s = body;
        for (;;) {
          const nl = s.indexOf('\r\n');
          const n = parseInt(s.slice(0, nl), 16);
          if (!n) break;
          out += s.slice(nl + 2, nl + 2 + n);
          s = s.slice(nl + 2 + n + 2);
        }
        body = out;
      }
      let json: unknown = null;
      try {
        json = JSON.parse(body);
      } catch {
        /* not JSON */
      }
      resolve({ status, headers, body, json });
    });
  });
}

async function addUser(site: TestSite, name: string, extra: string[] = []): Promise<string> {
  const r = await run(process.execPath, [SITE_BIN, 'user', 'add', name, '--password-stdin', '--data', site.dataDir, ...extra], {
    input: 'correct horse battery',
  });
  expect(r.code).toBe(0);
  return apiToken(site.url, site.certPem, name, 'correct horse battery');
}

function auditRows(site: { dataDir: string }, action: string): { user_id: number | null; target: string; detail: string | null }[] {
  const db = new Database(join(site.dataDir, 'site.db'), { readonly: true });
  try {
    return db.prepare('SELECT user_id, target, detail FROM audit_log WHERE action = ? ORDER BY id').all(action) as never;
  } finally {
    db.close();
  }
}

let site: TestSite;
let adminToken: string;
beforeAll(async () => {
  // The TLS gate's per-address limit (16 handshakes, test/integration/capacity.test.ts) would reset
  // most of the 40 parallel logins from one address below: raised, so they reach the login throttle.
  site = await startTestSite({ extraArgs: ['--headers-timeout', '1s', '--request-timeout', '2s', '--max-tls-handshakes-per-address', '64'] });
  adminToken = site.api.token!;
});
afterAll(cleanup);

describe('item 11: access per route, deny by default', () => {
  it('answers encoded and fragment paths like the plain ones: 401 without a token, never data, never 500', async () => {
    for (const path of ['/%6detrics', '/metrics#x', '/%6Detrics', '/%61pi/v1/site', '/%61pi/v1/users', '/%61pi/v1/jump-clients', '/api/v1/%73ite', '/%61pi/v1/jump-groups']) {
      const r = await raw(site, 'GET', path);
      expect([401, 404], `${path}: ${r.status} ${r.body}`).toContain(r.status);
      expect(r.body).not.toContain('jump_site_');
      expect(r.body).not.toContain('site_pin');
    }
    // The same paths with a token reach the route (proof the router matched them).
    const ok = await raw(site, 'GET', '/%61pi/v1/site', { token: adminToken });
    expect(ok.status).toBe(200);
    expect(ok.json.site_pin).toBe(site.pin);
    expect((await raw(site, 'GET', '/no/such/path')).status).toBe(404);
    expect((await raw(site, 'GET', '/%61pi/v1/no-such-route')).status).toBe(404);
  });

  it('metrics need an admin token, from loopback too (no --metrics-open-loopback)', async () => {
    const tech = await addUser(site, 'metrik');
    expect((await raw(site, 'GET', '/metrics')).status).toBe(401);
    expect((await raw(site, 'GET', '/metrics', { token: tech })).status).toBe(403);
    const r = await raw(site, 'GET', '/metrics', { token: adminToken });
    expect(r.status).toBe(200);
    expect(r.body).toContain('jump_site_connected_agents');
  });

  it('every route declares an access level, and every non-public route refuses a request without a token', async () => {
    const dataDir = join(tempDir(), 'data');
    const s = await startSite({ dataDir, host: '127.0.0.1', port: 0, metricsOpenLoopback: true, log: pino({ level: 'silent' }) });
    try {
      expect(s.routes.length).toBeGreaterThan(20);
      const undeclared = s.routes.filter((r) => r.access === null);
      expect(undeclared).toEqual([]);
      const port = Number(new URL(s.listenUrl).port);
      for (const r of s.routes) {
        if (r.access === 'public' || r.access === 'metrics' || r.method === 'HEAD' || r.method === 'OPTIONS') continue;
        const path = r.url.replace(/:[a-z]+/g, 'x1');
        const a = await raw({ port }, r.method, path, r.method === 'GET' || r.method === 'DELETE' ? {} : { body: {} });
        expect(a.status, `${r.method} ${r.url} (${r.access})`).toBe(401);
      }
      // Started with metricsOpenLoopback (`--metrics-open-loopback`): a local process needs no token.
      const m = await raw({ port }, 'GET', '/metrics');
      expect(m.status).toBe(200);
      expect(m.body).toContain('jump_site_connected_agents');
    } finally {
      await s.close();
    }
  });
});

describe('item 7: HTTP timeouts', () => {
  const halfOpen = (send: string) =>
    new Promise<number>((resolve, reject) => {
      const t0 = Date.now();
      const sock = connect({ host: '127.0.0.1', port: site.port, rejectUnauthorized: false });
      sock.on('secureConnect', () => sock.write(send));
      sock.on('error', () => undefined);
      sock.on('data', () => undefined); // the 408 the site answers before closing
      sock.on('close', () => resolve(Date.now() - t0));
      setTimeout(() => {
        sock.destroy();
        reject(new Error('the site kept a half-sent request open for 10 s'));
      }, 10_000).unref();
    });

  it('closes a connection that sends half a header within the headers timeout', async () => {
    const ms = await halfOpen('GET /api/v1/site HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: aaaa');
    expect(ms).toBeLessThan(4_000);
  });

  it('closes a connection that sends half a body within the request timeout', async () => {
    const ms = await halfOpen('POST /api/v1/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{"user":');
    expect(ms).toBeLessThan(5_000);
  });

  it('keeps an agent WebSocket open past every HTTP timeout (1 s, 2 s, 3 s here; heartbeats every 6 s)', async () => {
    // Its own site: a short keep-alive would race the pooled connections of the other tests' clients.
    const s = await startSiteProcess({ heartbeat: '6s', extraArgs: ['--headers-timeout', '1s', '--request-timeout', '2s', '--idle-timeout', '3s'] });
    const login = await raw(s, 'POST', '/api/v1/login', { body: { user: 'admin', password: s.password } });
    expect(login.status, login.body).toBe(200);
    const first = login.json.token as string;
    const change = await raw(s, 'POST', '/api/v1/me/password', { token: first, body: { current_password: s.password, new_password: TEST_ADMIN_PASSWORD } });
    expect(change.status).toBe(200);
    const adminToken = (await raw(s, 'POST', '/api/v1/login', { body: { user: 'admin', password: TEST_ADMIN_PASSWORD } })).json.token as string;
    const inst = (await raw(s, 'POST', '/api/v1/installers', { token: adminToken, body: { tag: 'long-lived' } })).json;
    startAgentProcess(inst);
    const site = s;
    await waitFor(async () => (await raw(site, 'GET', '/api/v1/jump-clients?tag=long-lived', { token: adminToken })).json.items[0]?.status === 'online', 20_000, 200, 'online');
    const connects = async () => Number(/^jump_site_agent_connects_total (\d+)/m.exec((await raw(site, 'GET', '/metrics', { token: adminToken })).body)?.[1]);
    const before = await connects();
    await new Promise((r) => setTimeout(r, 8_000));
    expect((await raw(site, 'GET', '/api/v1/jump-clients?tag=long-lived', { token: adminToken })).json.items[0].status).toBe('online');
    expect(await connects()).toBe(before); // no reconnect: the connection was never cut
  });
});

describe('item 8: login throttling', () => {
  it('answers 40 parallel wrong passwords from one address with 429 quickly, while a real login from elsewhere goes through', async () => {
    // The machine's own pace (scrypt at N=2^17 on shared cores): a real login with no attack.
    const b0 = Date.now();
    expect((await raw(site, 'POST', '/api/v1/login', { body: { user: 'admin', password: TEST_ADMIN_PASSWORD }, localAddress: '127.0.0.3' })).status).toBe(200);
    const baseline = Date.now() - b0;
    const t0 = Date.now();
    const attack = Array.from({ length: 40 }, () =>
      raw(site, 'POST', '/api/v1/login', { body: { user: 'admin', password: 'wrong password!' }, localAddress: '127.0.0.2' }).then((r) => ({
        ...r,
        ms: Date.now() - t0,
      })),
    );
    const t1 = Date.now();
    const real = await raw(site, 'POST', '/api/v1/login', { body: { user: 'admin', password: TEST_ADMIN_PASSWORD }, localAddress: '127.0.0.3' });
    const realMs = Date.now() - t1;
    const answers = await Promise.all(attack);
    expect(real.status).toBe(200);
    // Unthrottled, the 40 hashes queue ahead of it on the 4-thread pool (about 10x the baseline, 12 s
    // measured before the fix); throttled, at most 2 of them run beside it. The bound leaves room for
    // a loaded CI machine (the whole suite runs two files at a time on two cores).
    expect(realMs).toBeLessThan(Math.max(5_000, 6 * baseline));
    const throttled = answers.filter((a) => a.status === 429);
    expect(throttled.length).toBeGreaterThanOrEqual(30);
    for (const a of throttled) {
      expect(a.json.error.code).toBe('LOGIN_THROTTLED');
      expect(Number(a.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    }
    // The throttled ones are answered at once, not after queueing behind scrypt.
    expect(Math.min(...throttled.map((a) => a.ms))).toBeLessThan(1_000);
    expect(answers.every((a) => a.status === 429 || a.status === 401)).toBe(true);

    // Failed logins are audited, without the password.
    const rows = auditRows(site, 'user.login_failed');
    expect(rows.length).toBeGreaterThanOrEqual(answers.filter((a) => a.status === 401).length);
    expect(rows.some((r) => r.target === 'user:admin')).toBe(true);
    expect(JSON.stringify(rows)).not.toContain('wrong password!');
  });

  it('stops one address after 10 failures, even with the right password, without locking the account out elsewhere', async () => {
    for (let i = 0; i < 12; i++) {
      await raw(site, 'POST', '/api/v1/login', { body: { user: 'admin', password: `guess number ${i}` }, localAddress: '127.0.0.4' });
    }
    const blocked = await raw(site, 'POST', '/api/v1/login', { body: { user: 'admin', password: TEST_ADMIN_PASSWORD }, localAddress: '127.0.0.4' });
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(60);
    const owner = await raw(site, 'POST', '/api/v1/login', { body: { user: 'admin', password: TEST_ADMIN_PASSWORD }, localAddress: '127.0.0.5' });
    expect(owner.status).toBe(200);
  });
});

describe('item 8: bounded hashing and the per-account limit', () => {
  it('answers logins past the hashing queue (4 running, 8 waiting) with 429 at once instead of queueing them', async () => {
    const t0 = Date.now();
    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        raw(site, 'POST', '/api/v1/login', { body: { user: 'nobody-here', password: 'wrong password!' }, localAddress: `127.0.1.${i + 1}` }).then((r) => ({
          ...r,
          ms: Date.now() - t0,
        })),
      ),
    );
    const busy = answers.filter((a) => a.status === 429);
    expect(busy.length).toBeGreaterThanOrEqual(30 - 12);
    expect(busy[0].json.error.message).toContain('busy');
    expect(Math.min(...busy.map((a) => a.ms))).toBeLessThan(1_000);
    expect(answers.filter((a) => a.status === 401).length).toBeLessThanOrEqual(12);
  });

  it('slows an account sprayed from many addresses for a short window only', async () => {
    await addUser(site, 'sprayed');
    for (let batch = 0; batch < 6; batch++) {
      await Promise.all(
        Array.from({ length: 4 }, (_, i) =>
          raw(site, 'POST', '/api/v1/login', { body: { user: 'sprayed', password: 'spray spray spray' }, localAddress: `127.0.2.${batch * 4 + i + 1}` }),
        ),
      );
    }
    const r = await raw(site, 'POST', '/api/v1/login', { body: { user: 'Sprayed', password: 'correct horse battery' }, localAddress: '127.0.3.1' });
    expect(r.status).toBe(429);
    expect(r.json.error.code).toBe('LOGIN_THROTTLED');
    const wait = Number(r.headers['retry-after']);
    expect(wait).toBeGreaterThanOrEqual(1);
    expect(wait).toBeLessThanOrEqual(60); // a short window: never a lockout
  });
});

describe('round 2, item 8: a spray cannot lock the owner out', () => {
  it("keeps the account over its window from rotating addresses, yet the owner logs in from their usual address; a new address of theirs is slowed", async () => {
    // addUser logs in once from 127.0.0.1: the owner's usual address.
    await addUser(site, 'owner1');
    const login = (password: string, localAddress: string) => raw(site, 'POST', '/api/v1/login', { body: { user: 'owner1', password }, localAddress });
    // 24 guesses from 12 rotating addresses: the account is over its 20-per-minute window.
    for (let batch = 0; batch < 6; batch++) {
      await Promise.all(Array.from({ length: 4 }, (_, i) => login('spray spray spray', `127.0.4.${(batch * 4 + i) % 12 + 1}`)));
    }
    expect((await login('spray spray spray', '127.0.4.20')).status).toBe(429);
    // Meanwhile strangers fill the hashing queue from 30 addresses (guesses at other names).
    const flood = Array.from({ length: 30 }, (_, i) =>
      raw(site, 'POST', '/api/v1/login', { body: { user: 'nobody-at-all', password: 'wrong password!' }, localAddress: `127.0.5.${i + 1}` }),
    );
    const owner = await login('correct horse battery', '127.0.0.1');
    const answers = await Promise.all(flood);
    expect(owner.status, owner.body).toBe(200);
    expect(answers.filter((a) => a.status === 429).length).toBeGreaterThanOrEqual(30 - 10); // strangers: 4 running + 6 waiting at most
    // The owner from an address they never logged in from is slowed like anyone while the spray lasts.
    const elsewhere = await login('correct horse battery', '127.0.6.1');
    expect(elsewhere.status).toBe(429);
    expect(elsewhere.json.error.code).toBe('LOGIN_THROTTLED');
  });
});

describe('item 17: bootstrap admin password', () => {
  it('goes to a 0600 file, not to stderr, and must be changed before anything else', async () => {
    const s = await startSiteProcess();
    expect(s.passwordFile).toBe(join(s.dataDir, 'bootstrap-admin-password'));
    expect(statSync(s.passwordFile!).mode & 0o777).toBe(0o600);
    expect(s.password).toMatch(/^[A-Za-z0-9_-]{24}$/);
    expect(s.proc.stderr()).not.toContain(s.password!);
    const login = await raw(s, 'POST', '/api/v1/login', { body: { user: 'admin', password: s.password } });
    expect(login.status).toBe(200);
    expect(login.json.password_change_required).toBe(true);
    const token = login.json.token as string;
    for (const path of ['/api/v1/site', '/api/v1/jump-clients', '/api/v1/users', '/metrics']) {
      const r = await raw(s, 'GET', path, { token });
      expect(r.status, path).toBe(403);
      expect(r.json.error.code).toBe('PASSWORD_CHANGE_REQUIRED');
      expect(r.json.error.message).toContain('jump passwd');
    }
    expect((await raw(s, 'GET', '/api/v1/me', { token })).status).toBe(200);
    const change = await raw(s, 'POST', '/api/v1/me/password', { token, body: { current_password: s.password, new_password: 'a new admin password' } });
    expect(change.status).toBe(200);
    expect(existsSync(s.passwordFile!)).toBe(false);
    const again = await raw(s, 'POST', '/api/v1/login', { body: { user: 'admin', password: 'a new admin password' } });
    expect((await raw(s, 'GET', '/api/v1/site', { token: again.json.token })).status).toBe(200);
  });
});

describe('item 16: view-personal-groups sees, does not use', () => {
  it("lets a hostile technician with the permission list and show an admin's personal clients but not edit, move, delete or Jump", async () => {
    const inst = await createInstaller(site.api, { jump_group: 'user:admin', tag: 'admins-own' });
    startAgentProcess(inst);
    const id = await waitFor(
      async () => (await raw(site, 'GET', '/api/v1/jump-clients?tag=admins-own', { token: adminToken })).json.items[0]?.id as number | undefined,
      20_000,
      200,
      'enrolled',
    );
    const hostile = await addUser(site, 'hostile', ['--view-personal-groups']);
    const list = await raw(site, 'GET', '/api/v1/jump-clients?tag=admins-own', { token: hostile });
    expect(list.json.items.map((c: { id: number }) => c.id)).toEqual([id]);
    expect((await raw(site, 'GET', `/api/v1/jump-clients/${id}`, { token: hostile })).status).toBe(200);

    const own = await raw(site, 'POST', '/api/v1/installers', { token: hostile, body: {} });
    expect(own.status).toBe(201);
    for (const [method, path, body] of [
      ['PATCH', `/api/v1/jump-clients/${id}`, { comments: 'owned' }],
      ['PATCH', `/api/v1/jump-clients/${id}`, { jump_group: 'user:hostile' }],
      ['DELETE', `/api/v1/jump-clients/${id}`, undefined],
      ['POST', '/api/v1/jump-clients/delete', { ids: [id] }],
      ['POST', `/api/v1/jump-clients/${id}/sessions`, { public_key: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG1nYWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXoxMjM0' }],
      ['POST', '/api/v1/installers', { jump_group: 'user:admin' }],
    ] as const) {
      const r = await raw(site, method, path, { token: hostile, body });
      expect(r.status, `${method} ${path} ${JSON.stringify(body)}: ${r.body}`).toBe(403);
      expect(r.json.error.code).toBe('PERMISSION_DENIED');
    }
    const after = await raw(site, 'GET', `/api/v1/jump-clients/${id}`, { token: adminToken });
    expect(after.json.item.comments).toBe('');
    expect(after.json.item.jump_group).toBe('user:admin');
  });
});

describe('item 18: smaller findings', () => {
  it('answers a group the technician cannot see like a group that does not exist', async () => {
    expect((await raw(site, 'POST', '/api/v1/jump-groups', { token: adminToken, body: { name: 'Secret-Ops' } })).status).toBe(201);
    const tech = await addUser(site, 'oracle');
    const hidden = await raw(site, 'POST', '/api/v1/installers', { token: tech, body: { jump_group: 'Secret-Ops' } });
    const missing = await raw(site, 'POST', '/api/v1/installers', { token: tech, body: { jump_group: 'No-Such-Ops' } });
    expect(hidden.status).toBe(404);
    expect(missing.status).toBe(404);
    expect(hidden.json.error.code).toBe('JUMP_GROUP_NOT_FOUND');
    expect(hidden.json.error.message.replace('Secret-Ops', 'X')).toBe(missing.json.error.message.replace('No-Such-Ops', 'X'));
  });

  it('refuses the user: prefix in any case as a shared group name', async () => {
    for (const name of ['USER:bob', 'User:admin', 'user:x']) {
      const r = await raw(site, 'POST', '/api/v1/jump-groups', { token: adminToken, body: { name } });
      expect(r.status, name).toBe(400);
      expect(r.json.error.field).toBe('name');
    }
  });

  it('takes references of up to 128 characters, URL-encoded', async () => {
    const name = 'é'.repeat(120);
    const r = await raw(site, 'GET', `/api/v1/jump-clients/${encodeURIComponent(name)}`, { token: adminToken });
    // The route is reached (a 404 from the router would say NOT_FOUND: "No such API route").
    expect(r.status).toBe(404);
    expect(r.json.error.code).toBe('JUMP_CLIENT_NOT_FOUND');
  });

  it('lets an admin revoke a user\'s tokens, and removing a user ends theirs; both audited', async () => {
    const victim = await addUser(site, 'leaver');
    expect((await raw(site, 'GET', '/api/v1/me', { token: victim })).status).toBe(200);
    const tech = await addUser(site, 'notadmin');
    expect((await raw(site, 'DELETE', '/api/v1/users/leaver/tokens', { token: tech })).status).toBe(403);
    const r = await raw(site, 'DELETE', '/api/v1/users/leaver/tokens', { token: adminToken });
    expect(r.status).toBe(200);
    expect(r.json.revoked).toBe(1);
    expect((await raw(site, 'GET', '/api/v1/me', { token: victim })).status).toBe(401);
    expect(auditRows(site, 'user.revoke_tokens').map((x) => x.target)).toContain('user:leaver');

    const again = await apiToken(site.url, site.certPem, 'leaver', 'correct horse battery');
    const rm = await run(process.execPath, [SITE_BIN, 'user', 'remove', 'leaver', '--data', site.dataDir]);
    expect(rm.code).toBe(0);
    expect((await raw(site, 'GET', '/api/v1/me', { token: again })).status).toBe(401);
    expect(auditRows(site, 'user.add').map((x) => x.target)).toContain('user:leaver');
    expect(auditRows(site, 'user.remove').map((x) => x.target)).toContain('user:leaver');
  });

  it('ends a token left idle past --token-idle-timeout, and purges it', async () => {
    const s = await startTestSite({ extraArgs: ['--token-idle-timeout', '2s'] });
    const token = s.api.token!;
    for (let i = 0; i < 4; i++) {
      expect((await raw(s, 'GET', '/api/v1/me', { token })).status).toBe(200); // in use: stays valid
      await new Promise((r) => setTimeout(r, 700));
    }
    await new Promise((r) => setTimeout(r, 2_500));
    expect((await raw(s, 'GET', '/api/v1/me', { token })).status).toBe(401);
    s.proc.child.kill('SIGTERM');
    await s.proc.exited;
    await startSiteProcess({ dataDir: s.dataDir, port: s.port, extraArgs: ['--token-idle-timeout', '2s'] });
    const db = new Database(join(s.dataDir, 'site.db'), { readonly: true });
    const n = (db.prepare('SELECT COUNT(*) AS n FROM api_tokens').get() as { n: number }).n;
    db.close();
    expect(n).toBe(0); // purged at start-up (and every 15 min)
  });

  it('verifies a hash of the old, cheaper scrypt cost and rehashes it at N=2^17 on login', async () => {
    await addUser(site, 'oldhash');
    const salt = randomBytes(16);
    const key = scryptSync('old cost password', salt, 32, { N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 });
    const old = ['scrypt', 15, 8, 1, salt.toString('base64url'), key.toString('base64url')].join('$');
    const rw = new Database(join(site.dataDir, 'site.db'));
    rw.prepare('UPDATE users SET password_hash = ? WHERE name = ?').run(old, 'oldhash');
    rw.close();
    await apiToken(site.url, site.certPem, 'oldhash', 'old cost password');
    const db = new Database(join(site.dataDir, 'site.db'), { readonly: true });
    const h = (db.prepare('SELECT password_hash FROM users WHERE name = ?').get('oldhash') as { password_hash: string }).password_hash;
    db.close();
    expect(h.startsWith('scrypt$17$8$1$')).toBe(true);
    await apiToken(site.url, site.certPem, 'oldhash', 'old cost password'); // the new hash verifies
  });
});

describe('round 2: upgrade requests are bounded', () => {
  /** Sends an upgrade request and never closes; resolves with the ms until the site's socket was gone. */
  const upgradeAndHold = (path: string, extra = '') =>
    new Promise<{ ms: number; answer: string }>((resolve, reject) => {
      const t0 = Date.now();
      const chunks: Buffer[] = [];
      const sock = connect({ host: '127.0.0.1', port: site.port, rejectUnauthorized: false });
      // When the site ends its side, this client keeps its own open (a hostile peer).
      sock.allowHalfOpen = true;
      sock.on('secureConnect', () =>
        sock.write(
          `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
            `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\n${extra}\r\n`,
        ),
      );
      sock.on('data', (d) => chunks.push(d));
      // TCP cannot tell a peer's full close from its half close: keep writing, as a hostile client
      // would, until the site's kernel answers with a reset (the socket was destroyed) or 8 s pass.
      sock.on('end', () => {
        const poke = setInterval(() => sock.write('x'), 200);
        sock.on('close', () => clearInterval(poke));
      });
      sock.on('error', () => undefined);
      sock.on('close', () => resolve({ ms: Date.now() - t0, answer: Buffer.concat(chunks).toString('utf8') }));
      setTimeout(() => {
        sock.destroy();
        reject(new Error(`the site kept an unanswered upgrade to ${path} open for 8 s`));
      }, 8_000).unref();
    });

  it('closes an upgrade to a bad path, or with a bad token, that the client holds open', async () => {
    const bad = await upgradeAndHold('/no/such/path');
    expect(bad.answer).toMatch(/^HTTP\/1\.1 404/);
    expect(bad.ms).toBeLessThan(4_000);
    const noToken = await upgradeAndHold('/api/v1/sessions/AAAAAAAAAAAAAAAAAAAAAA/relay', `Authorization: Bearer jst_${'A'.repeat(43)}\r\n`);
    expect(noToken.answer).toMatch(/^HTTP\/1\.1 401/);
    expect(noToken.ms).toBeLessThan(4_000);
    // A session-attach upgrade without its one-time token, refused by the session broker.
    const attach = await upgradeAndHold('/agent/v1/session');
    expect(attach.ms).toBeLessThan(4_000);
  });
});

describe('round 2, item 18: revoked tokens and removed users keep no live Jump session', () => {
  it('ends the relay on token revoke, on `jump-site user passwd` and `user remove` (other processes), and on me/password, which ends every other token', async () => {
    const s = await startTestSite();
    const inst = await createInstaller(s.api, { tag: 'cutoff' });
    startAgentProcess(inst);
    const c = await waitFor(async () => (await listClients(s.api, 'tag=cutoff')).items.find((x) => x.status === 'online'), 20_000, 200, 'online');
    const as = (token: string) => new SiteClient(s.url, { certPem: s.certPem, token });
    /** Opens a live Jump session (relay attached) and resolves, once it closes, with the ms it took after `t0()`. */
    const live = async (token: string) => {
      const { info, ws } = await openSession(as(token), String(c.id), 'tunnel', ephemeralKey().publicLine);
      let at = 0;
      const closed = new Promise<number>((resolve) => ws.on('close', () => resolve(Date.now() - at)));
      return { info, closed, t0: () => (at = Date.now()) };
    };
    const endReason = async (id: string) =>
      (await s.api.request<{ item: { end_reason: string | null } }>('GET', `/api/v1/sessions/${id}`)).item.end_reason;
    const withinOr = (p: Promise<number>, ms: number) => Promise.race([p, new Promise<number>((r) => setTimeout(() => r(Infinity), ms))]);

    // 1. An admin revokes the user's tokens: the live relay ends at once.
    let token = await addUser(s, 'cutoff', ['--admin']);
    let j = await live(token);
    j.t0();
    const rv = await raw(s, 'DELETE', '/api/v1/users/cutoff/tokens', { token: s.api.token! });
    expect(rv.json).toMatchObject({ revoked: 1, sessions_ended: 1 });
    expect(await withinOr(j.closed, 2_000)).toBeLessThan(2_000);
    expect(await endReason(j.info.session_id)).toBe('tokens revoked');

    // 2. `jump-site user passwd` in another process: the site's sweep ends it (every 5 s).
    token = await apiToken(s.url, s.certPem, 'cutoff', 'correct horse battery');
    j = await live(token);
    j.t0();
    const pw = await run(process.execPath, [SITE_BIN, 'user', 'passwd', 'cutoff', '--password-stdin', '--data', s.dataDir], { input: 'a new password 2' });
    expect(pw.code, pw.stderr).toBe(0);
    expect(await withinOr(j.closed, 8_000)).toBeLessThan(8_000);
    expect(await endReason(j.info.session_id)).toBe('user removed or tokens revoked');

    // 3. me/password: every other token ends, this caller gets a fresh one, the live relay ends.
    token = await apiToken(s.url, s.certPem, 'cutoff', 'a new password 2');
    const other = await apiToken(s.url, s.certPem, 'cutoff', 'a new password 2'); // e.g. a stolen one
    j = await live(other);
    j.t0();
    const ch = await raw(s, 'POST', '/api/v1/me/password', { token, body: { current_password: 'a new password 2', new_password: 'a new password 3' } });
    expect(ch.status, ch.body).toBe(200);
    expect(ch.json.token).toMatch(/^jst_/);
    expect((await raw(s, 'GET', '/api/v1/me', { token: other })).status).toBe(401);
    expect((await raw(s, 'GET', '/api/v1/me', { token })).status).toBe(401);
    expect((await raw(s, 'GET', '/api/v1/me', { token: ch.json.token })).status).toBe(200);
    expect(await withinOr(j.closed, 2_000)).toBeLessThan(2_000);

    // 4. `jump-site user remove` in another process.
    j = await live(ch.json.token);
    j.t0();
    const rm = await run(process.execPath, [SITE_BIN, 'user', 'remove', 'cutoff', '--data', s.dataDir]);
    expect(rm.code, rm.stderr).toBe(0);
    expect(await withinOr(j.closed, 8_000)).toBeLessThan(8_000);
  });

  it('ends a technician\'s live Jump sessions when they are removed from the group, and a client\'s when it moves to another group (review finding)', async () => {
    const s = await startTestSite();
    await s.api.request('POST', '/api/v1/jump-groups', { name: 'Ops' });
    await s.api.request('POST', '/api/v1/jump-groups', { name: 'Elsewhere' });
    const inst = await createInstaller(s.api, { tag: 'access-change', jump_group: 'Ops' });
    startAgentProcess(inst);
    const c = await waitFor(async () => (await listClients(s.api, 'tag=access-change')).items.find((x) => x.status === 'online'), 20_000, 200, 'online');
    const token = await addUser(s, 'opsie', []);
    await s.api.request('POST', '/api/v1/jump-groups/Ops/members', { user: 'opsie' });
    const live = async (t: string) => {
      const { info, ws } = await openSession(new SiteClient(s.url, { certPem: s.certPem, token: t }), String(c.id), 'tunnel', ephemeralKey().publicLine);
      return { info, closed: new Promise<void>((resolve) => ws.on('close', () => resolve())) };
    };
    const within = (p: Promise<void>, ms: number) => Promise.race([p.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);
    const endReason = async (id: string) =>
      (await s.api.request<{ item: { end_reason: string | null } }>('GET', `/api/v1/sessions/${id}`)).item.end_reason;

    let j = await live(token);
    await s.api.request('DELETE', '/api/v1/jump-groups/Ops/members/opsie');
    expect(await within(j.closed, 3_000)).toBe(true);
    expect(await endReason(j.info.session_id)).toBe('jump group access removed');

    j = await live(s.api.token!);
    await s.api.request('PATCH', `/api/v1/jump-clients/${c.id}`, { jump_group: 'Elsewhere' });
    expect(await within(j.closed, 3_000)).toBe(true);
    expect(await endReason(j.info.session_id)).toBe('jump client moved to another jump group');
  });

  it('README flow: jump login, jump passwd, jump groups create; the console keeps the fresh token, the old one is dead', async () => {
    const s = await startSiteProcess();
    const dir = tempDir('jump-console-');
    await login(s, dir, 'admin', s.password!);
    const config = () => JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { sites: Record<string, { token: string }> };
    const before = Object.values(config().sites)[0].token;
    const pw = await jump(dir, ['passwd', '--password-stdin'], `${s.password}\n${TEST_ADMIN_PASSWORD}\n`);
    expect(pw.code, pw.stderr).toBe(0);
    expect(Object.values(config().sites)[0].token).not.toBe(before);
    expect((await raw(s, 'GET', '/api/v1/me', { token: before })).status).toBe(401);
    const g = await jump(dir, ['groups', 'create', 'Linux Admins']);
    expect(g.code, g.stderr).toBe(0);
  });
});
