/**
 * The Mass Deployment Wizard's Download at the API (issue #19): `POST /api/v1/installers/:uid/file`
 * builds the installer file only for the caller who holds that installer's KEY_INFO and may see it,
 * for a valid installer, two at a time site-wide, and leaves no temp file behind. Each test attacks
 * a real `jump-site serve` over TLS; the site's TMPDIR is a folder of the test's own, so "nothing
 * built" is read from the disk. The packages are a small fake for Linux (a 32 MiB random
 * `jump-client`: big enough that a download not read stalls on the socket, holding its build slot)
 * and the real win-x64 package for the MSI (`npm run package`).
 */
import { verifyFile } from '../../protocol/code-signing.js';
import { makeTestPki, type TestPki } from '../helpers/code-signing.js';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { request } from 'node:https';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, SITE_BIN, cleanup, run, tempDir, waitFor } from '../helpers/processes.js';
import { apiToken, createInstaller, startTestSite, type InstallerInfo, type TestSite } from '../helpers/site.js';
import { SiteClient } from '../../console/http.js';
import { checkInstallerFileInputs } from '../../site/installers.js';
import { extractOverlay } from '../../agent/install/exe-overlay.js';
import { STAMP_FILE, readStamp } from '../../protocol/stamp.js';
import { JumpError } from '../../protocol/errors.js';

const REAL_PACKAGES = join(ROOT, 'dist/package');
const FILE = (uid: string) => `/api/v1/installers/${encodeURIComponent(uid)}/file`;

let site: TestSite;
let packages: string;
let siteTmp: string;
let techToken: string;
let adminToken: string;
/** A second admin: two users hold the two site-wide slots (one each at most). */
let adaToken: string;

