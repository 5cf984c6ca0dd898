/**
 * The installer's preflight (issue #14 item 5, issue #16 item 2): the real `jump-client install`
 * (dist/agent/main.js, user mode, a temp --install-dir; JUMP_CLIENT_PACKAGE_DIR names a payload
 * with a stamp made from a real installer) against a real site. A refusal the site would give at
 * enrollment fails the install with that code and leaves nothing behind; the preflight itself
 * counts no use and records nothing; a site that cannot prove the pinned key never gets KEY_INFO;
 * a site that cannot be asked gives a warning and the install goes on; --offline dials nothing.
 *
 * As root (CI), the installs run as `nobody` (a root install is a service-mode install, which
 * needs /opt and writes a unit); otherwise as the test's user.
 */
import Database from 'better-sqlite3';
import { chownSync, chmodSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { stampFromCreated, type Stamp } from '../../protocol/stamp.js';
import { preflight } from '../../agent/install/preflight.js';
import { AGENT_BIN, SITE_BIN, cleanup, run, start, tempDir, waitFor } from '../helpers/processes.js';
import { apiToken, createInstaller, foreignPin, listClients, type InstallerInfo, type TestSite, startTestSite } from '../helpers/site.js';
import { SiteClient } from '../../console/http.js';

const ROOTED = process.getuid?.() === 0;
const NOBODY = 65534;

let site: TestSite;
let tech: SiteClient;

/** A directory the installing user owns (0755 so its ancestors stay reachable). */
function userDir(prefix: string): string {
  const d = tempDir(prefix);
  chmodSync(d, 0o755);
  if (ROOTED) chownSync(d, NOBODY, NOBODY);
  return d;
}

/** The stamp `jump installer create --platform` writes for `inst`, with `over` changed. */
function stampOf(inst: InstallerInfo, over: Partial<Stamp> = {}): Stamp {
  return { ...stampFromCreated(inst), ...over };
}

/** An unpacked installer payload (what the .bin extracts): placeholder programs, lib/, the stamp. */
function payload(stamp: Stamp): string {
  const d = userDir('jump-preflight-pkg-');
  for (const f of ['jump-client', 'init-script', 'uninstall']) writeFileSync(join(d, f), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
  mkdirSync(join(d, 'lib'));
  writeFileSync(join(d, 'lib', 'README'), 'payload\n');
  writeFileSync(join(d, 'installer.json'), JSON.stringify(stamp), { mode: 0o600 });
  if (ROOTED) for (const f of ['jump-client', 'init-script', 'uninstall', 'lib', 'lib/README', 'installer.json', '.']) chownSync(join(d, f), NOBODY, NOBODY);
  return d;
}

/** argv of a program run as the installing user, with `env` set. */
function asInstaller(env: Record<string, string>, args: string[]): [string, string[]] {
  const envArgs = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  return ROOTED ? ['runuser', ['-u', 'nobody', '--', 'env', ...envArgs, process.execPath, ...args]] : ['env', [...envArgs, process.execPath, ...args]];
}

/** Runs `jump-client install --install-dir PARENT/jumpclient ARGS` from a payload stamped with `stamp`. */
async function install(stamp: Stamp, args: string[] = []) {
  const parent = userDir('jump-preflight-parent-');
  const home = userDir('jump-preflight-home-');
  const dir = join(parent, 'jumpclient');
  const [cmd, argv] = asInstaller({ JUMP_CLIENT_PACKAGE_DIR: payload(stamp), HOME: home }, [AGENT_BIN, 'install', '--install-dir', dir, ...args]);
  const started = Date.now();
  const r = await run(cmd, argv);
  return { ...r, parent, dir, home, ms: Date.now() - started };
}

async function uses(uid: string): Promise<number> {
  return (await site.api.request<{ item: { uses: number } }>('GET', `/api/v1/installers/${uid}`)).item.uses;
}

function countRows(table: 'audit_log' | 'jump_clients'): number {
  const db = new Database(join(site.dataDir, 'site.db'), { readonly: true });
  try {
    return (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
  } finally {
    db.close();
  }
}

/** Expects a refused install: `exit`, `code` on stderr, and nothing at all left beside the install dir. */
function expectRefused(r: Awaited<ReturnType<typeof install>>, exit: number, code: string): void {
  expect(r.stderr, r.stderr).toContain(`jump-client install: ${code}: `);
  expect(r.code).toBe(exit);
  expect(readdirSync(r.parent)).toEqual([]); // no install dir, no staging dir
  expect(readFileSync(join(r.home, '.jump-client-install.log'), 'utf8')).toContain(code);
}

/** A TCP listener that counts connections; `hang` keeps them open and silent, else they are cut at once. */
function tcpSink(hang: boolean): Promise<{ port: number; connections: () => number; server: Server }> {
  let n = 0;
  const held: Socket[] = [];
  const server = createServer((s) => {
    n++;
    s.on('error', () => undefined);
    if (hang) held.push(s);
    else s.destroy();
  });
  server.on('close', () => held.forEach((s) => s.destroy()));
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ port: (server.address() as { port: number }).port, connections: () => n, server })));
}

