/**
 * The overlay format of the per-installer Windows executable `bomgar-scc-<uid>.exe` (seeds: the
 * Windows EXE installer, with the same flags as the Linux .bin): written by the console
 * (protocol/installer-files/exe-file.ts), read by the endpoint (agent/install/exe-overlay.ts).
 *
 * It is the packaged `jump-client.exe` with an overlay appended after the PE image (Windows loads
 * only the image; Node's SEA finds its script in a PE resource, not at the file's end):
 *
 *   [jump-client.exe][payload: gzip tar of lib/, jump-client-service.exe, installer.json][length: 8 bytes LE][MAGIC]
 *
 * Pure: no file access here, only the layout of the trailer.
 */

/** The magic string that ends an executable carrying an overlay (format 1). */
export const EXE_MAGIC = Buffer.from('JUMPCLIENT-PAYLOAD-1');
/** The trailer's size in bytes: the payload length (8 bytes, little-endian) then EXE_MAGIC. */
export const EXE_TRAILER_BYTES = 8 + EXE_MAGIC.length;

/** What the overlay carries from the win-x64 package dir (beside installer.json, protocol/stamp.ts). */
export const EXE_PAYLOAD = ['lib', 'jump-client-service.exe'] as const;
/** The native Windows service host (packaging/service-host.c), beside jump-client.exe. */
export const WIN_SERVICE_HOST = 'jump-client-service.exe';
/** The packaged endpoint executable the overlay is appended to. */
export const WIN_EXE = 'jump-client.exe';

/** The trailer written after a payload of `payloadBytes` bytes. */
export function exeTrailer(payloadBytes: number): Buffer {
  const trailer = Buffer.alloc(EXE_TRAILER_BYTES);
  trailer.writeBigUInt64LE(BigInt(payloadBytes), 0);
  EXE_MAGIC.copy(trailer, 8);
  return trailer;
}

/**
 * The overlay's position from the last EXE_TRAILER_BYTES bytes of a file of `fileBytes` bytes:
 * { start, length } in bytes, or null when the trailer is not one (no magic, or a length that does
 * not fit in the file).
 */
export function overlayFromTrailer(trailer: Buffer, fileBytes: number): { start: number; length: number } | null {
  if (trailer.length !== EXE_TRAILER_BYTES || !trailer.subarray(8).equals(EXE_MAGIC)) return null;
  const length = Number(trailer.readBigUInt64LE(0));
  if (length <= 0 || length > fileBytes - EXE_TRAILER_BYTES) return null;
  return { start: fileBytes - EXE_TRAILER_BYTES - length, length };
}
