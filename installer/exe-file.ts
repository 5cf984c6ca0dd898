/**
 * The per-installer Windows executable `bomgar-scc-<uid>.exe` (seeds: the Windows EXE installer,
 * with the same flags as the Linux .bin).
 *
 * It is the packaged `jump-client.exe` with an overlay appended after the PE image (Windows loads
 * only the image; Node's SEA finds its script in a PE resource, not at the file's end):
 *
 *   [jump-client.exe][payload: gzip tar of lib/, winsw/, installer.json][length: 8 bytes LE][MAGIC]
 *
 * Started with the seeds' flags, the executable finds the overlay in itself, unpacks it into a
 * private temp dir, and installs from there as `jump-client install` does (installer/install.ts).
 */
import { closeSync, createReadStream, createWriteStream, existsSync, fstatSync, openSync, readSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar';
import { writeWhole } from './atomic-file.js';
import { STAMP_FILE, stampSchema, type Stamp } from './stamp.js';

export const EXE_MAGIC = Buffer.from('JUMPCLIENT-PAYLOAD-1');
const TRAILER = 8 + EXE_MAGIC.length;

/** What the overlay carries from the win-x64 package dir (beside installer.json). */
export const EXE_PAYLOAD = ['lib', 'winsw'] as const;
export const WIN_EXE = 'jump-client.exe';

/** The file name of a per-installer Windows executable. */
export function exeFileName(uid: string): string {
  return `bomgar-scc-${uid}.exe`;
}

/** The overlay's position in `file`, or null when it has none: { start, length } in bytes. */
export function findOverlay(file: string): { start: number; length: number } | null {
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    if (size < TRAILER) return null;
    const trailer = Buffer.alloc(TRAILER);
    readSync(fd, trailer, 0, TRAILER, size - TRAILER);
    if (!trailer.subarray(8).equals(EXE_MAGIC)) return null;
    const length = Number(trailer.readBigUInt64LE(0));
    if (length <= 0 || length > size - TRAILER) return null;
    return { start: size - TRAILER - length, length };
  } finally {
    closeSync(fd);
  }
}

/** Unpacks the overlay of `file` into `dest` (lib/, winsw/, installer.json). Throws when there is none. */
export async function extractOverlay(file: string, dest: string): Promise<void> {
  const o = findOverlay(file);
  if (!o) throw new Error(`${file} carries no installer payload`);
  await pipeline(createReadStream(file, { start: o.start, end: o.start + o.length - 1 }), tar.x({ cwd: dest, gzip: true }));
}

/** Copies the executable part of `file` (without its overlay) to `dest`. */
export async function copyWithoutOverlay(file: string, dest: string): Promise<void> {
  const o = findOverlay(file);
  const end = o ? o.start - 1 : statSync(file).size - 1;
  await pipeline(createReadStream(file, { start: 0, end }), createWriteStream(dest));
}

/**
 * Writes `<outDir>/bomgar-scc-<uid>.exe` from the win-x64 package in `packageDir` and `stamp`,
 * through a temp name and a rename. Returns its path and size in bytes.
 */
export async function writeExeInstaller(packageDir: string, stamp: Stamp, outDir: string): Promise<{ path: string; bytes: number }> {
  stampSchema.parse(stamp);
  for (const f of [WIN_EXE, ...EXE_PAYLOAD]) {
    if (!existsSync(join(packageDir, f))) throw new Error(`${packageDir} lacks ${f}: run \`npm run package\` first`);
  }
  return writeWhole(join(outDir, exeFileName(stamp.uid)), async (partial, staging) => {
    for (const f of EXE_PAYLOAD) symlinkSync(join(packageDir, f), join(staging, f));
    writeFileSync(join(staging, STAMP_FILE), JSON.stringify(stamp, null, 2) + '\n', { mode: 0o600 });
    await pipeline(createReadStream(join(packageDir, WIN_EXE)), createWriteStream(partial, { mode: 0o600 }));
    const before = statSync(partial).size;
    await pipeline(tar.c({ gzip: true, cwd: staging, portable: true, follow: true }, [...EXE_PAYLOAD, STAMP_FILE]), createWriteStream(partial, { flags: 'a' }));
    const trailer = Buffer.alloc(TRAILER);
    trailer.writeBigUInt64LE(BigInt(statSync(partial).size - before), 0);
    EXE_MAGIC.copy(trailer, 8);
    writeFileSync(partial, trailer, { flag: 'a' });
  });
}