/**
 * A machine in the middle: terminates TLS with the site's own certificate and key (as if stolen)
 * and relays every WebSocket frame to the real site, recording what the installer sent. The site's
 * challenge signs the relay's channel binding, not the installer's, so it must not verify.
 * With `inject`, it answers the installer's hello with that message itself and closes.
 */
async function relayInTheMiddle(inject?: object): Promise<{ url: string; fromInstaller: string[]; close: () => void }> {
  const fromInstaller: string[] = [];
  const server = createHttpsServer({ cert: readFileSync(join(site.dataDir, 'tls.crt')), key: readFileSync(join(site.dataDir, 'tls.key')), minVersion: 'TLSv1.3' });
  const wss = new WebSocketServer({ server, path: '/agent/v1' });
  wss.on('connection', (inbound) => {
    if (inject) {
      // Answers the hello itself, before any identity proof.
      inbound.on('message', (d) => {
        fromInstaller.push(d.toString());
        inbound.send(JSON.stringify(inject));
        inbound.close(4000);
      });
      return;
    }
    const outbound = new WebSocket(`${site.url.replace('https:', 'wss:')}/agent/v1`, { rejectUnauthorized: false });
    const queue: string[] = [];
    inbound.on('message', (d) => {
      fromInstaller.push(d.toString());
      if (outbound.readyState === WebSocket.OPEN) outbound.send(d.toString());
      else queue.push(d.toString());
    });
    outbound.on('open', () => queue.splice(0).forEach((m) => outbound.send(m)));
    outbound.on('message', (d) => inbound.send(d.toString()));
    outbound.on('close', () => inbound.close());
    inbound.on('close', () => outbound.close());
    outbound.on('error', () => inbound.terminate());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `https://127.0.0.1:${(server.address() as { port: number }).port}`,
    fromInstaller,
    close: () => {
      wss.close();
      server.close();
    },
  };
}

/**
 * A front that answers the first `busy` connections itself with the site's 503 (TLS with the site's
 * certificate, `X-Retry-After-Ms: retryMs`), and passes later ones through to the site untouched.
 */
function busyFront(busy: number, retryMs: number): Promise<{ url: string; connections: () => number; server: Server }> {
  let n = 0;
  const cert = readFileSync(join(site.dataDir, 'tls.crt'));
  const key = readFileSync(join(site.dataDir, 'tls.key'));
  const server = createServer((socket) => {
    socket.on('error', () => undefined);
    if (++n <= busy) {
      const tls = new TLSSocket(socket, { isServer: true, cert, key, minVersion: 'TLSv1.3' });
      tls.on('error', () => undefined);
      tls.once('data', () =>
        tls.end(`HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nX-Retry-After-Ms: ${retryMs}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`),
      );
      return;
    }
    const upstream = createConnection(site.port, '127.0.0.1');
    upstream.on('error', () => socket.destroy());
    socket.pipe(upstream);
    upstream.pipe(socket);
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ url: `https://127.0.0.1:${(server.address() as { port: number }).port}`, connections: () => n, server })),
  );
}

