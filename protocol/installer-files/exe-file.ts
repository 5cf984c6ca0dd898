/**
 * Writes the per-installer Windows executable `bomgar-scc-<uid>.exe` (seeds: the Windows EXE
 * installer, with the same flags as the Linux .bin): the packaged `jump-client.exe` with an overlay
 * appended, in the format of protocol/exe-overlay.ts. The endpoint reads it back in
 * agent/install/exe-overlay.ts.
 */
import { createReadStream, createWriteStream, existsSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar';
import { EXE_PAYLOAD, WIN_EXE, exeTrailer } from '../exe-overlay.js';
import { STAMP_FILE, stampSchema, type Stamp } from '../stamp.js';
import { writeWhole } from './atomic-file.js';

/** The file name of a per-installer Windows executable. */
export function exeFileName(uid: string): string {
  return `bomgar-scc-${uid}.exe`;
}

/**
 * Writes `<outDir>/bomgar-scc-<uid>.exe` from the win-x64 package in `packageDir` and `stamp`,
 * through a temp name and a rename. Returns its path and size in bytes. Throws (a plain Error)
 * when the package lacks WIN_EXE or a payload dir, or when `stamp` does not fit its schema.
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
    writeFileSync(partial, exeTrailer(statSync(partial).size - before), { flag: 'a' });
  });
}
