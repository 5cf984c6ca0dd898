/**
 * The endpoint's side of the per-installer Windows executable (format: protocol/exe-overlay.ts):
 * started with the seeds' flags, the executable finds the overlay in itself (before a certificate
 * table when the file is signed), unpacks it into a private temp dir, and installs from there as
 * `jump-client install` does (agent/install/install.ts); the installed `jump-client.exe` is a copy
 * without the overlay: the packaged exe byte for byte, its own signature included.
 */
import { closeSync, createReadStream, createWriteStream, fstatSync, openSync, readSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar';
import { EXE_TRAILER_MAX_BYTES, overlayEnd, overlayFromTrailer, peSecurityFields, trimPadding, type OverlayPosition, type PeSecurityFields } from '../../protocol/exe-overlay.js';

/** Reads up to `n` bytes ending at `end` (fewer at the file's start). */
function readBefore(fd: number, end: number, n: number): Buffer {
  const from = Math.max(0, end - n);
  const buf = Buffer.alloc(end - from);
  readSync(fd, buf, 0, buf.length, from);
  return buf;
}

/** The overlay's position in `file` (OverlayPosition, bytes), or null when it has none. */
export function findOverlay(file: string): (OverlayPosition & { pe: PeSecurityFields | null }) | null {
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    const head = Buffer.alloc(Math.min(4096, size));
    readSync(fd, head, 0, head.length, 0);
    const pe = peSecurityFields(head);
    let end = overlayEnd(pe, size);
    if (end !== size) end = trimPadding(readBefore(fd, end, 8), end);
    const o = overlayFromTrailer(readBefore(fd, end, EXE_TRAILER_MAX_BYTES), end);
    return o ? { ...o, pe } : null;
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

/**
 * Copies the executable part of `file` (without its overlay) to `dest`, with the packaged exe's
 * security directory entry and checksum put back (format 2), so a signed jump-client.exe stays
 * signed. A file without an overlay is copied whole.
 */
export async function copyWithoutOverlay(file: string, dest: string): Promise<void> {
  const o = findOverlay(file);
  if (!o) {
    await pipeline(createReadStream(file), createWriteStream(dest));
    return;
  }
  await pipeline(createReadStream(file, { start: 0, end: o.start - 1 }), createWriteStream(dest));
  if (o.restore && o.pe) {
    const fh = await open(dest, 'r+');
    try {
      const b = Buffer.alloc(8);
      b.writeUInt32LE(o.restore.securityOffset, 0);
      b.writeUInt32LE(o.restore.securitySize, 4);
      await fh.write(b, 0, 8, o.pe.securityAt);
      const c = Buffer.alloc(4);
      c.writeUInt32LE(o.restore.checksum, 0);
      await fh.write(c, 0, 4, o.pe.checksumAt);
    } finally {
      await fh.close();
    }
  }
}