beforeAll(async () => {
  site = await startTestSite();
  for (const name of ['Linux Admins', 'Secret Servers']) await site.api.request('POST', '/api/v1/jump-groups', { name });
  // The installers' creator: a technician in "Linux Admins", not in "Secret Servers".
  const add = await run(process.execPath, [SITE_BIN, 'user', 'add', 'tech', '--password-stdin', '--data', site.dataDir], { input: 'correct horse battery' });
  expect(add.code, add.stderr).toBe(0);
  await site.api.request('POST', `/api/v1/jump-groups/${encodeURIComponent('Linux Admins')}/members`, { user: 'tech' });
  tech = new SiteClient(site.url, { certPem: site.certPem, token: await apiToken(site.url, site.certPem, 'tech', 'correct horse battery') });
}, 60_000);
afterAll(cleanup);

describe('jump-client install asks the site before committing the install', () => {
  it('installs a valid installer without counting a use or recording anything; only the enrollment counts', async () => {
    const inst = await createInstaller(tech, { tag: 'pf-valid', jump_group: 'Linux Admins', max_uses: 1 });
    const audit = countRows('audit_log');
    const clients = countRows('jump_clients');
    // Two installs from a one-use installer: were a use counted, the second would be refused.
    const [first, second] = await Promise.all([install(stampOf(inst)), install(stampOf(inst))]);
    for (const r of [first, second]) {
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).not.toContain('WARNING');
      expect(readdirSync(r.parent)).toEqual(['jumpclient']);
    }
    expect(await uses(inst.uid)).toBe(0);
    expect(countRows('audit_log')).toBe(audit);
    expect(countRows('jump_clients')).toBe(clients);

    // The first start of what was installed enrolls, and that counts the one use.
    const [cmd, argv] = asInstaller({ HOME: first.home }, [AGENT_BIN, 'run', '--config', join(first.dir, 'config'), '--machine-id', 'pf-valid-machine']);
    const agent = start(cmd, argv);
    await waitFor(async () => (await listClients(site.api, 'tag=pf-valid')).summary.online === 1, 20_000, 100, 'the installed client online');
    expect(await uses(inst.uid)).toBe(1);
    agent.child.kill('SIGTERM');
    await agent.exited;

    // Now the installer is used up: the next install is refused by the site, not at a first start.
    expectRefused(await install(stampOf(inst)), 3, 'INSTALLER_USED_UP');
  }, 60_000);

  it('refuses a jump group the site does not have, and one the creator may not use, with the same answer (no oracle)', async () => {
    const inst = await createInstaller(tech, { tag: 'pf-group', jump_group: 'Linux Admins', allow_override: ['jump_group'] });
    const [missing, forbidden] = await Promise.all([
      install(stampOf(inst), ['--jc-jump-group', 'No Such Group']),
      install(stampOf(inst), ['--jc-jump-group', 'Secret Servers']),
    ]);
    expectRefused(missing, 2, 'JUMP_GROUP_NOT_FOUND');
    expectRefused(forbidden, 2, 'JUMP_GROUP_NOT_FOUND');
    expect(forbidden.stderr.replace('Secret Servers', 'G')).toBe(missing.stderr.replace('No Such Group', 'G'));
    expect(await uses(inst.uid)).toBe(0);
  }, 60_000);

  it('refuses an unknown, expired or revoked installer key with its code', async () => {
    const inst = await createInstaller(tech, { tag: 'pf-keys', jump_group: 'Linux Admins' });
    // Expired on the site while the stamp still says valid (the site's clock is the one that counts).
    const expired = await createInstaller(tech, { tag: 'pf-expired', jump_group: 'Linux Admins' });
    const db = new Database(join(site.dataDir, 'site.db'));
    db.prepare('UPDATE installers SET expires_at = ? WHERE uid = ?').run(Date.now() - 1000, expired.uid);
    db.close();
    const revoked = await createInstaller(tech, { tag: 'pf-revoked', jump_group: 'Linux Admins' });
    await tech.request('POST', `/api/v1/installers/${revoked.uid}/revoke`);

    const [unknown, wasExpired, wasRevoked] = await Promise.all([
      // An unknown key is all a wrong key learns: the group it asks for is not looked at.
      install(stampOf(inst, { key_info: 'x'.repeat(47), allow_override: ['jump_group'] }), ['--jc-jump-group', 'Secret Servers']),
      install(stampOf(expired)),
      install(stampOf(revoked)),
    ]);
    expectRefused(unknown, 3, 'INSTALLER_KEY_UNKNOWN');
    expectRefused(wasExpired, 3, 'INSTALLER_EXPIRED');
    expectRefused(wasRevoked, 3, 'INSTALLER_REVOKED');
    expect(wasRevoked.stderr).toContain(`the site ${site.url} refused this installer`);
  }, 60_000);

  it('refuses an install on a site at its license limit (issue #18), with exit 1 and nothing left; it installs again once the limit is raised', async () => {
    const inst = await createInstaller(site.api, { tag: 'pf-full' });
    const total = (await site.api.request<{ summary: { jump_clients: number } }>('GET', '/api/v1/jump-clients')).summary.jump_clients;
    await site.api.request('PUT', '/api/v1/settings/jump-clients.max-total', { value: String(total) });
    try {
      const r = await install(stampOf(inst));
      expectRefused(r, 1, 'DEPLOY_LIMIT_REACHED');
      expect(r.stderr).toContain('The total number of Jump Clients that can be deployed for this site has been reached.');
    } finally {
      await site.api.request('DELETE', '/api/v1/settings/jump-clients.max-total');
    }
    const ok = await install(stampOf(inst));
    expect(ok.code, ok.stderr).toBe(0);
  }, 60_000);

  it('refuses an override the site forbids even when the stamp was edited to allow it', async () => {
    const inst = await createInstaller(tech, { tag: 'pf-locked', jump_group: 'Linux Admins' });
    // The local check trusts the stamp; the site does not.
    const r = await install(stampOf(inst, { allow_override: ['tag'] }), ['--jc-tag', 'other']);
    expectRefused(r, 2, 'INSTALLER_OVERRIDE_FORBIDDEN');
    expect(r.stderr).toContain('--jc-tag');
  }, 60_000);
});

