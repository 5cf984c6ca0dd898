/**
 * The overlay format of the per-installer Windows executable `bomgar-scc-<uid>.exe` (seeds: the
 * Windows EXE installer, with the same flags as the Linux .bin): written by the console
 * (protocol/installer-files/exe-file.ts), read by the endpoint (agent/install/exe-overlay.ts).
 *
 * It is the packaged `jump-client.exe` with an overlay appended after the PE image (Windows loads
 * only the image; Node's SEA finds its script in a PE resource, not at the file's end). Format 2
 * (issue #16, item 6) lets the file be Authenticode-signed after the overlay is written, and keeps
 * a signed `jump-client.exe` signed when the endpoint copies it out:
 *
 *   [jump-client.exe, its security directory entry zeroed][payload][trailer 2][0-7 zero bytes][certificate table]
 *   payload:   gzip tar of lib/, jump-client-service.exe, installer.json
 *   trailer 2: payload length (u64 LE), the exe's own security directory entry (file offset u32 LE,
 *              size u32 LE) and PE checksum (u32 LE), MAGIC_2
 *
 * The certificate table and its padding are there only when the stamper signed the file; the PE
 * header's security directory entry then points at it (PE/COFF spec, "The Attribute Certificate
 * Table": it is the file's last item, 8-byte aligned). The endpoint's copy of jump-client.exe is
 * the bytes before the payload with the entry and checksum put back: byte for byte the packaged
 * jump-client.exe, with its own signature when the build signed it. Format 1 (no entry, MAGIC_1,
 * never signed) is still read.
 *
 * Pure: no file access here, only the layout.
 */

/** The magic strings that end a trailer: format 1 (unsigned overlay only) and format 2. */
export const EXE_MAGIC = Buffer.from('JUMPCLIENT-PAYLOAD-1');
export const EXE_MAGIC_2 = Buffer.from('JUMPCLIENT-PAYLOAD-2');
/** Format 1's trailer size in bytes: the payload length (8 bytes, little-endian) then EXE_MAGIC. */
export const EXE_TRAILER_BYTES = 8 + EXE_MAGIC.length;
/** Format 2's trailer size in bytes: length (8), security entry (4 + 4), checksum (4), EXE_MAGIC_2. */
export const EXE_TRAILER_2_BYTES = 8 + 12 + EXE_MAGIC_2.length;
/** How many bytes before the overlay's end a reader needs to recognise either trailer. */
export const EXE_TRAILER_MAX_BYTES = Math.max(EXE_TRAILER_BYTES, EXE_TRAILER_2_BYTES);

/** What the overlay carries from the win-x64 package dir (beside installer.json, protocol/stamp.ts). */
export const EXE_PAYLOAD = ['lib', 'jump-client-service.exe'] as const;
/** The native Windows service host (packaging/service-host.c), beside jump-client.exe. */
export const WIN_SERVICE_HOST = 'jump-client-service.exe';
/** The packaged endpoint executable the overlay is appended to. */
export const WIN_EXE = 'jump-client.exe';

/** The PE fields the overlay format touches: where they are (file offsets) and what they hold. */
export interface PeSecurityFields {
  /** Offset of the optional header's CheckSum (u32). */
  checksumAt: number;
  checksum: number;
  /** Offset of data directory 4, IMAGE_DIRECTORY_ENTRY_SECURITY (file offset u32, size u32). */
  securityAt: number;
  /** The certificate table's file offset and size in bytes; 0 and 0 when the file is not signed. */
  securityOffset: number;
  securitySize: number;
}

/**
 * The security fields of a PE file from its first bytes `head` (4 KiB is enough for any header
 * this project builds): PE/COFF spec, "MS-DOS stub" (e_lfanew at 0x3c), "Optional Header" (magic
 * 0x10b PE32 or 0x20b PE32+, CheckSum at +64, data directories at +96 or +112). Returns null when
 * `head` is not a PE image or holds fewer than 5 data directories.
 */
