/**
 * Technician authentication: password hashing (scrypt, RFC 7914) and API tokens.
 *
 * A password hash is `scrypt$<log2 N>$<r>$<p>$<salt b64url>$<key b64url>`; parameters travel with
 * the hash so they can be raised later without invalidating old hashes. API tokens are 32 random
 * bytes (`jst_` + base64url); only their SHA-256 is stored, so a leaked database holds no usable token.
 */
import { createHash, randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';

const LOG_N = 15; // N = 32768: about 32 MiB and ~100 ms per hash on this class of machine
const R = 8;
const P = 1;
const KEY_LEN = 32;
/** API token lifetime, in ms. */
export const TOKEN_TTL_MS = 30 * 24 * 3_600_000;

function scrypt(password: string, salt: Buffer, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scryptCb(password, salt, KEY_LEN, { ...opts, maxmem: 256 * 1024 * 1024 }, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

/** Hashes a password for storage. Async: runs in libuv's thread pool, not on the event loop. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, { N: 2 ** LOG_N, r: R, p: P });
  return ['scrypt', LOG_N, R, P, salt.toString('base64url'), key.toString('base64url')].join('$');
}

/** True when `password` matches `stored` (constant-time compare). False for a malformed hash. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [logN, r, p] = parts.slice(1, 4).map(Number);
  if (!(logN >= 10 && logN <= 20 && r >= 1 && r <= 32 && p >= 1 && p <= 16)) return false;
  const expected = Buffer.from(parts[5], 'base64url');
  const key = await scrypt(password, Buffer.from(parts[4], 'base64url'), { N: 2 ** logN, r, p });
  return key.length === expected.length && timingSafeEqual(key, expected);
}

/** A new API token (give it to the user) and its hash (store it). */
export function newToken(): { token: string; hash: string } {
  const token = 'jst_' + randomBytes(32).toString('base64url');
  return { token, hash: hashToken(token) };
}

/** SHA-256 of a token or installer key, hex. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** A random password for the bootstrap admin: 24 base64url characters (144 bits). */
export function randomPassword(): string {
  return randomBytes(18).toString('base64url');
}

/** Minimum password length accepted for people's accounts. */
export const PASSWORD_MIN = 10;
