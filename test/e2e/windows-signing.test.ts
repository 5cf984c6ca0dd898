/**
 * Signing the Windows files (issue #16, item 6), with a throwaway CA (test/helpers/code-signing.ts)
 * and Debian's osslsigncode, the way an administrator with a code-signing certificate would:
 * - `npm run package -- --sign-cert --sign-key` signs jump-client.exe, jump-client-service.exe, the
 *   MSI's configure DLL and the MSI; each verifies with `osslsigncode verify` against the CA and
 *   not against another CA;
 * - jump-client.exe says who it is (VERSIONINFO "Jump Client", not Node.js's) and, signed, still runs;
 * - the per-installer EXE is signed after its stamp is written (the stamp is inside the signature:
 *   a changed byte breaks it); the endpoint's copy of jump-client.exe is the signed packaged exe
 *   byte for byte, still valid; an EXE made without a certificate carries no stale signature;
 * - the site's MSI, stamped, is signed again (or left unsigned, never with a broken signature);
 * - under wine, the signed per-installer EXE starts and reads its own stamp.
 */
import { newWinePrefix } from '../helpers/wine.js';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ResEdit from 'resedit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyWithoutOverlay, extractOverlay, findOverlay } from '../../agent/install/exe-overlay.js';
import { writeExeInstaller } from '../../protocol/installer-files/exe-file.js';
import { msiIsSigned, writeSiteMsi } from '../../protocol/installer-files/msi-file.js';
import { isSigned, verifyFile, type CodeSigning } from '../../protocol/code-signing.js';
import type { Stamp } from '../../protocol/stamp.js';
import { makeTestPki, type TestPki } from '../helpers/code-signing.js';
import { ROOT, run, tempDir } from '../helpers/processes.js';

const sha256 = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');

function versionStrings(file: string): Record<string, string> {
  const image = ResEdit.NtExecutable.from(readFileSync(file), { ignoreCert: true });
  const [vi] = ResEdit.Resource.VersionInfo.fromEntries(ResEdit.NtExecutableResource.from(image).entries);
  return vi ? vi.getStringValues({ lang: 1033, codepage: 1200 }) : {};
}