/** Opens the agent endpoint by hand and sends `first` as the first message (no hello). Resolves with what came back. */
function rawFirstMessage(first: object): Promise<{ messages: string[]; closeCode: number }> {
  const ws = new WebSocket(`${site.url.replace('https:', 'wss:')}/agent/v1`, { rejectUnauthorized: false });
  const messages: string[] = [];
  ws.on('open', () => ws.send(JSON.stringify(first)));
  ws.on('message', (d) => messages.push(d.toString()));
  return new Promise((resolve) => ws.on('close', (closeCode) => resolve({ messages, closeCode })));
}

describe('the site end of the preflight', () => {
  it('answers enroll_check only after hello, like an enrollment', async () => {
    const inst = await createInstaller(tech, { tag: 'pf-raw', jump_group: 'Linux Admins' });
    const r = await rawFirstMessage({ t: 'enroll_check', key_info: inst.key_info, requested: {} });
    expect(r.closeCode).toBe(4000);
    expect(r.messages.map((m) => JSON.parse(m).code)).toEqual(['PROTOCOL_INVALID_MESSAGE']);
  }, 30_000);
});

// Side by side: each test has its own installer and listeners (the 10 s timeout runs beside the rest).
describe.concurrent('the site identity and a site that cannot be asked', () => {
  it('refuses a site that cannot prove the pinned key and never sends it KEY_INFO', async () => {
    const inst = await createInstaller(tech, { tag: 'pf-mitm', jump_group: 'Linux Admins' });
    const relay = await relayInTheMiddle();
    try {
      const r = await install(stampOf(inst, { site_url: relay.url }));
      expectRefused(r, 1, 'SITE_IDENTITY_MISMATCH');
      expect(relay.fromInstaller.length).toBeGreaterThan(0); // it did talk to the relay...
      expect(relay.fromInstaller.join('\n')).not.toContain(inst.key_info); // ...but never with the key
      expect(relay.fromInstaller.some((m) => m.includes('enroll_check'))).toBe(false);
    } finally {
      relay.close();
    }
    // A stamp pinned to a key the real site does not have: the same.
    expectRefused(await install(stampOf(inst, { site_pin: foreignPin() })), 1, 'SITE_IDENTITY_MISMATCH');
  }, 60_000);

  it('does not let an error sent before the identity proof fail the install (it proves nothing)', async () => {
    const inst = await createInstaller(tech, { tag: 'pf-early', jump_group: 'Linux Admins' });
    const relay = await relayInTheMiddle({ t: 'error', code: 'INSTALLER_REVOKED', message: 'This installer was revoked on the site.' });
    try {
      const r = await install(stampOf(inst, { site_url: relay.url }));
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toContain('INSTALLER_REVOKED before proving its identity; installing anyway');
      expect(relay.fromInstaller.join('\n')).not.toContain(inst.key_info);
    } finally {
      relay.close();
    }
  }, 60_000);

  it('warns and installs when the site is down, cuts the connection, or does not answer within 10 s', async () => {
    const inst = await createInstaller(tech, { tag: 'pf-down', jump_group: 'Linux Admins' });
    const closed = await tcpSink(false);
    await new Promise<void>((resolve) => closed.server.close(() => resolve()));
    const cut = await tcpSink(false);
    const hung = await tcpSink(true);
    try {
      const ports = [closed.port, cut.port, hung.port];
      const runs = await Promise.all(ports.map((port) => install(stampOf(inst, { site_url: `https://127.0.0.1:${port}` }))));
      for (const [i, port] of ports.entries()) {
        const url = `https://127.0.0.1:${port}`;
        const r = runs[i];
        expect(r.code, r.stderr).toBe(0);
        expect(r.stderr).toContain(`WARNING: could not check the installer with the site at ${url}: `);
        expect(r.stderr).toContain('installing anyway, the jump client will keep trying');
        expect(readdirSync(r.parent)).toEqual(['jumpclient']);
        if (port === hung.port) {
          expect(r.stderr).toMatch(/no answer within 10 s|timed out/);
          expect(r.ms).toBeLessThan(20_000);
        }
      }
      expect(cut.connections()).toBeGreaterThan(0);
      expect(hung.connections()).toBeGreaterThan(0);
    } finally {
      cut.server.close();
      hung.server.close();
    }
  }, 60_000);

  it('waits out a busy site (503 + Retry-After) within its time limit, and gives up as "could not check" past it', async () => {
    const inst = await createInstaller(tech, { tag: 'pf-busy', jump_group: 'Linux Admins' });
    const front = await busyFront(2, 300);
    try {
      const target = { siteUrl: front.url, sitePin: inst.site_pin, keyInfo: inst.key_info };
      expect(await preflight(target, {})).toEqual({ kind: 'accepted' });
      expect(front.connections()).toBe(3); // two 503s, then the site itself
      const r = await preflight(target, { tag: 'other' });
      expect(r.kind === 'refused' && r.error.code).toBe('INSTALLER_OVERRIDE_FORBIDDEN');
    } finally {
      front.server.close();
    }
    const always = await busyFront(1000, 300);
    try {
      const r = await preflight({ siteUrl: always.url, sitePin: inst.site_pin, keyInfo: inst.key_info }, {}, { timeoutMs: 1500 });
      expect(r).toMatchObject({ kind: 'unchecked', why: expect.stringContaining('SITE_BUSY') });
      expect(always.connections()).toBeGreaterThanOrEqual(3);
    } finally {
      always.server.close();
    }
    expect(await uses(inst.uid)).toBe(0);
  }, 60_000);

  it('--offline dials nothing and says nothing', async () => {
    const inst = await createInstaller(tech, { tag: 'pf-offline', jump_group: 'Linux Admins' });
    const sink = await tcpSink(false);
    try {
      const url = `https://127.0.0.1:${sink.port}`;
      const r = await install(stampOf(inst, { site_url: url }), ['--offline']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toBe('');
      expect(sink.connections()).toBe(0);
      expect(readdirSync(r.parent)).toEqual(['jumpclient']);
      // The same, without --offline: it does dial (the count above can fail).
      await install(stampOf(inst, { site_url: url }));
      expect(sink.connections()).toBeGreaterThan(0);
    } finally {
      sink.server.close();
    }
  }, 60_000);
});
