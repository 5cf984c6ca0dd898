/**
 * Authenticode signing of the Windows files (issue #16, item 6), with `osslsigncode` (Debian
 * package osslsigncode): the one place that runs it. Used by `npm run package` (jump-client.exe,
 * jump-client-service.exe, the MSI's configure DLL and the generic MSI; packaging/build.mjs), and
 * by whoever stamps an installer (the per-installer EXE and the per-site MSI, written by the
 * console and by the site: protocol/installer-files/): a stamp changes the file, so the stamper
 * signs after stamping when it holds the certificate (docs/decisions.md, "Signing and the stamp").
 *
 * The certificate is PEM (`cert`: the leaf, then any intermediates) with its PEM private key
 * (`key`); a key with a passphrase takes `passFile`, read by osslsigncode itself (`-readpass`), so
 * the passphrase is never on a command line. `timestampUrl` (RFC 3161) asks a time-stamping
 * authority to countersign, so the signature outlives the certificate; without it the signature
 * is valid only while the certificate is.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** A code-signing certificate and how to use it. Paths are files on this machine. */
export interface CodeSigning {
  cert: string;
  key: string;
  passFile?: string;
  timestampUrl?: string;
}

/** The program name in signatures (the "Program Name" Windows shows in its UAC prompt). */
export const SIGNED_PROGRAM_NAME = 'Jump Client';

/** The flags every program that signs takes (`npm run package`, `jump installer create`, `jump-site serve`). */
export const SIGNING_FLAGS = { cert: '--sign-cert', key: '--sign-key', passFile: '--sign-pass-file', timestampUrl: '--sign-timestamp-url' } as const;

/**
 * A CodeSigning from command-line values, or null when neither cert nor key is given. Throws
 * Error naming the flag (`flags.cert` / `flags.key` / `flags.passFile` / `flags.timestampUrl`;
 * default SIGNING_FLAGS) when only one of the pair is given, a file does not exist, or the URL is
 * not http(s).
 */
export function codeSigningFrom(
  v: { cert?: string; key?: string; passFile?: string; timestampUrl?: string },
  flags: { cert: string; key: string; passFile: string; timestampUrl: string } = SIGNING_FLAGS,
): CodeSigning | null {
  if (v.cert === undefined && v.key === undefined) {
    if (v.passFile !== undefined) throw new Error(`${flags.passFile} needs ${flags.cert} and ${flags.key}`);
    return null;
  }
  if (v.cert === undefined || v.key === undefined) throw new Error(`give ${flags.cert} and ${flags.key} together (the certificate and its private key, PEM)`);
  for (const [flag, file] of [[flags.cert, v.cert], [flags.key, v.key], [flags.passFile, v.passFile]] as const) {
    if (file !== undefined && !existsSync(file)) throw new Error(`${flag}: ${file} does not exist`);
  }
  if (v.timestampUrl !== undefined && !/^https?:\/\/\S+$/.test(v.timestampUrl)) throw new Error(`${flags.timestampUrl}: give the time-stamping authority's http(s) URL`);
  return { cert: v.cert, key: v.key, passFile: v.passFile, timestampUrl: v.timestampUrl };
}

/** How long one osslsigncode run may take, in ms (a time-stamping authority that never answers must not hold a build forever). */
export const OSSLSIGNCODE_TIMEOUT_MS = 120_000;

function osslsigncode(args: string[]): string {
  const r = spawnSync('osslsigncode', args, { encoding: 'utf8', timeout: OSSLSIGNCODE_TIMEOUT_MS });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ETIMEDOUT') throw new Error(`osslsigncode ${args[0]} took longer than ${OSSLSIGNCODE_TIMEOUT_MS / 1000} s (a time-stamping authority that does not answer?)`);
  if (r.error) throw new Error(`osslsigncode: ${r.error.message} (install the Debian package osslsigncode)`);
  if (r.status !== 0) throw new Error(`osslsigncode ${args[0]} failed: ${`${r.stdout}${r.stderr}`.trim().split('\n').slice(-6).join(' / ')}`);
  return `${r.stdout}${r.stderr}`;
}

/**
 * Signs `file` (PE or MSI) in place with SHA-256: osslsigncode writes the signed copy in a private
 * dir beside `file`, renamed over `file` (keeping its mode) only when signing succeeded; a run
 * longer than OSSLSIGNCODE_TIMEOUT_MS fails. A file signed already is signed again (its
 * old signature removed first). Throws Error with osslsigncode's last lines when it fails.
 */
export function signFile(file: string, s: CodeSigning): void {
  // The signed copy is written in a private dir beside `file` (0700, same file system for the
  // rename): nothing can be planted at its name, and it is never readable by others meanwhile.
  const dir = mkdtempSync(join(dirname(file), '.signing-'));
  const tmp = join(dir, 'signed');
  try {
    removeSignature(file);
    osslsigncode([
      'sign',
      '-certs', s.cert,
      '-key', s.key,
      ...(s.passFile ? ['-readpass', s.passFile] : []),
      ...(s.timestampUrl ? ['-ts', s.timestampUrl] : []),
      '-h', 'sha256',
      '-n', SIGNED_PROGRAM_NAME,
      '-in', file,
      '-out', tmp,
    ]);
    replaceKeepingMode(tmp, file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Renames `tmp` over `file` with `file`'s mode (an installer holding KEY_INFO stays 0600). */
function replaceKeepingMode(tmp: string, file: string): void {
  chmodSync(tmp, statSync(file).mode & 0o777);
  renameSync(tmp, file);
}

/** True when `file` carries an Authenticode signature (valid or not). */
export function isSigned(file: string): boolean {
  const r = spawnSync('osslsigncode', ['extract-signature', '-in', file, '-out', '/dev/null'], { encoding: 'utf8' });
  if (r.error) throw new Error(`osslsigncode: ${r.error.message} (install the Debian package osslsigncode)`);
  return r.status === 0;
}

/**
 * Removes the signature of `file` in place (a copy that is about to change, and that no one will
 * sign, must not carry a signature that no longer matches). A file without one is left as it is;
 * `known` true skips that check (osslsigncode cannot extract a signature an MSI edit broke, but
 * can remove it: the caller found the MSI's DigitalSignature stream itself).
 */
export function removeSignature(file: string, known = false): void {
  if (!known && !isSigned(file)) return;
  const dir = mkdtempSync(join(dirname(file), '.signing-'));
  const tmp = join(dir, 'unsigned');
  try {
    osslsigncode(['remove-signature', '-in', file, '-out', tmp]);
    replaceKeepingMode(tmp, file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Verifies `file`'s signature against the CA certificates in `caFile` (PEM). Returns
 * { ok: true, signer } (the signer's subject) or { ok: false, why } (osslsigncode's last lines).
 */
export function verifyFile(file: string, caFile: string): { ok: true; signer: string } | { ok: false; why: string } {
  const r = spawnSync('osslsigncode', ['verify', '-CAfile', caFile, '-in', file], { encoding: 'utf8' });
  if (r.error) throw new Error(`osslsigncode: ${r.error.message} (install the Debian package osslsigncode)`);
  const out = `${r.stdout}${r.stderr}`;
  if (r.status !== 0 || !/Signature verification: ok/.test(out)) return { ok: false, why: out.trim().split('\n').slice(-4).join(' / ') };
  return { ok: true, signer: /Signer #0:\s*\n\s*Subject:\s*(.*)/.exec(out)?.[1]?.trim() ?? '' };
}