export function peSecurityFields(head: Buffer): PeSecurityFields | null {
  if (head.length < 0x40 || head.readUInt16LE(0) !== 0x5a4d) return null;
  const pe = head.readUInt32LE(0x3c);
  const opt = pe + 24;
  if (opt + 2 > head.length || head.readUInt32LE(pe) !== 0x4550) return null;
  const magic = head.readUInt16LE(opt);
  const dirs = magic === 0x20b ? opt + 112 : magic === 0x10b ? opt + 96 : -1;
  const securityAt = dirs + 4 * 8;
  if (dirs < 0 || securityAt + 8 > head.length) return null; // every read below inside `head`
  const count = head.readUInt32LE(dirs - 4);
  if (count < 5) return null;
  return {
    checksumAt: opt + 64,
    checksum: head.readUInt32LE(opt + 64),
    securityAt,
    securityOffset: head.readUInt32LE(securityAt),
    securitySize: head.readUInt32LE(securityAt + 4),
  };
}

/**
 * The format 2 trailer after a payload of `payloadBytes` bytes, keeping the packaged exe's own
 * security entry and checksum (`exe`, from peSecurityFields) so the endpoint can put them back.
 */
export function exeTrailer(payloadBytes: number, exe: Pick<PeSecurityFields, 'securityOffset' | 'securitySize' | 'checksum'>): Buffer {
  const trailer = Buffer.alloc(EXE_TRAILER_2_BYTES);
  trailer.writeBigUInt64LE(BigInt(payloadBytes), 0);
  trailer.writeUInt32LE(exe.securityOffset, 8);
  trailer.writeUInt32LE(exe.securitySize, 12);
  trailer.writeUInt32LE(exe.checksum, 16);
  EXE_MAGIC_2.copy(trailer, 20);
  return trailer;
}

/** Where an overlay is: { start, length } in bytes, and for format 2 the exe's own security entry and checksum. */
export interface OverlayPosition {
  start: number;
  length: number;
  restore: { securityOffset: number; securitySize: number; checksum: number } | null;
}

/**
 * The overlay whose trailer ends at byte `end` of the file, from `tail`, the bytes just before
 * `end` (at least EXE_TRAILER_MAX_BYTES, or all of them in a shorter file). Returns null when no
 * trailer is there (no magic, or a length that does not fit before it).
 */
export function overlayFromTrailer(tail: Buffer, end: number): OverlayPosition | null {
  const ends = (m: Buffer) => tail.length >= m.length && tail.subarray(tail.length - m.length).equals(m);
  if (ends(EXE_MAGIC_2) && tail.length >= EXE_TRAILER_2_BYTES) {
    const t = tail.subarray(tail.length - EXE_TRAILER_2_BYTES);
    const length = Number(t.readBigUInt64LE(0));
    if (length <= 0 || length > end - EXE_TRAILER_2_BYTES) return null;
    return {
      start: end - EXE_TRAILER_2_BYTES - length,
      length,
      restore: { securityOffset: t.readUInt32LE(8), securitySize: t.readUInt32LE(12), checksum: t.readUInt32LE(16) },
    };
  }
  if (ends(EXE_MAGIC) && tail.length >= EXE_TRAILER_BYTES) {
    const length = Number(tail.readBigUInt64LE(tail.length - EXE_TRAILER_BYTES));
    if (length <= 0 || length > end - EXE_TRAILER_BYTES) return null;
    return { start: end - EXE_TRAILER_BYTES - length, length, restore: null };
  }
  return null;
}

/**
 * Where the overlay's trailer ends in a file of `fileBytes` bytes whose PE fields are `pe`: before
 * the certificate table when the file is signed (the table is the file's last item), else at the
 * end. The caller then skips the table's alignment padding (up to 7 zero bytes) with trimPadding.
 */
export function overlayEnd(pe: PeSecurityFields | null, fileBytes: number): number {
  if (pe && pe.securityOffset > 0 && pe.securitySize > 0 && pe.securityOffset + pe.securitySize === fileBytes) return pe.securityOffset;
  return fileBytes;
}

/** `end` moved back over the zero bytes (at most 7, the certificate table's alignment) that end `tail`, the bytes before `end`. */
export function trimPadding(tail: Buffer, end: number): number {
  let n = 0;
  while (n < 7 && n < tail.length && tail[tail.length - 1 - n] === 0) n++;
  return end - n;
}