describe('signed Windows files (osslsigncode, a throwaway CA)', () => {
  let pki: TestPki;
  let signing: CodeSigning;
  let pkg: string;
  let outDir: string;
  const stamp = (expiresAt: string): Stamp => ({
    format: 1,
    uid: '0123456789abcdef',
    site_url: 'https://jump.example.test:8443',
    site_pin: `ed25519:${'A'.repeat(43)}`,
    key_info: 'k'.repeat(47),
    expires_at: expiresAt,
    defaults: { name: null, jump_group: null, tag: '', comments: '' },
    allow_override: [],
  });

  beforeAll(async () => {
    const work = tempDir('jump-sign-');
    pki = makeTestPki(work);
    signing = { cert: pki.cert, key: pki.key };
    const out = join(work, 'package');
    const r = await run(process.execPath, [join(ROOT, 'packaging', 'build.mjs'), '--platform', 'win-x64', '--out', out, '--sign-cert', pki.cert, '--sign-key', pki.key]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    pkg = join(out, 'win-x64');
    outDir = join(work, 'installers');
    mkdirSync(outDir);
  }, 320_000);

  it('the build signs jump-client.exe, the service host, the configure DLL and the MSI: each verifies against the CA, none against another CA', () => {
    for (const f of ['jump-client.exe', 'jump-client-service.exe', 'msi-ca.dll', 'jump-client.msi']) {
      const v = verifyFile(join(pkg, f), pki.ca);
      expect(v, f).toEqual({ ok: true, signer: '/CN=Jump Client Test Signing' });
      expect(verifyFile(join(pkg, f), pki.otherCa).ok, f).toBe(false);
    }
  });

  it('an incomplete signing pair is refused naming the flag, before anything is built', async () => {
    const r = await run(process.execPath, [join(ROOT, 'packaging', 'build.mjs'), '--platform', 'win-x64', '--out', tempDir('jump-sign-bad-'), '--sign-cert', pki.cert]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/give --sign-cert and --sign-key together/);
  });

  it('VERSIONINFO: jump-client.exe and the service host name the jump client, not Node.js', () => {
    const exe = versionStrings(join(pkg, 'jump-client.exe'));
    expect(exe).toMatchObject({ ProductName: 'Jump Client', OriginalFilename: 'jump-client.exe', FileVersion: JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version });
    expect(JSON.stringify(exe)).not.toMatch(/node/i);
    expect(versionStrings(join(pkg, 'jump-client-service.exe')).ProductName).toBe('Jump Client');
  });

  it('per-installer EXE: signed after the stamp, the stamp inside the signature, the installed copy the signed packaged exe byte for byte', async () => {
    const dir = join(outDir, 'signed');
    mkdirSync(dir);
    const { path } = await writeExeInstaller(pkg, stamp('2099-01-01T00:00:00.000Z'), dir, signing);
    expect(statSync(path).mode & 0o777).toBe(0o600); // it holds KEY_INFO; signing keeps the mode
    expect(verifyFile(path, pki.ca).ok).toBe(true);
    // The overlay is found before the certificate table, and unpacks.
    const o = findOverlay(path);
    expect(o).not.toBeNull();
    const unpacked = join(dir, 'unpacked');
    mkdirSync(unpacked);
    await extractOverlay(path, unpacked);
    expect(JSON.parse(readFileSync(join(unpacked, 'installer.json'), 'utf8')).site_url).toBe('https://jump.example.test:8443');
    const copy = join(dir, 'jump-client.exe');
    await copyWithoutOverlay(path, copy);
    expect(sha256(copy)).toBe(sha256(join(pkg, 'jump-client.exe')));
    expect(verifyFile(copy, pki.ca).ok).toBe(true);
    // Attack: the site URL in the stamp changed after signing (someone repointing a signed installer at their own site).
    const bytes = readFileSync(path);
    const stampAt = o!.start + 10; // inside the gzip tar holding installer.json
    bytes[stampAt] ^= 0xff;
    const tampered = join(dir, 'tampered.exe');
    writeFileSync(tampered, bytes);
    expect(verifyFile(tampered, pki.ca).ok).toBe(false);
  });

  it('per-installer EXE made without a certificate: no stale signature, and the installed copy is still the signed packaged exe', async () => {
    const dir = join(outDir, 'unsigned');
    mkdirSync(dir);
    const { path } = await writeExeInstaller(pkg, stamp('2099-01-01T00:00:00.000Z'), dir);
    expect(isSigned(path)).toBe(false);
    const copy = join(dir, 'jump-client.exe');
    await copyWithoutOverlay(path, copy);
    expect(sha256(copy)).toBe(sha256(join(pkg, 'jump-client.exe')));
    expect(verifyFile(copy, pki.ca).ok).toBe(true);
  });

  it('the site MSI: stamped then signed again; without a certificate the build\'s signature is removed, never left broken', async () => {
    const signedDir = join(outDir, 'msi-signed');
    const plainDir = join(outDir, 'msi-plain');
    mkdirSync(signedDir);
    mkdirSync(plainDir);
    const s = await writeSiteMsi(pkg, 'https://jump.example.test:8443', `ed25519:${'A'.repeat(43)}`, signedDir, signing);
    expect(verifyFile(s.path, pki.ca).ok).toBe(true);
    const props = (await run('msiinfo', ['export', s.path, 'Property'])).stdout;
    expect(props).toMatch(/^SITE_URL\thttps:\/\/jump\.example\.test:8443\r?$/m);
    const p = await writeSiteMsi(pkg, 'https://jump.example.test:8443', `ed25519:${'A'.repeat(43)}`, plainDir);
    expect(msiIsSigned(join(pkg, 'jump-client.msi'))).toBe(true);
    expect(msiIsSigned(p.path)).toBe(false);
  });

  describe('under wine', () => {
    let env: NodeJS.ProcessEnv;
    beforeAll(async () => {
      env = await newWinePrefix('sign');
    }, 120_000);
    afterAll(async () => {
      if (env) await run('wineserver', ['-k'], { env });
    });

    it('the signed per-installer EXE starts, finds its overlay before the certificate table and reads its stamp (an expired one: exit 1603 naming INSTALLER_EXPIRED)', async () => {
      const dir = join(outDir, 'wine');
      mkdirSync(dir);
      const { path } = await writeExeInstaller(pkg, stamp('2020-01-01T00:00:00.000Z'), dir, signing);
      expect(verifyFile(path, pki.ca).ok).toBe(true);
      const out = join(dir, 'out.txt');
      const r = await run('sh', ['-c', 'wine "$@" > "$OUT" 2>&1', 'wine', path, '--install-dir', 'C:\\JCSigned', '--nostart'], { env: { ...env, OUT: out } });
      const text = existsSync(out) ? readFileSync(out, 'utf8') : '';
      expect(text).toMatch(/INSTALLER_EXPIRED/);
      expect(r.code, text).toBe(1603 & 0xff);
      expect(existsSync(join(env.WINEPREFIX!, 'drive_c', 'JCSigned'))).toBe(false);
    }, 200_000);
  });
});
