/**
 * The site's MSI: the generic `jump-client.msi` from `npm run package` (packaging/jump-client.wxs)
 * with this site's URL and pin stamped into its Property table, written as `bomgar-scc-win64.msi`.
 * One file serves every installer of the site: KEY_INFO comes on the msiexec line (seeds: "Mass
 * deployment", `msiexec /i bomgar-scc-win32.msi KEY_INFO=... jc_jump_group=... jc_tag=...`).
 *
 * Needs msibuild (Debian package msitools) on the machine running the console.
 */
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { copyFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { removeSignature, signFile, type CodeSigning } from '../code-signing.js';
import { writeWhole } from './atomic-file.js';

export const GENERIC_MSI = 'jump-client.msi';
export const SITE_MSI = 'bomgar-scc-win64.msi';

/** An SQL string literal for msibuild's query language. */
function sqlString(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

function msibuild(file: string, query: string): void {
  const r = spawnSync('msibuild', [file, '-q', query], { encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw new Error(`msibuild: ${r.error.message} (install the Debian package msitools)`);
  if (r.status !== 0) throw new Error(`msibuild failed: ${(r.stderr || r.stdout).trim()}`);
}

/**
 * Gives the MSI `file` a fresh PackageCode (its summary's revision number), keeping the summary's
 * subject, author and template (msibuild -s rewrites the four together). Windows Installer takes two
 * MSIs with one PackageCode for the same package: each site's MSI differs (SITE_URL, SITE_PIN), so
 * each must have its own (issue #16, item 1). Returns the new PackageCode, "{XXXXXXXX-...}".
 */
export function newPackageCode(file: string): string {
  const r = spawnSync('msiinfo', ['suminfo', file], { encoding: 'utf8' });
  if (r.error) throw new Error(`msiinfo: ${r.error.message} (install the Debian package msitools)`);
  if (r.status !== 0) throw new Error(`msiinfo suminfo failed: ${(r.stderr || r.stdout).trim()}`);
  const field = (name: string) => new RegExp(`^${name}: (.*)$`, 'm').exec(r.stdout)?.[1] ?? '';
  const code = `{${randomUUID().toUpperCase()}}`;
  const s = spawnSync('msibuild', [file, '-s', field('Subject'), field('Author'), field('Template'), code], { encoding: 'utf8' });
  if (s.error || s.status !== 0) throw new Error(`msibuild -s failed: ${(s.stderr || s.stdout || s.error?.message || '').trim()}`);
  return code;
}

/** True when the MSI `file` holds a DigitalSignature stream (msiinfo streams, msitools). */
export function msiIsSigned(file: string): boolean {
  const r = spawnSync('msiinfo', ['streams', file], { encoding: 'utf8' });
  if (r.error) throw new Error(`msiinfo: ${r.error.message} (install the Debian package msitools)`);
  return r.stdout.split('\n').some((l) => l.replace(/^\u0005/, '') === 'DigitalSignature');
}

/**
 * Writes `<outDir>/bomgar-scc-win64.msi` for the site at `siteUrl` with identity `sitePin`, through a
 * temp name and a rename, with a PackageCode of its own (newPackageCode), signed with `signing` when
 * given (else unsigned: the build's signature would no longer match). Returns its path and size in bytes. Throws when the package has no MSI
 * or msibuild fails (nothing is left in `outDir` then).
 */
export async function writeSiteMsi(packageDir: string, siteUrl: string, sitePin: string, outDir: string, signing: CodeSigning | null = null): Promise<{ path: string; bytes: number }> {
  const generic = join(packageDir, GENERIC_MSI);
  if (!existsSync(generic)) throw new Error(`${generic} is missing: run \`npm run package\` first`);
  return writeWhole(join(outDir, SITE_MSI), async (partial) => {
    copyFileSync(generic, partial);
    msibuild(partial, `UPDATE Property SET Value = ${sqlString(siteUrl)} WHERE Property = 'SITE_URL'`);
    msibuild(partial, `UPDATE Property SET Value = ${sqlString(sitePin)} WHERE Property = 'SITE_PIN'`);
    newPackageCode(partial);
    // The stamp changed the MSI: a signature the build gave it no longer matches. Signed again
    // when this maker holds the certificate, else removed (protocol/code-signing.ts; issue #16, item 6).
    if (signing) signFile(partial, signing);
    else if (msiIsSigned(partial)) removeSignature(partial, true);
  });
}