/** POSTs `body` to `path`; resolves at the response's headers, its body not read (see `text`). */
function post(path: string, body: unknown, token: string | null = adminToken): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const payload = JSON.stringify(body);
    const req = request(
      `${site.url}${path}`,
      {
        method: 'POST',
        ca: site.certPem,
        checkServerIdentity: () => undefined,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), ...(token ? { authorization: `Bearer ${token}` } : {}) },
        agent: false,
      },
      resolve,
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** The whole body of `res`. */
async function bytes(res: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** The error code of a refused call (and its message), asserting the status. */
async function refused(res: IncomingMessage, status: number): Promise<{ code: string; message: string; field?: string }> {
  const text = (await bytes(res)).toString('utf8');
  expect(res.statusCode, res.headers['content-type'] === 'application/octet-stream' ? 'an installer file' : text.slice(0, 2000)).toBe(status);
  return JSON.parse(text).error;
}

/** The temp dirs the site has made for installer files and not yet removed. */
const buildDirs = () => readdirSync(siteTmp).filter((f) => f.startsWith('jump-installer'));

let pki: TestPki;
beforeAll(async () => {
  packages = tempDir('jump-pkgs-');
  const linux = join(packages, 'linux-x64');
  mkdirSync(join(linux, 'lib'), { recursive: true });
  for (const f of ['bin-stub.sh', 'init-script', 'uninstall']) copyFileSync(join(REAL_PACKAGES, 'linux-x64', f), join(linux, f));
  writeFileSync(join(linux, 'lib', 'placeholder.node'), 'x');
  writeFileSync(join(linux, 'jump-client'), randomBytes(32 * 1024 * 1024), { mode: 0o755 });
  symlinkSync(join(REAL_PACKAGES, 'win-x64'), join(packages, 'win-x64'));
  siteTmp = tempDir('jump-site-tmp-');
  // Signed Downloads (issue #16 item 6): the site holds a throwaway code-signing certificate.
  pki = makeTestPki(tempDir('jump-pki-'));
  site = await startTestSite({ extraArgs: ['--installer-packages', packages, '--sign-cert', pki.cert, '--sign-key', pki.key], env: { TMPDIR: siteTmp } });
  await site.api.request('POST', '/api/v1/users', { name: 'tina', password: 'tina password 123', role: 'technician' });
  techToken = await apiToken(site.url, site.certPem, 'tina', 'tina password 123');
  adminToken = await apiToken(site.url, site.certPem, 'admin', site.adminPassword);
  await site.api.request('POST', '/api/v1/users', { name: 'ada', password: 'ada password 123', role: 'admin' });
  adaToken = await apiToken(site.url, site.certPem, 'ada', 'ada password 123');
}, 60_000);

afterAll(cleanup);

describe('POST /api/v1/installers/:uid/file', () => {
  let a: InstallerInfo;
  let b: InstallerInfo;
  beforeAll(async () => {
    a = await createInstaller(site.api);
    b = await createInstaller(site.api);
  });

  it('refuses a KEY_INFO that is not the installer\'s, another installer\'s key included, building nothing and echoing no key', async () => {
    const wrong = 'z'.repeat(47);
    const e1 = await refused(await post(FILE(a.uid), { key_info: wrong, platform: 'linux-x64' }), 403);
    expect(e1).toMatchObject({ code: 'INSTALLER_KEY_MISMATCH', field: 'key_info' });
    expect(e1.message).not.toContain(wrong);
    // A's key on B: a real key, of the wrong installer.
    const e2 = await refused(await post(FILE(b.uid), { key_info: a.key_info, platform: 'linux-x64' }), 403);
    expect(e2.code).toBe('INSTALLER_KEY_MISMATCH');
    expect(e2.message).not.toContain(a.key_info);
    expect(buildDirs()).toEqual([]);
  });

  it('names the bad field of a malformed body, and asks for a session', async () => {
    expect(await refused(await post(FILE(a.uid), { key_info: a.key_info, platform: 'macos' }), 400)).toMatchObject({ code: 'VALIDATION_FAILED', field: 'platform' });
    expect(await refused(await post(FILE(a.uid), { platform: 'linux-x64' }), 400)).toMatchObject({ code: 'VALIDATION_FAILED', field: 'key_info' });
    expect(await refused(await post(FILE(a.uid), { key_info: 'NOT A KEY', platform: 'linux-x64' }), 400)).toMatchObject({ code: 'VALIDATION_FAILED', field: 'key_info' });
    expect((await refused(await post(FILE(a.uid), { key_info: a.key_info, platform: 'linux-x64' }, null), 401)).code).toBe('UNAUTHENTICATED');
    expect(buildDirs()).toEqual([]);
  });

  it('refuses a revoked installer, with its own key', async () => {
    const r = await createInstaller(site.api);
    await site.api.request('POST', `/api/v1/installers/${r.uid}/revoke`, {});
    expect((await refused(await post(FILE(r.uid), { key_info: r.key_info, platform: 'linux-x64' }), 403)).code).toBe('INSTALLER_REVOKED');
    expect(buildDirs()).toEqual([]);
  });

  it("refuses a technician another user's installer, right key or not, as if it did not exist", async () => {
    const e = await refused(await post(FILE(a.uid), { key_info: a.key_info, platform: 'linux-x64' }, techToken), 404);
    const none = await refused(await post(FILE('0123456789abcdef'), { key_info: a.key_info, platform: 'linux-x64' }, techToken), 404);
    expect(e.code).toBe('INSTALLER_NOT_FOUND');
    expect(none.code).toBe(e.code);
    expect((await refused(await post(FILE(a.uid), { key_info: 'z'.repeat(47), platform: 'linux-x64' }, techToken), 404)).code).toBe('INSTALLER_NOT_FOUND');
    expect(buildDirs()).toEqual([]);
  });

  it('names the platform, the folder and the fix when the package is missing', async () => {
    const e = await refused(await post(FILE(a.uid), { key_info: a.key_info, platform: 'linux-arm64' }), 503);
    expect(e.code).toBe('INSTALLER_PACKAGE_MISSING');
    expect(e.message).toContain('linux-arm64');
    expect(e.message).toContain(join(packages, 'linux-arm64'));
    expect(e.message).toContain('npm run package');
    expect(e.message).toContain('--installer-packages');
    expect(buildDirs()).toEqual([]);
  });

  it('names msibuild when the site lacks it', () => {
    const path = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      expect(() => checkInstallerFileInputs(REAL_PACKAGES, 'windows-x64-msi')).toThrow(JumpError);
      expect(() => checkInstallerFileInputs(REAL_PACKAGES, 'windows-x64-msi')).toThrow(/INSTALLER_TOOL_MISSING|msibuild and msiinfo.*apt-get install msitools/s);
    } finally {
      process.env.PATH = path;
    }
  });

  it('builds two files at once and answers a third 503, then frees the slots and the temp files', async () => {
    const body = { key_info: a.key_info, platform: 'linux-x64' };
    // Neither body is read: each download stalls on its socket, holding its slot.
    const [r1, r2] = await Promise.all([post(FILE(a.uid), body), post(FILE(a.uid), body, adaToken)]);
    expect([r1.statusCode, r2.statusCode]).toEqual([200, 200]);
    // A third user, with a slot of their own to spare: the site-wide limit answers.
    const own = await createInstaller(new SiteClient(site.url, { certPem: site.certPem, token: techToken }));
    const r3 = await post(FILE(own.uid), { key_info: own.key_info, platform: 'linux-x64' }, techToken);
    expect(r3.headers['retry-after']).toBeDefined();
    expect((await refused(r3, 503)).code).toBe('INSTALLER_BUILD_BUSY');
    expect(buildDirs()).toHaveLength(2);
    // One read whole, one cut off: both free their slot and their temp dir.
    const whole = await bytes(r1);
    expect(whole.length).toBe(Number(r1.headers['content-length']));
    expect(r1.headers['content-disposition']).toBe(`attachment; filename="bomgar-scc-${a.uid}.bin"`);
    expect(r1.headers['content-type']).toBe('application/octet-stream');
    expect(r1.headers['cache-control']).toBe('no-store');
    expect(whole.subarray(0, 200).toString('latin1')).toMatch(/^#!|sha256sum/);
    r2.destroy();
    await waitFor(() => buildDirs().length === 0, 30_000, 50, 'the temp dirs removed');
    const r4 = await post(FILE(a.uid), body, adaToken);
    expect(r4.statusCode).toBe(200);
    expect((await bytes(r4)).length).toBe(Number(r4.headers['content-length']));
    await waitFor(() => buildDirs().length === 0, 30_000, 50, 'the temp dir removed');
  }, 120_000);

  it('attack: one user (a slow reader) cannot take both slots: their second build is refused while the first download lasts', async () => {
    const body = { key_info: a.key_info, platform: 'linux-x64' };
    const first = await post(FILE(a.uid), body); // never read: it holds its slot
    expect(first.statusCode).toBe(200);
    const second = await post(FILE(a.uid), body);
    const err = await refused(second, 503);
    expect(err.code).toBe('INSTALLER_BUILD_BUSY');
    expect(err.message).toMatch(/1 at once per user/);
    // Another user still gets the other slot.
    const other = await post(FILE(a.uid), body, adaToken);
    expect(other.statusCode).toBe(200);
    expect((await bytes(other)).length).toBe(Number(other.headers['content-length']));
    first.destroy();
    await waitFor(() => buildDirs().length === 0, 30_000, 50, 'the temp dirs removed');
  }, 120_000);

  it('keeps the slot of a download cut off while it builds until that build is over', async () => {
    const body = { key_info: a.key_info, platform: 'linux-x64' };
    const reqs: ReturnType<typeof request>[] = [];
    const started = (path: string, token: string) =>
      new Promise<void>((resolve) => {
        const payload = JSON.stringify(body);
        const req = request(`${site.url}${path}`, {
          method: 'POST',
          ca: site.certPem,
          checkServerIdentity: () => undefined,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), authorization: `Bearer ${token}` },
          agent: false,
        });
        req.on('error', () => undefined);
        req.end(payload);
        reqs.push(req);
        resolve();
      });
    await Promise.all([started(FILE(a.uid), adminToken), started(FILE(a.uid), adaToken)]);
    // Both builds under way (their temp dirs exist), then both callers leave.
    await waitFor(() => buildDirs().length === 2, 30_000, 10, 'two builds started');
    for (const r of reqs) r.destroy();
    const busy = await post(FILE(a.uid), body);
    expect((await refused(busy, 503)).code).toBe('INSTALLER_BUILD_BUSY');
    // Once they are over, their files are removed and the slots free.
    await waitFor(() => buildDirs().length === 0, 30_000, 50, 'the abandoned builds removed');
    const ok = await post(FILE(a.uid), body);
    expect(ok.statusCode).toBe(200);
    expect((await bytes(ok)).length).toBe(Number(ok.headers['content-length']));
    await waitFor(() => buildDirs().length === 0, 30_000, 50, 'the temp dir removed');
  }, 120_000);

  it("builds a technician's own installer's MSI, stamped with the site's SITE_URL and pin", async () => {
    const tech = new SiteClient(site.url, { certPem: site.certPem, token: techToken });
    const own = await createInstaller(tech);
    const res = await post(FILE(own.uid), { key_info: own.key_info, platform: 'windows-x64-msi' }, techToken);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-disposition']).toBe('attachment; filename="bomgar-scc-win64.msi"');
    const out = join(tempDir('jump-msi-'), 'bomgar-scc-win64.msi');
    writeFileSync(out, await bytes(res));
    const props = spawnSync('msiinfo', ['export', out, 'Property'], { encoding: 'utf8' });
    expect(props.status, props.stderr).toBe(0);
    expect(props.stdout).toMatch(new RegExp(`^SITE_URL\\t${site.url.replace(/[.]/g, '\\.')}\\r?$`, 'm'));
    expect(props.stdout).toMatch(new RegExp(`^SITE_PIN\\t${site.pin}\\r?$`, 'm'));
    expect(verifyFile(out, pki.ca)).toEqual({ ok: true, signer: '/CN=Jump Client Test Signing' }); // signed after stamping
    await waitFor(() => buildDirs().length === 0, 30_000, 50, 'the temp dir removed');
  }, 60_000);

  it("stamps the EXE with the installer's KEY_INFO, defaults and the site's URL, pin and update pin", async () => {
    const c = await createInstaller(site.api, { tag: 'stamped tag', comments: 'stamped comments', allow_override: ['tag'] });
    const res = await post(FILE(c.uid), { key_info: c.key_info, platform: 'windows-x64-exe' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-disposition']).toBe(`attachment; filename="bomgar-scc-${c.uid}.exe"`);
    const dir = tempDir('jump-exe-');
    const exe = join(dir, `bomgar-scc-${c.uid}.exe`);
    writeFileSync(exe, await bytes(res));
    const payload = join(dir, 'payload');
    mkdirSync(payload);
    expect(verifyFile(exe, pki.ca)).toEqual({ ok: true, signer: '/CN=Jump Client Test Signing' }); // the stamp inside the signature
    await extractOverlay(exe, payload);
    const stamp = readStamp(join(payload, STAMP_FILE));
    expect(stamp).toEqual({
      format: 1,
      uid: c.uid,
      site_url: site.url,
      site_pin: site.pin,
      key_info: c.key_info,
      expires_at: c.expires_at,
      defaults: { name: null, jump_group: c.jump_group, tag: 'stamped tag', comments: 'stamped comments' },
      allow_override: ['tag'],
      update_pin: c.update_pin,
    });
    expect(c.update_pin).toMatch(/^ed25519:/);
    await waitFor(() => buildDirs().length === 0, 30_000, 50, 'the temp dir removed');
  }, 60_000);

  it('a site given half a signing certificate does not start, naming the flag', async () => {
    const r = await run(process.execPath, [SITE_BIN, 'serve', '--data', tempDir('jump-site-sign-'), '--listen', '127.0.0.1:0', '--sign-cert', pki.cert]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/VALIDATION_FAILED.*give --sign-cert and --sign-key together/);
  });

  it('never writes a KEY_INFO to the site log', () => {
    const log = site.proc.stdout() + site.proc.stderr();
    expect(log).not.toContain(a.key_info);
    expect(log).not.toContain(b.key_info);
    expect(existsSync(siteTmp)).toBe(true);
    expect(readFileSync(join(site.dataDir, 'site.db')).includes(Buffer.from(a.key_info))).toBe(false);
  });
});
