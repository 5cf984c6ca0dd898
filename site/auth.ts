/**
 * Technician authentication: password hashing (scrypt, RFC 7914) and API tokens.
 *
 * A password hash is `scrypt$<log2 N>$<r>$<p>$<salt b64url>$<key b64url>`; parameters travel with
 * the hash so they can be raised later without invalidating old hashes. API tokens are 32 random
 * bytes (`jst_` + base64url); only their SHA-256 is stored, so a leaked database holds no usable token.
 */
import { createHash, randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { JumpError } from '../protocol/errors.js';
import type { Store, User } from './store/store.js';

/**
 * N = 2^17, r = 8, p = 1: OWASP Password Storage Cheat Sheet's scrypt minimum (128 MiB, about
 * 0.5 s per hash on this class of machine). Hashes made with lower parameters (the first releases
 * used N = 2^15) still verify and are rehashed at these on the next successful login.
 */
export const LOG_N = 17;
const R = 8;
const P = 1;
const KEY_LEN = 32;
/** API token lifetime, in ms. */
export const TOKEN_TTL_MS = 30 * 24 * 3_600_000;
/** A token unused for this long ends (ms; `jump-site serve --token-idle-timeout`). */
export const TOKEN_IDLE_MS = 12 * 3_600_000;

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

/** True when `stored` was made with parameters other than the current ones (rehash it on login). */
export function needsRehash(stored: string): boolean {
  const parts = stored.split('$');
  return !(parts.length === 6 && parts[0] === 'scrypt' && Number(parts[1]) === LOG_N && Number(parts[2]) === R && Number(parts[3]) === P);
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

/** An API token in an `Authorization` header: `Bearer jst_` and 43 base64url characters. */
const BEARER = /^Bearer (jst_[A-Za-z0-9_-]{43})$/;

/** The API token in `Authorization` header `header` (`Bearer <token>`), or null when absent or malformed. */
export function bearerToken(header: string | undefined): string | null {
  return BEARER.exec(header ?? '')?.[1] ?? null;
}

/**
 * The user an `Authorization` header names: its token's hash looked up in the store at `now` (ms),
 * refused when unused for `idleMs`. Null when the header is absent or malformed, or the token is
 * unknown, expired or idle. The one reading of a bearer token, for the API hook (site/api.ts) and
 * the relay upgrade (site/server.ts); the caller decides what a null or a `mustChangePassword` means.
 */
export async function userFromAuthorization(
  store: Pick<Store, 'userForToken'>,
  header: string | undefined,
  now: number,
  idleMs: number,
): Promise<User | null> {
  const token = bearerToken(header);
  return token ? store.userForToken(hashToken(token), now, idleMs) : null;
}

/** A random password for the bootstrap admin: 24 base64url characters (144 bits). */
export function randomPassword(): string {
  return randomBytes(18).toString('base64url');
}

/** Minimum password length accepted for people's accounts (protocol/passwords.ts, shared with the console). */
export { PASSWORD_MIN } from '../protocol/passwords.js';

/**
 * A bounded queue in front of password hashing (security issue #12, item 8). Each scrypt takes a
 * libuv pool thread (4 by default) and 128 MiB for about 0.5 s; an unbounded queue let 40 parallel
 * wrong passwords delay a real login from 0.3 s to 12 s. At most `maxActive` hashes run and at
 * most `maxWaiting` wait; `run` answers LOGIN_THROTTLED at once (no queueing) past that.
 *
 * `reservedForTrusted` of the waiting places are kept for trusted attempts (an account's owner
 * from an address they logged in from before, LoginThrottle): strangers can hold at most
 * `maxWaiting - reservedForTrusted` of them, and trusted attempts are served first, so a flood of
 * strangers' guesses (round 2 of issue #12, item 8) delays an owner's login by one hash at most.
 */
/** Defaults of HashQueue's limits: hashes running (the libuv pool's 4 threads), waiting, and waiting places kept for trusted attempts. */
export const HASH_QUEUE_DEFAULTS = { maxActive: 4, maxWaiting: 8, reservedForTrusted: 2 } as const;

export class HashQueue {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  private readonly trustedWaiting: (() => void)[] = [];

  constructor(
    private readonly maxActive: number = HASH_QUEUE_DEFAULTS.maxActive,
    private readonly maxWaiting: number = HASH_QUEUE_DEFAULTS.maxWaiting,
    private readonly reservedForTrusted: number = HASH_QUEUE_DEFAULTS.reservedForTrusted,
  ) {
    if (!(reservedForTrusted >= 0 && reservedForTrusted <= maxWaiting)) throw new RangeError('reservedForTrusted must be from 0 to maxWaiting');
  }

  /**
   * Runs `job` when a slot is free; `trusted` attempts may use the reserved waiting places and go
   * first. Throws LOGIN_THROTTLED (retry after 1 s) when the places it may use are full.
   */
  async run<T>(job: () => Promise<T>, trusted = false): Promise<T> {
    if (this.active >= this.maxActive) {
      const full = trusted
        ? this.waiting.length + this.trustedWaiting.length >= this.maxWaiting && this.trustedWaiting.length >= this.reservedForTrusted
        : this.waiting.length >= this.maxWaiting - this.reservedForTrusted;
      if (full) throw new JumpError('LOGIN_THROTTLED', { detail: 'The site is busy checking passwords.', retryAfterMs: 1000 });
      await new Promise<void>((resolve) => (trusted ? this.trustedWaiting : this.waiting).push(resolve));
    } else {
      this.active++;
    }
    try {
      return await job();
    } finally {
      const next = this.trustedWaiting.shift() ?? this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}

/** A fixed-window counter per key (an address or an account), bounded in memory. */
class FailureWindows {
  private readonly windows = new Map<string, { count: number; resetAt: number }>();

  constructor(
    readonly limit: number,
    readonly windowMs: number,
    private readonly maxKeys = 100_000,
  ) {}

  /** Ms until `key` may try again, or 0 when it is under its limit. */
  retryAfter(key: string, now: number): number {
    const w = this.windows.get(key);
    if (!w || w.resetAt <= now) return 0;
    return w.count >= this.limit ? w.resetAt - now : 0;
  }

  fail(key: string, now: number): void {
    let w = this.windows.get(key);
    if (!w || w.resetAt <= now) {
      if (this.windows.size >= this.maxKeys) this.prune(now);
      w = { count: 0, resetAt: now + this.windowMs };
      this.windows.set(key, w);
    }
    w.count++;
  }

  clear(key: string): void {
    this.windows.delete(key);
  }

  private prune(now: number): void {
    for (const [k, w] of this.windows) if (w.resetAt <= now) this.windows.delete(k);
    // Still full (a spray from very many addresses): forget the oldest half rather than grow.
    if (this.windows.size >= this.maxKeys) {
      let n = this.windows.size / 2;
      for (const k of this.windows.keys()) {
        if (n-- <= 0) break;
        this.windows.delete(k);
      }
    }
  }
}

/** Limits of LoginThrottle; counts are failed logins, windows in ms. */
export interface LoginLimits {
  /** Failed logins from one address per window before it gets LOGIN_THROTTLED (default 10 per 5 min). */
  addressFailures: number;
  addressWindowMs: number;
  /** Login attempts from one address checked at once; more get LOGIN_THROTTLED at once (default 2). */
  addressConcurrent: number;
  /**
   * Failed logins on one account per window, from any address (default 20 per 1 min). It slows
   * guesses sprayed from many addresses; it does not apply to a trusted address of the account
   * (`trustedMs`), so a spray that keeps the account over its window cannot lock its owner out.
   */
  accountFailures: number;
  accountWindowMs: number;
  /**
   * An address (addressKey: IPv4 address, IPv6 prefix) that logged in to an account successfully
   * stays trusted for that account this long after its last success (default 30 days): the
   * per-account limit does not refuse it and its hashes get the queue's reserved places.
   */
  trustedMs: number;
  /** (account, address) pairs remembered as trusted; past this the least recently used are forgotten (default 100 000). */
  trustedMax: number;
}

export const DEFAULT_LOGIN_LIMITS: LoginLimits = {
  addressFailures: 10,
  addressWindowMs: 5 * 60_000,
  addressConcurrent: 2,
  accountFailures: 20,
  accountWindowMs: 60_000,
  trustedMs: 30 * 24 * 3_600_000,
  trustedMax: 100_000,
};

/**
 * Login throttling (security issue #12, item 8): per address and per account, checked before any
 * password hashing, so a throttled attempt costs nothing. Answers LOGIN_THROTTLED (429) with the
 * wait in `retryAfterMs` (the API's Retry-After header).
 *
 * The per-account limit alone would let anyone spraying an account from ~10 addresses keep it
 * over its window forever, refusing its owner's right password too. So an address that logged in
 * to the account recently (`trustedMs`) is exempt from it; the owner from a new address is slowed
 * (429) while the spray lasts, like a stranger. The address limits apply to everyone.
 */
export class LoginThrottle {
  private readonly byAddress: FailureWindows;
  private readonly byAccount: FailureWindows;
  private readonly inFlight = new Map<string, number>();
  /** `account\naddress` -> time of the last successful login (ms); Map order is least recently used first. */
  private readonly trusted = new Map<string, number>();
  readonly limits: LoginLimits;

  /** `limits`: any of DEFAULT_LOGIN_LIMITS to override. */
  constructor(limits: Partial<LoginLimits> = {}) {
    this.limits = { ...DEFAULT_LOGIN_LIMITS, ...limits };
    this.byAddress = new FailureWindows(this.limits.addressFailures, this.limits.addressWindowMs);
    this.byAccount = new FailureWindows(this.limits.accountFailures, this.limits.accountWindowMs);
  }

  /**
   * Reserves an attempt for `address` on `account` (lower-cased: names are unique case-insensitively)
   * and returns whether the address is trusted for the account (pass it to HashQueue.run).
   * Throws LOGIN_THROTTLED when the address is over its limit, the account is over its limit and
   * the address is not trusted for it, or the address already has `addressConcurrent` attempts in
   * progress. Call `end` when the attempt ends.
   */
  begin(address: string, account: string, now: number): boolean {
    const acct = account.toLowerCase();
    const trusted = this.isTrusted(address, acct, now);
    const wait = Math.max(this.byAddress.retryAfter(address, now), trusted ? 0 : this.byAccount.retryAfter(acct, now));
    if (wait > 0) throw new JumpError('LOGIN_THROTTLED', { retryAfterMs: wait });
    const n = this.inFlight.get(address) ?? 0;
    if (n >= this.limits.addressConcurrent) {
      throw new JumpError('LOGIN_THROTTLED', { detail: 'Another login from this address is being checked.', retryAfterMs: 1000 });
    }
    this.inFlight.set(address, n + 1);
    return trusted;
  }

  /**
   * Ends an attempt begun with `begin`. `ok` true (a right password, or no password checked at all)
   * counts nothing; false counts a failure for the address and the account. A success does not
   * reset the address's count: one's own account must not launder guesses at others'.
   */
  end(address: string, account: string, ok: boolean, now: number): void {
    const n = (this.inFlight.get(address) ?? 1) - 1;
    if (n <= 0) this.inFlight.delete(address);
    else this.inFlight.set(address, n);
    if (ok) return;
    this.byAddress.fail(address, now);
    this.byAccount.fail(account.toLowerCase(), now);
  }

  /** Remembers that `address` logged in to `account` with its right password at `now` (trusted for `trustedMs`). */
  trust(address: string, account: string, now: number): void {
    const key = `${account.toLowerCase()}\n${address}`;
    this.trusted.delete(key);
    this.trusted.set(key, now);
    while (this.trusted.size > this.limits.trustedMax) {
      const oldest = this.trusted.keys().next().value as string;
      this.trusted.delete(oldest);
    }
  }

  private isTrusted(address: string, account: string, now: number): boolean {
    const key = `${account}\n${address}`;
    const at = this.trusted.get(key);
    if (at === undefined) return false;
    if (now - at <= this.limits.trustedMs) return true;
    this.trusted.delete(key);
    return false;
  }
}
