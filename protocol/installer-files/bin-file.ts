/**
 * Writes the per-installer Linux installer `bomgar-scc-<uid>.bin` (seeds: "Installation on
 * headless Linux systems"): the POSIX sh stub `packaging/bin-stub.sh`, then a gzip tar payload of
 *   jump-client, lib/ (native modules), init-script, uninstall   from the linux-x64 package
 *   installer.json (mode 0600)                                     the stamped settings (stamp.ts)
 * The stub unpacks the payload from byte `offset` (1-based, as `tail -c +N` counts). Its line 1
 * checks the SHA-256 of everything after line 1 (the rest of the stub and the payload) before
 * anything runs or is unpacked (makeself's --check): `sealBin` writes that hash once the file is whole.
 *
 * The file holds KEY_INFO, so it is written 0600 (it runs as `sh ./file.bin`, no x bit needed),
 * through a temp name and a rename: a failure never leaves a half-written installer.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar';
import { writeWhole } from './atomic-file.js';
import { STAMP_FILE, stampSchema, type Stamp } from '../stamp.js';

/** What a package dir must hold to make a .bin (written by `npm run package`). */
export const BIN_PAYLOAD = ['jump-client', 'lib', 'init-script', 'uninstall'] as const;
export const BIN_STUB = 'bin-stub.sh';

/** Platforms a .bin can be made for (the payload is the same; the executable differs). */
export const BIN_PLATFORMS = ['linux-x64', 'linux-arm64'] as const;
export type BinPlatform = (typeof BIN_PLATFORMS)[number];

/** The file name of a Linux installer: `bomgar-scc-<uid>.bin` (x64, the seeds' name), `-arm64.bin` for ARM. */
export function binFileName(uid: string, platform: BinPlatform = 'linux-x64'): string {
  return platform === 'linux-x64' ? `bomgar-scc-${uid}.bin` : `bomgar-scc-${uid}-${platform.replace('linux-', '')}.bin`;
}

/** The missing files of `packageDir` (empty when it can make a .bin). */
export function missingPackageFiles(packageDir: string): string[] {
  return [...BIN_PAYLOAD, BIN_STUB].filter((f) => !existsSync(join(packageDir, f)));
}

/**
 * What the stub's checksum holds until `sealBin` writes the real one: 64 zeros, the length of a
 * SHA-256 in hex, so sealing changes no offset.
 */
export const UNSEALED_SHA256 = '0'.repeat(64);

/**
 * The stub with its file name and payload offset filled in; the offset is 1 + the stub's own length.
 * Its checksum is UNSEALED_SHA256 until `sealBin` runs on the whole file.
 */
export function renderStub(template: string, fileName: string): string {
  const withUid = template.replaceAll('@@NAME@@', fileName).replace('@@SHA256@@', UNSEALED_SHA256);
  let offset = 0;
  for (;;) {
    const text = withUid.replace('@@OFFSET@@', String(offset));
    const next = Buffer.byteLength(text) + 1;
    if (next === offset) return text;
    offset = next;
  }
}

/**
 * Writes the stub's checksum into the .bin at `file` (stub + payload, complete): the SHA-256 (hex)
 * of every byte after the stub's first line, which is what line 1 recomputes with
 * `tail -n +2 "$0" | sha256sum` before anything else runs. Throws when line 1 holds no unsealed
 * checksum (not a .bin made from packaging/bin-stub.sh, or sealed already).
 */
export async function sealBin(file: string): Promise<void> {
  const head = Buffer.alloc(8192);
  const fh = await open(file, 'r+');
  try {
    const { bytesRead } = await fh.read(head, 0, head.length, 0);
    const text = head.subarray(0, bytesRead).toString('latin1');
    const line1End = text.indexOf('\n');
    const at = text.indexOf(`"${UNSEALED_SHA256}  -"`);
    if (line1End < 0 || at < 0 || at > line1End) throw new Error(`${file}: no unsealed checksum on the stub's line 1`);
    const hash = createHash('sha256');
    for await (const chunk of createReadStream(file, { start: line1End + 1 })) hash.update(chunk as Buffer);
    await fh.write(hash.digest('hex'), at + 1, 'latin1');
  } finally {
    await fh.close();
  }
}

/**
 * Writes `<outDir>/bomgar-scc-<uid>.bin` from the Linux package in `packageDir` and `stamp`.
 * Returns the path and size in bytes. Throws on a missing package file or an I/O error (nothing
 * is left in `outDir` then).
 */
export async function writeBinInstaller(
  packageDir: string,
  stamp: Stamp,
  outDir: string,
  platform: BinPlatform = 'linux-x64',
): Promise<{ path: string; bytes: number }> {
  stampSchema.parse(stamp);
  const missing = missingPackageFiles(packageDir);
  if (missing.length > 0) throw new Error(`${packageDir} lacks ${missing.join(', ')}: run \`npm run package\` first`);
  return writeWhole(join(outDir, binFileName(stamp.uid, platform)), async (partial, staging) => {
    for (const f of BIN_PAYLOAD) symlinkSync(join(packageDir, f), join(staging, f));
    writeFileSync(join(staging, STAMP_FILE), JSON.stringify(stamp, null, 2) + '\n', { mode: 0o600 });
    writeFileSync(partial, renderStub(readFileSync(join(packageDir, BIN_STUB), 'utf8'), binFileName(stamp.uid, platform)), { mode: 0o600 });
    await pipeline(
      tar.c({ gzip: true, cwd: staging, portable: true, follow: true }, [...BIN_PAYLOAD, STAMP_FILE]),
      createWriteStream(partial, { flags: 'a' }),
    );
    await sealBin(partial);
  });
}
