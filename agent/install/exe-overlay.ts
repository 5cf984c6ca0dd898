/**
 * The endpoint's side of the per-installer Windows executable (format: protocol/exe-overlay.ts):
 * started with the seeds' flags, the executable finds the overlay in itself, unpacks it into a
 * private temp dir, and installs from there as `jump-client install` does (agent/install/install.ts);
 * the installed `jump-client.exe` is a copy without the overlay.
 */
import { closeSync, createReadStream, createWriteStream, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar';
import { EXE_TRAILER_BYTES, overlayFromTrailer } from '../../protocol/exe-overlay.js';

/** The overlay's position in `file`, or null when it has none: { start, length } in bytes. */
export function findOverlay(file: string): { start: number; length: number } | null {
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    if (size < EXE_TRAILER_BYTES) return null;
    const trailer = Buffer.alloc(EXE_TRAILER_BYTES);
    readSync(fd, trailer, 0, EXE_TRAILER_BYTES, size - EXE_TRAILER_BYTES);
    return overlayFromTrailer(trailer, size);
  } finally {
    closeSync(fd);
  }
}

/** Unpacks the overlay of `file` into `dest` (lib/, jump-client-service.exe, installer.json). Throws when there is none. */
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
