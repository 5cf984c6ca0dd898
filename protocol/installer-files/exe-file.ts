/**
 * Writes the per-installer Windows executable `bomgar-scc-<uid>.exe` (seeds: the Windows EXE
 * installer, with the same flags as the Linux .bin): the packaged `jump-client.exe` with an overlay
 * appended, in format 2 of protocol/exe-overlay.ts, then signed when a code-signing certificate is
 * given (protocol/code-signing.ts; issue #16, item 6). The endpoint reads it back in
 * agent/install/exe-overlay.ts.
 */
import { closeSync, createReadStream, createWriteStream, existsSync, openSync, readSync, statSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar';
import { signFile, type CodeSigning } from '../code-signing.js';
import { EXE_PAYLOAD, WIN_EXE, exeTrailer, peSecurityFields, type PeSecurityFields } from '../exe-overlay.js';
import { STAMP_FILE, stampSchema, type Stamp } from '../stamp.js';
import { writeWhole } from './atomic-file.js';

/** What a win-x64 package dir must hold to make a per-installer EXE (written by `npm run package`). */
export const EXE_PACKAGE_FILES = [WIN_EXE, ...EXE_PAYLOAD] as const;

/** The missing files of `packageDir` (empty when it can make a per-installer EXE). */
export function missingExeFiles(packageDir: string): string[] {
  return EXE_PACKAGE_FILES.filter((f) => !existsSync(join(packageDir, f)));
}

/** The file name of a per-installer Windows executable. */
export function exeFileName(uid: string): string {
  return `bomgar-scc-${uid}.exe`;
}

/**
 * Zeroes the security directory entry of the PE file `file` (the copy of jump-client.exe the
 * overlay goes after): the copy must not point at the packaged exe's certificate table, or a
 * signer would take it for signed and the table for the file's end. Returns the fields as they
 * were, for the trailer. Throws when the file is not a PE image.
 */
function detachSignature(file: string): PeSecurityFields {
  const fd = openSync(file, 'r+');
  try {
    const head = Buffer.alloc(4096);
    const got = readSync(fd, head, 0, head.length, 0);
    const pe = peSecurityFields(head.subarray(0, got));
    if (!pe) throw new Error(`${file}: ${WIN_EXE} is not a PE image`);
    writeSync(fd, Buffer.alloc(8), 0, 8, pe.securityAt);
    return pe;
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes `<outDir>/bomgar-scc-<uid>.exe` from the win-x64 package in `packageDir` and `stamp`,
 * through a temp name and a rename, signed with `signing` when given (the stamp is inside what is
 * signed: it cannot be changed without breaking the signature). Returns its path and size in
 * bytes. Throws (a plain Error) when the package lacks WIN_EXE or a payload dir, when `stamp`
 * does not fit its schema, or when signing fails (nothing is left in `outDir` then).
 */
export async function writeExeInstaller(packageDir: string, stamp: Stamp, outDir: string, signing: CodeSigning | null = null): Promise<{ path: string; bytes: number }> {
  stampSchema.parse(stamp);
  const missing = missingExeFiles(packageDir);
  if (missing.length > 0) throw new Error(`${packageDir} lacks ${missing.join(', ')}: run \`npm run package\` first`);
  return writeWhole(join(outDir, exeFileName(stamp.uid)), async (partial, staging) => {
    for (const f of EXE_PAYLOAD) symlinkSync(join(packageDir, f), join(staging, f));
    writeFileSync(join(staging, STAMP_FILE), JSON.stringify(stamp, null, 2) + '\n', { mode: 0o600 });
    await pipeline(createReadStream(join(packageDir, WIN_EXE)), createWriteStream(partial, { mode: 0o600 }));
    const exe = detachSignature(partial);
    const before = statSync(partial).size;
    await pipeline(tar.c({ gzip: true, cwd: staging, portable: true, follow: true }, [...EXE_PAYLOAD, STAMP_FILE]), createWriteStream(partial, { flags: 'a' }));
    writeFileSync(partial, exeTrailer(statSync(partial).size - before, exe), { flag: 'a' });
    if (signing) signFile(partial, signing);
  });
}
